"""Per-epoch metrics files: CSV, JSON and the loss-curve figure."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

__all__ = ["COLUMNS", "plot_curves", "write_metrics"]

COLUMNS = ("epoch", "train_loss", "val_loss", "val_psnr", "val_ssim", "lr", "time_s")


def write_metrics(history: list[dict[str, Any]], out_dir: Path) -> None:
    """Write ``metrics.csv`` and ``metrics.json`` (one row per epoch)."""
    with open(out_dir / "metrics.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in history:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in COLUMNS})
    (out_dir / "metrics.json").write_text(json.dumps(history, indent=1), encoding="utf-8")


def _series(history: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    pts = [(r["epoch"], r[key]) for r in history if r.get(key) is not None]
    pts = [(e, v) for e, v in pts if math.isfinite(v)]
    return [e for e, _ in pts], [v for _, v in pts]


def plot_curves(history: list[dict[str, Any]], path: Path, *, title: str = "") -> Path:
    """Loss curves (train, validation) and validation PSNR against epochs, as a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax_loss, ax_psnr = fig.subplots(1, 2)
    for key, label in (("train_loss", "train loss"), ("val_loss", "validation loss")):
        x, y = _series(history, key)
        if x:
            ax_loss.plot(x, y, marker="o", ms=3, label=label)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    x, y = _series(history, "val_psnr")
    if x:
        ax_psnr.plot(x, y, marker="o", ms=3, color="tab:green")
    ax_psnr.set_xlabel("epoch")
    ax_psnr.set_ylabel("validation PSNR (dB)")
    ax_psnr.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    return path
