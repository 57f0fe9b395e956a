"""write_dicom_series: derived series that keep every pixel value and follow the derived rules."""

from __future__ import annotations

import hashlib
import logging
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from factories import DATA, data_file
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

from medidenoise.errors import InvalidImageError, MissingDecoderError
from medidenoise.io import read_volume, scan_dicom, write_dicom_series

CR_FILES = sorted((DATA / "dicomdirtests/77654033/CR1").iterdir()) + sorted(
    (DATA / "dicomdirtests/77654033/CR2").iterdir()
)
#: every encoding and photometric case the reader supports
ROUND_TRIP = [
    "MR_small.dcm",
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_expb.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_padded.dcm",
    "CT_small.dcm",
    "J2K_pixelrep_mismatch.dcm",
    "693_J2KI.dcm",
    "emri_small.dcm",
    "emri_small_RLE.dcm",
    "emri_small_jpeg_2k_lossless.dcm",
    "emri_small_jpeg_ls_lossless.dcm",
    "emri_small_big_endian.dcm",
    "eCT_Supplemental.dcm",
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def same_pixels(src: Path, out: Path) -> None:
    a, b = dcmread(src).pixel_array, dcmread(out).pixel_array
    assert a.dtype.newbyteorder("=") == b.dtype.newbyteorder("="), (a.dtype, b.dtype)
    np.testing.assert_array_equal(a, b)


def make_ct_series(folder: Path, n: int = 5, *, slopes=None, intercepts=None) -> list[Path]:
    """A synthetic axial CT series from CT_small's header: n slices 2.5 mm apart."""
    template = dcmread(data_file("CT_small.dcm"))
    folder.mkdir(parents=True, exist_ok=True)
    series_uid, paths = generate_uid(), []
    rng = np.random.default_rng(0)
    for k in range(n):
        ds = template.copy()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesInstanceUID = series_uid
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [-158.0, -179.0, -10.0 + 2.5 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceLocation = -10.0 + 2.5 * k
        ds.WindowCenter, ds.WindowWidth = [40, 400], [400, 2000]
        ds.RescaleSlope = (slopes or [1.0] * n)[k]
        ds.RescaleIntercept = (intercepts or [-1024.0] * n)[k]
        ds.add_new(0x00280106, "SS", 0)  # Smallest/LargestImagePixelValue: stale after denoising
        ds.add_new(0x00280107, "SS", 3000)
        icon = Dataset()
        icon.Rows = icon.Columns = 1
        ds.IconImageSequence = DicomSequence([icon])
        ds.PixelData = rng.integers(0, 3000, (128, 128), dtype=np.int16).tobytes()
        path = folder / f"IM{k:03d}"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def read_one(folder: Path):
    scan = scan_dicom(folder)
    assert len(scan.series) == 1, scan.summary()
    from medidenoise.io import read_dicom_series

    return read_dicom_series(scan.series[0])


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_identity_round_trip_is_bit_exact(name: str, tmp_path: Path) -> None:
    src = data_file(name)
    before = sha256(src)
    vol = read_volume(src)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        files = write_dicom_series(vol, vol.array, tmp_path / "out")
    assert len(files) == 1
    same_pixels(src, files[0])
    out = dcmread(files[0])
    assert out.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert out.PhotometricInterpretation == dcmread(src, stop_before_pixels=True).get(
        "PhotometricInterpretation"
    )
    assert sha256(src) == before


@pytest.mark.parametrize("path", CR_FILES, ids=lambda p: p.name)
def test_monochrome1_cr_with_slope_round_trips(path: Path, tmp_path: Path) -> None:
    vol = read_volume(path)
    files = write_dicom_series(vol, vol.array, tmp_path)
    same_pixels(path, files[0])
    out = dcmread(files[0])
    assert out.PhotometricInterpretation == "MONOCHROME1"
    assert float(out.RescaleSlope) == pytest.approx(float(dcmread(path).RescaleSlope))


def test_derived_attributes(tmp_path: Path) -> None:
    paths = make_ct_series(tmp_path / "src", 4)
    vol = read_one(tmp_path / "src")
    files = write_dicom_series(
        vol, vol.array, tmp_path / "out", derivation_description="model X v1; sigma 5"
    )
    sources = {dcmread(p).SOPInstanceUID: dcmread(p) for p in paths}
    series_uids = set()
    for f in files:
        ds = dcmread(f)
        src = sources[ds.SourceImageSequence[0].ReferencedSOPInstanceUID]
        series_uids.add(ds.SeriesInstanceUID)
        assert ds.SOPInstanceUID not in sources
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.SOPClassUID == src.SOPClassUID
        assert ds.SeriesInstanceUID != src.SeriesInstanceUID
        assert ds.StudyInstanceUID == src.StudyInstanceUID
        assert ds.FrameOfReferenceUID == src.FrameOfReferenceUID
        assert ds.PatientID == src.PatientID
        assert ds.SeriesNumber == src.SeriesNumber + 1000
        assert ds.SeriesDescription.endswith("DENOISED") and len(ds.SeriesDescription) <= 64
        assert list(ds.ImageType) == ["DERIVED", "SECONDARY", *list(src.ImageType)[2:]]
        assert ds.DerivationDescription == "model X v1; sigma 5"
        code = ds.DerivationCodeSequence[0]
        assert (code.CodeValue, code.CodingSchemeDesignator) == ("113087", "DCM")
        ref = ds.SourceImageSequence[0]
        assert ref.ReferencedSOPClassUID == src.SOPClassUID
        assert ref.PurposeOfReferenceCodeSequence[0].CodeValue == "121322"
        equipment = ds.ContributingEquipmentSequence[-1]
        assert equipment.Manufacturer == "medidenoise"
        assert equipment.PurposeOfReferenceCodeSequence[0].CodeValue == "109102"
        assert ds.Manufacturer == src.Manufacturer
        assert ds.ImagePositionPatient == src.ImagePositionPatient
        assert ds.PixelSpacing == src.PixelSpacing
        assert ds.WindowCenter == src.WindowCenter and ds.WindowWidth == src.WindowWidth
        assert ds.InstanceNumber == src.InstanceNumber
        assert ds.ContentDate == ds.SeriesDate and ds.SeriesTime <= ds.ContentTime
        for stale in ("SmallestImagePixelValue", "LargestImagePixelValue", "IconImageSequence"):
            assert stale not in ds
        assert ds.PixelPaddingValue == src.PixelPaddingValue
        assert ds.BitsStored == src.BitsStored and ds.PixelRepresentation == 1
    assert len(series_uids) == 1


def test_output_reads_back_in_the_same_order(tmp_path: Path) -> None:
    make_ct_series(tmp_path / "src", 5)
    vol = read_one(tmp_path / "src")
    write_dicom_series(vol, vol.array, tmp_path / "out")
    back = read_one(tmp_path / "out")
    np.testing.assert_array_equal(back.array, vol.array)
    np.testing.assert_allclose(back.affine, vol.affine, atol=1e-6)
    assert back.spacing == vol.spacing


def test_dicom2nifti_accepts_the_output(tmp_path: Path, caplog) -> None:
    dicom2nifti = pytest.importorskip("dicom2nifti")
    make_ct_series(tmp_path / "src", 5)
    vol = read_one(tmp_path / "src")
    write_dicom_series(vol, vol.array, tmp_path / "out")
    (tmp_path / "nii").mkdir()
    with caplog.at_level(logging.WARNING), warnings.catch_warnings():
        warnings.simplefilter("error")
        dicom2nifti.convert_directory(str(tmp_path / "out"), str(tmp_path / "nii"))
    assert [r.getMessage() for r in caplog.records if r.name.startswith("dicom2nifti")] == []
    import nibabel as nib

    (nii,) = (tmp_path / "nii").glob("*.nii*")
    assert nib.load(nii).shape == (128, 128, 5)


def test_per_slice_rescale_is_inverted_and_clipped(tmp_path: Path) -> None:
    make_ct_series(tmp_path / "src", 3, slopes=[1.0, 0.5, 2.0], intercepts=[-1024, -1000, 0])
    vol = read_one(tmp_path / "src")
    new = vol.array.copy()
    new[:, 0, 0] = 1e9  # far above any stored range: must clip, never wrap around
    new[:, 0, 1] = 100.3
    files = write_dicom_series(vol, new, tmp_path / "out")
    for k, f in enumerate(files):
        ds = dcmread(f)
        m, b = vol.source.slices[k].slope, vol.source.slices[k].intercept
        raw = ds.pixel_array
        assert raw[0, 0] == 2 ** (ds.BitsStored - 1) - 1
        assert raw[0, 1] == round((100.3 - b) / m)
        np.testing.assert_array_equal(raw[1:], np.rint((new[k, 1:] - b) / m).astype(np.int16))
        assert float(ds.RescaleSlope) == m and float(ds.RescaleIntercept) == b


def test_pixel_padding_is_kept(tmp_path: Path) -> None:
    src = tmp_path / "pad.dcm"
    ds = dcmread(data_file("CT_small.dcm"))
    arr = ds.pixel_array.copy()
    arr[:10] = -2000  # PixelPaddingValue of CT_small
    ds.PixelData = arr.tobytes()
    ds.save_as(src)
    vol = read_volume(src)
    (out,) = write_dicom_series(vol, vol.array + 37.0, tmp_path / "out")
    raw = dcmread(out).pixel_array
    assert (raw[:10] == -2000).all()
    np.testing.assert_array_equal(raw[10:], arr[10:] + 37)


def test_enhanced_multiframe_keeps_functional_groups(tmp_path: Path) -> None:
    src = data_file("eCT_Supplemental.dcm")
    vol = read_volume(src)
    (out,) = write_dicom_series(vol, vol.array, tmp_path)
    ds, orig = dcmread(out), dcmread(src)
    assert ds.NumberOfFrames == orig.NumberOfFrames
    assert ds.ImageType[0] == "DERIVED"
    assert len(ds.PerFrameFunctionalGroupsSequence) == orig.NumberOfFrames
    for f, group in enumerate(ds.PerFrameFunctionalGroupsSequence):
        ref = group.DerivationImageSequence[0].SourceImageSequence[0]
        assert ref.ReferencedSOPInstanceUID == orig.SOPInstanceUID
        assert ref.ReferencedFrameNumber == f + 1
        old = orig.PerFrameFunctionalGroupsSequence[f]
        assert group.PlanePositionSequence == old.PlanePositionSequence
    frame_type = ds.SharedFunctionalGroupsSequence[0].CTImageFrameTypeSequence[0].FrameType
    assert frame_type[0] == "DERIVED"


def test_lossy_history_is_kept(tmp_path: Path) -> None:
    src = data_file("693_J2KI.dcm")
    vol = read_volume(src)
    (out,) = write_dicom_series(vol, vol.array, tmp_path)
    assert dcmread(out).LossyImageCompression == "01"


def test_uid_seed_gives_the_same_uids(tmp_path: Path) -> None:
    vol = read_volume(data_file("CT_small.dcm"))
    (a,) = write_dicom_series(vol, vol.array, tmp_path / "a", uid_seed="m1")
    (b,) = write_dicom_series(vol, vol.array, tmp_path / "b", uid_seed="m1")
    (c,) = write_dicom_series(vol, vol.array, tmp_path / "c")
    uids = [dcmread(p).SOPInstanceUID for p in (a, b, c)]
    assert uids[0] == uids[1] != uids[2]


def test_bad_input_is_refused(tmp_path: Path) -> None:
    vol = read_volume(data_file("CT_small.dcm"))
    bad = vol.array.copy()
    bad[0, 5, 5] = np.nan
    with pytest.raises(InvalidImageError, match="NaN"):
        write_dicom_series(vol, bad, tmp_path)
    with pytest.raises(InvalidImageError, match="shape"):
        write_dicom_series(vol, vol.array[:, :10], tmp_path)
    with pytest.raises(InvalidImageError, match="not read from DICOM"):
        write_dicom_series(vol.with_array(vol.array, source=None), vol.array, tmp_path)


def test_stacks_of_one_source_series_get_their_own_series_uid(tmp_path: Path) -> None:
    """One SeriesInstanceUID split in two stacks: two derived series, two UIDs, stable."""
    paths = make_ct_series(tmp_path / "src", 6)
    stacks = []
    for name, group in (("a", paths[:3]), ("b", paths[3:])):
        (tmp_path / name).mkdir()
        for path in group:
            shutil.copy(path, tmp_path / name / path.name)
        stacks.append(read_volume(tmp_path / name))
    assert stacks[0].source.series_uid == stacks[1].source.series_uid
    uids = []
    for k, vol in enumerate([*stacks, *stacks]):
        first = write_dicom_series(vol, vol.array, tmp_path / f"out{k}", uid_seed="model m")[0]
        uids.append(dcmread(first).SeriesInstanceUID)
    assert uids[0] != uids[1]  # before: both seeded from the source UID only
    assert uids[:2] == uids[2:]  # deterministic: a resumed run writes the same series
    keyed = write_dicom_series(
        stacks[0], stacks[0].array, tmp_path / "k", uid_seed="model m", series_key="1.2.3#2"
    )
    assert dcmread(keyed[0]).SeriesInstanceUID not in uids


def test_instance_numbers_keep_the_source_order(tmp_path: Path) -> None:
    """Instance Numbers falling as z rises: the output sorts by them as the source does."""
    paths = make_ct_series(tmp_path / "src", 5)
    for k, path in enumerate(paths):
        ds = dcmread(path)
        ds.InstanceNumber = 50 - 10 * k  # reversed relative to position, as in dwv #560
        ds.save_as(path, enforce_file_format=True)
    vol = read_one(tmp_path / "src")
    files = write_dicom_series(vol, vol.array, tmp_path / "out")
    sources = {dcmread(p).SOPInstanceUID: dcmread(p) for p in paths}
    for f in files:
        ds = dcmread(f)
        src = sources[ds.SourceImageSequence[0].ReferencedSOPInstanceUID]
        assert ds.InstanceNumber == src.InstanceNumber
    # a reader that sorts by Instance Number only (MONAI's PydicomReader) sees the same volume
    from monai.data import PydicomReader

    reader = PydicomReader()
    source_array, _ = reader.get_data(reader.read(str(tmp_path / "src")))
    output_array, _ = reader.get_data(reader.read(str(tmp_path / "out")))
    np.testing.assert_array_equal(np.asarray(output_array), np.asarray(source_array))


def test_unnumbered_sources_are_numbered_by_position(tmp_path: Path) -> None:
    paths = make_ct_series(tmp_path / "src", 3)
    for path in paths:
        ds = dcmread(path)
        ds.InstanceNumber = None  # type 2: present but empty
        ds.save_as(path, enforce_file_format=True)
    vol = read_one(tmp_path / "src")
    files = write_dicom_series(vol, vol.array, tmp_path / "out")
    assert [dcmread(f).InstanceNumber for f in files] == [1, 2, 3]


def test_stacks_of_one_source_series_are_told_apart(tmp_path: Path) -> None:
    """pydicom's MR700: one SeriesInstanceUID, seven stacks of different orientation."""
    scan = scan_dicom(DATA / "dicomdirtests/98892003/MR700")
    stacks = [info for info in scan.series if "#" in info.key]
    assert len(stacks) > 1
    from medidenoise.io import read_dicom_series

    numbers, descriptions = set(), set()
    for k, info in enumerate(stacks):
        vol = read_dicom_series(info)
        [first, *_] = write_dicom_series(vol, vol.array, tmp_path / f"s{k}", series_key=info.key)
        ds = dcmread(first)
        numbers.add(ds.SeriesNumber)
        descriptions.add(ds.SeriesDescription)
        stack = int(info.key.rpartition("#")[2])
        assert f"stack {stack}" in ds.SeriesDescription and ds.SeriesDescription.endswith(
            "DENOISED"
        )
    assert len(numbers) == len(descriptions) == len(stacks)


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("JPEGLSNearLossless_16.dcm", "ISO_14495_1"),  # has no lossy history at all
        ("JPGExtended.dcm", "ISO_10918_1"),  # history removed below
        ("JPEG2000.dcm", "ISO_15444_1"),
    ],
)
def test_lossy_source_without_history_is_marked(name: str, method: str, tmp_path: Path) -> None:
    src = tmp_path / "src.dcm"
    ds = dcmread(data_file(name))
    for keyword in ("LossyImageCompression", "LossyImageCompressionMethod",
                    "LossyImageCompressionRatio"):  # fmt: skip
        if keyword in ds:
            del ds[keyword]
    ds.save_as(src)
    frames = list(generate_frames(ds.PixelData, number_of_frames=1))
    expected_ratio = ds.Rows * ds.Columns * ds.BitsAllocated / 8 / len(frames[0])
    vol = read_volume(src)
    (out,) = write_dicom_series(vol, vol.array, tmp_path / "out")
    derived = dcmread(out)
    assert derived.LossyImageCompression == "01"
    methods = derived.LossyImageCompressionMethod
    assert (methods[-1] if isinstance(methods, MultiValue) else methods) == method
    ratio = derived.LossyImageCompressionRatio
    ratio = ratio[-1] if isinstance(ratio, MultiValue) else ratio
    assert float(ratio) == pytest.approx(expected_ratio, rel=1e-2)
    assert float(ratio) > 1


def test_lossless_source_gets_no_lossy_history(tmp_path: Path) -> None:
    vol = read_volume(data_file("MR_small_jp2klossless.dcm"))
    (out,) = write_dicom_series(vol, vol.array, tmp_path)
    assert dcmread(out).get("LossyImageCompression") != "01"


@pytest.mark.parametrize(
    ("compression", "syntax"),
    [("rle", RLELossless), ("jpeg-ls", JPEGLSLossless), ("jpeg2000", JPEG2000Lossless)],
    ids=["rle", "jpeg-ls", "jpeg2000"],
)
@pytest.mark.parametrize("name", ["image_dfl.dcm", "J2K_pixelrep_mismatch.dcm", "emri_small.dcm"])
def test_lossless_reencode_decodes_to_the_uncompressed_output(
    name: str, compression: str, syntax: str, tmp_path: Path
) -> None:
    """8-bit, signed Bits Stored 13 and multi-frame sources through each encoder."""
    vol = read_volume(data_file(name))
    (plain,) = write_dicom_series(vol, vol.array, tmp_path / "plain", uid_seed="s")
    (packed,) = write_dicom_series(vol, vol.array, tmp_path / "packed", uid_seed="s",
                                   compression=compression)  # fmt: skip
    a, b = dcmread(plain), dcmread(packed)
    assert b.file_meta.TransferSyntaxUID == syntax
    assert a.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert b.pixel_array.dtype == a.pixel_array.dtype
    np.testing.assert_array_equal(b.pixel_array, a.pixel_array)
    assert (b.BitsStored, b.PixelRepresentation) == (a.BitsStored, a.PixelRepresentation)
    assert b.SOPInstanceUID == a.SOPInstanceUID  # a lossless re-encode is the same instance
    assert b.get("LossyImageCompression") == a.get("LossyImageCompression")


def test_missing_encoder_package_is_named(tmp_path: Path, monkeypatch) -> None:
    from medidenoise.io.dicom import _write_compress as dicom_write_compress

    monkeypatch.setattr(dicom_write_compress, "_encoder_available", lambda uid: False)
    vol = read_volume(data_file("CT_small.dcm"))
    with pytest.raises(MissingDecoderError, match="pyjpegls") as info:
        write_dicom_series(vol, vol.array, tmp_path / "x", compression="jpeg-ls")
    assert isinstance(info.value, ImportError)
    with pytest.raises(MissingDecoderError, match="pylibjpeg-openjpeg"):
        write_dicom_series(vol, vol.array, tmp_path / "x", compression="jpeg2000")
    with pytest.raises(ValueError, match="compression must be one of"):
        write_dicom_series(vol, vol.array, tmp_path / "x", compression="zip")  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()
