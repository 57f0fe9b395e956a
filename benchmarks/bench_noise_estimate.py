"""Accuracy of ``estimate_noise`` on white and spatially correlated noise.

The hold-out images (RG3_UNCR, MR2_UNCR, 693_UNCR, whole, scaled to [0, 1]) get
white Gaussian noise and correlated Gaussian noise (low-pass spectra of width
0.25, 0.15 and 0.1 cycles/pixel, ramp-times-Hann band-pass spectra ending at 0.5
and 0.3 cycles/pixel) at per-pixel std 0.03, 0.05 and 0.08; the table gives the
estimate over the true std (the std of noisy - clean) for ``method="auto"`` and,
for comparison, the high-pass (MAD) estimate that was the only one before.

    python benchmarks/bench_noise_estimate.py [--no-write]
"""

from __future__ import annotations

import argparse
import sys
import time

import _common
import numpy as np

from medidenoise.evaluation.inputs import holdout_paths, load_images
from medidenoise.transforms import add_correlated_noise, add_gaussian_noise, estimate_noise

SPECTRA = [
    ("white", None, None),
    ("low-pass 0.25", "lowpass", 0.25),
    ("low-pass 0.15", "lowpass", 0.15),
    ("low-pass 0.10", "lowpass", 0.10),
    ("band-pass 0.5", "bandpass", 0.5),
    ("band-pass 0.3", "bandpass", 0.3),
]
LEVELS = (0.03, 0.05, 0.08)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    images = load_images(holdout_paths(), crop=0)
    rows = []
    worst_auto = worst_hp = 0.0
    seconds = []
    for label, spectrum, width in SPECTRA:
        cells_auto, cells_hp = [], []
        for image in images:
            for i, level in enumerate(LEVELS):
                clean = image.array
                if spectrum is None:
                    noisy = add_gaussian_noise(clean, level, rng=i)
                else:
                    noisy = add_correlated_noise(
                        clean, level, rng=i, spectrum=spectrum, width=width
                    )
                true = float(np.std(noisy.astype(np.float64) - clean))
                t0 = time.perf_counter()
                auto = estimate_noise(noisy) / true
                seconds.append(time.perf_counter() - t0)
                cells_auto.append(auto)
                cells_hp.append(estimate_noise(noisy, method="highpass") / true)
        worst_auto = max(worst_auto, max(abs(c - 1) for c in cells_auto))
        worst_hp = max(worst_hp, max(abs(c - 1) for c in cells_hp))
        rows.append(
            f"| {label} | {min(cells_auto):.2f}-{max(cells_auto):.2f} "
            f"| {np.mean(cells_auto):.3f} | {min(cells_hp):.2f}-{max(cells_hp):.2f} |"
        )
    text = "\n".join(
        [
            "### Noise-level estimate on white and correlated noise (bench_noise_estimate)",
            "",
            f"Command: `{_common.command_line()}`. Machine: {_common.machine()}.",
            f"Images: {', '.join(im.name for im in images)} (whole, [0, 1]); levels "
            f"{', '.join(map(str, LEVELS))}. Cells: estimate / true per-pixel std, over "
            "images x levels (range and mean).",
            "",
            "| noise spectrum | auto (range) | auto (mean) | high-pass MAD, the old estimate |",
            "| --- | --- | --- | --- |",
            *rows,
            "",
            f"Worst error: auto {100 * worst_auto:.1f} %, high-pass {100 * worst_hp:.1f} %. "
            f"Median time of one auto estimate: {1000 * float(np.median(seconds)):.0f} ms.",
        ]
    )
    print(text)
    if not args.no_write:
        _common.update_block("bench_noise_estimate", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
