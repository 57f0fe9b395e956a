"""Rician noise of magnitude images: its level and the exact inverse of its mean."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from medidenoise.errors import InvalidImageError
from medidenoise.transforms import (
    add_correlated_noise,
    add_noise,
    detect_rician,
    estimate_noise,
    rician_mean,
    rician_sigma,
    rician_unbias,
    rician_unbias_denoised,
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


def test_a_denoised_estimate_keeps_its_background_dark_and_its_signal() -> None:
    """A denoiser's estimate of E[M] is off by a few hundredths of sigma: the plain inverse
    reads that as signal all over the air; the denoised-image inverse does not, and keeps
    every clear signal, slice by slice."""
    sigma = 0.05
    clean = np.stack([_head(), _head()[::-1]])
    rng = np.random.default_rng(2)
    # the estimate of a good denoiser: E[M] plus a smooth error of 5 % of sigma
    error = ndimage.gaussian_filter(rng.standard_normal(clean.shape), (0, 1.5, 1.5))
    estimate = rician_mean(clean, sigma) + 0.05 * sigma * error / error.std()
    plain, denoised = rician_unbias(estimate, sigma), rician_unbias_denoised(estimate, sigma)
    air = clean == 0
    assert float(plain[air].mean()) > 0.005
    assert float(denoised[air].mean()) < float(plain[air].mean()) / 3
    # away from the border, in each slice
    tissue = ndimage.binary_erosion(clean > 0, np.ones((1, 3, 3)), iterations=4)
    assert tissue.sum() > 10000
    np.testing.assert_allclose(denoised[tissue], plain[tissue], atol=2e-3)
    assert denoised.dtype == np.float32 and denoised.shape == clean.shape
    # each slice on its own: the volume's slices are the slices' own results
    np.testing.assert_allclose(denoised[1], rician_unbias_denoised(estimate[1], sigma), atol=1e-6)
    with pytest.raises(ValueError, match="2D image or a 3D volume"):
        rician_unbias_denoised(estimate[0, 0], sigma)
    with pytest.raises(ValueError, match="sigma"):
        rician_unbias_denoised(estimate, 0.0)


@pytest.mark.parametrize("sigma", [0.02, 0.05, 0.1])
def test_sigma_is_measured_where_there_is_signal(sigma: float) -> None:
    clean = _head()
    noisy = add_noise(clean, "rician", sigma, rng=np.random.default_rng(1))
    assert rician_sigma(noisy) == pytest.approx(sigma, rel=0.1)
    # the finest-band estimate alone is pulled low by the Rayleigh background; the default
    # estimate leaves that background out (its blocks are quieter than the tissue's)
    assert estimate_noise(noisy, method="highpass") < 0.9 * sigma
    assert estimate_noise(noisy) == pytest.approx(sigma, rel=0.1)


def test_negative_values_are_not_a_magnitude_image() -> None:
    with pytest.raises(InvalidImageError, match=r"negative values.*not a magnitude image"):
        rician_sigma(_head() - 0.1)


@pytest.mark.parametrize("sigma", [0.01, 0.03, 0.1])
def test_a_magnitude_image_is_told_by_its_rayleigh_background(sigma: float) -> None:
    noisy = add_noise(_head(), "rician", sigma, rng=np.random.default_rng(2))
    assert detect_rician(noisy)
    assert detect_rician(np.stack([noisy, noisy[::-1]]))  # a volume
    # stored as integers (sigma of 5 to 50 counts): the few background values rounded to 0
    # are the ones the Rayleigh law expects
    assert detect_rician(np.round(noisy * 500).astype(np.uint16))


@pytest.mark.parametrize(
    "kind, level", [("gaussian", 0.03), ("gaussian", 0.1), ("poisson", 200.0), ("speckle", 0.1),
                    ("poisson_gaussian", 0.05), ("salt_and_pepper", 0.05)]
)  # fmt: skip
def test_other_noise_on_a_dark_background_is_not_taken_for_rician(kind: str, level: float) -> None:
    noisy = add_noise(_head(), kind, level, rng=np.random.default_rng(3))  # type: ignore[arg-type]
    assert not detect_rician(noisy)  # negative values, or zeros where there is no signal
    assert not detect_rician(np.clip(noisy, 0, None))  # as unsigned storage clips it
    assert not detect_rician(np.clip(noisy, 0, None) + 0.2)  # lifted off zero: no Rayleigh shape


def test_no_background_or_a_masked_one_is_not_a_magnitude_image() -> None:
    noisy = add_noise(_head(), "rician", 0.05, rng=np.random.default_rng(4))
    assert not detect_rician(np.where(_head() > 0, noisy, 0))  # the scanner zeroed the air
    assert not detect_rician(noisy[64:128, 64:128])  # a crop inside the head: no air
    assert not detect_rician(_head())  # no noise
    correlated = add_correlated_noise(_head(), 0.05, rng=np.random.default_rng(5))
    assert not detect_rician(np.clip(correlated, 0, None))
