"""estimate_noise recovers a known Gaussian noise std on smooth and on real images."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file

from medidenoise.errors import InvalidImageError
from medidenoise.transforms import add_gaussian_noise, estimate_noise


def _smooth(shape: tuple[int, int] = (128, 128)) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]] / max(shape)
    return (100 * np.sin(4 * xx) * np.cos(3 * yy) + 50 * xx**2).astype(np.float32)


@pytest.fixture(scope="module")
def ct_small() -> np.ndarray:
    ds = dcmread(get_testdata_file("CT_small.dcm", download=False))
    return (ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)).astype(np.float32)


@pytest.fixture(scope="module")
def mni_slices() -> np.ndarray:
    datasets = pytest.importorskip("nilearn.datasets", reason="nilearn (data extra) not installed")
    volume = np.asarray(datasets.load_mni152_template(resolution=1).dataobj, dtype=np.float32)
    return np.moveaxis(volume[:, :, 60:130:10], 2, 0).copy()  # 7 axial slices through the brain


@pytest.mark.parametrize("sigma", [0.5, 2.0, 10.0])
def test_smooth_image_known_sigma(sigma: float) -> None:
    noisy = add_gaussian_noise(_smooth(), sigma, rng=0)
    assert estimate_noise(noisy) == pytest.approx(sigma, rel=0.1)


def test_volume_is_estimated_per_slice() -> None:
    volume = np.stack([_smooth() * k for k in (0.5, 1.0, 2.0)] * 3)
    noisy = add_gaussian_noise(volume, 3.0, rng=1)
    assert estimate_noise(noisy) == pytest.approx(3.0, rel=0.1)
    assert estimate_noise(noisy, max_slices=2) == pytest.approx(3.0, rel=0.1)
    assert estimate_noise(noisy[:1]) == pytest.approx(3.0, rel=0.1)  # (1, H, W) like a 2D Volume


@pytest.mark.parametrize("sigma", [20.0, 40.0])
def test_real_ct_known_sigma(ct_small: np.ndarray, sigma: float) -> None:
    intrinsic = estimate_noise(ct_small)  # the scan has noise of its own
    assert 0 < intrinsic < 15
    noisy = add_gaussian_noise(ct_small, sigma, rng=2)
    assert estimate_noise(noisy) == pytest.approx(np.hypot(sigma, intrinsic), rel=0.15)


@pytest.mark.parametrize("fraction", [0.02, 0.05])
def test_real_mri_template_known_sigma(mni_slices: np.ndarray, fraction: float) -> None:
    sigma = fraction * float(mni_slices.max())
    noisy = add_gaussian_noise(mni_slices, sigma, rng=3)
    assert estimate_noise(noisy) == pytest.approx(sigma, rel=0.15)


def test_constant_padding_does_not_bias_the_estimate() -> None:
    noisy = add_gaussian_noise(_smooth(), 4.0, rng=4)
    padded = np.full((128, 384), -2000.0, dtype=np.float32)  # outside a CT field of view
    padded[:, 128:256] = noisy
    assert estimate_noise(padded) == pytest.approx(4.0, rel=0.1)


def test_noise_free_images_and_input_untouched() -> None:
    assert estimate_noise(np.full((16, 16), 7.0)) == 0.0
    ramp = np.add.outer(np.arange(32.0), 2 * np.arange(32.0))
    assert estimate_noise(ramp) == pytest.approx(0.0, abs=1e-6)
    image = add_gaussian_noise(_smooth(), 1.0, rng=5)
    before = image.copy()
    estimate_noise(image)
    np.testing.assert_array_equal(image, before)


def test_bad_inputs() -> None:
    with pytest.raises(InvalidImageError, match="2D"):
        estimate_noise(np.zeros(10))
    with pytest.raises(InvalidImageError, match="2D"):
        estimate_noise(np.zeros((2, 2, 8, 8)))
    with pytest.raises(InvalidImageError, match="3x3"):
        estimate_noise(np.zeros((2, 8)))
    with pytest.raises(ValueError, match="max_slices"):
        estimate_noise(np.zeros((4, 8, 8)), max_slices=0)


@pytest.mark.parametrize(
    ("spectrum", "width"), [("lowpass", 0.25), ("lowpass", 0.12), ("bandpass", 0.4)]
)
def test_correlated_noise_per_pixel_std_within_15_percent(
    mni_slices: np.ndarray, spectrum: str, width: float
) -> None:
    from medidenoise.transforms import add_correlated_noise

    sigma = 0.05 * float(mni_slices.max())
    noisy = add_correlated_noise(mni_slices, sigma, rng=6, spectrum=spectrum, width=width)  # type: ignore[arg-type]
    # the high-pass estimate sees only the finest part of correlated noise ...
    assert estimate_noise(noisy, method="highpass") < 0.5 * sigma
    # ... the default one all of it
    assert estimate_noise(noisy) == pytest.approx(sigma, rel=0.15)


def test_white_noise_keeps_the_highpass_estimate_without_flat_regions(ct_small) -> None:
    # CT_small has no flat region: its flattest blocks hold anatomy, which the block
    # estimate would read as noise; white noise must keep the exact high-pass estimate
    noisy = add_gaussian_noise(ct_small, 20.0, rng=2)
    assert estimate_noise(noisy) == estimate_noise(noisy, method="highpass")


def test_method_argument_is_checked() -> None:
    with pytest.raises(ValueError, match="method"):
        estimate_noise(np.zeros((8, 8)), method="psd")  # type: ignore[arg-type]


def test_the_fast_flatness_mask_equals_scipys_min_max_filters() -> None:
    """The padding test of both noise estimates: constant 3x3 neighbourhoods, borders too."""
    from scipy import ndimage

    from medidenoise.transforms._checks import varying_3x3

    rng = np.random.default_rng(0)
    image = rng.integers(0, 3, (40, 37)).astype(np.float32)  # many flat neighbourhoods
    image[:10, :12] = 5.0  # a flat corner, as DICOM padding
    image[-1, :] = 2.0  # a flat edge row
    expected = ndimage.maximum_filter(image, size=3) > ndimage.minimum_filter(image, size=3)
    np.testing.assert_array_equal(varying_3x3(image), expected)
