"""Signal-to-noise and contrast-to-noise ratios from two regions of interest."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["RoiContrast", "roi_contrast"]


@dataclass(frozen=True)
class RoiContrast:
    """What :func:`roi_contrast` measured, in the image's units.

    Attributes
    ----------
    signal_mean, signal_std, background_mean, background_std : float
        Mean and standard deviation of each region.
    snr : float
        ``signal_mean / signal_std`` (the region's own noise).
    cnr : float
        ``|signal_mean - background_mean| / sqrt((signal_std**2 + background_std**2) / 2)``.
    """

    signal_mean: float
    signal_std: float
    background_mean: float
    background_std: float
    snr: float
    cnr: float


def _region(image: np.ndarray, mask: ArrayLike, name: str) -> np.ndarray:
    m = np.asarray(mask, dtype=bool)
    if m.shape != image.shape:
        raise ValueError(f"{name} has shape {m.shape}, the image {image.shape}; draw it on it")
    values = image[m]
    if values.size < 2:
        raise ValueError(f"{name} covers {values.size} pixel(s); draw a region of several")
    return values.astype(np.float64)


def roi_contrast(image: ArrayLike, signal: ArrayLike, background: ArrayLike) -> RoiContrast:
    """SNR of a signal region and CNR against a background region.

    Parameters
    ----------
    image : array_like
        2D or 3D, in its own units.
    signal, background : array_like of bool
        The two regions (same shape as ``image``): e.g. a lesion and the tissue beside it.

    Returns
    -------
    RoiContrast

    Examples
    --------
    >>> import numpy as np
    >>> img = np.random.default_rng(0).normal(100, 5, (64, 64))
    >>> img[:, 32:] += 20
    >>> right = np.zeros((64, 64), bool); right[:, 32:] = True
    >>> r = roi_contrast(img, right, ~right)
    >>> round(r.cnr), round(r.snr)
    (4, 24)
    """
    arr = np.asarray(image, dtype=np.float64)
    s, b = _region(arr, signal, "signal"), _region(arr, background, "background")
    noise = float(np.sqrt((s.var() + b.var()) / 2))
    nan = float("nan")
    return RoiContrast(
        signal_mean=float(s.mean()),
        signal_std=float(s.std()),
        background_mean=float(b.mean()),
        background_std=float(b.std()),
        snr=float(s.mean() / s.std()) if s.std() > 0 else nan,
        cnr=float(abs(s.mean() - b.mean()) / noise) if noise > 0 else nan,
    )
