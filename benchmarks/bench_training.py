"""Training throughput (patches/s) of the CAE baseline and the U-Net on this machine.

Times full optimisation steps (forward, loss, backward, Adam step) on random
patches for the models of ``configs/cae_seed.yaml`` and ``configs/unet.yaml``,
takes the median over several repeats, and rewrites the "Training throughput"
section of BENCHMARKS.md.

    python benchmarks/bench_training.py [--repeats 5] [--steps 10] [--threads 2] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import time
from pathlib import Path

import torch

from medidenoise.config import load_config
from medidenoise.engine import build_loss
from medidenoise.models import build_model

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Training throughput"


def _throughput(
    config: str, *, patch: int, batch: int, steps: int, repeats: int
) -> tuple[float, str]:
    cfg = load_config(ROOT / "configs" / config)
    torch.manual_seed(0)
    model = build_model(cfg.model).train()
    loss_fn = build_loss(cfg.train.loss)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    c_in = model.context_slices + int(model.noise_level_input)
    x = torch.rand(batch, c_in, patch, patch)
    y = torch.rand(batch, 1, patch, patch)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(2):  # warm-up
        step()
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * batch / (time.perf_counter() - t0))
    desc = f"{cfg.model.arch} {cfg.model.features}, loss {cfg.train.loss}"
    return statistics.median(rates), desc


def _machine(threads: int) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cpus = os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {cpus} logical CPUs, torch {torch.__version__}, {threads} threads; "
        f"1-minute load average {load:.2f} when the run ended"
    )


def _write(text: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    doc = path.read_text(encoding="utf-8")
    pattern = re.compile(rf"{re.escape(SECTION)}\n.*?(?=\n## |\Z)", re.S)
    doc = pattern.sub(lambda _: text.rstrip("\n") + "\n", doc, count=1)
    path.write_text(doc, encoding="utf-8")


def main() -> None:
    """Measure and (unless --no-write) record the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    kw = {"patch": args.patch, "batch": args.batch, "steps": args.steps, "repeats": args.repeats}
    cae, cae_desc = _throughput("cae_seed.yaml", **kw)
    unet, unet_desc = _throughput("unet.yaml", **kw)
    command = (
        f"python benchmarks/bench_training.py --repeats {args.repeats} --steps {args.steps} "
        f"--threads {args.threads} --patch {args.patch} --batch {args.batch}"
    )
    text = f"""{SECTION}

Full optimisation steps (forward, loss, backward, Adam) on random {args.patch}x{args.patch}
patches, batch {args.batch}, CPU; median of {args.repeats} runs of {args.steps} steps each, both
models measured in the same run. Data loading and noise synthesis are not included.

- Command: `{command}`
- Machine: {_machine(args.threads)}
- Date: {time.strftime("%Y-%m-%d")}

| model | config | patches/s (median) |
|---|---|---|
| {cae_desc} | configs/cae_seed.yaml | {cae:.1f} |
| {unet_desc} | configs/unet.yaml | {unet:.1f} |

Ratio cae:unet = {cae / unet:.2f} (the CAE trains {cae / unet:.2f}x as many patches per second).
A load average well above the thread count means other jobs shared the CPUs: re-run then.
"""
    print(text)
    if not args.no_write:
        _write(text)


if __name__ == "__main__":
    main()
