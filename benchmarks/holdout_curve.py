"""Hold-out PSNR of a training run against the CPU hours it has trained: one row per call.

Issue 29's stop rule reads this curve. For a run folder of ``scripts/train-resumable.sh``
(``runs/<name>/``), the script takes the weights it has now (``best.safetensors``: the best
validation epoch, its moving average when the recipe keeps one), adds up the training hours
in ``metrics.csv`` (``time_s`` per epoch: wall hours of a niced process on the shared 2-core
machine), and scores ``auto`` with that network on its white-noise route on the hold-out
images (RG3_UNCR, MR2_UNCR, 693_UNCR) under white Gaussian noise 0.05 and 0.10, level given,
the same noise draws every call. BM3D (told the true level) and the shipped ``auto`` (its own
``white`` network on the same route) are scored once and kept in ``RUN/holdout_bm3d.json`` and
``RUN/holdout_shipped.json``. The row (mean and worst cell against each) is appended to
``RUN/holdout.csv`` and printed.

    python benchmarks/holdout_curve.py runs/white_cpu [--whole] [--weights FILE]

The crops (256 x 256) take about a minute; ``--whole`` adds the whole images (BM3D on them
takes several minutes the first time).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import _common
import numpy as np

from medidenoise.evaluation.inputs import holdout_paths, load_images
from medidenoise.evaluation.metrics import psnr
from medidenoise.transforms import add_noise

LEVELS = (0.05, 0.10)


def _cells(whole: bool):
    for crop in (256, 0) if whole else (256,):
        for i, image in enumerate(load_images(holdout_paths(), crop=crop)):
            for j, level in enumerate(LEVELS):
                noisy = add_noise(
                    image.array, "gaussian", level, rng=np.random.default_rng([29, i, j])
                )
                where = f"{crop}px" if crop else "whole"
                yield f"{where} {image.name} {level:g}", image.array, np.asarray(noisy), level


def _hours(run: Path) -> tuple[int, float]:
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    return (int(rows[-1]["epoch"]) if rows else 0), sum(float(r["time_s"]) for r in rows) / 3600


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the run folder (runs/<config name>)")
    parser.add_argument("--weights", type=Path, help="default: RUN/best.safetensors")
    parser.add_argument("--whole", action="store_true", help="whole images too")
    args = parser.parse_args(argv)
    from medidenoise.models.classical import denoise_bm3d

    weights = args.weights or args.run / "best.safetensors"
    if not weights.is_file():
        print(f"{weights}: no weights yet; train first", file=sys.stderr)
        return 2
    epoch, hours = _hours(args.run)
    bm3d_file = args.run / "holdout_bm3d.json"
    bm3d: dict[str, float] = json.loads(bm3d_file.read_text()) if bm3d_file.is_file() else {}
    # `auto` with the run's network on its white-noise route: what users would get shipped
    model = _common.load_bench_model(f"auto:{weights}")
    ours: dict[str, float] = {}
    for label, clean, noisy, level in _cells(args.whole):
        out = _common.run_model(model, noisy, level)
        ours[label] = psnr(clean, np.asarray(out), data_range=1.0)
        if label not in bm3d:
            bm3d[label] = psnr(clean, denoise_bm3d(noisy, level), data_range=1.0)
    bm3d_file.write_text(json.dumps(bm3d, indent=1))
    shipped_file = args.run / "holdout_shipped.json"
    shipped: dict[str, float] = (
        json.loads(shipped_file.read_text()) if shipped_file.is_file() else {}
    )
    if any(label not in shipped for label in ours):
        today = _common.load_bench_model("auto:white")
        for label, clean, noisy, level in _cells(args.whole):
            if label not in shipped:
                out = _common.run_model(today, noisy, level)
                shipped[label] = psnr(clean, np.asarray(out), data_range=1.0)
        shipped_file.write_text(json.dumps(shipped, indent=1))
    gaps = {k: ours[k] - bm3d[k] for k in ours}
    vs_shipped = {k: ours[k] - shipped[k] for k in ours}
    row = {
        "epoch": epoch,
        "cpu_hours": round(hours, 3),
        "mean_psnr": round(float(np.mean(list(ours.values()))), 3),
        "mean_vs_bm3d": round(float(np.mean(list(gaps.values()))), 3),
        "worst_vs_bm3d": round(min(gaps.values()), 3),
        "mean_vs_shipped": round(float(np.mean(list(vs_shipped.values()))), 3),
        "worst_vs_shipped": round(min(vs_shipped.values()), 3),
        **{k: round(v, 3) for k, v in ours.items()},
    }
    table = args.run / "holdout.csv"
    rows: list[dict[str, object]] = []
    if table.is_file():  # earlier rows, whatever columns they had
        with table.open(newline="") as f:
            rows = list(csv.DictReader(f))
    rows.append(row)
    fields = list(dict.fromkeys(k for r in (row, *rows) for k in r))
    tmp = table.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(table)
    for k in ours:
        print(
            f"{k}: {ours[k]:.2f} dB (BM3D {bm3d[k]:.2f}, {gaps[k]:+.2f}; "
            f"shipped auto {shipped[k]:.2f}, {vs_shipped[k]:+.2f})"
        )
    print(
        f"| {epoch} | {hours:.2f} | {row['mean_psnr']:.2f} | {row['mean_vs_bm3d']:+.2f} | "
        f"{row['worst_vs_bm3d']:+.2f} | {row['mean_vs_shipped']:+.2f} | "
        f"{row['worst_vs_shipped']:+.2f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
