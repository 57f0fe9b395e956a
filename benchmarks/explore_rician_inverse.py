"""Feasibility, not a quality claim: what removing the Rician bias exactly would give.

Magnitude MR images carry Rician noise, whose mean is above the signal where the signal
is low (sigma * sqrt(pi / 2) where it is zero). A network told only a noise level leaves
part of that bias in dark backgrounds. If the pipeline knew the image is Rician, it could
map the network's output (an estimate of the local mean E[M]) through the inverse of the
Rician mean function, E[M] = sigma sqrt(pi/2) L_1/2(-A^2 / (2 sigma^2)), inverted by table.

This runs on MNI152 T1 slices (training images: a direction for the next step, never a
figure for BENCHMARKS' quality tables, which come from the hold-out set) and prints, per
slice and Rician sigma, the PSNR of the noisy input, of each shipped network told the
oracle std of noisy - clean (as the benchmarks do), and of the same network told sigma with
the inverse applied, with sigma known and with sigma from ``estimate_noise``.

    python benchmarks/explore_rician_inverse.py
"""

from __future__ import annotations

import sys

import _common
import numpy as np
from scipy.special import i0e, i1e

import medidenoise as md
from medidenoise.evaluation.metrics import psnr
from medidenoise.io.templates import load_mni152
from medidenoise.transforms import add_noise

_GRID = np.linspace(0.0, 60.0, 60001)  # signal / sigma


def rician_mean(signal_over_sigma: np.ndarray) -> np.ndarray:
    """E[M] / sigma for a Rician magnitude of the given signal / sigma (scaled Bessel forms)."""
    t = signal_over_sigma**2 / 2
    return np.sqrt(np.pi / 2) * ((1 + t) * i0e(t / 2) + t * i1e(t / 2))


_MEANS = rician_mean(_GRID)


def unbias(estimate: np.ndarray, sigma: float) -> np.ndarray:
    """The signal whose Rician mean is ``estimate`` (0 below sigma * sqrt(pi / 2))."""
    ratio = np.clip(estimate / sigma, _MEANS[0], None)
    return (np.interp(ratio, _MEANS, _GRID) * sigma).astype(np.float32)


def main() -> int:
    volume = load_mni152(orientation="axial").array
    print("| slice | sigma | noisy | network | told oracle std | + inverse, sigma known "
          "| + inverse, sigma estimated |\n|---|---|---|---|---|---|---|")  # fmt: skip
    for z in (60, 90, 120):
        clean = volume[z].astype(np.float32)
        clean = (clean - clean.min()) / (clean.max() - clean.min())
        for sigma in (0.03, 0.05, 0.08):
            noisy = add_noise(clean, "rician", sigma, rng=np.random.default_rng(z))
            noisy = noisy.astype(np.float32)
            oracle = float(np.std(noisy - clean))
            for model in ("default", "correlated"):
                plain = md.denoise(noisy, model, noise_level=oracle)
                known = unbias(md.denoise(noisy, model, noise_level=sigma), sigma)
                result = md.Denoiser(model).run(noisy)
                assert result.noise_level is not None
                guessed = unbias(result.image, result.noise_level)
                cells = [psnr(clean, x, data_range=1.0) for x in (noisy, plain, known, guessed)]
                print(f"| {z} | {sigma:g} | " + f"{cells[0]:.2f} | {model} | "
                      + " | ".join(f"{c:.2f}" for c in cells[1:]) + " |", flush=True)  # fmt: skip
    print(f"\nCommand: `{_common.command_line()}`. Machine: {_common.machine()}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
