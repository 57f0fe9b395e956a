"""Real multi-process training: torchrun, 2 CPU processes, gloo backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medidenoise.engine.state import load_state
from medidenoise.models import load_model

ROOT = Path(__file__).resolve().parents[2]


def _torchrun(args: list[str], *, timeout: int = 300) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node=2 ARGS`` on CPU (gloo); must succeed."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [*cmd, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_torchrun_two_processes_gloo(tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    proc = _torchrun(
        [
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
        ],
        timeout=600,
    )
    # rank 0 alone reports and writes
    assert proc.stdout.count("best checkpoint") == 1
    model = load_model(out / "last.safetensors")
    assert model.metadata["world_size"] == 2
    assert model.metadata["epochs"] == 2
    info = load_state(out)["info"]
    # 8 patches per epoch over 2 ranks with batch 4: one iteration per rank and epoch
    assert info["epoch"] == 2 and info["iteration"] == 2
    assert [r["epoch"] for r in info["history"]] == [1, 2]


# Run by torchrun in each of 2 processes: first the rank agreement on a bare ignite
# engine where rank 1 alone decides to stop, then a real training run whose
# validation cannot improve by the 100 dB asked (patience 1: stop after epoch 2).
_EARLY_STOP_SCRIPT = """
import json, os, sys
from pathlib import Path

import torch.distributed as dist
from ignite.engine import Engine, Events

from medidenoise.engine import train
from medidenoise.engine.handlers import sync_terminate

config, out, report = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
dist.init_process_group("gloo")
rank = dist.get_rank()

engine = Engine(lambda engine, batch: None)

@engine.on(Events.EPOCH_COMPLETED)
def rank1_stops(engine):
    if rank == 1 and engine.state.epoch == 2:
        engine.terminate()

engine.add_event_handler(Events.EPOCH_COMPLETED, sync_terminate)
engine.run(range(3), max_epochs=6)

result = train(  # joins the same process group, leaves it at the end
    config,
    output_dir=out if rank == 0 else out.with_name(out.name + "-rank1"),
    device="cpu",
    progress=False,
    overrides=[
        "train.epochs=6",
        "train.lr=1e-12",
        "train.early_stopping_patience=1",
        "train.early_stopping_min_delta=100",
        "train.tensorboard=true",
    ],
)
report.joinpath(f"rank{rank}.json").write_text(json.dumps({
    "engine_epoch": engine.state.epoch,
    "epochs": [row["epoch"] for row in result.metrics],
    "stopped_early": result.stopped_early,
    "last": str(result.last_checkpoint),
}))
"""


@pytest.mark.slow
def test_torchrun_early_stopping_is_agreed_across_ranks(tmp_path: Path) -> None:
    script = tmp_path / "early_stop.py"
    script.write_text(_EARLY_STOP_SCRIPT, encoding="utf-8")
    out = tmp_path / "run"
    _torchrun([str(script), str(ROOT / "configs" / "smoke.yaml"), str(out), str(tmp_path)])
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    # rank 1 alone asked to stop at epoch 2: both stopped there
    assert [r["engine_epoch"] for r in ranks] == [2, 2]
    # training: both ranks stopped early after the same epoch
    assert [r["epochs"] for r in ranks] == [[1, 2], [1, 2]]
    assert all(r["stopped_early"] for r in ranks)
    # only rank 0 wrote files: rank 1's output folder was never created, and the
    # run folder holds one set of files (one TensorBoard event file, not two)
    assert ranks[0]["last"] == str(out / "last.safetensors") and ranks[1]["last"] == "None"
    assert not (tmp_path / "run-rank1").exists()
    assert sorted(p.name for p in out.iterdir()) == [
        "best.safetensors",
        "config.yaml",
        "last.safetensors",
        "loss_curve.png",
        "metrics.csv",
        "metrics.json",
        "resume.safetensors",
        "tensorboard",
    ]
    assert len(list((out / "tensorboard").iterdir())) == 1
    assert load_state(out)["info"]["epoch"] == 2


@pytest.mark.slow
def test_torchrun_self_supervised_objective(tmp_path: Path) -> None:
    """A self-supervised objective runs under DDP like supervised training does."""
    out = tmp_path / "ddp_ss"
    proc = _torchrun(
        ["-m", "medidenoise", "train", "--config", str(ROOT / "configs" / "smoke.yaml"),
         "--output", str(out), "--device", "cpu", "--set", "train.epochs=2",
         "--set", "train.objective=recorrupt", "--set", "train.loss=mse"],
        timeout=600,
    )  # fmt: skip
    assert proc.stdout.count("best estimated (recorrupt) PSNR") == 1
    model = load_model(out / "last.safetensors")
    assert model.metadata["world_size"] == 2
    assert model.metadata["train"]["objective"] == "recorrupt"
    info = load_state(out)["info"]
    assert [r["epoch"] for r in info["history"]] == [1, 2]
