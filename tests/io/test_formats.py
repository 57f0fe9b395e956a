"""One rule for "what file is this?", used by the readers, conversion, training and napari."""

from __future__ import annotations

import doctest
import io
import os
from pathlib import Path

import pytest
import yaml
from factories import make_series

from medidenoise.io import DicomSeriesReader, formats, scan_dicom
from medidenoise.io.formats import (
    DICOM_SUFFIXES,
    NIFTI_SUFFIXES,
    file_kind,
    has_dicom_preamble,
    image_stem,
    is_dicom_file,
    is_nifti_path,
    kind_from_name,
)

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "napari_plugin" / "src" / "napari_medidenoise" / "napari.yaml"

#: file name -> what the name alone says
NAMES = {
    "CT1.DCM": "dicom",
    "a.dicom": "dicom",
    "old.dic": "dicom",
    "MR.IMA": "dicom",
    "t1.nii": "nifti",
    "T1.NII.GZ": "nifti",
    "xray.png": "raster",
    "stack.TIFF": "raster",
    "notes.txt": "other",
    "report.pdf": "other",
    "photo.jpg": "other",
    "backup.gz": "other",
    "IM0001": "unknown",
    "1.2.840.113619.2.55.3.1": "unknown",
}


def test_nifti_names_in_any_case_and_only_those() -> None:
    assert is_nifti_path("a/scan.nii") and is_nifti_path(Path("SCAN.NII.GZ"))
    assert not is_nifti_path("scan.gz") and not is_nifti_path("scan.nii.zip")
    assert image_stem("x/brain.NII.GZ") == "brain" and image_stem("brain.nii") == "brain"
    assert image_stem("slice.dcm") == "slice"


def test_dicom_by_suffix_or_preamble(tmp_path: Path) -> None:
    marked = tmp_path / "IM0001"
    marked.write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 16)
    plain = tmp_path / "notes"
    plain.write_bytes(b"hello" * 40)
    suffixed = tmp_path / "x.DCM"
    suffixed.write_bytes(b"")
    assert is_dicom_file(marked) and is_dicom_file(suffixed)
    assert not is_dicom_file(plain) and not is_dicom_file(tmp_path)
    assert not is_dicom_file(tmp_path / "missing.dcm")
    assert not has_dicom_preamble(tmp_path / "missing")  # unreadable: False, no error
    stream = io.BytesIO(marked.read_bytes())
    assert has_dicom_preamble(stream) and stream.tell() == 132


def test_the_name_rule_names_every_kind() -> None:
    assert {name: kind_from_name(name) for name in NAMES} == NAMES


def test_the_preamble_makes_any_file_dicom_and_otherwise_the_name_decides(tmp_path: Path) -> None:
    for name, by_name in NAMES.items():
        path = tmp_path / name
        path.write_bytes(b"not an image " * 20)
        assert file_kind(path) == by_name, name
        assert is_dicom_file(path) == (by_name == "dicom"), name
        path.write_bytes(bytes(128) + b"DICM" + bytes(16))
        assert file_kind(path) == "dicom" and is_dicom_file(path), name
    assert file_kind(tmp_path / "missing.nii") == "nifti"  # no file: the name alone


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_judged_by_its_name_and_never_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "IM0002"
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes
    assert file_kind(fifo) == "unknown" and not is_dicom_file(fifo)


def test_the_scanner_and_the_monai_reader_follow_the_rule(tmp_path: Path) -> None:
    names = ["s0.dcm", "s1.dic", "1.2.840.99.3", "s3.txt"]  # all four carry the preamble
    series = make_series(tmp_path / "mix", 4, names=lambda k: names[k])
    (tmp_path / "mix" / "notes.txt").write_text("not dicom")
    (tmp_path / "mix" / "IM_EMPTY_HEADER").write_bytes(b"\0" * 300)
    scan = scan_dicom(tmp_path / "mix")
    (info,) = scan.series
    assert sorted(info.files) == sorted(series)
    reader = DicomSeriesReader()
    for path in sorted((tmp_path / "mix").iterdir()):
        assert reader.verify_suffix(path) == is_dicom_file(path) == (path in series), path.name
    assert {p.name for p, _ in scan.skipped} == {"notes.txt", "IM_EMPTY_HEADER"}


def test_the_napari_manifest_opens_exactly_the_dicom_and_nifti_names() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    (reader,) = manifest["contributions"]["readers"]
    patterns = reader["filename_patterns"]
    assert sorted(patterns) == sorted(f"*{suffix}" for suffix in (*DICOM_SUFFIXES, *NIFTI_SUFFIXES))
    assert {kind_from_name("x" + p.removeprefix("*")) for p in patterns} == {"dicom", "nifti"}


def test_docstring_examples_run() -> None:
    result = doctest.testmod(formats)
    assert result.attempted > 0 and result.failed == 0
