"""The Rician step near the noise floor: the plain inverse against ``rician_unbias_denoised``.

With ``rician=True`` (and in ``auto`` on a magnitude image) the network's estimate of the
local mean ``E[M]`` is mapped back to the signal. This scores that last step both ways on
the same network output: ``rician_unbias`` (the exact inverse of the mean, as shipped
until 2026-12-01) and ``rician_unbias_denoised`` (smoothing near the floor and a small
garrote before it). Images: the hold-out set whole (RG3_UNCR, MR2_UNCR, 693_UNCR, [0, 1])
and three MNI152 T1 slices (axial 60, 90, 120; the brain is training data of the
networks, scored here only for the background, which is exactly 0 there), Rician noise of
sigma 0.02, 0.05 and 0.1 (seeds fixed), the level on auto. Cells: PSNR (dB) plain ->
new, and for the brain the mean |output| in the air.

    python benchmarks/bench_rician_floor.py [--model auto:NETWORK]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any
from unittest import mock

import _common
import numpy as np

import medidenoise.inference.denoiser as denoiser_module
from medidenoise import Denoiser
from medidenoise.evaluation.inputs import holdout_paths, load_images
from medidenoise.evaluation.metrics import psnr
from medidenoise.transforms import add_noise, rician_unbias, rician_unbias_denoised

LEVELS = (0.02, 0.05, 0.1)


def _images() -> list[tuple[str, np.ndarray]]:
    from nilearn import datasets

    t1 = datasets.load_mni152_template(resolution=1).get_fdata()
    out = []
    for z in (60, 90, 120):
        sl = t1[:, :, z].astype(np.float32)
        out.append((f"MNI152 z{z}", (sl - sl.min()) / (sl.max() - sl.min())))
    out += [(im.name, im.array) for im in load_images(holdout_paths(), crop=0)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="auto", help="auto, or auto:NETWORK (a checkpoint)")
    args = parser.parse_args(argv)
    model: Any = _common.load_bench_model(args.model) if args.model != "auto" else Denoiser("auto")
    model.options = model.options.replace(rician=True)
    seen: dict[str, Any] = {}

    def keep(estimate: np.ndarray, sigma: float) -> np.ndarray:
        seen["estimate"], seen["sigma"] = estimate.copy(), sigma
        return rician_unbias_denoised(estimate, sigma)

    t0 = time.perf_counter()
    print("| image | " + " | ".join(f"Rician {s:g}" for s in LEVELS) + " |")
    print("|---|" + "---|" * len(LEVELS))
    gains = []
    for i, (name, clean) in enumerate(_images()):
        cells = []
        for j, sigma in enumerate(LEVELS):
            noisy = add_noise(clean, "rician", sigma, rng=np.random.default_rng([11, i, j]))
            with mock.patch.object(denoiser_module, "rician_unbias_denoised", keep):
                new = model.run(noisy.astype(np.float32)).image
            plain = rician_unbias(seen["estimate"], seen["sigma"]).reshape(clean.shape)
            a, b = psnr(clean, plain, data_range=1.0), psnr(clean, new, data_range=1.0)
            gains.append(b - a)
            cell = f"{a:.2f} -> {b:.2f} ({b - a:+.2f})"
            if name.startswith("MNI152"):
                air = clean == 0
                cell += f"; air {np.abs(plain[air]).mean():.4f} -> {np.abs(new[air]).mean():.4f}"
            cells.append(cell)
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    print(
        f"\nCommand: `{_common.command_line()}`. Machine: {_common.machine()}. "
        f"Run time {time.perf_counter() - t0:.0f} s. PSNR (dB) with the plain inverse -> "
        f"with rician_unbias_denoised, same network output; mean change {np.mean(gains):+.2f} dB, "
        f"smallest {min(gains):+.2f}, largest {max(gains):+.2f}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
