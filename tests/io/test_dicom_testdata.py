"""DICOM reading on the real files shipped with pydicom and pydicom-data."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from factories import copy_testdata, data_file

from medidenoise.errors import (
    DicomSeriesError,
    InvalidImageError,
    MultipleSeriesError,
    NoImageDataError,
    UnsupportedImageError,
)
from medidenoise.io import DicomSeriesWarning, read_volume, scan_dicom


def raw(name_or_path) -> pydicom.Dataset:
    path = name_or_path if not isinstance(name_or_path, str) else data_file(name_or_path)
    return pydicom.dcmread(path)


def test_ct_small_in_hounsfield_units():
    vol = read_volume(data_file("CT_small.dcm"))
    ds = raw("CT_small.dcm")
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_array_equal(vol.array[0], expected)
    assert vol.shape == (1, 128, 128) and vol.modality == "CT"
    dy, dx = (float(v) for v in ds.PixelSpacing)
    assert vol.spacing == pytest.approx((float(ds.SliceThickness), dy, dx))
    ipp = np.array([float(v) for v in ds.ImagePositionPatient])
    np.testing.assert_allclose(vol.affine[:3, 3], ipp * [-1, -1, 1])
    src = vol.source.slices[0]
    assert src.sop_instance_uid == ds.SOPInstanceUID and src.intercept == -1024.0
    assert vol.metadata["SeriesNumber"] == int(ds.SeriesNumber)


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_expb.dcm",
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
    ],
)
def test_mr_small_encodings_agree(name):
    ref = read_volume(data_file("MR_small.dcm"))
    vol = read_volume(data_file(name))
    np.testing.assert_array_equal(vol.array, ref.array)
    np.testing.assert_allclose(vol.affine, ref.affine)
    assert vol.metadata["WindowCenter"] == 600.0 and vol.metadata["WindowWidth"] == 1600.0


def test_cr_monochrome1_is_kept_as_stored(dicomdirtests):
    folder = dicomdirtests / "77654033" / "CR1"
    vol = read_volume(folder)
    ds = raw(next(folder.iterdir()))
    assert vol.photometric == "MONOCHROME1" and vol.modality == "CR"
    np.testing.assert_allclose(vol.array[0], ds.pixel_array * 0.684 + 200, rtol=1e-6)
    assert vol.source.slices[0].slope == pytest.approx(0.684)
    assert vol.source.slices[0].intercept == 200.0


def test_ct5n_descending_z(dicomdirtests):
    vol = read_volume(dicomdirtests / "98892001" / "CT5N")
    assert vol.shape == (5, 16, 16)
    assert vol.spacing[0] == pytest.approx(2.5)
    z = [float(raw(s.path).ImagePositionPatient[2]) for s in vol.source.slices]
    assert z == pytest.approx([-1.2375, 1.2625, 3.7625, 6.2625, 8.7625])
    np.testing.assert_allclose(vol.affine[:3, 0], [0, 0, 2.5], atol=1e-6)
    for d, s in enumerate(vol.source.slices):
        np.testing.assert_array_equal(vol.array[d], raw(s.path).pixel_array - 1024.0)


def test_ct2_gap_is_flagged(dicomdirtests):
    with pytest.raises(DicomSeriesError, match=r"161 slice\(s\) missing between -99\.48"):
        read_volume(dicomdirtests / "77654033" / "CT2")
    with pytest.warns(DicomSeriesWarning):
        vol = read_volume(dicomdirtests / "77654033" / "CT2", allow_irregular=True)
    assert vol.shape[0] == 4 and vol.spacing[0] == pytest.approx(1.25, abs=1e-3)


def test_ct2n_only_localizers(dicomdirtests):
    with pytest.raises(NoImageDataError, match="localizer"):
        read_volume(dicomdirtests / "98892001" / "CT2N")


def test_dicomdir_folder_lists_series_and_skips_dicomdir(dicomdirtests):
    scan = scan_dicom(dicomdirtests)
    assert any(p.name == "DICOMDIR" and "DICOMDIR" in r for p, r in scan.skipped)
    assert scan.errors == []
    assert len({s.key for s in scan.series}) == len(scan.series) > 5
    with pytest.raises(MultipleSeriesError, match="series_uid="):
        read_volume(dicomdirtests)


def test_enhanced_ct_frames_sorted_by_position():
    path = data_file("eCT_Supplemental.dcm")
    vol = read_volume(path)
    ds = raw("eCT_Supplemental.dcm")
    assert vol.shape == (2, 512, 512) and vol.source.multiframe
    # normal = cross((-1,0,0), (0,1,0)) = (0,0,-1): frame 1 (z=-149) comes first
    assert [s.frame for s in vol.source.slices] == [1, 0]
    np.testing.assert_array_equal(vol.array[0], ds.pixel_array[1] - 1024.0)
    assert vol.spacing == pytest.approx((10.0, 0.388672, 0.388672))
    np.testing.assert_allclose(vol.affine[:3, 3], [-99.5, 301.5, -149.0])
    np.testing.assert_allclose(vol.affine[:3, 0], [0, 0, -10.0])
    assert vol.metadata["WindowCenter"] == 49.0


@pytest.mark.parametrize(
    "name",
    [
        "emri_small_big_endian.dcm",
        "emri_small_RLE.dcm",
        "emri_small_jpeg_2k_lossless.dcm",
        "emri_small_jpeg_ls_lossless.dcm",
    ],
)
def test_enhanced_mr_encodings_agree(name):
    ref = read_volume(data_file("emri_small.dcm"))
    assert ref.shape == (10, 64, 64) and ref.spacing[0] == pytest.approx(1.2)
    np.testing.assert_array_equal(ref.array, raw("emri_small.dcm").pixel_array)
    np.testing.assert_array_equal(read_volume(data_file(name)).array, ref.array)


@pytest.mark.parametrize(
    ("name", "error", "words"),
    [
        ("MR_truncated.dcm", InvalidImageError, "truncated"),
        ("emri_small_jpeg_2k_lossless_too_short.dcm", InvalidImageError, "truncated or corrupt"),
        ("rtplan.dcm", NoImageDataError, "RT Plan"),
        ("SC_rgb.dcm", UnsupportedImageError, "RGB"),
        ("OT-PAL-8-face.dcm", UnsupportedImageError, "PALETTE COLOR"),
        ("ExplVR_BigEnd.dcm", UnsupportedImageError, "grayscale"),
    ],
)
def test_bad_files_give_clear_errors(name, error, words):
    path = data_file(name)
    with pytest.raises(error) as info:
        read_volume(path)
    assert str(path) in str(info.value) and words in str(info.value)


def test_colour_file_in_folder_is_skipped(tmp_path):
    copy_testdata("SC_rgb.dcm", tmp_path / "f" / "rgb.dcm")
    copy_testdata("CT_small.dcm", tmp_path / "f" / "ct")
    scan = scan_dicom(tmp_path / "f")
    assert [p.name for p, r in scan.skipped if "colour" in r] == ["rgb.dcm"]
    assert read_volume(tmp_path / "f").modality == "CT"


@pytest.mark.parametrize(
    ("name", "shape", "photometric", "slope"),
    [
        ("RG3_UNCR.dcm", (1, 1760, 1760), "MONOCHROME1", 1.0),
        ("MR2_UNCR.dcm", (1, 1024, 1024), "MONOCHROME2", 3.774),
        ("693_UNCR.dcm", (1, 512, 512), "MONOCHROME2", 1.0),
        pytest.param("RG1_J2KR.dcm", (1, 1955, 1841), "MONOCHROME1", 1.0, marks=pytest.mark.slow),
    ],
)
def test_holdout_and_large_files_read(name, shape, photometric, slope):
    """Hold-out files are only checked to read correctly (never used otherwise)."""
    vol = read_volume(data_file(name))
    ds = raw(name)
    assert vol.shape == shape and vol.photometric == photometric
    assert vol.source.slices[0].slope == pytest.approx(slope, rel=1e-3)
    expected = ds.pixel_array * float(ds.get("RescaleSlope", 1)) + float(
        ds.get("RescaleIntercept", 0)
    )
    np.testing.assert_allclose(vol.array[0], expected, rtol=1e-6)
    assert np.all(vol.spacing) and all(s > 0 for s in vol.spacing)
