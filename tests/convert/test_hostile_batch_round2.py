"""``medidenoise denoise`` under the second hostile audit (issue 33, item 7): an unknown model, a
read-only OUTPUT or one under a regular file, ``--noise-level 0`` and a dry run. Each is said
before the input is scanned, with nothing created, in a message that names the input and the
fix; a dry run never reports its own result as FAILED."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

from medidenoise.cli import main
from medidenoise.convert import convert_dicom_folder
from medidenoise.errors import CheckpointError, OutputWriteError


def _spy_scan(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every scan of the input (there must be none when the arguments are refused)."""
    import medidenoise.convert.plan as plan_module

    seen: list[Path] = []
    real = plan_module.scan_dicom

    def spy(folder: Any) -> Any:
        seen.append(Path(folder))
        return real(folder)

    monkeypatch.setattr(plan_module, "scan_dicom", spy)
    return seen


def test_an_unknown_model_is_refused_before_the_scan(
    tmp_path: Path, ct_series, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ct_series(tmp_path / "in", 2, size=32)
    scans = _spy_scan(monkeypatch)
    out = tmp_path / "out"
    args = ["denoise", str(tmp_path / "in"), str(out)]
    assert main([*args, "--model", "nosuchmodel"]) == 2
    err = capsys.readouterr().err
    assert "'nosuchmodel': not a model name (auto, " in err
    assert "nlm" in err and ".safetensors" in err
    (tmp_path / "adir").mkdir()
    with pytest.raises(CheckpointError, match="and a folder"):
        convert_dicom_folder(tmp_path / "in", out, model=str(tmp_path / "adir"))
    assert scans == [] and not out.exists()


def test_output_under_a_regular_file(
    tmp_path: Path, ct_series, capsys: pytest.CaptureFixture[str]
) -> None:
    ct_series(tmp_path / "in", 2, size=32)
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "out"
    assert main(["denoise", str(tmp_path / "in"), str(out), "--model", "identity"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'afile'} is a file, not a folder" in err and "Traceback" not in err


def test_a_read_only_output_is_named_before_the_scan(
    tmp_path: Path, ct_series, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ct_series(tmp_path / "in", 2, size=32)
    scans = _spy_scan(monkeypatch)

    def read_only(*_: Any, **__: Any) -> str:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    out = tmp_path / "out"
    with pytest.raises(OutputWriteError, match=r"out: cannot write: the file system is read-only"):
        convert_dicom_folder(tmp_path / "in", out, model="identity")
    assert main(["denoise", str(tmp_path / "in"), str(out), "--model", "identity"]) == 2
    assert "read-only" in capsys.readouterr().err
    assert scans == [] and not out.exists()


def test_noise_level_zero_is_refused_with_the_reason(
    tmp_path: Path, ct_series, capsys: pytest.CaptureFixture[str]
) -> None:
    ct_series(tmp_path / "in", 2, size=32)
    args = ["denoise", str(tmp_path / "in"), str(tmp_path / "out"), "--model", "nlm"]
    for level in ("0", "-1", "nan", "abc"):
        with pytest.raises(SystemExit) as info:
            main([*args, "--noise-level", level])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "--noise-level" in err and "estimate it" in err
    with pytest.raises(ValueError, match="0 would say there is no noise"):
        convert_dicom_folder(tmp_path / "in", tmp_path / "out", model="nlm", noise_level=0)
    assert not (tmp_path / "out").exists()


def test_a_dry_run_never_ends_failed(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dry"
    assert main(["denoise", str(export), str(out), "--model", "identity", "--dry-run"]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("result: DRY RUN, nothing written") and "FAILED" not in last
    assert "a real run would not complete" in last
    assert not out.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_named_pipes_in_the_input_are_skipped_and_listed(
    tmp_path: Path, ct_series, capsys: pytest.CaptureFixture[str]
) -> None:
    ct_series(tmp_path / "in", 2, size=32)
    os.mkfifo(tmp_path / "in" / "pipe.dcm")
    os.mkfifo(tmp_path / "in" / "pipe.nii.gz")
    box: dict[str, Any] = {}
    args = ["denoise", str(tmp_path / "in"), str(tmp_path / "out"), "--model", "identity"]
    worker = threading.Thread(target=lambda: box.update(code=main(args)), daemon=True)
    worker.start()
    worker.join(120)
    if worker.is_alive():  # unblock a reader stuck in open() before failing
        for name in ("pipe.dcm", "pipe.nii.gz"):
            with contextlib.suppress(OSError):
                os.close(os.open(tmp_path / "in" / name, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(10)
        pytest.fail("the conversion blocked on a named pipe")
    assert box["code"] == 0
    out = capsys.readouterr().out
    assert "pipe.dcm: not a regular file (a named pipe (FIFO))" in out
    assert "pipe.nii.gz: not a regular file" in out and "1 converted" in out
