"""The quality report per series and the out-of-distribution warnings (issue 28)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

import medidenoise as md
from medidenoise.evaluation.ood import NPS_TRAINED


@pytest.fixture(scope="module")
def phantom() -> tuple[np.ndarray, np.ndarray]:
    """(clean, noisy): soft-tissue disks with edges in air, white noise of std 10 HU."""
    yy, xx = np.mgrid[0:128, 0:128]
    clean = np.full((2, 128, 128), -1000.0)
    clean[:, ((yy - 64) ** 2 + (xx - 64) ** 2) < 55**2] = 40.0
    clean[:, ((yy - 50) ** 2 + (xx - 70) ** 2) < 12**2] = 300.0
    noisy = clean + np.random.default_rng(0).normal(0, 10.0, clean.shape)
    return clean.astype(np.float32), noisy.astype(np.float32)


def test_removing_the_noise_scores_well(phantom) -> None:
    clean, noisy = phantom
    q = md.quality_report(md.Volume(noisy, modality="CT"), clean)
    assert q.units == "HU" and 9 < q.flat_std_before < 11 and q.flat_std_after < 0.5
    assert q.std_ratio < 0.05 and abs(q.mean_shift) < 1.0
    assert q.nps_before is not None and q.nps_after is not None
    assert abs(q.structure) < 0.2 and q.pattern_amplitude < 0.1
    assert q.warnings == []  # an ordinary synthetic CT
    data = q.to_dict()
    assert data["nps_before"]["power"] and data["std_ratio"] == pytest.approx(q.std_ratio)


def test_blurring_shows_as_a_coarser_spectrum_and_removed_edges(phantom) -> None:
    _, noisy = phantom
    blurred = np.stack([gaussian_filter(s, 2.0) for s in noisy])
    q = md.quality_report(noisy, blurred, modality="CT")
    assert q.mean_frequency_shift < -0.05  # the "plastic" look
    assert q.structure > 0.3  # the removed "noise" follows the edges


def test_an_added_grid_shows_as_a_pattern(phantom) -> None:
    clean, noisy = phantom
    grid = 3.0 * (-1.0) ** np.arange(128)[:, None]
    q = md.quality_report(noisy, clean + grid, modality="CT")
    assert q.pattern_amplitude > 0.2


def test_the_figure_is_written(tmp_path: Path, phantom) -> None:
    clean, noisy = phantom
    vol = md.Volume(noisy, modality="CT")
    q = md.quality_report(vol, clean)
    path = md.save_quality_figure(vol, clean, tmp_path / "q" / "fig.png", report=q, title="t")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_shapes_must_agree(phantom) -> None:
    _, noisy = phantom
    with pytest.raises(ValueError, match="differ in shape"):
        md.quality_report(noisy, noisy[:1])


def test_an_ordinary_image_gets_no_warning(phantom) -> None:
    _, noisy = phantom
    record = {"model": "white", "requested": "auto", "noise_level_network": 0.01}
    assert md.ood_warnings(md.Volume(noisy, modality="CT"), provenance=record) == []


def test_each_warning_says_what_it_found() -> None:
    rng = np.random.default_rng(1)
    eight_bit = rng.integers(0, 256, (1, 96, 96)).astype(np.float32)
    (said,) = md.ood_warnings(eight_bit)
    assert "256 grey levels" in said and "scanner" in said
    (said,) = md.ood_warnings(rng.normal(0, 1, (20, 30)))
    assert "very small image (20 x 30" in said
    (said,) = md.ood_warnings(rng.normal(0, 1, (96, 96)), modality="US")
    assert "modality US" in said
    record = {"model": "white", "requested": "white", "noise_level_network": 0.6}
    (said,) = md.ood_warnings(rng.normal(0, 1, (96, 96)), provenance=record)
    assert "above the highest the model 'white' was trained at (0.15)" in said


def test_a_spectrum_unlike_the_trained_noise_warns() -> None:
    noise = gaussian_filter(np.random.default_rng(2).normal(0, 1, (256, 256)), 6.0)
    nps = md.evaluation.noise_power_spectrum(noise, np.ones((256, 256), bool), patch=32)
    assert nps.mean_frequency < NPS_TRAINED[0]
    (said,) = md.ood_warnings(noise, nps=nps)
    assert "coarser than any noise the model was trained on" in said
    white = np.random.default_rng(3).normal(0, 1, (256, 256))
    nps = md.evaluation.noise_power_spectrum(white, np.ones((256, 256), bool), patch=32)
    assert md.ood_warnings(white, nps=nps) == []
    rows = white + 3.0 * (-1.0) ** np.arange(256)[:, None]  # a stripe pattern
    nps = md.evaluation.noise_power_spectrum(rows, np.ones((256, 256), bool), patch=32)
    (said,) = md.ood_warnings(rows, nps=nps)
    assert "finer than any noise" in said


def test_header_signs_of_a_screen_export() -> None:
    vol = md.Volume(
        np.random.default_rng(4).normal(40, 10, (1, 96, 96)).astype(np.float32),
        modality="CT",
        metadata={"ConversionType": "WSD", "LossyImageCompression": "01", "BitsStored": 32},
    )
    said = " ".join(md.ood_warnings(vol))
    assert "secondary capture" in said and "lossy compression" in said and "bit depth" in said


def test_roi_contrast_and_its_messages() -> None:
    img = np.random.default_rng(5).normal(40, 10, (64, 64))
    img[20:40, 20:40] += 100
    signal, background = np.zeros((64, 64), bool), np.zeros((64, 64), bool)
    signal[22:38, 22:38], background[2:18, 2:18] = True, True
    r = md.roi_contrast(img, signal, background)
    assert 12 < r.snr < 16 and 8 < r.cnr < 12
    with pytest.raises(ValueError, match="covers 0 pixel"):
        md.roi_contrast(img, np.zeros((64, 64), bool), background)
    with pytest.raises(ValueError, match="signal has shape"):
        md.roi_contrast(img, signal[:10], background)
