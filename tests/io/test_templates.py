"""The MNI152 template is loaded in one place, in the orientation the caller names."""

from __future__ import annotations

import numpy as np
import pytest

from medidenoise.io.templates import load_mni152


def test_both_orientations_hold_the_same_anatomy_at_the_same_place() -> None:
    ras = load_mni152(orientation="ras")
    axial = load_mni152(orientation="axial")
    assert ras.modality == axial.modality == "MR" and axial.array.dtype == np.float32
    assert axial.shape == tuple(reversed(ras.shape)) and axial.spacing == (1.0, 1.0, 1.0)
    rng = np.random.default_rng(0)
    for _ in range(50):
        ijk = tuple(int(rng.integers(0, n)) for n in ras.shape)
        world = ras.affine @ np.array([*ijk, 1.0])
        dhw = np.linalg.solve(axial.affine, world)[:3].round().astype(int)
        assert axial.array[tuple(dhw)] == ras.array[ijk]
    # axial: slices go up (superior) with d; anterior is the top row on screen
    assert axial.affine[2, 0] > 0 and axial.affine[1, 1] < 0


def test_an_unknown_orientation_is_refused() -> None:
    with pytest.raises(ValueError, match="orientation"):
        load_mni152(orientation="coronal")  # type: ignore[arg-type]
