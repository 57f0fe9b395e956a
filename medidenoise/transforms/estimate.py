"""Blind estimation of the noise level of an image."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from medidenoise.errors import InvalidImageError
from medidenoise.transforms._checks import as_float_image

__all__ = ["estimate_noise"]

# median(|N(0, 1)|): turns a median absolute value into a standard deviation
_MAD_TO_STD = 0.6744897501960817
# the 3x3 high-pass kernel outer([1, -2, 1], [1, -2, 1]) has squared norm 36
_KERNEL_NORM = 6.0


def estimate_noise(image: np.ndarray, *, max_slices: int | None = 32) -> float:
    """Estimate the standard deviation of additive Gaussian noise.

    Each 2D slice is filtered with the separable high-pass kernel
    ``outer([1, -2, 1], [1, -2, 1])``, which cancels any intensity that
    varies at most quadratically along rows or columns, so smooth anatomy
    leaves little behind while white noise of std ``s`` gives outputs of std
    ``6 s``. The noise std is the median absolute output / 0.6745 / 6 (a MAD
    estimate, robust to the few large outputs at edges). Outputs whose 3x3
    neighbourhood is exactly constant (padding outside a CT field of view, an
    empty background) carry no information about the noise and are left out.
    A volume is estimated slice by slice and the median taken.

    Parameters
    ----------
    image : ndarray
        2D image (H, W) or 3D volume (D, H, W), in its own units; H, W >= 3.
    max_slices : int or None, optional
        Use at most this many evenly spaced slices of a volume (``None``: all).

    Returns
    -------
    float
        Estimated noise std in the image's units; 0.0 for an image with no
        non-constant neighbourhood.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[0:128, 0:128] / 128.0
    >>> smooth = (np.sin(3 * xx) * np.cos(2 * yy)).astype(np.float32)
    >>> noisy = smooth + np.random.default_rng(0).normal(0, 0.05, smooth.shape)
    >>> round(estimate_noise(noisy), 2)
    0.05
    """
    arr = as_float_image(image)
    if arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim != 3:
        raise InvalidImageError(
            f"image: expected a 2D (H, W) or 3D (D, H, W) array, got shape {arr.shape}"
        )
    if arr.shape[1] < 3 or arr.shape[2] < 3:
        raise InvalidImageError(
            f"image: slices must be at least 3x3 to estimate noise, got shape {arr.shape}"
        )
    if max_slices is not None:
        if isinstance(max_slices, bool) or not isinstance(max_slices, int) or max_slices < 1:
            raise ValueError(f"max_slices must be a positive int or None, got {max_slices!r}")
        if arr.shape[0] > max_slices:
            idx = np.unique(np.linspace(0, arr.shape[0] - 1, max_slices).round().astype(int))
            arr = arr[idx]
    estimates = [s for s in (_slice_sigma(sl) for sl in arr) if s is not None]
    return float(np.median(estimates)) if estimates else 0.0


def _slice_sigma(sl: np.ndarray) -> float | None:
    x = sl  # float32: the input precision; the high-pass adds no meaningful rounding
    d2 = x[:-2] - 2 * x[1:-1] + x[2:]
    hp = d2[:, :-2] - 2 * d2[:, 1:-1] + d2[:, 2:]
    varying = (ndimage.maximum_filter(x, size=3) > ndimage.minimum_filter(x, size=3))[1:-1, 1:-1]
    values = np.abs(hp[varying])
    if values.size == 0:
        return None
    return float(np.median(values)) / _MAD_TO_STD / _KERNEL_NORM
