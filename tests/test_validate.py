"""One set of image-array checks (medidenoise/_validate.py), each raising the caller's message."""

from __future__ import annotations

import numpy as np
import pytest

from medidenoise._validate import check_finite, check_image
from medidenoise.errors import InvalidImageError


def test_the_callers_message_names_its_argument_and_counts_bad_values() -> None:
    arr = np.array([[1.0, np.nan], [np.inf, 2.0]])
    with pytest.raises(InvalidImageError) as err:
        check_finite(arr, "{name}: {bad} of {size} values are NaN", name="scan_{x}.nii")
    assert str(err.value) == "scan_{x}.nii: 2 of 4 values are NaN"  # braces in names are safe


def test_checks_run_in_order_and_only_when_asked() -> None:
    ok = check_image(np.ones((4, 5), np.uint8), real="r", ndim="n", size="s", finite="f")
    assert ok.dtype == np.float32 and ok.shape == (4, 5)
    with pytest.raises(InvalidImageError, match=r"^r complex128$"):
        check_image(np.ones((4, 5), complex), real="r {dtype}", ndim="n")
    with pytest.raises(InvalidImageError, match=r"^n \(5,\)$"):
        check_image(np.ones(5), real="r", ndim="n {shape}")
    with pytest.raises(InvalidImageError, match=r"^s 3$"):
        check_image(np.ones((2, 8)), size="s {min_side}", min_side=3)
    with pytest.raises(InvalidImageError, match=r"^f 1$"), np.errstate(over="ignore"):
        check_image(np.array([[1e300, 0.0]]), finite="f {bad}")  # 1e300 overflows float32
    assert check_image(np.full((2, 2), np.nan)).shape == (2, 2)  # no message: not checked
    source = np.zeros((2, 2), np.float32)
    assert check_image(source) is source and check_image(source, copy=True) is not source
