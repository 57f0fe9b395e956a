"""Real multi-process training: torchrun, 2 CPU processes, gloo backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from medidenoise.engine.state import load_state
from medidenoise.models import load_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_torchrun_two_processes_gloo(tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "medidenoise",
        "train",
        "--config",
        str(ROOT / "configs" / "smoke.yaml"),
        "--output",
        str(out),
        "--device",
        "cpu",
        "--set",
        "train.epochs=2",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # rank 0 alone reports and writes
    assert proc.stdout.count("best checkpoint") == 1
    model = load_model(out / "last.safetensors")
    assert model.metadata["world_size"] == 2
    assert model.metadata["epochs"] == 2
    info = load_state(out)["info"]
    # 8 patches per epoch over 2 ranks with batch 4: one iteration per rank and epoch
    assert info["epoch"] == 2 and info["iteration"] == 2
    assert [r["epoch"] for r in info["history"]] == [1, 2]
