"""Synthetic images shared by the evaluation tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from factories import smooth_image


@pytest.fixture
def smooth() -> np.ndarray:
    return smooth_image()


@pytest.fixture
def make_smooth() -> Callable[[int], np.ndarray]:
    return smooth_image
