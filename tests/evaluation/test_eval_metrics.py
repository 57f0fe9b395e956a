"""PSNR and SSIM on a fixed data range."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medidenoise.errors import InvalidImageError, MedidenoiseError
from medidenoise.evaluation import psnr, ssim


def test_psnr_of_known_mse() -> None:
    clean = np.zeros((32, 32), np.float32)
    test = clean + 0.1  # MSE = 0.01 -> 20 dB on range 1, 26.02 dB on range 2
    assert psnr(clean, test, data_range=1.0) == pytest.approx(20.0, abs=1e-5)
    assert psnr(clean, test, data_range=2.0) == pytest.approx(20 + 20 * math.log10(2), abs=1e-5)


def test_psnr_uses_the_given_range_not_the_data() -> None:
    rng = np.random.default_rng(0)
    clean = rng.random((32, 32)) * 0.2  # the data spans only 0.2
    test = clean + rng.normal(0, 0.01, clean.shape)
    mse = np.mean((clean - test) ** 2)
    assert psnr(clean, test, data_range=1.0) == pytest.approx(10 * math.log10(1 / mse))


def test_psnr_identical_is_inf() -> None:
    img = np.random.default_rng(1).random((16, 16))
    assert psnr(img, img, data_range=1.0) == math.inf


def test_ssim_identical_is_one_and_noise_lowers_it() -> None:
    rng = np.random.default_rng(2)
    img = rng.random((48, 48)).astype(np.float32)
    assert ssim(img, img, data_range=1.0) == pytest.approx(1.0, abs=1e-12)
    noisy = img + rng.normal(0, 0.2, img.shape)
    assert ssim(img, noisy, data_range=1.0) < 0.9


def test_metrics_compute_in_float64() -> None:
    clean = np.full((32, 32), 0.5, np.float16)
    test = clean + np.float16(0.001)
    assert psnr(clean, test, data_range=1.0) == pytest.approx(
        psnr(clean.astype(np.float64), test.astype(np.float64), data_range=1.0)
    )


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_missing_data_range_is_a_clear_value_error(metric) -> None:
    img = np.zeros((16, 16))
    with pytest.raises(ValueError, match="data_range is required"):
        metric(img, img)
    with pytest.raises(ValueError, match="positive"):
        metric(img, img, data_range=0)


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_shape_mismatch_names_both_shapes(metric) -> None:
    with pytest.raises(InvalidImageError, match=r"\(16, 16\) and \(16, 17\)") as info:
        metric(np.zeros((16, 16)), np.zeros((16, 17)), data_range=1.0)
    assert isinstance(info.value, MedidenoiseError)
    assert isinstance(info.value, ValueError)


def test_nan_is_rejected() -> None:
    a = np.zeros((16, 16))
    b = a.copy()
    b[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        psnr(a, b, data_range=1.0)


def test_ssim_rejects_tiny_or_3d_images() -> None:
    with pytest.raises(ValueError, match="11 x 11"):
        ssim(np.zeros((8, 8)), np.zeros((8, 8)), data_range=1.0)
    with pytest.raises(ValueError, match="2D"):
        ssim(np.zeros((2, 16, 16)), np.zeros((2, 16, 16)), data_range=1.0)
