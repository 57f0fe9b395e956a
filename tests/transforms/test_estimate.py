"""estimate_noise recovers a known noise std, white or correlated, and reads a real scan's
noise where its tissue is, not in its air, padding or background."""

from __future__ import annotations

import numpy as np
import pytest
from factories import data_file
from pydicom import dcmread
from scipy import ndimage

from medidenoise import read_volume
from medidenoise.errors import InvalidImageError
from medidenoise.evaluation import tissue_noise_std
from medidenoise.transforms import (
    add_correlated_noise,
    add_gaussian_noise,
    estimate_noise,
    measure_noise,
)
from medidenoise.transforms._checks import varying_3x3


def _smooth(shape: tuple[int, int] = (128, 128)) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]] / max(shape)
    return (100 * np.sin(4 * xx) * np.cos(3 * yy) + 50 * xx**2).astype(np.float32)


#: the scans of pydicom-data and pydicom and the intensities that hold their tissue
REAL_SCANS: dict[str, tuple[float | None, float | None]] = {
    "693_UNCR.dcm": (-200.0, 200.0),  # head CT: brain and soft tissue; no air, bone, padding
    "RG3_UNCR.dcm": (50.0, 950.0),  # CR of a leg, between collimator padding and direct exposure
    "RG1_UNCR.dcm": (None, None),  # chest CR: anatomy everywhere
    "MR2_UNCR.dcm": (150.0, None),  # shoulder MR, above the background
    "emri_small.dcm": (40.0, None),  # ten 64x64 MR slices, above the background
    "CT_small.dcm": (-200.0, 200.0),  # a CT slice with streaky noise in its muscle
}


@pytest.fixture(scope="module")
def ct_small() -> np.ndarray:
    ds = dcmread(data_file("CT_small.dcm"))
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


@pytest.mark.parametrize("name", sorted(REAL_SCANS))
def test_real_scan_level_is_the_noise_of_its_flat_tissue(name: str) -> None:
    volume = read_volume(data_file(name)).array
    reference = tissue_noise_std(volume, *REAL_SCANS[name])
    found = measure_noise(volume)
    assert 1 / 1.5 < found.sigma / reference < 1.5, (found, reference)


def test_head_ct_noise_is_correlated_and_read_in_the_brain_not_the_air() -> None:
    volume = read_volume(data_file("693_UNCR.dcm")).array
    reference = tissue_noise_std(volume, *REAL_SCANS["693_UNCR.dcm"])  # about 2.4 HU
    found = measure_noise(volume)
    # the reconstruction kernel correlates the noise: the high-pass sees a third of it ...
    assert found.highpass < 0.4 * reference
    # ... and the air around the head is quieter (about 1.5 HU) than the brain
    assert found.correlated and found.sigma == pytest.approx(reference, rel=0.25)


def test_padding_value_and_tags_do_not_matter() -> None:
    volume = read_volume(data_file("693_UNCR.dcm")).array
    outside = volume == volume.min()  # the -3024 outside the field of view
    assert outside.mean() > 0.2
    base = estimate_noise(volume)
    for value in (0.0, -1000.0, 2000.0):  # untagged padding of any value, air's or bone's too
        padded = np.where(outside, np.float32(value), volume)
        assert estimate_noise(padded) == pytest.approx(base, rel=0.03)


@pytest.mark.parametrize("spectrum", [None, "bandpass"])
def test_quiet_background_does_not_pull_the_level_down(spectrum: str | None) -> None:
    """Tissue with noise 0.05 on air with noise 0.02 (CT air, an MR Rayleigh floor)."""
    yy, xx = np.mgrid[0:256, 0:256] / 256.0
    disc = ((yy - 0.5) ** 2 + (xx - 0.5) ** 2) < 0.12
    clean = np.where(disc, 0.6 + 0.1 * np.sin(5 * xx), 0.05).astype(np.float32)
    zero = np.zeros_like(clean)
    if spectrum is None:
        tissue, air = add_gaussian_noise(zero, 0.05, rng=1), add_gaussian_noise(zero, 0.02, rng=2)
    else:
        tissue = add_correlated_noise(zero, 0.05, rng=1, spectrum="bandpass", width=0.5)
        air = add_correlated_noise(zero, 0.02, rng=2, spectrum="bandpass", width=0.5)
    noisy = clean + np.where(disc, tissue, air)
    found = measure_noise(noisy)
    assert found.highpass < 0.04  # the median over the slice mixes air and tissue
    assert found.sigma == pytest.approx(0.05, rel=0.1)
    assert found.correlated == (spectrum is not None)


@pytest.mark.parametrize("sigma", [20.0, 40.0])
def test_added_white_noise_adds_to_the_scans_own(ct_small: np.ndarray, sigma: float) -> None:
    own = tissue_noise_std(ct_small[None], *REAL_SCANS["CT_small.dcm"])  # ~26 HU, streaky
    noisy = add_gaussian_noise(ct_small, sigma, rng=2)
    assert estimate_noise(noisy) == pytest.approx(np.hypot(sigma, own), rel=0.15)


@pytest.mark.parametrize("fraction", [0.02, 0.05])
def test_real_mri_template_known_sigma(mni_slices: np.ndarray, fraction: float) -> None:
    sigma = fraction * float(mni_slices.max())
    noisy = add_gaussian_noise(mni_slices, sigma, rng=3)
    assert estimate_noise(noisy) == pytest.approx(sigma, rel=0.15)


def test_white_noise_keeps_the_exact_highpass_estimate(mni_slices: np.ndarray) -> None:
    from skimage.data import brick

    texture = brick().astype(np.float32)  # a photograph of one texture, flat only in places
    for noisy in (
        add_gaussian_noise(_smooth(), 2.0, rng=4),
        add_gaussian_noise(mni_slices, 0.02 * float(mni_slices.max()), rng=4),
        add_gaussian_noise(texture, 2.0, rng=4),
        add_gaussian_noise(texture, 8.0, rng=4),
    ):
        found = measure_noise(noisy)
        assert found.sigma == found.highpass == estimate_noise(noisy, method="highpass")
        assert not found.correlated


def test_constant_padding_does_not_bias_the_estimate() -> None:
    noisy = add_gaussian_noise(_smooth(), 4.0, rng=4)
    padded = np.full((128, 384), -2000.0, dtype=np.float32)  # outside a CT field of view
    padded[:, 128:256] = noisy
    assert estimate_noise(padded) == pytest.approx(4.0, rel=0.1)


def test_noise_free_images_and_input_untouched() -> None:
    assert estimate_noise(np.full((16, 16), 7.0)) == 0.0
    ramp = np.add.outer(np.arange(32.0), 2 * np.arange(32.0))
    assert estimate_noise(ramp) == pytest.approx(0.0, abs=1e-6)
    assert estimate_noise(_smooth()) == pytest.approx(0.0, abs=1e-3)
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
    sigma = 0.05 * float(mni_slices.max())
    noisy = add_correlated_noise(mni_slices, sigma, rng=6, spectrum=spectrum, width=width)  # type: ignore[arg-type]
    # the high-pass estimate sees only the finest part of correlated noise ...
    assert estimate_noise(noisy, method="highpass") < 0.5 * sigma
    # ... the default one all of it
    found = measure_noise(noisy)
    assert found.sigma == pytest.approx(sigma, rel=0.15)
    assert found.correlated


def test_method_argument_is_checked() -> None:
    with pytest.raises(ValueError, match="method"):
        estimate_noise(np.zeros((8, 8)), method="psd")  # type: ignore[arg-type]


def test_the_fast_flatness_mask_equals_scipys_min_max_filters() -> None:
    """The padding test of both noise estimates: constant 3x3 neighbourhoods, borders too."""
    image = np.random.default_rng(0).integers(0, 3, (40, 37)).astype(np.float32)
    image[:10, :12] = 5.0  # a flat corner, as DICOM padding
    image[-1, :] = 2.0  # a flat edge row
    expected = ndimage.maximum_filter(image, size=3) > ndimage.minimum_filter(image, size=3)
    np.testing.assert_array_equal(varying_3x3(image), expected)
