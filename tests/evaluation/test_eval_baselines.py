"""Classical baselines: PSNR improves, dtype/shape kept, input untouched."""

from __future__ import annotations

import numpy as np
import pytest

from medidenoise.errors import InvalidImageError
from medidenoise.evaluation import CLASSICAL_METHODS, bm3d_available, psnr
from medidenoise.models.classical import denoise_wavelet

SIGMA = 0.1
METHODS = sorted(CLASSICAL_METHODS)


def _noisy(clean: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (clean + rng.normal(0, SIGMA, clean.shape)).astype(np.float32)


@pytest.fixture(params=METHODS)
def method(request: pytest.FixtureRequest) -> str:
    if request.param == "bm3d" and not bm3d_available():
        pytest.skip("bm3d is not installed")
    return request.param


def test_registry_names() -> None:
    assert set(CLASSICAL_METHODS) == {"nlm", "tv", "wavelet", "bm3d"}


def test_improves_psnr_keeps_dtype_shape_and_input(method: str, smooth: np.ndarray) -> None:
    noisy = _noisy(smooth)
    before = noisy.copy()
    out = CLASSICAL_METHODS[method](noisy, SIGMA)
    assert out.dtype == np.float32
    assert out.shape == noisy.shape
    assert out is not noisy
    np.testing.assert_array_equal(noisy, before)
    gain = psnr(smooth, out, data_range=1.0) - psnr(smooth, noisy, data_range=1.0)
    assert gain > 3.0, f"{method} improved PSNR by only {gain:.2f} dB"


def test_sigma_zero_returns_a_copy(method: str, smooth: np.ndarray) -> None:
    out = CLASSICAL_METHODS[method](smooth, 0.0)
    np.testing.assert_array_equal(out, smooth)
    assert out is not smooth


def test_other_dtypes_come_back_float32(smooth: np.ndarray) -> None:
    as_uint8 = (smooth * 255).astype(np.uint8)
    assert CLASSICAL_METHODS["tv"](as_uint8, 25.0).dtype == np.float32


@pytest.mark.parametrize("name", METHODS)
def test_rejects_3d_and_bad_sigma(name: str) -> None:
    fn = CLASSICAL_METHODS[name]
    with pytest.raises(InvalidImageError, match="2D"):
        fn(np.zeros((2, 16, 16), np.float32), 0.1)
    with pytest.raises(ValueError, match="sigma"):
        fn(np.zeros((16, 16), np.float32), -1.0)
    with pytest.raises(InvalidImageError, match="NaN"):
        fn(np.full((16, 16), np.nan, np.float32), 0.1)


def test_wavelet_visushrink_option(make_smooth) -> None:
    smooth = make_smooth(256)  # enough wavelet levels for the two rules to differ
    noisy = _noisy(smooth)
    bayes = denoise_wavelet(noisy, SIGMA)
    visu = denoise_wavelet(noisy, SIGMA, method="VisuShrink")
    assert not np.allclose(visu, bayes)
    assert psnr(smooth, visu, data_range=1.0) > psnr(smooth, noisy, data_range=1.0)
    with pytest.raises(ValueError, match="BayesShrink"):
        denoise_wavelet(noisy, SIGMA, method="Nope")  # type: ignore[arg-type]
