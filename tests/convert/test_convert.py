"""convert_dicom_folder on a messy export: derived series, exact identity, resume, report."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from pydicom import dcmread

from medidenoise.cli import main
from medidenoise.convert import ConversionReport, convert_dicom_folder
from medidenoise.convert.plan import PARTIAL_DIR
from medidenoise.convert.unit import MANIFEST
from medidenoise.errors import ConversionError
from medidenoise.io import read_volume, scan_dicom


def sources_by_uid(root: Path) -> dict[str, Path]:
    out = {}
    for p in root.rglob("*"):
        if p.is_file():
            try:
                out[dcmread(p, stop_before_pixels=True).SOPInstanceUID] = p
            except Exception:  # not DICOM / broken: not a source of any output
                pass
    return out


def assert_identity(series_dir: Path, sources: dict[str, Path]) -> None:
    """Every output file holds exactly its source's decoded pixels (dtype and values)."""
    for f in sorted(series_dir.glob("*.dcm")):
        out = dcmread(f)
        assert out.ImageType[0] == "DERIVED"
        src = dcmread(sources[out.SourceImageSequence[0].ReferencedSOPInstanceUID])
        a, b = src.pixel_array, out.pixel_array
        assert a.dtype.newbyteorder("=") == b.dtype.newbyteorder("=")
        np.testing.assert_array_equal(a, b)
        assert out.PhotometricInterpretation == src.PhotometricInterpretation


def test_messy_export(export: Path, tmp_path: Path, tree_hash) -> None:
    before = tree_hash(export)
    dst = tmp_path / "out"
    report = convert_dicom_folder(export, dst, model="identity")
    assert tree_hash(export) == before  # originals untouched

    by_source = {Path(e.source).relative_to(export).as_posix(): e for e in report.series}
    assert set(by_source) == {
        "PAT1/STUDY1/CT", "PAT1/STUDY1/CR", "PAT2/STUDY7/MR", "PAT2/STUDY7/EMR",
        "PAT2/STUDY7/BAD",
    }  # fmt: skip
    assert by_source["PAT2/STUDY7/BAD"].status == "failed"
    assert "decode" in by_source["PAT2/STUDY7/BAD"].reason
    for rel, slices in [("PAT1/STUDY1/CT", 5), ("PAT1/STUDY1/CR", 1), ("PAT2/STUDY7/MR", 1),
                        ("PAT2/STUDY7/EMR", 10)]:  # fmt: skip
        entry = by_source[rel]
        assert entry.status == "converted", entry.reason
        assert entry.slices == slices
        out = Path(entry.output)
        assert out.parent == dst / rel  # the input layout is mirrored
        assert out.name.endswith("_denoised")
        assert (out / MANIFEST).is_file()
        assert_identity(out, sources_by_uid(Path(entry.source)))
    # named after the source SeriesNumber (2), not the derived one (1002)
    assert Path(by_source["PAT1/STUDY1/CT"].output).name == "2_Thorax_2_5_mm_denoised"

    files = {Path(f.path).name: f for f in report.files}
    assert files["TRUNC"].status == "unreadable" and "truncated" in files["TRUNC"].reason
    for name in ("SR1", "PLAN1", "README.txt", "6293", "6924"):  # SR, RTPLAN, text, localizers
        assert files[name].status == "skipped", name
    assert not report.ok
    assert not (dst / PARTIAL_DIR).exists()
    assert not (dst / "PAT2/STUDY7/BAD").exists()  # nothing half-written

    saved = ConversionReport.from_dict(json.loads((dst / "medidenoise-report.json").read_text()))
    assert saved.to_dict() == report.to_dict()
    text = (dst / "medidenoise-report.txt").read_text()
    assert "4 converted" in text and "1 failed" in text and "TRUNC" in text
    assert "result: FAILED" in text


def test_output_reads_back_and_sorts_the_same(clean_export: Path, tmp_path: Path) -> None:
    report = convert_dicom_folder(clean_export, tmp_path / "out", model="identity")
    assert report.ok, report.summary()
    ct = next(e for e in report.series if e.source.endswith("CT"))
    src, out = read_volume(ct.source), read_volume(ct.output)
    np.testing.assert_array_equal(out.array, src.array)
    np.testing.assert_allclose(out.affine, src.affine, atol=1e-6)
    (info,) = scan_dicom(ct.output).series
    assert info.series_uid != scan_dicom(ct.source).series[0].series_uid


def test_cli_exit_codes_and_dry_run(export: Path, make_export, tmp_path: Path, capsys) -> None:
    dry = tmp_path / "dry"
    assert main(["denoise", str(export), str(dry), "--model", "identity", "--dry-run"]) == 1
    assert not dry.exists()  # a dry run writes nothing
    assert "[planned]" in capsys.readouterr().out
    clean = make_export(tmp_path / "clean", broken=False)
    assert main(["denoise", str(clean), str(tmp_path / "ok"), "--model", "identity"]) == 0
    assert main(["denoise", str(export), str(tmp_path / "bad"), "--model", "identity"]) == 1
    assert main(["denoise", str(tmp_path / "nope"), str(tmp_path / "x")]) == 2
    assert main(["denoise", str(export), str(export / "out"), "--model", "identity"]) == 2
    assert "inside INPUT" in capsys.readouterr().err


def test_resume_skips_complete_and_redoes_interrupted(clean_export: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out"
    first = convert_dicom_folder(clean_export, dst, model="identity")
    outputs = {e.source: Path(e.output) for e in first.series}
    ct = next(s for s in outputs if s.endswith("CT"))
    uids = {f.name: dcmread(f).SOPInstanceUID for f in outputs[ct].glob("*.dcm")}
    # simulate a run killed mid-series: a work folder left over, the CT series half there
    (dst / PARTIAL_DIR / "0123456789abcdef" / "series").mkdir(parents=True)
    (outputs[ct] / MANIFEST).unlink()
    (outputs[ct] / "00005.dcm").unlink()

    dry = convert_dicom_folder(clean_export, dst, model="identity", dry_run=True)
    assert {e.source: e.status for e in dry.series}[ct] == "planned"
    second = convert_dicom_folder(clean_export, dst, model="identity")
    status = {e.source: e.status for e in second.series}
    assert status.pop(ct) == "converted"
    assert set(status.values()) == {"complete"}
    assert second.ok
    assert sorted(p.name for p in outputs[ct].glob("*.dcm")) == sorted(uids)
    # deterministic UIDs: the redone series is the same series again
    assert {f.name: dcmread(f).SOPInstanceUID for f in outputs[ct].glob("*.dcm")} == uids
    third = convert_dicom_folder(clean_export, dst, model="identity", overwrite=True)
    assert {e.status for e in third.series} == {"converted"}


def test_paths_that_could_touch_the_originals_are_refused(clean_export: Path) -> None:
    with pytest.raises(ConversionError, match="inside INPUT"):
        convert_dicom_folder(clean_export, clean_export / "out", model="identity")
    with pytest.raises(ConversionError, match="inside OUTPUT"):
        convert_dicom_folder(clean_export, clean_export.parent, model="identity")
    with pytest.raises(FileNotFoundError):
        convert_dicom_folder(clean_export / "nope", clean_export.parent / "x", model="identity")


def test_single_file_and_nifti(tmp_path: Path, ct_series) -> None:
    paths = ct_series(tmp_path / "ct", 4)
    one = convert_dicom_folder(paths[0], tmp_path / "one", model="identity")
    assert one.ok and one.series[0].slices == 1
    (f,) = Path(one.series[0].output).glob("*.dcm")
    np.testing.assert_array_equal(dcmread(f).pixel_array, dcmread(paths[0]).pixel_array)

    as_nifti = convert_dicom_folder(tmp_path / "ct", tmp_path / "nii", model="identity",
                                    output_format="nifti")  # fmt: skip
    assert as_nifti.ok, as_nifti.summary()
    nii = Path(as_nifti.series[0].output)
    assert nii.name.endswith("_denoised.nii.gz") and nii.is_file()
    src = read_volume(tmp_path / "ct")
    back = read_volume(nii)
    np.testing.assert_allclose(back.array, src.array)
    np.testing.assert_allclose(back.affine, src.affine, atol=1e-4)

    again = convert_dicom_folder(nii, tmp_path / "nii2", model="identity")
    out = Path(again.series[0].output)
    assert again.ok and out.name == nii.name.replace(".nii.gz", "_denoised.nii.gz")
    a, b = nib.load(nii), nib.load(out)
    np.testing.assert_allclose(b.affine, a.affine)
    np.testing.assert_allclose(b.get_fdata(), a.get_fdata())
    with pytest.raises(ConversionError, match="NIfTI"):
        convert_dicom_folder(nii, tmp_path / "x", model="identity", output_format="dicom")
