"""PSNR and SSIM as a reader sees them: inside a display window.

A fixed error of 0.1 % of a CT's range is invisible in full-range PSNR and glaring at a brain
window (W 80 HU). Here both images are mapped through the window (clipped to
``[level - width / 2, level + width / 2]`` and scaled to [0, 1]) before PSNR and SSIM on a
data range of 1; :func:`clinical_windows` gives the usual windows of a modality.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from skimage.metrics import structural_similarity

from medidenoise.errors import InvalidImageError
from medidenoise.evaluation._flat import as_mask, as_slices
from medidenoise.evaluation.metrics import SSIM_SETTINGS

__all__ = [
    "CT_WINDOWS",
    "Window",
    "apply_window",
    "clinical_windows",
    "windowed_psnr",
    "windowed_ssim",
]

#: (level, width) of a display window, in the image's units
Window = tuple[float, float]
#: CT windows in HU (level, width): brain L40/W80, soft tissue L40/W400
CT_WINDOWS: dict[str, Window] = {"brain": (40.0, 80.0), "soft tissue": (40.0, 400.0)}


def _check_window(window: Sequence[float]) -> Window:
    try:
        level, width = (float(v) for v in window)
    except (TypeError, ValueError):
        raise ValueError(f"window must be (level, width), got {window!r}") from None
    if not (math.isfinite(level) and math.isfinite(width) and width > 0):
        raise ValueError(f"window needs a finite level and a width > 0, got {window!r}")
    return level, width


def apply_window(image: ArrayLike, window: Sequence[float]) -> np.ndarray:
    """``image`` through a display window: clipped to ``level -/+ width / 2``, scaled to [0, 1].

    Parameters
    ----------
    image : array_like
        Any shape, in its own units.
    window : (float, float)
        ``(level, width)``, e.g. ``(40, 80)`` for a CT brain window.

    Returns
    -------
    numpy.ndarray
        float64 array in [0, 1], the shape of ``image``.

    Examples
    --------
    >>> apply_window([-100.0, 0.0, 40.0, 80.0, 500.0], (40, 80)).tolist()
    [0.0, 0.0, 0.5, 1.0, 1.0]
    """
    level, width = _check_window(window)
    arr = np.asarray(image, dtype=np.float64)
    return np.clip((arr - (level - width / 2)) / width, 0.0, 1.0)


def _windowed(
    reference: ArrayLike, test: ArrayLike, window: Sequence[float], mask: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    ref, tst = as_slices(reference, "reference"), as_slices(test, "test")
    if ref.shape != tst.shape:
        raise InvalidImageError(
            f"reference and test must have the same shape, got {np.shape(reference)} and "
            f"{np.shape(test)}"
        )
    where = as_mask(mask, ref.shape, "mask")
    if where is not None and not where.any():
        raise ValueError("mask selects no pixel; pass a mask with True where to score")
    return apply_window(ref, window), apply_window(tst, window), where


def windowed_psnr(
    reference: ArrayLike,
    test: ArrayLike,
    window: Sequence[float],
    *,
    mask: ArrayLike | None = None,
) -> float:
    """PSNR (dB) of ``test`` against ``reference`` after both went through ``window``.

    Parameters
    ----------
    reference : array_like
        The clean image, 2D or (D, H, W), in its own units.
    test : array_like
        The image to score, same shape and units.
    window : (float, float)
        ``(level, width)`` in the image's units (:func:`clinical_windows`).
    mask : array_like of bool, optional
        Score only these pixels (the mean squared error over them).

    Returns
    -------
    float
        ``10 log10(1 / MSE)`` on the windowed images; ``inf`` when they agree.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.full((16, 16), 40.0)
    >>> round(windowed_psnr(ref, ref + 0.8, (40, 80)), 6)       # 1 % of the window
    40.0
    >>> round(windowed_psnr(ref, ref + 0.8, (40, 4000)), 2)     # the same error, full range
    73.98
    """
    ref, tst, where = _windowed(reference, test, window, mask)
    err = (ref - tst) ** 2
    mse = float(err.mean() if where is None else err[where].mean())
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def windowed_ssim(
    reference: ArrayLike,
    test: ArrayLike,
    window: Sequence[float],
    *,
    mask: ArrayLike | None = None,
) -> float:
    """SSIM (Wang et al. 2004, :data:`~medidenoise.evaluation.metrics.SSIM_SETTINGS`) of
    ``test`` against ``reference`` after both went through ``window``.

    A volume is scored slice by slice; the SSIM map is averaged over ``mask`` when given.

    Parameters
    ----------
    reference, test, window, mask
        As for :func:`windowed_psnr`; slices of at least 11 x 11 pixels.

    Returns
    -------
    float
        Mean SSIM in [-1, 1]; 1 when the windowed images agree.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.tile(np.linspace(0.0, 80.0, 32), (32, 1))
    >>> windowed_ssim(ref, ref, (40, 80))
    1.0
    """
    ref, tst, where = _windowed(reference, test, window, mask)
    if min(ref.shape[-2:]) < 11:
        raise InvalidImageError(f"ssim needs slices of at least 11 x 11 pixels, got {ref.shape}")
    maps = np.stack(
        [
            structural_similarity(r, t, data_range=1.0, full=True, **SSIM_SETTINGS)[1]  # type: ignore[arg-type]
            for r, t in zip(ref, tst, strict=True)
        ]
    )
    return float(maps.mean() if where is None else maps[where].mean())


def clinical_windows(
    modality: str,
    image: ArrayLike | None = None,
    *,
    header_window: Sequence[float] | None = None,
) -> dict[str, Window]:
    """The display windows to score a modality in, ``{name: (level, width)}``.

    CT: brain (L40/W80) and soft tissue (L40/W400), in HU. Any other modality (MR, CR, DX...):
    the header's window (DICOM WindowCenter/WindowWidth) when given, else the window from the
    1st to the 99th percentile of ``image``'s values above its minimum (padding and a
    masked background sit at the minimum).

    Parameters
    ----------
    modality : str
        DICOM modality, e.g. ``"CT"``, ``"MR"``, ``"CR"`` (a Volume's ``modality``).
    image : array_like, optional
        The (clean) image; needed for a modality other than CT without ``header_window``.
    header_window : (float, float), optional
        ``(center, width)`` from the header.

    Returns
    -------
    dict
        Window name -> ``(level, width)``.

    Examples
    --------
    >>> clinical_windows("CT")
    {'brain': (40.0, 80.0), 'soft tissue': (40.0, 400.0)}
    >>> clinical_windows("MR", header_window=(1000, 2000))
    {'header': (1000.0, 2000.0)}
    >>> clinical_windows("MR", [[0.0, 0.0], [10.0, 110.0]])
    {'1-99 %': (60.0, 98.0)}
    """
    if modality.strip().upper() == "CT":
        return dict(CT_WINDOWS)
    if header_window is not None:
        return {"header": _check_window(header_window)}
    if image is None:
        raise ValueError(
            f"modality {modality!r}: pass image= (for its 1-99 % percentile window) or "
            "header_window=(center, width)"
        )
    arr = np.asarray(image, dtype=np.float64)
    values = arr[np.isfinite(arr) & (arr > np.nanmin(arr))]
    if values.size == 0:
        raise ValueError("image is constant: there is no window to take from its values")
    lo, hi = (float(v) for v in np.percentile(values, [1, 99]))
    if hi <= lo:
        hi = lo + 1.0
    return {"1-99 %": ((lo + hi) / 2, hi - lo)}
