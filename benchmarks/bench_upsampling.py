"""ms per 512 x 512 slice: a network with resize upsampling against one with transposed.

Issue 26 replaced the U-Nets' 2x2 stride-2 transposed convolutions by bilinear
interpolation and a 1x1 convolution. This times both through ``Denoiser`` (default
precision, two torch threads), interleaved so that a busy machine slows both alike, and
prints the median of each and their ratio.

    python benchmarks/bench_upsampling.py [NEW] [OLD] [--repeats 15]

NEW and OLD: model names or checkpoints (default: the shipped ``white`` against the
``white`` of before issue 26, taken from git at 7f75cde into a temporary file).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import _common
import numpy as np
import torch

import medidenoise as md


def _old_white(folder: Path) -> str:
    path = folder / "white_transposed.safetensors"
    blob = subprocess.run(
        ["git", "show", "7f75cde:medidenoise/weights/white.safetensors"],
        cwd=_common.ROOT, check=True, capture_output=True,
    ).stdout  # fmt: skip
    path.write_bytes(blob)
    return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("new", nargs="?", default="white")
    parser.add_argument("old", nargs="?")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        old = args.old or _old_white(Path(tmp))
        runs = {"new": md.Denoiser(args.new), "old": md.Denoiser(old)}
        image = np.random.default_rng(0).normal(0.5, 0.05, (1, 512, 512)).astype(np.float32)
        times: dict[str, list[float]] = {k: [] for k in runs}
        for den in runs.values():  # warm-up
            den.run(image, noise_level=0.05)
        for _ in range(args.repeats):
            for key, den in runs.items():
                start = time.perf_counter()
                den.run(image, noise_level=0.05)
                times[key].append(1000 * (time.perf_counter() - start))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"Command: `{_common.command_line()}`. Machine: {_common.machine(2)}.")
    old_name = args.old or "white before issue 26"
    print(
        f"new ({args.new}): {med['new']:.1f} ms/slice; old ({old_name}): {med['old']:.1f} "
        f"ms/slice; ratio new/old {med['new'] / med['old']:.2f} (median of {args.repeats}, "
        "interleaved, level given)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
