"""The PNG figure of a quality report: before / after / removed noise at a clinical window,
and the noise power spectra of input and output."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from medidenoise.evaluation.fidelity_windows import apply_window, clinical_windows
from medidenoise.evaluation.quality_report import QualityReport
from medidenoise.io import Volume

__all__ = ["save_quality_figure"]


def _header_window(vol: Volume | None) -> tuple[float, float] | None:
    if vol is None:
        return None
    center, width = vol.metadata.get("WindowCenter"), vol.metadata.get("WindowWidth")
    try:
        return (float(center), float(width)) if center is not None and width else None
    except (TypeError, ValueError):
        return None


def save_quality_figure(
    original: Volume | np.ndarray,
    denoised: Volume | np.ndarray,
    path: str | os.PathLike,
    *,
    report: QualityReport | None = None,
    title: str = "",
    slice_index: int | None = None,
) -> Path:
    """Draw before / after / removed noise of one slice and the NPS curves into a PNG.

    Parameters
    ----------
    original, denoised : Volume or numpy.ndarray
        Input and output, 2D or (D, H, W).
    path : str or os.PathLike
        The PNG to write (its folder is made).
    report : QualityReport, optional
        Its NPS curves and figures are drawn beside the images.
    title : str
        Printed above the figure (a series description).
    slice_index : int, optional
        The slice shown; default the middle one.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # loaded when drawing only
    from matplotlib.figure import Figure

    vol = original if isinstance(original, Volume) else None
    before = np.asarray(vol.array if vol is not None else original, dtype=np.float32)
    after = np.asarray(denoised.array if isinstance(denoised, Volume) else denoised, np.float32)
    if before.ndim == 3:
        k = before.shape[0] // 2 if slice_index is None else slice_index
        before, after = before[k], after[k]
    modality = vol.modality if vol is not None else ""
    name, window = next(
        iter(clinical_windows(modality, before, header_window=_header_window(vol)).items())
    )
    removed = before - after
    fig = Figure(figsize=(14, 4.8), dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1, 1, 1, 1.3]})
    spread = float(np.percentile(np.abs(removed), 99)) or 1.0
    panels = (
        (apply_window(before, window), "gray", 0.0, 1.0, "before"),
        (apply_window(after, window), "gray", 0.0, 1.0, "after"),
        (removed, "RdBu_r", -spread, spread, f"removed noise (+-{spread:.3g})"),
    )
    for ax, (img, cmap, lo, hi, label) in zip(axes[:3], panels, strict=True):
        ax.imshow(img, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.set_axis_off()
    ax = axes[3]
    if report is not None and report.nps_before is not None and report.nps_after is not None:
        for nps, label in ((report.nps_before, "input"), (report.nps_after, "output")):
            ax.semilogy(nps.frequencies, np.maximum(nps.power, 1e-12), label=label)
        ax.set_xlabel("cycles / pixel")
        ax.set_ylabel("NPS")
        ax.legend(fontsize=8)
        ax.set_title("noise power spectrum (flat regions)", fontsize=9)
    else:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no flat region for an NPS", ha="center", va="center")
    level, width = window
    head = f"{title}  " if title else ""
    lines = [f"{head}window {name} L{level:g}/W{width:g}"]
    if report is not None:
        lines += report.lines()
    fig.suptitle("\n".join(lines), fontsize=8)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out
