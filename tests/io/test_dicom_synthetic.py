"""DICOM series logic on synthetic series that break the easy assumptions."""

from __future__ import annotations

import random

import numpy as np
import pytest
from factories import COLS, ROWS, copy_testdata, make_series, slice_pixels, write_sr
from pydicom.uid import ExplicitVRBigEndian, JPEG2000Lossless

from medidenoise.errors import (
    DicomSeriesError,
    InvalidImageError,
    MedidenoiseError,
    MissingDecoderError,
    MultipleSeriesError,
    NoImageDataError,
)
from medidenoise.io import (
    DicomSeriesWarning,
    find_dicom_series,
    read_dicom_series,
    read_volume,
    scan_dicom,
)

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def world(vol, d, h, w):
    return (vol.affine @ np.array([d, h, w, 1.0]))[:3]


def expected_hu(k, slope=1.0, intercept=-1024.0):
    return slice_pixels(k).astype(np.float64) * slope + intercept


def test_shuffled_names_reverse_instance_numbers(tmp_path):
    """Order comes from positions, never from file names or InstanceNumber."""
    order = list(range(6))
    random.Random(3).shuffle(order)
    make_series(
        tmp_path / "s",
        6,
        names=lambda k: f"IMG{order[k]:04d}",  # no extension, shuffled
        instance_numbers=[60 - k for k in range(6)],  # runs opposite to position
    )
    vol = read_volume(tmp_path / "s")
    assert vol.array.dtype == np.float32 and vol.shape == (6, ROWS, COLS)
    for k in range(6):
        np.testing.assert_array_equal(vol.array[k], expected_hu(k))
    assert vol.spacing == pytest.approx((2.5, 0.7, 0.8))
    assert vol.modality == "CT" and vol.photometric == "MONOCHROME2"
    # index (d, h, w) -> RAS: IPP (10, 20, -10) LPS, rows along +y (dy 0.7), cols +x (dx 0.8)
    np.testing.assert_allclose(world(vol, 0, 0, 0), [-10.0, -20.0, -10.0])
    np.testing.assert_allclose(world(vol, 5, 2, 3), [-(10 + 3 * 0.8), -(20 + 2 * 0.7), 2.5])
    names = [s.path.name for s in vol.source.slices]
    assert names == [f"IMG{order[k]:04d}" for k in range(6)]
    assert vol.metadata["SeriesDescription"] == "synthetic CT"
    assert vol.metadata["SeriesNumber"] == 3
    assert vol.metadata["WindowCenter"] == 40.0 and vol.metadata["WindowWidth"] == 400.0


def test_per_slice_rescale(tmp_path):
    slopes, intercepts = [1.0, 0.5, 2.0], [-1024.0, -1000.0, 10.0]
    make_series(tmp_path / "s", 3, slopes=slopes, intercepts=intercepts)
    vol = read_volume(tmp_path / "s")
    for k in range(3):
        np.testing.assert_allclose(vol.array[k], expected_hu(k, slopes[k], intercepts[k]))
        assert (vol.source.slices[k].slope, vol.source.slices[k].intercept) == (
            slopes[k],
            intercepts[k],
        )


def test_two_interleaved_series(tmp_path):
    make_series(tmp_path / "mix", 3, names=lambda k: f"f{2 * k}", series_uid="1.2.3.1",
                study_uid="1.2.3", description="soft tissue")  # fmt: skip
    make_series(tmp_path / "mix", 4, names=lambda k: f"f{2 * k + 1}", series_uid="1.2.3.2",
                study_uid="1.2.3", description="bone", series_number=4)  # fmt: skip
    with pytest.raises(MultipleSeriesError) as info:
        read_volume(tmp_path / "mix")
    msg = str(info.value)
    assert isinstance(info.value, MedidenoiseError)  # catchable as the project's errors
    assert isinstance(info.value, ValueError)  # and as the matching builtin
    assert "2 image series" in msg and "series_uid=" in msg and str(tmp_path / "mix") in msg
    for text in ("1.2.3.1", "1.2.3.2", "soft tissue", "bone", "3 file(s)", "4 file(s)", "CT"):
        assert text in msg
    vol = read_volume(tmp_path / "mix", series_uid="1.2.3.2")
    assert vol.shape == (4, ROWS, COLS) and vol.source.series_uid == "1.2.3.2"
    with pytest.raises(
        DicomSeriesError, match=r"(?s)no series with SeriesInstanceUID '9\.9'.*1\.2\.3\.1"
    ):
        read_volume(tmp_path / "mix", series_uid="9.9")
    series = find_dicom_series(tmp_path / "mix")
    assert [(s.series_uid, s.n_files, s.shape) for s in series] == [
        ("1.2.3.1", 3, (3, ROWS, COLS)),
        ("1.2.3.2", 4, (4, ROWS, COLS)),
    ]
    assert len({s.key for s in series}) == 2
    # read_dicom_series reads a scanned series without rescanning
    vol2 = read_dicom_series(series[0])
    np.testing.assert_array_equal(vol2.array[2], expected_hu(2))


def test_missing_slice_is_an_error_naming_the_gap(tmp_path):
    paths = make_series(tmp_path / "gap", 6)
    paths[3].unlink()
    with pytest.raises(DicomSeriesError) as info:
        read_volume(tmp_path / "gap")
    msg = str(info.value)
    assert "1 slice(s) missing between -5.00 and 0.00 mm" in msg
    assert "allow_irregular=True" in msg and str(tmp_path / "gap") in msg
    with pytest.warns(DicomSeriesWarning, match="missing"):
        vol = read_volume(tmp_path / "gap", allow_irregular=True)
    assert vol.shape[0] == 5 and vol.spacing[0] == pytest.approx(2.5)
    assert vol.metadata["slice_positions"] == pytest.approx([-10, -7.5, -5, 0, 2.5])


def test_localizer_and_non_image_objects_are_skipped(tmp_path):
    make_series(tmp_path / "study", 4)
    make_series(tmp_path / "study" / "scout", 1, image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
                iop=(0, 1, 0, 0, 0, -1), names=lambda k: "scout")  # fmt: skip
    write_sr(tmp_path / "study" / "report")
    copy_testdata("rtplan.dcm", tmp_path / "study" / "plan.dcm")
    copy_testdata("dicomdirtests/DICOMDIR", tmp_path / "study" / "DICOMDIR")
    (tmp_path / "study" / "notes.txt").write_text("not dicom")
    scan = scan_dicom(tmp_path / "study")
    assert len(scan.series) == 1 and scan.errors == []
    reasons = {p.name: r for p, r in scan.skipped}
    assert "localizer" in reasons["scout"]
    assert "not an image" in reasons["report"]
    assert "RT Plan" in reasons["plan.dcm"]
    assert "DICOMDIR" in reasons["DICOMDIR"]
    assert reasons["notes.txt"] == "not a DICOM file"
    vol = read_volume(tmp_path / "study")
    assert vol.shape == (4, ROWS, COLS)


def test_truncated_file(tmp_path):
    paths = make_series(tmp_path / "s", 3)
    extra = make_series(tmp_path / "other", 1, series_uid="1.2.9")[0]
    data = extra.read_bytes()
    bad = tmp_path / "s" / "broken.dcm"
    bad.write_bytes(data[: len(data) - 20])
    (tmp_path / "s" / "zero.dcm").write_bytes(b"")
    scan = scan_dicom(tmp_path / "s")
    errors = {p.name: r for p, r in scan.errors}
    assert "truncated" in errors["broken.dcm"] and "empty" in errors["zero.dcm"]
    assert [s.n_files for s in scan.series] == [3]
    assert read_volume(tmp_path / "s").shape[0] == len(paths)
    with pytest.raises(InvalidImageError, match=r"broken\.dcm.*truncated"):
        read_volume(bad)


def test_gap_from_a_truncated_slice_names_that_file(tmp_path):
    paths = make_series(tmp_path / "s", 5)
    data = paths[2].read_bytes()
    paths[2].write_bytes(data[: len(data) - 20])  # the middle slice cannot be read
    with pytest.raises(DicomSeriesError) as err:
        read_volume(tmp_path / "s")
    msg = str(err.value)
    assert "incomplete" in msg and "1 of its file(s) cannot be read" in msg
    assert f"{paths[2]} (truncated" in msg and "allow_irregular=True" in msg
    with pytest.warns(UserWarning, match="read without 1 unreadable file"):
        vol = read_volume(tmp_path / "s", allow_irregular=True)
    assert vol.shape[0] == 4 and vol.metadata["incomplete"] == [str(paths[2])]


def test_last_slice_truncated_is_an_error_not_a_shorter_volume(tmp_path):
    paths = make_series(tmp_path / "s", 5)
    data = paths[4].read_bytes()
    paths[4].write_bytes(data[: len(data) - 20])  # no gap left behind: only the scan knows
    with pytest.raises(DicomSeriesError, match=r"slice4\.dcm \(truncated"):
        read_volume(tmp_path / "s")


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoImageDataError, match="no readable DICOM image series"):
        read_volume(tmp_path / "empty")
    assert scan_dicom(tmp_path / "empty").series == []


def test_big_endian_and_jpeg2000_match_little_endian(tmp_path):
    make_series(tmp_path / "le", 3, shape=(32, 32), series_uid="1.2.1")
    make_series(tmp_path / "be", 3, shape=(32, 32), transfer_syntax=ExplicitVRBigEndian)
    make_series(tmp_path / "j2k", 3, shape=(32, 32), compress=JPEG2000Lossless)
    ref = read_volume(tmp_path / "le").array
    np.testing.assert_array_equal(read_volume(tmp_path / "be").array, ref)
    np.testing.assert_array_equal(read_volume(tmp_path / "j2k").array, ref)


def test_missing_decoder_names_file_and_package(tmp_path, monkeypatch):
    make_series(tmp_path / "j2k", 2, shape=(32, 32), compress=JPEG2000Lossless)

    class Unavailable:
        is_available = False
        missing_dependencies = ("pylibjpeg - requires numpy, pylibjpeg and pylibjpeg-openjpeg",)

    import medidenoise.io.dicom._pixels as pixels

    monkeypatch.setattr(pixels, "get_decoder", lambda uid: Unavailable())
    with pytest.raises(MissingDecoderError) as info:
        read_volume(tmp_path / "j2k")
    msg = str(info.value)
    assert isinstance(info.value, ImportError)
    assert (
        "slice0.dcm" in msg
        and "JPEG 2000" in msg
        and "pip install pylibjpeg pylibjpeg-openjpeg" in msg
    )


def test_duplicates(tmp_path):
    paths = make_series(tmp_path / "s", 3)
    (tmp_path / "s" / "copy_of_1").write_bytes(paths[1].read_bytes())
    with pytest.warns(DicomSeriesWarning, match="copy"):
        vol = read_volume(tmp_path / "s")
    assert vol.shape[0] == 3
    # a different image at an existing position: several volumes in one series
    make_series(tmp_path / "s2", 3, series_uid="1.2.5")
    make_series(tmp_path / "s2", 3, series_uid="1.2.5", names=lambda k: f"echo2_{k}")
    with pytest.raises(DicomSeriesError, match=r"same position.*several volumes"):
        read_volume(tmp_path / "s2")


def test_gantry_tilt_warns_and_keeps_shear(tmp_path):
    positions = [(10.0, 20.0 + 0.5 * k, 2.0 * k) for k in range(4)]  # y shifts with z: tilt
    make_series(tmp_path / "tilt", 4, positions=positions)
    with pytest.warns(DicomSeriesWarning, match="gantry tilt"):
        vol = read_volume(tmp_path / "tilt")
    assert vol.metadata["gantry_tilt_deg"] == pytest.approx(np.degrees(np.arctan(0.25)), abs=1e-6)
    assert vol.spacing[0] == pytest.approx(2.0)
    for k, pos in enumerate(positions):
        np.testing.assert_allclose(world(vol, k, 0, 0), LPS_TO_RAS @ np.array(pos), atol=1e-9)


def test_sagittal_descending_order(tmp_path):
    """Sagittal slices: D runs along the normal cross(row, col) = -x, so x decreases with D."""
    iop = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)  # normal = (-1, 0, 0)
    make_series(tmp_path / "sag", 4, positions=[(-5.0 + 1.5 * k, 0, 0) for k in range(4)], iop=iop)
    vol = read_volume(tmp_path / "sag")
    for d in range(4):
        np.testing.assert_array_equal(vol.array[d], expected_hu(3 - d))
    assert vol.spacing[0] == pytest.approx(1.5)
    np.testing.assert_allclose(world(vol, 0, 0, 0), [-(-5.0 + 4.5), 0, 0])
    assert np.linalg.det(vol.affine[:3, :3]) < 0


def test_instance_number_fallback_warns(tmp_path):
    make_series(tmp_path / "nogeo", 3, with_geometry=False, instance_numbers=[3, 1, 2])
    with pytest.warns(DicomSeriesWarning, match="InstanceNumber"):
        vol = read_volume(tmp_path / "nogeo")
    # slice k has InstanceNumber [3,1,2][k]: sorted order is k = 1, 2, 0
    for d, k in enumerate([1, 2, 0]):
        np.testing.assert_array_equal(vol.array[d], expected_hu(k))


def test_missing_series_uid_in_unknown_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_volume(tmp_path / "nope")
