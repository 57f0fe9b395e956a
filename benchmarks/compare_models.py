"""Two models side by side on every hold-out cell: the rule a new default must pass.

A candidate may replace the shipped model only if no hold-out cell is more than 0.3 dB
worse. This scores both on the hold-out images (RG3_UNCR, MR2_UNCR, 693_UNCR; 256 x 256
centre crops and whole images, [0, 1]) under the quality benchmark's noises (Gaussian
0.05 / 0.1, Poisson 200, Rician 0.05; level given as the oracle std of noisy - clean) and
under correlated noise (low-pass 0.25 and band-pass 0.4 cycles/pixel, std 0.06; level on
auto, as users run it), with the same noise draws for both, and prints per-cell PSNR and
the difference.

    python benchmarks/compare_models.py CANDIDATE [--reference default] [--no-whole]

CANDIDATE and the reference: a model name or checkpoint, or ``auto:NETWORK`` for ``"auto"``
with NETWORK on its white-noise route (``auto:training_state/white_round5/best.safetensors``
against ``--reference auto``: what users would get with that network shipped there);
``auto-correlated:NETWORK`` puts NETWORK on the correlated-noise route instead.
"""

from __future__ import annotations

import argparse
import math
import sys

import _common
import numpy as np

from medidenoise.evaluation.inputs import holdout_paths, load_images
from medidenoise.evaluation.metrics import psnr
from medidenoise.transforms import add_correlated_noise, add_noise

WHITE = [("gaussian", 0.05), ("gaussian", 0.1), ("poisson", 200.0), ("rician", 0.05)]
CORRELATED = [("lowpass", 0.25, 0.06), ("bandpass", 0.4, 0.06)]
MARGIN = 0.3


def _cells(images):
    for i, image in enumerate(images):
        for j, (kind, level) in enumerate(WHITE):
            noisy = add_noise(image.array, kind, level, rng=np.random.default_rng([7, i, j]))  # type: ignore[arg-type]
            oracle = float(np.std(noisy.astype(np.float64) - image.array))
            yield f"{image.name} {kind} {level:g}", image.array, noisy, oracle
        for j, (spectrum, width, level) in enumerate(CORRELATED):
            noisy = add_correlated_noise(
                image.array,
                level,
                rng=np.random.default_rng([8, i, j]),
                spectrum=spectrum,  # type: ignore[arg-type]
                width=width,
            )
            yield f"{image.name} correlated {spectrum} {level:g} (auto)", image.array, noisy, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidate")
    parser.add_argument("--reference", default="default")
    parser.add_argument("--no-whole", dest="whole", action="store_false")
    args = parser.parse_args(argv)
    ref = _common.load_bench_model(args.reference)
    cand = _common.load_bench_model(args.candidate)
    rows, worst = [], math.inf
    for crop in [256] + ([0] if args.whole else []):
        images = load_images(holdout_paths(), crop=crop)
        where = f"{crop}px crop" if crop else "whole"
        for label, clean, noisy, oracle in _cells(images):
            a = psnr(clean, _common.run_model(ref, noisy, oracle), data_range=1.0)
            b = psnr(clean, _common.run_model(cand, noisy, oracle), data_range=1.0)
            worst = min(worst, b - a)
            flag = " **worse**" if b - a < -MARGIN else ""
            rows.append(f"| {where} | {label} | {a:.2f} | {b:.2f} | {b - a:+.2f}{flag} |")
            print(rows[-1], flush=True)
    diffs = [float(r.split("|")[5].split()[0]) for r in rows]
    print(
        f"\nCommand: `{_common.command_line()}`. Machine: {_common.machine()}.\n"
        f"reference {args.reference} vs candidate {args.candidate}: mean difference "
        f"{np.mean(diffs):+.2f} dB, worst {worst:+.2f} dB; "
        f"{'passes' if worst >= -MARGIN else 'FAILS'} the {MARGIN} dB rule"
    )
    return 0 if worst >= -MARGIN else 1


if __name__ == "__main__":
    sys.exit(main())
