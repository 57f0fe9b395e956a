"""What bfloat16 inference on the CPU costs in PSNR and gains in time (issue 11, point 5).

The shipped inference runs the network in float32 on the CPU (float16 autocast on CUDA).
These CPUs have avx512_bf16, where bfloat16 autocast about halves a forward pass
(BENCHMARKS.md, "Candidate networks"). This scores every cell of
``compare_models.py`` (hold-out crops and whole images, white and correlated noise) once
in float32 and once under ``torch.autocast("cpu", dtype=torch.bfloat16)``, same noise
draws, and times one 512x512 slice both ways in the same run (median of ``--repeats``).
The rule of the issue: keep bfloat16 only if it costs no more than 0.05 dB in any cell.

    python benchmarks/bench_precision.py [--model default] [--repeats 7] [--no-whole]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Iterator

import _common
import numpy as np
import torch
from compare_models import _cells

from medidenoise import denoise
from medidenoise.evaluation.inputs import holdout_paths, load_images
from medidenoise.evaluation.metrics import psnr
from medidenoise.inference import _network

RULE_DB = 0.05


@contextlib.contextmanager
def _bf16() -> Iterator[None]:
    """Run the network under CPU bfloat16 autocast for the duration."""
    original = _network._autocast

    def autocast(device: torch.device) -> contextlib.AbstractContextManager:
        if device.type == "cpu":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return original(device)

    _network._autocast = autocast  # type: ignore[assignment]
    try:
        yield
    finally:
        _network._autocast = original  # type: ignore[assignment]


def _time(model, image: np.ndarray, repeats: int) -> float:
    denoise(image, model, noise_level=0.05)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        denoise(image, model, noise_level=0.05)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-whole", dest="whole", action="store_false")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    model = _common.load_bench_model(args.model)
    worst = 0.0
    print("| images | cell | float32 | bfloat16 | difference |\n|---|---|---|---|---|")
    for crop in [256] + ([0] if args.whole else []):
        where = f"{crop}px crop" if crop else "whole"
        for label, clean, noisy, oracle in _cells(load_images(holdout_paths(), crop=crop)):
            a = psnr(clean, denoise(noisy, model, noise_level=oracle), data_range=1.0)
            with _bf16():
                b = psnr(clean, denoise(noisy, model, noise_level=oracle), data_range=1.0)
            worst = min(worst, b - a)
            print(f"| {where} | {label} | {a:.3f} | {b:.3f} | {b - a:+.3f} |", flush=True)
    slice_ = load_images(holdout_paths(), crop=512)[2].array
    fp32 = _time(model, slice_, args.repeats)
    with _bf16():
        bf16 = _time(model, slice_, args.repeats)
    print(
        f"\n512x512 slice, median of {args.repeats}: float32 {fp32:.0f} ms, bfloat16 {bf16:.0f} ms "
        f"({fp32 / bf16:.2f}x).\nWorst cell {worst:+.3f} dB: "
        f"{'within' if worst >= -RULE_DB else 'OUTSIDE'} the {RULE_DB} dB rule.\n"
        f"Command: `{_common.command_line()}`. Machine: {_common.machine()}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
