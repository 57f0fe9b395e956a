"""The result of an evaluation and its files: CSV rows, JSON summary, Markdown table."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CSV_FIELDS", "EvaluationResult", "mean_scores"]

#: columns of ``metrics.csv``, one row per image x noise x method
CSV_FIELDS = (
    "image",
    "modality",
    "noise",
    "kind",
    "level",
    "sigma",
    "method",
    "psnr",
    "ssim",
    "seconds",
)


def mean_scores(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, tuple[float, float]]]:
    """Mean (PSNR, SSIM) per method and noise label, methods in order of first appearance.

    Examples
    --------
    >>> rows = [{"method": "a", "noise": "g", "psnr": 20.0, "ssim": 0.5},
    ...         {"method": "a", "noise": "g", "psnr": 22.0, "ssim": 0.7}]
    >>> mean_scores(rows)
    {'a': {'g': (21.0, 0.6)}}
    """
    acc: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for r in rows:
        acc.setdefault(r["method"], {}).setdefault(r["noise"], []).append((r["psnr"], r["ssim"]))
    return {
        m: {
            n: (
                float(sum(p for p, _ in v) / len(v)),
                round(float(sum(s for _, s in v) / len(v)), 12),
            )
            for n, v in per.items()
        }
        for m, per in acc.items()
    }


def _fmt(p: float, s: float) -> str:
    return f"{'inf' if math.isinf(p) else f'{p:.2f}'} / {s:.4f}"


@dataclass
class EvaluationResult:
    """PSNR/SSIM of every method on every image and noise, and where the report went.

    Attributes
    ----------
    rows : list of dict
        One entry per image x noise x method with the keys in :data:`CSV_FIELDS`.
    output_dir : pathlib.Path
        The report folder (``metrics.csv``, ``summary.json``, ``summary.md``,
        ``figures/``).
    noises : list of str
        Noise labels in evaluation order.
    methods : list of str
        Method names in table order.
    notes : list of str
        What was skipped or assumed (e.g. no CAE checkpoint, oracle sigma).
    settings : dict
        Everything needed to reproduce the run (seed, crop, parameters).
    files : list of pathlib.Path
        Every file written.
    """

    rows: list[dict[str, Any]]
    output_dir: Path
    noises: list[str]
    methods: list[str]
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def means(self) -> dict[str, dict[str, tuple[float, float]]]:
        """Mean (PSNR dB, SSIM) per method and noise, over images."""
        return mean_scores(self.rows)

    def summary(self) -> str:
        """The Markdown table of mean PSNR (dB) / SSIM per method x noise, then the notes.

        Examples
        --------
        >>> r = EvaluationResult([{"method": "noisy", "noise": "g", "psnr": 20.0,
        ...                        "ssim": 0.5}], Path("."), ["g"], ["noisy"])
        >>> print(r.summary().splitlines()[2])
        | noisy | 20.00 / 0.5000 |
        """
        means = self.means()
        n_images = len({r.get("image") for r in self.rows})
        lines = [
            "| method | " + " | ".join(self.noises) + " |",
            "|---|" + "---|" * len(self.noises),
        ]
        for m in self.methods:
            cells = [_fmt(*means[m][n]) if n in means.get(m, {}) else "-" for n in self.noises]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        text = "\n".join(lines)
        if n_images:
            text += (
                f"\n\nMean PSNR (dB) / SSIM over {n_images} image(s), "
                "images scaled to [0, 1], data_range = 1."
            )
        if self.notes:
            text += "\n\n" + "\n".join(f"- {note}" for note in self.notes)
        return text

    def write(self) -> list[Path]:
        """Write ``metrics.csv``, ``summary.md`` and (last) ``summary.json``; return the paths."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        csv_path = self.output_dir / "metrics.csv"
        with _atomic(csv_path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
            writer.writeheader()
            for row in self.rows:
                writer.writerow({k: _csv_value(row.get(k)) for k in CSV_FIELDS})
        md_path = self.output_dir / "summary.md"
        with _atomic(md_path) as tmp:
            tmp.write_text("# Evaluation summary\n\n" + self.summary() + "\n", encoding="utf-8")
        json_path = self.output_dir / "summary.json"
        self.files = [*self.files, csv_path, md_path, json_path]
        means = self.means()
        doc = {
            "methods": self.methods,
            "noises": self.noises,
            "mean": {
                m: {n: {"psnr": _json_num(p), "ssim": s} for n, (p, s) in means.get(m, {}).items()}
                for m in self.methods
            },
            "n_rows": len(self.rows),
            "notes": self.notes,
            "settings": self.settings,
            "files": sorted(str(p.relative_to(self.output_dir)) for p in self.files),
        }
        with _atomic(json_path) as tmp:
            tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        return self.files


def _json_num(x: float) -> float | str:
    return x if math.isfinite(x) else str(x)


def _csv_value(x: Any) -> Any:
    if isinstance(x, float):
        return "inf" if math.isinf(x) else f"{x:.6g}"
    return x


class _atomic:
    """Context manager yielding a temporary path that replaces ``path`` on success."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
