"""``export`` under the second hostile audit (issue 33): --overwrite never deletes what export
did not write, odd output paths, read-only places and full disks give clear errors and leave
nothing behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
import torch

import medidenoise.export.bundle as bundle_module
import medidenoise.export.torchscript as torchscript
from medidenoise import export_model
from medidenoise.cli import main
from medidenoise.errors import ExportError, OutputExistsError, OutputWriteError


def test_bundle_overwrite_never_deletes_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "work"
    (folder / "results").mkdir(parents=True)
    (folder / "notes.txt").write_text("my notes")
    (folder / "results" / "scan.nii.gz").write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match=r"did not write \(notes\.txt, results/\)"):
        export_model("cae-baseline", folder, format="monai-bundle", overwrite=True)
    args = ["export", "cae-baseline", "--format", "monai-bundle", "--output", str(folder)]
    assert main([*args, "--overwrite"]) == 2
    assert "never other files" in capsys.readouterr().err
    assert (folder / "notes.txt").read_text() == "my notes"
    assert (folder / "results" / "scan.nii.gz").read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]  # no temporary left


def test_bundle_overwrite_replaces_an_earlier_export(tmp_path: Path) -> None:
    bundle = export_model("cae-baseline", tmp_path / "b", format="monai-bundle")
    (bundle / "models" / "model.ts").write_bytes(b"stale")
    export_model("cae-baseline", bundle, format="monai-bundle", overwrite=True)
    assert torch.jit.load(str(bundle / "models" / "model.ts")).size_multiple == 8
    # a file added by hand into the bundle is kept: the bundle is not replaced
    (bundle / "eval").mkdir()
    (bundle / "eval" / "scan_denoised.nii.gz").write_bytes(b"result")
    with pytest.raises(OutputExistsError, match="eval/"):
        export_model("cae-baseline", bundle, format="monai-bundle", overwrite=True)
    assert (bundle / "eval" / "scan_denoised.nii.gz").read_bytes() == b"result"


def test_output_dot_and_folders_where_a_file_is_meant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(ExportError, match=r"is a folder; a torchscript export is one file"):
        export_model("cae-baseline", ".", format="torchscript", overwrite=True)
    with pytest.raises(OutputExistsError, match="did not write"):
        export_model("cae-baseline", ".", format="monai-bundle", overwrite=True)
    with pytest.raises(ExportError, match="cannot tell the format"):
        export_model("cae-baseline", ".")
    (tmp_path / "model.ts").mkdir()
    with pytest.raises(ExportError, match="is a folder"):
        export_model("cae-baseline", tmp_path / "model.ts", overwrite=True)
    (tmp_path / "bundle.ts").write_bytes(b"a file")
    with pytest.raises(ExportError, match="a MONAI bundle is a folder"):
        export_model("cae-baseline", tmp_path / "bundle.ts", format="monai-bundle", overwrite=True)
    assert (tmp_path / "keep.txt").read_text() == "x"


def test_output_under_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    with pytest.raises(ExportError, match=r"plain is a file, not a folder"):
        export_model("cae-baseline", tmp_path / "plain" / "m.ts")


def test_read_only_output_folder_is_named_before_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = Path.mkdir

    def read_only(self: Path, *args: Any, **kwargs: Any) -> None:
        if self.parent == tmp_path:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    out = tmp_path / "m.ts"
    with pytest.raises(OutputWriteError, match=r"m\.ts: cannot write: the file system is read-"):
        export_model("cae-baseline", out)
    assert main(["export", "cae-baseline", "--output", str(out)]) == 2
    assert "read-only" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 0 vs 12 "
                     "PytorchStreamWriter failed writing file data/0"),
    ],
)  # fmt: skip
def test_full_disk_during_the_export_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    def half_written(pipeline: Any, path: Path) -> Path:
        path.write_bytes(b"PK\x03\x04 half a zip")
        raise failure

    monkeypatch.setattr(torchscript, "write_torchscript", half_written)
    monkeypatch.setattr(bundle_module, "write_torchscript", half_written)
    out = tmp_path / "m.ts"
    with pytest.raises(OutputWriteError, match=r"m\.ts: cannot write: .*no space left"):
        export_model("cae-baseline", out)
    assert list(tmp_path.iterdir()) == []
    bundle = tmp_path / "bundle"
    with pytest.raises(OutputWriteError, match="bundle: cannot write"):
        export_model("cae-baseline", bundle, format="monai-bundle")
    assert list(tmp_path.iterdir()) == []
    assert not os.path.lexists(bundle)
