"""Rician noise of magnitude images: its level and the exact inverse of its mean."""

from __future__ import annotations

import numpy as np
import pytest

from medidenoise.errors import InvalidImageError
from medidenoise.transforms import (
    add_noise,
    estimate_noise,
    rician_mean,
    rician_sigma,
    rician_unbias,
)


def _head(size: int = 192) -> np.ndarray:
    """A bright disc with structure on a zero background: half the image is air."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    inside = ((yy - 0.5) ** 2 + (xx - 0.5) ** 2) < 0.12
    tissue = 0.6 + 0.2 * np.sin(9 * xx) * np.cos(7 * yy)
    return np.where(inside, tissue, 0.0).astype(np.float32)


def test_the_inverse_gives_back_the_signal_from_its_rician_mean() -> None:
    signal = np.array([0.0, 0.01, 0.05, 0.2, 1.0, 50.0])
    for sigma in (0.02, 0.1):
        back = rician_unbias(rician_mean(signal, sigma), sigma)
        np.testing.assert_allclose(back, signal, atol=1e-4 * sigma + 1e-6)
    # below the mean of pure noise there is no signal: 0, never negative
    assert float(rician_unbias(np.array([0.0, 0.01]), 0.05).max()) == 0.0
    with pytest.raises(ValueError, match="sigma"):
        rician_unbias(signal, 0.0)


def test_the_unbiased_mean_of_noisy_magnitudes_is_the_signal() -> None:
    """Averaging many Rician draws and inverting the mean recovers A, where averaging alone
    leaves the bias (the whole point in dark regions)."""
    rng = np.random.default_rng(0)
    signal = np.repeat(np.array([0.0, 0.02, 0.05, 0.3], np.float32)[:, None], 20000, axis=1)
    noisy = add_noise(signal, "rician", 0.05, rng=rng)
    mean = noisy.mean(axis=1)
    assert mean[0] > 0.05  # sigma * sqrt(pi/2): the bias in the background
    np.testing.assert_allclose(rician_unbias(mean, 0.05), signal[:, 0], atol=0.004)


@pytest.mark.parametrize("sigma", [0.02, 0.05, 0.1])
def test_sigma_is_measured_where_there_is_signal(sigma: float) -> None:
    clean = _head()
    noisy = add_noise(clean, "rician", sigma, rng=np.random.default_rng(1))
    assert rician_sigma(noisy) == pytest.approx(sigma, rel=0.1)
    # the white-noise estimate is pulled low by the Rayleigh background
    assert estimate_noise(noisy) < 0.9 * sigma


def test_negative_values_are_not_a_magnitude_image() -> None:
    with pytest.raises(InvalidImageError, match=r"negative values.*not a magnitude image"):
        rician_sigma(_head() - 0.1)
