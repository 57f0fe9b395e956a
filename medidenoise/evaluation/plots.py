"""Figures of an evaluation report, drawn with matplotlib's Agg canvas.

Figures are built with :class:`matplotlib.figure.Figure` directly (no
``pyplot``), so nothing depends on the user's backend or a display, and each
PNG is written to a temporary name first and then moved into place.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

__all__ = ["save_comparison", "save_grid", "save_histogram"]


def _save(fig: Figure, path: Path) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", dpi=fig.dpi, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def save_grid(
    path: Path,
    clean: np.ndarray,
    noisy: np.ndarray,
    denoised: Mapping[str, np.ndarray],
    *,
    title: str,
    scores: Mapping[str, tuple[float, float]] | None = None,
) -> Path:
    """Write a grid: noisy, clean and each method's result on top; noise below.

    The top row shows images on the same [0, 1] grey scale; the bottom row
    shows the true noise (noisy - clean) and each method's removed noise
    (noisy - denoised) on one symmetric scale, so a method that removes
    structure shows it as visible edges.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> img = np.zeros((16, 16), np.float32)
    >>> save_grid(d / "g.png", img, img, {"identity": img}, title="t").exists()
    True
    """
    scores = scores or {}
    ncols = 2 + len(denoised)
    fig = Figure(figsize=(2.6 * ncols, 5.6), dpi=100)
    axes = fig.subplots(2, ncols, squeeze=False)
    noise = noisy - clean
    lim = float(np.percentile(np.abs(noise), 99.5)) or 1e-6
    gray = {"cmap": "gray", "vmin": 0.0, "vmax": 1.0, "interpolation": "nearest"}
    diff = {"cmap": "RdBu_r", "vmin": -lim, "vmax": lim, "interpolation": "nearest"}

    def label(name: str) -> str:
        if name not in scores:
            return name
        p, s = scores[name]
        return f"{name}\n{p:.2f} dB, SSIM {s:.3f}"

    axes[0, 0].imshow(noisy, **gray)
    axes[0, 0].set_title(label("noisy"), fontsize=9)
    axes[0, 1].imshow(clean, **gray)
    axes[0, 1].set_title("clean", fontsize=9)
    axes[1, 0].imshow(noise, **diff)
    axes[1, 0].set_title("noise (noisy - clean)", fontsize=9)
    axes[1, 1].set_visible(False)
    for k, (name, out) in enumerate(denoised.items(), start=2):
        axes[0, k].imshow(out, **gray)
        axes[0, k].set_title(label(name), fontsize=9)
        axes[1, k].imshow(noisy - out, **diff)
        axes[1, k].set_title(f"removed by {name}", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def save_histogram(
    path: Path,
    values: Mapping[str, Sequence[float]],
    *,
    xlabel: str,
    title: str,
) -> Path:
    """Write overlaid step histograms of per-image scores, one line per method.

    Infinite values (a perfect reconstruction) are left out.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "h.png"
    >>> save_histogram(p, {"a": [20.0, 21.0], "b": [25.0]}, xlabel="PSNR", title="t").exists()
    True
    """
    finite = {m: [v for v in vs if math.isfinite(v)] for m, vs in values.items()}
    allv = [v for vs in finite.values() for v in vs]
    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.subplots()
    if allv:
        lo, hi = min(allv), max(allv)
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        bins = [float(b) for b in np.linspace(lo, hi, 21)]
        for method, vs in finite.items():
            if vs:
                ax.hist(vs, bins=bins, histtype="step", linewidth=1.8, label=method)
        ax.legend(fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("images x noises")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def save_comparison(
    path: Path,
    means: Mapping[str, Mapping[str, tuple[float, float]]],
    *,
    noises: Sequence[str],
    title: str,
) -> Path:
    """Write grouped bar charts of mean PSNR (left) and SSIM (right) per noise.

    Parameters
    ----------
    means : mapping
        ``means[method][noise_label] = (mean_psnr, mean_ssim)``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.png"
    >>> m = {"noisy": {"g": (20.0, 0.5)}, "nlm": {"g": (28.0, 0.8)}}
    >>> save_comparison(p, m, noises=["g"], title="t").exists()
    True
    """
    methods = list(means)
    fig = Figure(figsize=(max(8.0, 2.2 * len(noises) * 2), 4.2), dpi=100)
    axes = fig.subplots(1, 2)
    x = np.arange(len(noises))
    width = 0.8 / max(1, len(methods))
    for k, metric in enumerate(("mean PSNR (dB)", "mean SSIM")):
        ax = axes[k]
        for j, method in enumerate(methods):
            vals = [means[method].get(n, (math.nan, math.nan))[k] for n in noises]
            vals = [v if math.isfinite(v) else math.nan for v in vals]
            ax.bar(x + (j - (len(methods) - 1) / 2) * width, vals, width, label=method)
        ax.set_xticks(x, list(noises), fontsize=8)
        ax.set_ylabel(metric)
        ax.grid(axis="y", alpha=0.3)
        if k == 0:
            finite = [v[0] for m in methods for v in means[m].values() if math.isfinite(v[0])]
            if finite:
                ax.set_ylim(max(0.0, min(finite) - 3), max(finite) + 2)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(title)
    return _save(fig, path)
