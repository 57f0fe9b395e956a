"""What the model ``auto`` costs over the network it picks: the noise measurement.

``auto`` measures each volume's noise (``transforms.measure_noise``, at most 32 slices) to
pick the shipped ``default`` or ``correlated`` network, also when the caller gives the
level. This times one slice through ``Denoiser("default")`` and ``Denoiser("auto")`` with
the level given (a white-noise slice of the 693 CT, so both run the same network), and the
measurement alone, interleaved round by round in one process so that both see the same
machine; prints the median of ``--rounds`` of each.

    python benchmarks/bench_auto_cost.py [--size 512] [--rounds 9] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import _common
import numpy as np
import torch

from medidenoise import Denoiser
from medidenoise.evaluation.inputs import holdout_paths, load_images
from medidenoise.transforms import measure_noise

SIGMA = 0.05


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    clean = load_images(holdout_paths(), crop=args.size)[2].array
    noisy = (clean + np.random.default_rng(0).normal(0, SIGMA, clean.shape)).astype(np.float32)
    default, auto = Denoiser("default", device="cpu"), Denoiser("auto", device="cpu")
    runs = {
        "default": lambda: default(noisy, noise_level=SIGMA),
        "auto": lambda: auto(noisy, noise_level=SIGMA),
        "measurement alone": lambda: measure_noise(noisy),
    }
    picked = auto.run(noisy, noise_level=SIGMA).model
    times: dict[str, list[float]] = {name: [] for name in runs}
    for fn in runs.values():
        fn()  # warm-up: models loaded, kernels chosen
    for _ in range(args.rounds):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    ms = {name: 1000 * statistics.median(t) for name, t in times.items()}
    print(f"| {args.size}x{args.size} slice, level given | ms (median of {args.rounds}) |")
    print("|---|---|")
    for name, value in ms.items():
        print(f"| {name} | {value:.1f} |")
    print(
        f"\nauto ran {picked!r}; auto / default = {ms['auto'] / ms['default']:.2f}x.\n"
        f"Command: `{_common.command_line()}`. Machine: {_common.machine(args.threads)}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
