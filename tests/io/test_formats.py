"""One rule for "is this NIfTI / DICOM?", used by the readers, conversion, training and napari."""

from __future__ import annotations

import doctest
import io
from pathlib import Path

from medidenoise.io import formats
from medidenoise.io.formats import has_dicom_preamble, image_stem, is_dicom_file, is_nifti_path


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


def test_docstring_examples_run() -> None:
    result = doctest.testmod(formats)
    assert result.attempted > 0 and result.failed == 0
