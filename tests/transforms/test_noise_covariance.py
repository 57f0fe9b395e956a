"""Measuring an image's own noise: correlation shape, level and signal dependence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from medidenoise.errors import InvalidImageError
from medidenoise.transforms.noise_covariance import coloured_noise, measure_noise_model


def _phantom(size: int = 192) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = 0.3 + 0.2 * np.sin(3 * xx) * np.cos(2 * yy)
    img[(yy - 0.5) ** 2 + (xx - 0.5) ** 2 < 0.08] += 0.3  # an edge
    return img.astype(np.float32)


def test_white_noise_is_measured_uncorrelated_at_its_level() -> None:
    rng = np.random.default_rng(0)
    noisy = _phantom() + rng.normal(0, 0.05, (192, 192)).astype(np.float32)
    model = measure_noise_model(noisy)
    assert model.correlation_length() == (0, 0)
    assert model.std == pytest.approx(0.05, rel=0.15)
    assert not model.signal_dependent


def test_streaks_along_columns_are_measured_along_columns_only() -> None:
    rng = np.random.default_rng(1)
    streaks = ndimage.uniform_filter1d(rng.normal(0, 1, (3, 192, 192)), 5, axis=2)
    streaks *= 0.06 / streaks.std()
    model = measure_noise_model(_phantom()[None] + streaks.astype(np.float32))
    rows, cols = model.correlation_length()
    assert rows == 0 and cols >= 2
    k = model.autocorrelation.shape[0] // 2
    assert model.autocorrelation[k, k + 1] == pytest.approx(0.8, abs=0.1)
    assert model.std == pytest.approx(0.06, rel=0.15)


def test_poisson_noise_is_measured_signal_dependent() -> None:
    rng = np.random.default_rng(2)
    clean = np.tile(np.linspace(0.1, 0.9, 192, dtype=np.float32), (192, 1))
    noisy = (rng.poisson(clean * 300) / 300).astype(np.float32)
    model = measure_noise_model(noisy)
    assert model.signal_dependent
    # variance = mean / 300 for photon counting scaled to [0, 1]
    assert model.gain == pytest.approx(1 / 300, rel=0.3)


def test_coloured_noise_has_the_asked_correlation_and_unit_variance() -> None:
    ac = np.zeros((7, 7))
    ac[3, :] = [0.1, 0.4, 0.7, 1.0, 0.7, 0.4, 0.1]
    z = coloured_noise((4, 128, 128), ac, rng=0)
    assert z.std() == pytest.approx(1.0, rel=0.05)
    lag1_cols = np.corrcoef(z[..., 1:].ravel(), z[..., :-1].ravel())[0, 1]
    lag1_rows = np.corrcoef(z[:, 1:].ravel(), z[:, :-1].ravel())[0, 1]
    assert lag1_cols == pytest.approx(0.7, abs=0.05)
    assert abs(lag1_rows) < 0.05


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.full((64, 64), 3.0, np.float32), "no noise"),
        (np.zeros((8, 8), np.float32), "too small"),
        (np.full((64, 64), np.nan, np.float32), "NaN"),
    ],
)
def test_bad_images_are_refused_clearly(image: np.ndarray, match: str) -> None:
    with pytest.raises(InvalidImageError, match=match):
        measure_noise_model(image)
