"""Where conversion output goes and when it counts as done: split series, settings, one file."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import generate_uid

from medidenoise.cli import main
from medidenoise.convert import convert_dicom_folder
from medidenoise.convert.plan import PARTIAL_DIR
from medidenoise.convert.provenance import model_id
from medidenoise.convert.unit import MANIFEST, _validate
from medidenoise.errors import ConversionError
from medidenoise.io import read_volume, write_nifti
from medidenoise.models.checkpoint import SHIPPED_MODELS, shipped_weights_path


def split_series(folder: Path, ct_series, sizes=(32, 48, 64)) -> str:
    """One SeriesInstanceUID in one folder holding one 4-slice stack per size."""
    for size in sizes:
        ct_series(folder, 4, size=size, number=7)
    uid = generate_uid()
    for path in folder.iterdir():
        ds = dcmread(path)
        ds.SeriesInstanceUID = uid
        ds.save_as(path, enforce_file_format=True)
    return uid


def series_uids(folder: Path) -> set[str]:
    return {dcmread(f, stop_before_pixels=True).SeriesInstanceUID for f in folder.glob("*.dcm")}


def test_every_stack_of_a_split_series_is_written(tmp_path: Path, ct_series) -> None:
    src_uid = split_series(tmp_path / "in" / "MIX", ct_series)
    dst = tmp_path / "out"
    report = convert_dicom_folder(tmp_path / "in", dst, model="identity")
    assert report.ok, report.summary()
    assert [e.status for e in report.series] == ["converted"] * 3
    outputs = [Path(e.output) for e in report.series]
    assert len(set(outputs)) == 3  # before: stacks 2 and 3 shared one name; 3 was never written
    sizes = set()
    derived: list[str] = []
    for out in outputs:
        files = sorted(out.glob("*.dcm"))
        assert len(files) == 4 and (out / MANIFEST).is_file()
        sizes.add(dcmread(files[0]).Rows)
        (uid,) = series_uids(out)
        derived.append(uid)
    assert sizes == {32, 48, 64}
    # one derived SeriesInstanceUID per stack, none equal to the source's
    assert len(set(derived)) == 3 and src_uid not in derived

    again = convert_dicom_folder(tmp_path / "in", dst, model="identity")
    assert [e.status for e in again.series] == ["complete"] * 3
    redo = convert_dicom_folder(tmp_path / "in", dst, model="identity", overwrite=True)
    assert [Path(e.output) for e in redo.series] == outputs  # same names from run to run
    assert [series_uids(o).pop() for o in outputs] == derived  # same UIDs: resume-safe


def test_other_settings_are_refused_without_overwrite(
    clean_export: Path, tmp_path: Path, tree_hash, capsys
) -> None:
    dst = tmp_path / "out"
    assert convert_dicom_folder(clean_export, dst, model="identity").ok

    def outputs() -> dict[str, str]:  # every file but the report, rewritten by each run
        return {k: v for k, v in tree_hash(dst).items() if not k.startswith("medidenoise-report")}

    before = outputs()
    for changed in (
        {"noise_level": 5.0},
        {"model": "nlm"},
        {"compression": "rle"},
        {"self_ensemble": True},
    ):
        kwargs = {"model": "identity", **changed}
        report = convert_dicom_folder(clean_export, dst, **kwargs)
        assert not report.ok
        for e in report.series:
            assert e.status == "failed" and "--overwrite" in e.reason, e
            assert next(iter(changed)) in e.reason  # names what differs
        dry = convert_dicom_folder(clean_export, dst, dry_run=True, **kwargs)
        assert {e.status for e in dry.series} == {"failed"}
        assert outputs() == before  # an earlier result is never replaced silently
    args = ["denoise", str(clean_export), str(dst), "--model", "identity", "--noise-level", "5"]
    assert main(args) == 1
    assert "--overwrite" in capsys.readouterr().out
    assert main([*args, "--overwrite"]) == 0
    manifest = json.loads(next(dst.rglob(MANIFEST)).read_text())
    assert manifest["settings"]["noise_level"] == 5.0
    assert main(args) == 0  # the same settings again: complete, left alone
    assert "4 already complete" in capsys.readouterr().out


def test_nifti_output_file_via_the_cli(tmp_path: Path, capsys) -> None:
    """`medidenoise denoise scan.nii.gz scan_denoised.nii.gz` writes that file (README)."""
    rng = np.random.default_rng(0)
    data = rng.integers(0, 1000, (12, 10, 6)).astype(np.int16)
    img = nib.Nifti1Image(data, np.diag([0.9, 0.9, 2.0, 1.0]))
    img.header["descrip"] = b"T2 axial"
    scan, out = tmp_path / "scan.nii.gz", tmp_path / "res" / "scan_denoised.nii.gz"
    nib.save(img, str(scan))
    assert main(["denoise", str(scan), str(out), "--model", "identity"]) == 0
    assert out.is_file()  # a file, not a folder named like one
    back = nib.load(out)
    np.testing.assert_array_equal(np.asarray(back.dataobj), data)
    np.testing.assert_allclose(back.affine, img.affine)
    assert back.header["descrip"].tobytes().rstrip(b"\0") == b"T2 axial"
    assert back.get_data_dtype() == np.int16
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "medidenoise-quality",  # the quality report's figure
        out.name,
        out.name + ".medidenoise.json",
    ]
    assert [p.suffix for p in (out.parent / "medidenoise-quality").iterdir()] == [".png"]
    assert main(["denoise", str(scan), str(out), "--model", "identity"]) == 0
    assert "1 already complete" in capsys.readouterr().out


def test_nifti_output_file_from_one_dicom_series(tmp_path: Path, ct_series, make_export) -> None:
    ct_series(tmp_path / "ct", 4)
    report = convert_dicom_folder(tmp_path / "ct", tmp_path / "ct.nii.gz", model="identity")
    assert report.ok, report.summary()
    assert (tmp_path / "ct.nii.gz").is_file() and not (tmp_path / PARTIAL_DIR).exists()
    np.testing.assert_array_equal(read_volume(tmp_path / "ct.nii.gz").array,
                                  read_volume(tmp_path / "ct").array)  # fmt: skip
    export = make_export(tmp_path / "many", broken=False)
    with pytest.raises(ConversionError, match="4 series"):
        convert_dicom_folder(export, tmp_path / "x.nii.gz", model="identity")
    with pytest.raises(ConversionError, match="--format dicom"):
        convert_dicom_folder(tmp_path / "ct", tmp_path / "y.nii", output_format="dicom")
    assert main(["denoise", str(export), str(tmp_path / "x.nii.gz"), "--model", "identity"]) == 2


def test_validate_names_a_file_count_mismatch(tmp_path: Path, ct_series) -> None:
    paths = ct_series(tmp_path / "ct", 3)
    vol = read_volume(tmp_path / "ct")
    out = tmp_path / "out"
    from medidenoise.io import write_dicom_series

    files = write_dicom_series(vol, vol.array, out)
    assert _validate(out, vol, files)
    with pytest.raises(ConversionError, match=r"4 file\(s\) were written but 3 read back"):
        _validate(out, vol, [*files, out / "ghost.dcm"])
    with pytest.raises(ConversionError, match="not DERIVED"):
        _validate(tmp_path / "ct", vol, paths)


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_model_id_hashes_every_shipped_model(name: str) -> None:
    if not shipped_weights_path(name).is_file():
        pytest.skip(f"shipped model {name!r} not installed")
    assert model_id(name).startswith(f"{name} (sha256 ")
    assert model_id("identity") == "identity"


def test_nifti_volume_written_by_write_nifti_converts(tmp_path: Path, ct_series) -> None:
    ct_series(tmp_path / "ct", 3)
    nii = write_nifti(read_volume(tmp_path / "ct"), tmp_path / "ct.nii.gz")
    report = convert_dicom_folder(nii, tmp_path / "o", model="identity")
    assert report.ok
    np.testing.assert_array_equal(read_volume(report.series[0].output).array,
                                  read_volume(nii).array)  # fmt: skip
