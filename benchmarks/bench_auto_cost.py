"""What the model ``auto`` costs over the network it picks: the noise measurements.

``auto`` measures each volume's noise (``transforms.measure_noise``, at most 32 slices) to
pick the shipped ``white`` or ``correlated`` network, also when the caller gives the level,
and on white noise without negative values looks for a magnitude image
(``transforms.detect_rician``), whose Rician bias it then removes. This times one slice
through ``Denoiser("white")`` and ``Denoiser("auto")`` with the level given, on a white-noise
slice of the 693 CT (negative values: no magnitude check) and on the same slice with Rician
noise (a magnitude image: checked, found, bias removed), and the measurements alone,
interleaved round by round in one process so that all see the same machine; prints the
median of ``--rounds`` of each.

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
from medidenoise.transforms import add_noise, detect_rician, measure_noise

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
    magnitude = add_noise(clean, "rician", SIGMA, rng=0).astype(np.float32)
    white, auto = Denoiser("white", device="cpu"), Denoiser("auto", device="cpu")
    runs = {
        "white": lambda: white(noisy, noise_level=SIGMA),
        "auto": lambda: auto(noisy, noise_level=SIGMA),
        "white, magnitude image": lambda: white(magnitude, noise_level=SIGMA),
        "auto, magnitude image": lambda: auto(magnitude, noise_level=SIGMA),
        "measure_noise alone": lambda: measure_noise(noisy),
        "detect_rician alone": lambda: detect_rician(magnitude),
    }
    picked = auto.run(noisy, noise_level=SIGMA).model
    picked_magnitude = auto.run(magnitude, noise_level=SIGMA).model
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
        f"\nauto ran {picked!r} and {picked_magnitude!r}; auto / white = "
        f"{ms['auto'] / ms['white']:.2f}x (white noise), "
        f"{ms['auto, magnitude image'] / ms['white, magnitude image']:.2f}x (magnitude image).\n"
        f"Command: `{_common.command_line()}`. Machine: {_common.machine(args.threads)}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
