"""Fidelity measures of real scans: flat regions, their noise, patterns, NPS, windowed metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from factories import data_file
from scipy import ndimage as ndi

import medidenoise.evaluation as ev
from medidenoise.errors import InvalidImageError
from medidenoise.evaluation import (
    apply_window,
    clinical_windows,
    flat_region_mask,
    flat_region_noise,
    flat_region_std,
    noise_power_spectrum,
    nps_mean_frequency_shift,
    pattern_metrics,
    windowed_psnr,
    windowed_ssim,
)

SIZE = 256


def _noise(rng: np.random.Generator, std: float, corr: float = 0.0) -> np.ndarray:
    """Noise of std ``std``; ``corr`` > 0: Gaussian-filtered (corr 1.2: lag-1 about 0.7)."""
    n = rng.normal(size=(SIZE, SIZE))
    if corr:
        n = ndi.gaussian_filter(n, corr / math.sqrt(2))
    return std * n / n.std()


def _phantom() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A CT-like phantom in HU, clean: padding (-3024) outside a circle, air, a 40 HU
    ellipse with a 10 HU and a 90 HU insert. Returns (image, padding, ellipse interior)."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] - (SIZE - 1) / 2
    img = np.full((SIZE, SIZE), -1000.0)
    body = (yy / 100) ** 2 + (xx / 80) ** 2 < 1
    img[body] = 40.0
    img[(yy + 40) ** 2 + xx**2 < 18**2] = 10.0
    img[(yy - 40) ** 2 + (xx - 20) ** 2 < 12**2] = 90.0
    padding = yy**2 + xx**2 > 124**2
    img[padding] = -3024.0
    return img, padding, body


def _noisy_phantom(std: float, corr: float = 0.0, seed: int = 0) -> np.ndarray:
    img, padding, _ = _phantom()
    out = img + _noise(np.random.default_rng(seed), std, corr)
    out[padding] = -3024.0  # padding stays exactly constant, as a scanner writes it
    return out


# --- the flat-region mask -----------------------------------------------------------------


def test_mask_leaves_out_padding_air_and_edges() -> None:
    img, padding, body = _phantom()
    mask = flat_region_mask(_noisy_phantom(3.0))
    assert not (mask & padding).any()
    assert not (mask & ~body).any()  # air: the darkest class
    edges = ndi.morphological_gradient(img, size=3) > 0
    assert not (mask & ndi.binary_dilation(edges, iterations=1)).any()
    interior = ndi.binary_erosion(body & ~ndi.binary_dilation(edges, iterations=12), iterations=4)
    assert mask[interior].mean() > 0.95


def test_mask_honours_padding_given_and_constant_areas() -> None:
    noisy = _noisy_phantom(3.0)
    given = np.zeros_like(noisy, bool)
    given[:, : SIZE // 2] = True
    mask = flat_region_mask(noisy, padding=given)
    assert mask.any() and not mask[:, : SIZE // 2].any()
    noisy[100:140, 100:140] = 55.0  # a constant area inside the object: clipped, not tissue
    assert not flat_region_mask(noisy)[100:140, 100:140].any()


def test_mask_takes_the_bright_class_as_background_for_monochrome1() -> None:
    _, padding, body = _phantom()
    inverted = -_noisy_phantom(3.0)  # a radiograph: air (direct exposure) has the high values
    inverted[padding] = 0.0
    mask = flat_region_mask(inverted, photometric="MONOCHROME1")
    assert mask.any() and not (mask & ~body).any()
    assert (flat_region_mask(inverted) & ~body & ~padding).any()  # as MONOCHROME2: air is in


def test_mask_keeps_an_image_without_background() -> None:
    flat = 100 + _noise(np.random.default_rng(3), 2.0)
    assert flat_region_mask(flat).mean() > 0.9


def test_mask_of_a_volume_is_slice_by_slice() -> None:
    vol = np.stack([_noisy_phantom(3.0, seed=s) for s in range(2)])
    mask = flat_region_mask(vol)
    assert mask.shape == vol.shape
    np.testing.assert_array_equal(mask[1], flat_region_mask(vol[1]))


def test_mask_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="photometric"):
        flat_region_mask(np.zeros((16, 16)), photometric="RGB")  # type: ignore[arg-type]
    with pytest.raises(InvalidImageError, match="padding must have the image's shape"):
        flat_region_mask(np.zeros((16, 16)), padding=np.zeros((8, 8), bool))
    with pytest.raises(InvalidImageError, match="2D slice or a"):
        flat_region_mask(np.zeros(16))


# --- the flat-region noise std --------------------------------------------------------------


@pytest.mark.parametrize("std", [1.0, 3.0, 10.0])
def test_flat_std_of_white_noise_on_a_phantom(std: float) -> None:
    noisy = _noisy_phantom(std)
    assert flat_region_std(noisy) == pytest.approx(std, rel=0.15)
    noise = flat_region_noise(noisy)
    assert abs(noise.lag1[0]) < 0.1 and abs(noise.lag1[1]) < 0.1
    assert noise.white_std == pytest.approx(noise.std, rel=0.05)


@pytest.mark.parametrize("corr", [0.84, 1.2])
def test_flat_std_of_correlated_noise_on_a_phantom(corr: float) -> None:
    noisy = _noisy_phantom(4.0, corr)
    noise = flat_region_noise(noisy)
    assert noise.std == pytest.approx(4.0, rel=0.15)
    assert noise.white_std < 0.95 * noise.std  # the plane takes more of correlated noise
    if corr == 1.2:
        assert noise.lag1[0] == pytest.approx(0.7, abs=0.1)


def test_flat_std_follows_the_units_and_keeps_the_input() -> None:
    noisy = _noisy_phantom(3.0).astype(np.float32)
    before = noisy.copy()
    s = flat_region_std(noisy)
    np.testing.assert_array_equal(noisy, before)
    assert flat_region_std(noisy * 10) == pytest.approx(10 * s, rel=1e-3)
    vol = np.stack([noisy, _noisy_phantom(3.0, seed=1)])
    assert flat_region_std(vol) == pytest.approx(3.0, rel=0.15)


def test_flat_std_with_a_mask_and_too_few_patches() -> None:
    noisy = _noisy_phantom(3.0)
    roi = np.zeros_like(noisy, bool)
    roi[120:140, 60:100] = True  # inside the ellipse, away from the inserts
    assert flat_region_std(noisy, mask=roi) == pytest.approx(3.0, rel=0.25)
    roi[:] = False
    roi[90:96, 110:116] = True
    with pytest.raises(InvalidImageError, match="patches of 7 x 7 pixels"):
        flat_region_std(noisy, mask=roi)
    with pytest.raises(ValueError, match="patch must be"):
        flat_region_std(noisy, patch=4)


def test_flat_std_of_an_exactly_flat_image_is_zero() -> None:
    ramp = np.add.outer(np.arange(64.0), np.arange(64.0))
    assert flat_region_std(ramp, mask=np.ones_like(ramp, bool)) == pytest.approx(0.0, abs=1e-9)


# --- patterns, mean shift, noise removed ------------------------------------------------------


def _grid(kind: str, amplitude: float) -> np.ndarray:
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    phase = {"row": rows, "column": cols, "checker": rows + cols}[kind]
    return amplitude * np.where(phase % 2 == 0, 1.0, -1.0)


@pytest.mark.parametrize("kind", ["row", "column", "checker"])
def test_a_known_grid_is_reported_with_its_amplitude(kind: str) -> None:
    noisy = _noisy_phantom(3.0)
    m = pattern_metrics(noisy + _grid(kind, 0.6), noisy)
    found = {"row": m.row_alternation, "column": m.column_alternation, "checker": m.checkerboard}
    own = dict(zip(("row", "column", "checker"), m.input_patterns, strict=True))
    assert own[kind] < 0.05  # the noise's own: about std / sqrt(pixels)
    assert found.pop(kind) == pytest.approx(0.6, abs=2 * own[kind] + 1e-9)
    assert max(map(abs, found.values())) < 1e-3  # the other two patterns: none added
    rel = {"row": m.row_alternation_std, "column": m.column_alternation_std}
    value = {"row": m.row_alternation, "column": m.column_alternation}.get(kind, m.checkerboard)
    assert rel.get(kind, m.checkerboard_std) == pytest.approx(value / m.flat_std_before)
    assert m.nyquist_share > 0.95 and m.nyquist_share_input < 0.2
    assert m.nyquist_ratio > 5 and m.structure == 0.0  # the same everywhere: no structure
    # with the noise removed as well, the noise left in the difference blurs the figure a little
    oracle = pattern_metrics(_phantom()[0] + _grid(kind, 0.6), noisy)
    found = {"row": oracle.row_alternation, "column": oracle.column_alternation}
    assert found.get(kind, oracle.checkerboard) == pytest.approx(0.6, abs=0.05)


def test_a_known_mean_offset_is_reported() -> None:
    noisy = _noisy_phantom(3.0)
    clean = _phantom()[0]
    m = pattern_metrics(clean + 1.5, noisy)
    assert m.mean_shift == pytest.approx(1.5, abs=0.05)
    assert m.mean_shift_std == pytest.approx(m.mean_shift / m.flat_std_before, rel=1e-9)
    assert m.flat_std_before == pytest.approx(3.0, rel=0.15)
    assert m.flat_std_after == pytest.approx(0.0, abs=1e-9)
    assert m.std_removed == pytest.approx(1.0)


def test_the_identity_adds_nothing_and_removes_nothing() -> None:
    noisy = _noisy_phantom(3.0)
    m = pattern_metrics(noisy, noisy)
    assert (m.row_alternation, m.column_alternation, m.checkerboard, m.mean_shift) == (0, 0, 0, 0)
    assert 0 < max(m.input_patterns) < 0.05
    assert m.std_removed == 0.0


def test_oracle_and_blur_tell_noise_removal_from_structure_removal() -> None:
    noisy = _noisy_phantom(3.0)
    clean = _phantom()[0]
    oracle = pattern_metrics(clean, noisy)
    blur = pattern_metrics(ndi.gaussian_filter(noisy, 2.0), noisy)
    assert abs(oracle.structure) < 0.05 < 0.2 < blur.structure
    assert oracle.nyquist_ratio == pytest.approx(1.0, abs=0.3)  # the removed noise is white
    assert 0.5 < blur.std_removed < 1.0


def test_pattern_metrics_refuses_a_shape_mismatch() -> None:
    with pytest.raises(InvalidImageError, match="same shape"):
        pattern_metrics(np.zeros((32, 32)), np.zeros((32, 30)))


# --- noise power spectrum ---------------------------------------------------------------------


def test_nps_of_white_noise_is_flat_at_its_variance() -> None:
    noisy = _noisy_phantom(2.0)
    nps = noise_power_spectrum(noisy, flat_region_mask(noisy), patch=32)
    assert nps.patches > 10
    assert np.median(nps.power) == pytest.approx(4.0, rel=0.15)  # std**2 x pixel area
    assert nps.mean_frequency == pytest.approx(np.mean(nps.frequencies), abs=0.02)


def test_correlated_noise_and_smoothing_lower_the_mean_frequency() -> None:
    white, corr = _noisy_phantom(3.0), _noisy_phantom(3.0, 1.2)
    mask = flat_region_mask(white)
    f_white = noise_power_spectrum(white, mask, patch=32).mean_frequency
    assert noise_power_spectrum(corr, mask, patch=32).mean_frequency < f_white - 0.05
    shift = nps_mean_frequency_shift(ndi.gaussian_filter(white, 1.0), white, patch=32)
    assert shift < -0.05
    assert nps_mean_frequency_shift(white, white, patch=32) == 0.0


def test_nps_needs_a_patch_that_fits() -> None:
    noisy = _noisy_phantom(2.0)
    with pytest.raises(InvalidImageError, match="no 64 x 64 patch"):
        noise_power_spectrum(noisy, np.zeros_like(noisy, bool))
    with pytest.raises(ValueError, match="even"):
        noise_power_spectrum(noisy, np.ones_like(noisy, bool), patch=33)


# --- windowed PSNR / SSIM -----------------------------------------------------------------------


def test_windowed_psnr_sees_an_error_the_full_range_hides() -> None:
    clean = _phantom()[0]
    shifted = clean + 0.8  # 1 % of a brain window, 0.02 % of the range
    body = (clean > -500) & (clean < 70)  # inside the window: the error is not clipped
    assert windowed_psnr(clean, shifted, (40, 80), mask=body) == pytest.approx(40.0)
    assert windowed_psnr(clean, shifted, (40, 4000)) > 70
    assert windowed_psnr(clean, clean, (40, 80)) == math.inf
    roi = np.zeros_like(clean, bool)
    roi[100:110, 100:110] = True
    assert windowed_psnr(clean, shifted, (40, 80), mask=roi) == pytest.approx(40.0)


def test_windowed_ssim_drops_with_noise_inside_the_window() -> None:
    clean = _phantom()[0]
    noisy = _noisy_phantom(3.0)
    assert windowed_ssim(clean, clean, (40, 80)) == pytest.approx(1.0)
    wide, narrow = windowed_ssim(clean, noisy, (40, 4000)), windowed_ssim(clean, noisy, (40, 80))
    assert narrow < wide
    assert windowed_ssim(np.stack([clean, clean]), np.stack([clean, noisy]), (40, 80)) < 1


def test_windows_and_their_checks() -> None:
    assert clinical_windows("ct") == {"brain": (40.0, 80.0), "soft tissue": (40.0, 400.0)}
    assert clinical_windows("CR", header_window=(550, 1024)) == {"header": (550.0, 1024.0)}
    img = np.concatenate([np.zeros(50), np.linspace(100, 200, 101)])
    (level, width) = clinical_windows("MR", img)["1-99 %"]
    assert (level - width / 2, level + width / 2) == pytest.approx((101, 199))
    with pytest.raises(ValueError, match="pass image="):
        clinical_windows("MR")
    with pytest.raises(ValueError, match="width > 0"):
        apply_window(img, (40, 0))


def test_the_measures_are_public() -> None:
    for name in (
        "flat_region_mask",
        "flat_region_std",
        "flat_region_noise",
        "pattern_metrics",
        "noise_power_spectrum",
        "nps_mean_frequency_shift",
        "windowed_psnr",
        "windowed_ssim",
        "clinical_windows",
    ):
        assert name in ev.__all__


# --- the real head CT (pydicom-data 693_UNCR) --------------------------------------------------


@pytest.fixture(scope="module")
def ct693() -> tuple[np.ndarray, np.ndarray]:
    from medidenoise.io import read_volume

    vol = read_volume(data_file("693_UNCR.dcm"))
    assert vol.padding is not None
    return vol.array[0].astype(np.float64), vol.padding[0]


def test_693_flat_mask_lies_in_the_head_and_its_noise_is_a_few_hu(ct693) -> None:
    image, padding = ct693
    mask = flat_region_mask(image, padding=padding)
    parts, _ = ndi.label(ndi.binary_fill_holes(ndi.gaussian_filter(image, 2) > -300))
    head = parts == np.argmax(np.bincount(parts.ravel())[1:]) + 1
    assert mask.sum() > 20_000
    assert (mask & head).sum() / mask.sum() > 0.95
    assert np.median(image[mask]) == pytest.approx(35, abs=25)  # brain, not bone or air
    noise = flat_region_noise(image, mask=mask)
    assert 1.5 < noise.std < 4.0
    assert 0.5 < noise.lag1[0] < 0.85  # the reconstruction kernel correlates neighbours


def test_a_grid_added_to_the_693_slice_is_detected(ct693) -> None:
    image, padding = ct693
    grid = 0.5 * np.where(np.arange(image.shape[0]) % 2 == 0, 1.0, -1.0)[:, None]
    m = pattern_metrics(image + grid, image, padding=padding)
    assert m.row_alternation == pytest.approx(0.5, abs=2 * m.input_patterns[0] + 1e-9)
    assert abs(m.column_alternation) < 1e-3 and abs(m.checkerboard) < 1e-3
    removed = pattern_metrics(image, image + grid, padding=padding)  # a denoiser taking it out
    assert removed.row_alternation == pytest.approx(-0.5, abs=0.05)
    assert m.row_alternation_std == pytest.approx(m.row_alternation / m.flat_std_before)
    assert m.nyquist_share > 0.9
