"""``medidenoise adapt``: a model adapted to the user's scans, used with ``denoise --model``."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

import medidenoise as md
from medidenoise.cli import main


def _nifti(path: Path, data: np.ndarray) -> Path:
    nib.save(nib.Nifti1Image(np.transpose(data, (2, 1, 0)).astype(np.float32), np.eye(4)), path)
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    net = md.build_model(
        {"arch": "unet", "features": [4, 8], "residual": True, "noise_level_input": True}
    )
    return md.save_checkpoint(tmp_path / "tiny.safetensors", net, metadata={"name": "tiny"})


@pytest.fixture
def noisy_scan(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:80, 0:80] / 80
    clean = np.stack([200 + 400 * ((yy - 0.5) ** 2 + (xx - 0.5) ** 2 < 0.1)] * 3)
    streaks = ndimage.uniform_filter1d(rng.normal(0, 1, clean.shape), 5, axis=-1)
    return _nifti(tmp_path / "scan.nii.gz", clean + 30 * streaks / streaks.std())


def test_adapt_then_denoise_with_the_adapted_model(tmp_path, tiny, noisy_scan, capsys) -> None:
    before = noisy_scan.read_bytes()
    out = tmp_path / "mine.safetensors"
    assert main(["adapt", str(noisy_scan), "--output", str(out), "--model", str(tiny),
                 "--minutes", "0.05"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert f"--model {out}" in printed and "estimated PSNR" in printed
    assert noisy_scan.read_bytes() == before
    info = md.load_model(out).metadata["adaptation"]
    assert info["base_model"] == "tiny.safetensors" and info["budget_minutes"] == 0.05
    denoised = tmp_path / "denoised.nii.gz"
    assert main(["denoise", str(noisy_scan), str(denoised), "--model", str(out)]) == 0
    assert md.read_volume(denoised).array.shape == (3, 80, 80)


def test_a_constant_scan_is_refused_and_nothing_is_written(tmp_path, tiny, capsys) -> None:
    flat = _nifti(tmp_path / "flat.nii.gz", np.full((2, 64, 64), 100.0))
    out = tmp_path / "x.safetensors"
    assert main(["adapt", str(flat), "--output", str(out), "--model", str(tiny)]) == 2
    assert "constant" in capsys.readouterr().err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "flat.nii.gz",
        "tiny.safetensors",
    ]


def test_existing_output_and_bad_arguments_are_refused(tmp_path, tiny, noisy_scan, capsys) -> None:
    out = tmp_path / "kept.safetensors"
    out.write_bytes(b"mine")
    assert main(["adapt", str(noisy_scan), "--output", str(out), "--model", str(tiny)]) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == b"mine"
    assert main(["adapt", str(noisy_scan), "--output", str(tmp_path / "m.pt")]) == 2
    assert ".safetensors" in capsys.readouterr().err
    args = ["adapt", str(noisy_scan), "--output", str(tmp_path / "z.safetensors"),
            "--model", str(tiny), "--minutes", "0"]  # fmt: skip
    assert main(args) == 2
    assert "minutes" in capsys.readouterr().err
    missing = ["adapt", str(tmp_path / "no.nii.gz"), "--output", str(tmp_path / "y.safetensors")]
    assert main(missing) == 2
    assert not (tmp_path / "y.safetensors").exists()


def test_the_guard_decision_is_printed_and_saved(tmp_path, tiny, noisy_scan, capsys) -> None:
    out = tmp_path / "mine.safetensors"
    assert main(["adapt", str(noisy_scan), "--output", str(out), "--model", str(tiny),
                 "--minutes", "0.05"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    info = md.load_model(out).metadata["adaptation"]
    assert info["kept"] in ("adapted", "base")
    assert f"guard: {info['reason']}" in printed and "kept" in info["reason"]
    assert info["guard"]["held_out"][0]["tiles"] >= 1


@pytest.mark.parametrize("name", ["nlm", "identity", "bm3d"])
def test_a_method_that_is_not_a_network_is_named_as_such(tmp_path, noisy_scan, name, capsys):
    out = tmp_path / "x.safetensors"
    assert main(["adapt", str(noisy_scan), "--output", str(out), "--model", name]) == 2
    err = capsys.readouterr().err
    assert "not a network" in err and "'correlated'" in err and "not found" not in err
    assert not out.exists()


def test_an_unwritable_output_is_refused_before_training(tmp_path, tiny, noisy_scan, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = {
        tmp_path / "missing" / "m.safetensors": "does not exist",
        blocker / "m.safetensors": "is a file",
    }
    for out, said in cases.items():
        args = ["adapt", str(noisy_scan), "--output", str(out), "--model", str(tiny)]
        assert main([*args, "--minutes", "5"]) == 2  # refused at once, not after 5 minutes
        assert said in capsys.readouterr().err


def test_errors_name_the_file_not_a_list_index(tmp_path, tiny, noisy_scan, capsys) -> None:
    flat = _nifti(tmp_path / "flat.nii.gz", np.full((2, 64, 64), 100.0))
    out = tmp_path / "x.safetensors"
    assert main(["adapt", str(noisy_scan), str(flat), "--output", str(out), "--model",
                 str(tiny)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert str(flat) in err and "images[1]" not in err


def test_sigterm_ends_the_run_saying_nothing_was_saved(tmp_path, tiny, noisy_scan) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "m.safetensors"
    cmd = [sys.executable, "-m", "medidenoise", "adapt", str(noisy_scan), "--output", str(out),
           "--model", str(tiny), "--minutes", "5"]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ})
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + 120
    while "adapt:" not in seen and time.monotonic() < deadline:  # the progress bar is up
        seen += proc.stderr.read(1)
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert "terminated (SIGTERM); nothing was saved" in seen + rest
    assert not out.exists() and not list(tmp_path.glob(".m.safetensors*"))
