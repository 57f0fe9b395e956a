"""The ``medidenoise`` command: version, series listing, demo and clean error exits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from medidenoise.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert "medidenoise" in capsys.readouterr().out


def test_series_lists_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = Path(get_testdata_file("CT_small.dcm", download=False))
    (tmp_path / "a").write_bytes(src.read_bytes())
    assert main(["series", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "CT" in out


def test_series_on_an_empty_folder_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["series", str(tmp_path)]) == 1
    assert "no DICOM image series" in capsys.readouterr().out


def test_bad_config_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("data: {train: [mni152]}\ntrain: {epochs: -3}\n")
    assert main(["train", "--config", str(cfg), "--output", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "train.epochs" in err and "Traceback" not in err


def test_demo_writes_a_report(tmp_path: Path) -> None:
    from medidenoise.demo import run_demo

    result = run_demo(tmp_path / "demo", model="identity")
    assert (tmp_path / "demo" / "grid.png").stat().st_size > 10_000
    rows = json.loads((tmp_path / "demo" / "results.json").read_text())
    # the demo promises CT, radiograph and MRI: all three are in the report
    assert len(rows) == len(result.rows) == 3
    assert [r["image"] for r in rows] == [
        "CT_small (CT, pydicom)",
        "RG1 (CR radiograph)",
        "MNI152 T1 (MR, nilearn)",
    ]
    for row in rows:
        # the identity "model" must score exactly the noisy input; NLM must beat it
        assert row["psnr_model"] == pytest.approx(row["psnr_noisy"])
        assert row["psnr_nlm"] > row["psnr_noisy"]
    assert "| image |" in (tmp_path / "demo" / "report.md").read_text()


def test_a_missing_demo_image_is_an_error_naming_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pydicom.data

    real = pydicom.data.get_testdata_file

    def without_rg1(name: str, *args: object, **kwargs: object) -> object:
        return None if name.startswith("RG1") else real(name, *args, **kwargs)

    monkeypatch.setattr(pydicom.data, "get_testdata_file", without_rg1)
    assert main(["demo", "--output", str(tmp_path / "demo")]) == 2
    err = capsys.readouterr().err
    assert "RG1_UNCR.dcm" in err and "pydicom-data" in err
    assert not (tmp_path / "demo").exists()


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "medidenoise", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    for command in ("train", "evaluate", "denoise", "series", "demo"):
        assert command in done.stdout


@pytest.mark.slow
def test_demo_with_the_shipped_model_beats_the_noisy_input(tmp_path: Path) -> None:
    from medidenoise.models import default_weights_path

    weights = default_weights_path()
    if not weights.is_file():
        pytest.fail(f"the default model is not shipped: {weights}")
    from medidenoise.demo import run_demo

    result = run_demo(tmp_path / "demo")
    gains = np.array([r["psnr_model"] - r["psnr_noisy"] for r in result.rows])
    assert (gains > 3).all(), gains


@pytest.mark.parametrize(
    ("device", "message"),
    [("bogus", "is not a device"), ("mps", "is not a device")]
    + ([] if __import__("torch").cuda.is_available() else [("cuda", "CUDA is not available")]),
)
def test_bad_device_is_a_message_not_a_traceback(
    device: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    img = tmp_path / "img.nii.gz"
    import nibabel as nib

    nib.save(nib.Nifti1Image(np.zeros((8, 8, 2), np.float32), np.eye(4)), img)
    for argv in (
        ["denoise", str(img), str(tmp_path / "out.nii.gz"), "--device", device],
        ["evaluate", "--output", str(tmp_path / "ev"), "--device", device],
    ):
        code = main(argv)
        err = capsys.readouterr().err
        assert code != 0, argv
        assert message in err and "Traceback" not in err, err


def test_a_4d_nifti_is_denoised_by_volume_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import nibabel as nib

    rng = np.random.default_rng(0)
    data = rng.normal(100, 5, (16, 12, 3, 2)).astype(np.float32)  # two volumes
    data[..., 1] += 1000
    src = tmp_path / "fmri.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), src)
    out = tmp_path / "vol1.nii.gz"
    # without an index: the error names the command line's option
    assert main(["denoise", str(src), str(out), "--model", "identity"]) == 1
    assert "--volume-index k" in capsys.readouterr().out
    assert not out.exists()
    code = main(["denoise", str(src), str(out), "--model", "identity", "--volume-index", "1"])
    assert code == 0, capsys.readouterr()
    from medidenoise import read_volume

    np.testing.assert_array_equal(read_volume(out).array, read_volume(src, volume_index=1).array)
    assert main(["denoise", str(src), str(out), "--volume-index", "-1"]) == 2


def test_help_texts_name_what_each_argument_takes(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["denoise"], ["series"]):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for phrase in (
        "a folder searched recursively for DICOM series",  # denoise INPUT
        "output format: dicom",  # --format
        "--volume-index K",
        "cpu, cuda or cuda:N",  # --device
        "folder searched recursively for DICOM files",  # series FOLDER
    ):
        assert phrase in text, phrase
