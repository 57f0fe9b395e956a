"""Synthetic images shared by the evaluation tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


def smooth_image(size: int = 64) -> np.ndarray:
    """A smooth float32 image in [0, 1] with a soft-edged disc: easy to denoise."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = 0.45 + 0.25 * np.sin(5 * xx) * np.cos(3 * yy)
    disc = ((xx - 0.6) ** 2 + (yy - 0.4) ** 2) < 0.04
    img = img + 0.25 * disc
    return np.clip(img, 0.0, 1.0).astype(np.float32)


@pytest.fixture
def smooth() -> np.ndarray:
    return smooth_image()


@pytest.fixture
def make_smooth() -> Callable[[int], np.ndarray]:
    return smooth_image
