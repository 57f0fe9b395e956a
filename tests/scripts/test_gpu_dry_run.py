"""The GPU recipe of issue 29 dry-run on the CPU: it trains, writes small files, resumes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu" / "train_gpu.py"


def _pack(path: Path) -> Path:
    """A tiny stand-in for pack_data.py's file: two smooth 'scans', one validation slice."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:160, 0:160] / 160.0
    arrays = {}
    for i in range(2):
        img = 0.3 + 0.4 * np.sin(3 * xx + i) * yy + 0.02 * rng.standard_normal((160, 160))
        arrays[f"train_{i}"] = np.round(np.clip(img, 0, 1) * 65535).astype(np.uint16)
        arrays[f"clean_{i}"] = np.array(i)
    arrays["val_0"] = arrays["train_0"][:144, :144]
    arrays["train_names"] = np.array(["scan a", "mni152 b"])
    arrays["val_names"] = np.array(["val"])
    arrays["counts"] = np.array(json.dumps({"pydicom": 1, "mni152": 1, "mvtb": 0}))
    np.savez_compressed(path, **arrays)
    return path


def _run(pack: Path, out: Path, *extra: str) -> str:
    cmd = [sys.executable, str(SCRIPT), "--recipe", "white_cpu", "--device", "cpu"]
    cmd += ["--steps", "2", "--batch", "2", "--patch", "32", "--procedural", "4"]
    cmd += ["--pack", str(pack), "--out", str(out), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def _progress(path: Path) -> dict:
    with safe_open(str(path), framework="pt") as f:
        return json.loads(f.metadata()["progress"])


@pytest.mark.slow
def test_white_cpu_recipe_trains_writes_small_files_and_resumes(tmp_path: Path) -> None:
    from medidenoise import denoise
    from medidenoise.models.checkpoint import load_model

    pack = _pack(tmp_path / "data.npz")
    first, second = tmp_path / "first", tmp_path / "second"
    _run(pack, first)
    files = {p.name: p.stat().st_size for p in first.iterdir()}
    for part in ("", "_state", "_adam"):
        name = f"white_cpu{part}.safetensors"
        assert 0 < files[name] <= 16 * 2**20, (name, files)
    assert _progress(first / "white_cpu_state.safetensors")["step"] == 2
    net = load_model(str(first / "white_cpu.safetensors"))
    assert net.arch == "fast_unet" and net.hparams["features"][0] >= 64
    noisy = np.random.default_rng(1).normal(0.5, 0.05, (48, 40)).astype(np.float32)
    out = denoise(noisy, model=str(first / "white_cpu.safetensors"), noise_level=0.05)
    assert out.shape == (48, 40) and bool(np.isfinite(out).all())  # it runs through denoise
    log = _run(pack, second, "--resume", str(first))
    assert "resumed at step 2" in log
    progress = _progress(second / "white_cpu_state.safetensors")
    assert progress["step"] == 4 and progress["calls"] == 2
    assert progress["seconds"] > _progress(first / "white_cpu_state.safetensors")["seconds"]
