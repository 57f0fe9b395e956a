"""Rician noise on the hold-out set: the ``rician`` option against the plain run and baselines.

The hold-out images (RG3_UNCR, MR2_UNCR, 693_UNCR; 256 x 256 centre crops and whole
images, [0, 1]) under Rician noise of sigma 0.03, 0.05 and 0.08 (noise seeds fixed). Rows:
the model users get (``auto``) told the oracle std of noisy - clean, as ``bench_quality``
runs it; the same with ``rician=True`` and the level on auto (sigma measured where there
is signal) and told sigma; non-local means told the oracle std, and non-local means with
the same inverse of the Rician mean after it (so the baseline gets the noise family too);
BM3D told the oracle std on the crops (whole images take it minutes each). Cells: mean
PSNR (dB) over the three images.

    python benchmarks/bench_rician.py [--no-bm3d]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict

import _common
import numpy as np

from medidenoise import denoise
from medidenoise.evaluation.inputs import holdout_paths, load_images
from medidenoise.evaluation.metrics import psnr
from medidenoise.models.classical import bm3d_available, denoise_bm3d, denoise_nlm
from medidenoise.transforms import add_noise, rician_unbias

LEVELS = (0.03, 0.05, 0.08)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-bm3d", dest="bm3d", action="store_false")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    for crop in (256, 0):
        images = load_images(holdout_paths(), crop=crop)
        scores: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
        for i, image in enumerate(images):
            clean = image.array
            for j, sigma in enumerate(LEVELS):
                noisy = add_noise(clean, "rician", sigma, rng=np.random.default_rng([9, i, j]))
                noisy = noisy.astype(np.float32)
                oracle = float(np.std(noisy.astype(np.float64) - clean))
                runs = {
                    "noisy": noisy,
                    "auto, oracle std": denoise(noisy, noise_level=oracle),
                    "auto, rician, level on auto": denoise(noisy, rician=True),
                    "auto, rician, told sigma": denoise(noisy, rician=True, noise_level=sigma),
                    "default, rician, level on auto": denoise(noisy, "default", rician=True),
                    "correlated, rician, level on auto": denoise(noisy, "correlated", rician=True),
                }
                nlm = denoise_nlm(noisy, oracle)
                runs["NLM, oracle std"] = nlm
                runs["NLM + Rician inverse, told sigma"] = rician_unbias(
                    denoise_nlm(noisy, sigma), sigma
                )
                if crop and args.bm3d and bm3d_available():
                    runs["BM3D, oracle std"] = denoise_bm3d(noisy, oracle)
                for name, out in runs.items():
                    scores[name][sigma].append(psnr(clean, out, data_range=1.0))
        where = f"{crop} x {crop} centre crops" if crop else "whole images"
        print(f"\n#### {where}\n")
        print("| method | " + " | ".join(f"Rician {s:g}" for s in LEVELS) + " |")
        print("|---|" + "---|" * len(LEVELS))
        for name, by_level in scores.items():
            cells = " | ".join(f"{np.mean(by_level[s]):.2f}" for s in LEVELS)
            print(f"| {name} | {cells} |", flush=True)
    print(
        f"\nCommand: `{_common.command_line()}`. Machine: {_common.machine()}. "
        f"Run time {time.perf_counter() - t0:.0f} s. Images: "
        f"{', '.join(im.name for im in images)}, [0, 1]; mean PSNR (dB) over the three."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
