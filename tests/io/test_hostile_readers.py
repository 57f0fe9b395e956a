"""Readers under hostile input: every odd test file, synthetic breaks, a header fuzzer, huge claims.

Each case must end in a correct volume or in medidenoise's own error naming the file, with the
input left byte for byte as it was. No case may crash the process, raise a bare builtin error, or
return wrong data (a sheared image, a NaN affine, a silently rescaled or shortened volume).
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from factories import data_file, make_series
from pydicom.data import get_testdata_file
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.uid import RLELossless

from medidenoise.errors import (
    DicomSeriesError,
    InvalidImageError,
    MedidenoiseError,
    UnsupportedImageError,
)
from medidenoise.io import read_volume, scan_dicom


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _corpus() -> list[Path]:
    """Every flat file of pydicom's test set and of pydicom-data (when installed)."""
    folders = [Path(get_testdata_file("CT_small.dcm", download=False)).parent]
    extra = get_testdata_file("693_UNCI.dcm", download=False)
    if extra is not None:
        folders.append(Path(extra).parent)
    return sorted(p for folder in folders for p in folder.iterdir() if p.is_file())


def _read_or_own_error(path: Path) -> str:
    """Read ``path``; return "ok" or the error class. Anything else fails the test."""
    before = _sha(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vol = read_volume(path)
    except MedidenoiseError as exc:
        assert str(path) in str(exc), f"{path.name}: the error does not name the file: {exc}"
        outcome = type(exc).__name__
    else:
        assert vol.array.dtype == np.float32 and vol.array.ndim == 3
        assert np.isfinite(vol.array).all(), path.name
        assert np.isfinite(vol.affine).all() and abs(np.linalg.det(vol.affine[:3, :3])) > 0
        outcome = "ok"
    assert _sha(path) == before, f"{path.name} was modified"
    return outcome


def test_every_pydicom_test_file_reads_or_fails_with_its_own_error(tmp_path: Path) -> None:
    corpus = _corpus()
    outcomes = {p.name: _read_or_own_error(p) for p in corpus}
    assert outcomes["CT_small.dcm"] == outcomes["MR_small_RLE.dcm"] == "ok"
    # a complete colour file is colour, not "truncated"; Float/Double Float data are read
    assert outcomes["SC_ybr_full_422_uncompressed.dcm"] == "UnsupportedImageError"
    assert outcomes["badVR.dcm"] == "InvalidImageError"
    assert outcomes["MR_small_padded.dcm"] == "ok"  # zero padding after the pixels is fine
    # the whole corpus in one folder: the scan never stops, every file is accounted for
    flat = tmp_path / "all"
    flat.mkdir()
    for k, p in enumerate(corpus):
        shutil.copyfile(p, flat / f"{k:03d}_{p.name}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scan = scan_dicom(flat)
    seen = {p for s in scan.series for p in s.files} | {p for p, _ in scan.skipped}
    seen |= {p for p, _ in scan.errors}
    assert seen == set(flat.iterdir())


def test_ybr_422_is_colour_not_truncated() -> None:
    path = data_file("SC_ybr_full_422_uncompressed.dcm")
    with pytest.raises(UnsupportedImageError, match="colour") as err:
        read_volume(path)
    assert "truncated" not in str(err.value)


def test_float_pixel_data_is_read(tmp_path: Path) -> None:
    ds = pydicom.dcmread(make_series(tmp_path / "s", 1)[0])
    del ds.PixelData
    for keyword in ("BitsStored", "HighBit", "PixelRepresentation"):
        delattr(ds, keyword)
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    values = (np.arange(30, dtype=np.float64).reshape(6, 5) - 10) / 7
    kinds = (("FloatPixelData", 32, "<f4"), ("DoubleFloatPixelData", 64, "<f8"))
    for keyword, bits, dtype in kinds:
        ds.BitsAllocated = bits
        for other in ("FloatPixelData", "DoubleFloatPixelData"):
            if other in ds:
                delattr(ds, other)
        setattr(ds, keyword, values.astype(dtype).tobytes())
        path = tmp_path / f"{keyword}.dcm"
        ds.save_as(path)
        np.testing.assert_allclose(read_volume(path).array[0], values, rtol=1e-6)


def _edit(path: Path, **values: object) -> Path:
    ds = pydicom.dcmread(path)
    for keyword, value in values.items():
        try:
            setattr(ds, keyword, value)
        except ValueError:  # pydicom refuses it as DS: store it as text, as a bad writer would
            ds[keyword] = DataElement(tag_for_keyword(keyword), "LO", value)
    ds.save_as(path)
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"RescaleSlope": 0}, "RescaleSlope is '0"),
        ({"RescaleSlope": "abc"}, "RescaleSlope is 'abc'"),
        ({"RescaleIntercept": "NaN"}, "RescaleIntercept is 'NaN'"),
        ({"ImageOrientationPatient": [0, 0, 0, 0, 0, 0]}, "orthogonal unit vectors"),
        ({"ImageOrientationPatient": [1, 0, 0, 1, 0, 0]}, "orthogonal unit vectors"),
        ({"ImagePositionPatient": [0, "NaN", 0]}, "three finite numbers"),
        ({"Columns": 4}, "does not match the data"),
        ({"Rows": 5}, "does not match the data"),
    ],
)
def test_silently_wrong_headers_become_errors(tmp_path: Path, change: dict, message: str) -> None:
    paths = make_series(tmp_path / "s", 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid values it writes
        _edit(paths[1], **change)
    before = _sha(paths[1])
    # another Rows/Columns makes the file a stack of its own in the folder: read it alone
    targets = [paths[1]] if {"Rows", "Columns"} & set(change) else [paths[1], tmp_path / "s"]
    for target in targets:
        with pytest.raises(InvalidImageError, match=message.replace("(", r"\(")) as err:
            read_volume(target)
        assert str(paths[1]) in str(err.value)
    assert _sha(paths[1]) == before


def test_mixed_monochrome_names_the_folder_and_files(tmp_path: Path) -> None:
    paths = make_series(tmp_path / "s", 3)
    _edit(paths[2], PhotometricInterpretation="MONOCHROME1")
    with pytest.raises(DicomSeriesError, match="mixes PhotometricInterpretation") as err:
        read_volume(tmp_path / "s")
    assert str(tmp_path / "s") in str(err.value) and str(paths[2]) in str(err.value)


def test_huge_dicom_claims_are_refused_before_decoding(tmp_path: Path) -> None:
    rle = tmp_path / "rle.dcm"
    shutil.copyfile(data_file("MR_small_RLE.dcm"), rle)
    assert pydicom.dcmread(rle).file_meta.TransferSyntaxUID == RLELossless
    for rows, cols, frames, message in [
        (30000, 30000, None, "RLE data"),  # 1.7 GiB from a 7 KB stream: impossible
        (65535, 65535, 5, "GiB of pixel data"),
    ]:
        ds = pydicom.dcmread(rle)
        ds.Rows, ds.Columns = rows, cols
        if frames:
            ds.NumberOfFrames = frames
        out = tmp_path / f"claim_{rows}_{frames}.dcm"
        ds.save_as(out)
        with pytest.raises(InvalidImageError, match=message) as err:
            read_volume(out)
        assert str(out) in str(err.value)
    ds = pydicom.dcmread(make_series(tmp_path / "u", 1)[0])
    ds.Rows = ds.Columns = 60000  # uncompressed, 6.7 GiB claimed
    ds.save_as(tmp_path / "u" / "big.dcm")
    with pytest.raises(InvalidImageError, match="GiB of pixel data"):
        read_volume(tmp_path / "u" / "big.dcm")


def _nifti(path: Path, data: np.ndarray) -> Path:
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    return path


def test_nifti_types_and_shapes_that_are_not_grayscale_volumes(tmp_path: Path) -> None:
    cplx = _nifti(tmp_path / "c.nii", (np.ones((4, 4, 2)) * (1 + 2j)).astype(np.complex64))
    with pytest.raises(UnsupportedImageError, match="complex") as err:
        read_volume(cplx)
    assert str(cplx) in str(err.value)
    rgb = np.zeros((4, 4, 2), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    with pytest.raises(UnsupportedImageError, match="colour RGB"):
        read_volume(_nifti(tmp_path / "rgb.nii", rgb))
    empty = _nifti(tmp_path / "e.nii", np.zeros((4, 4, 2), np.float32))
    raw = bytearray(empty.read_bytes())
    raw[46:48] = struct.pack("<h", 0)  # dim[3] = 0
    empty.write_bytes(bytes(raw))
    with pytest.raises(InvalidImageError, match="empty axis"):
        read_volume(empty)


def test_nifti_size_claims(tmp_path: Path) -> None:
    path = _nifti(tmp_path / "big.nii", np.zeros((4, 4, 2), np.int16))
    raw = bytearray(path.read_bytes())
    raw[42:48] = struct.pack("<hhh", 30000, 30000, 30000)  # 50 TB claimed
    path.write_bytes(bytes(raw))
    with pytest.raises(InvalidImageError, match="GiB of voxels"):
        read_volume(path)
    raw[42:48] = struct.pack("<hhh", 400, 400, 40)  # 12 MB claimed, the file holds 400 bytes
    path.write_bytes(bytes(raw))
    with pytest.raises(InvalidImageError, match="truncated"):
        read_volume(path)
    gz = _nifti(tmp_path / "cut.nii.gz", np.random.default_rng(0).random((8, 8, 8)))
    gz.write_bytes(gz.read_bytes()[:-100])
    with pytest.raises(InvalidImageError, match=str(gz).replace(".", r"\.")):
        read_volume(gz)


def _png_with_size(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height (16-bit gray) over a tiny data stream."""
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def test_png_size_claims(tmp_path: Path) -> None:
    for w, h in [(60000, 60000), (20000, 20000), (3000, 3000)]:
        path = _png_with_size(tmp_path / f"p{w}.png", w, h)
        with pytest.raises(InvalidImageError) as err:
            read_volume(path)
        assert str(path) in str(err.value)


_MUTATIONS = ("garbage", "number", "empty", "delete", "flip", "cut")


def _mutants(src: Path, folder: Path, n: int, seed: int) -> list[Path]:
    """``n`` header mutants of ``src``: random element values, deletions, flips, cuts."""
    rng = np.random.default_rng(seed)
    base = src.read_bytes()
    template = pydicom.dcmread(src)
    tags = [elem.tag for elem in template if elem.tag != 0x7FE00010]
    out = []
    for k in range(n):
        kind = _MUTATIONS[k % len(_MUTATIONS)]
        path = folder / f"m{k:03d}_{kind}"
        if kind in ("flip", "cut"):
            raw = bytearray(base)
            if kind == "flip":
                for pos in rng.integers(132, min(len(raw), 1500), size=4):
                    raw[pos] = int(rng.integers(0, 256))
            else:
                raw = raw[: int(rng.integers(1, len(raw)))]
            path.write_bytes(bytes(raw))
        else:
            ds = template.copy()
            tag = tags[int(rng.integers(len(tags)))]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    if kind == "delete":
                        del ds[tag]
                    elif kind == "garbage":
                        ds[tag].value = rng.bytes(int(rng.integers(1, 12))).decode("latin-1")
                    elif kind == "number":
                        ds[tag].value = str(rng.choice(["-1", "0", "1e308", "NaN", "1A", "-0"]))
                    else:
                        ds[tag].value = ""
                    ds.save_as(path)
                except Exception:  # pydicom refuses to write this mutant: write the raw copy
                    path.write_bytes(base)
        out.append(path)
    return out


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "MR_small_RLE.dcm"])
def test_seeded_header_fuzzer(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "fuzz"
    folder.mkdir()
    mutants = _mutants(data_file(name), folder, 60, seed=13)
    outcomes = [_read_or_own_error(p) for p in mutants]
    assert "ok" in outcomes and len(set(outcomes)) > 1  # the fuzzer does break things
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scan = scan_dicom(folder)  # one folder of mutants: the scan never raises
    assert len(scan.errors) + len(scan.skipped) + sum(s.n_files for s in scan.series) == 60


@pytest.mark.parametrize(
    ("name", "rows", "cols"),
    [
        ("MR_small_jpeg_ls_lossless.dcm", 30000, 30000),  # GDCM used to abort the process
        ("MR_small_jp2klossless.dcm", 64, 63),
        ("JPEG-LL.dcm", 30000, 30000),
        ("MR_small_RLE.dcm", 64, 63),  # the RLE decoder used to panic (a BaseException)
        ("MR_small_RLE.dcm", 1, 1),
    ],
)
def test_compressed_data_that_disagrees_with_rows_columns(
    tmp_path: Path, name: str, rows: int, cols: int
) -> None:
    path = tmp_path / name
    ds = pydicom.dcmread(data_file(name))
    ds.Rows, ds.Columns = rows, cols
    ds.save_as(path)
    code = (
        "import sys\n"
        "from medidenoise.errors import InvalidImageError\n"
        "from medidenoise.io import read_volume\n"
        "try:\n"
        f"    read_volume({str(path)!r})\n"
        "except InvalidImageError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(0)\n"
        "sys.exit(5)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]  # an error, not an abort or a volume
    assert str(path) in done.stdout
