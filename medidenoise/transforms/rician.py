"""Rician noise of magnitude images: its level, and the bias it leaves after denoising.

A magnitude image (MR, mostly) is ``M = |A + n1 + i n2|`` with ``n1, n2`` Gaussian of std
``sigma``. Its mean is above the signal ``A`` where ``A`` is low: ``sigma * sqrt(pi / 2)``
where there is no signal at all, the dark background that fills half of many MR slices. A
denoiser estimates the local mean ``E[M]``, so that bias stays; :func:`rician_unbias` maps an
estimate of ``E[M]`` back to ``A`` through the inverse of the Rician mean function
``E[M] = sigma sqrt(pi / 2) L_1/2(-A^2 / (2 sigma^2))`` (a table up to 60 sigma, its
closed-form limit above).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.special import i0e, i1e

from medidenoise.errors import InvalidImageError
from medidenoise.transforms._checks import MAD_TO_STD, as_float_image, even_slices, varying_3x3

__all__ = ["rician_mean", "rician_sigma", "rician_unbias"]

# signal / sigma on which the mean function is tabulated; beyond it E[M] = sqrt(A^2 + sigma^2)
# to within 1e-5 sigma, which inverts in closed form
_GRID = np.linspace(0.0, 60.0, 120001)
# the high-pass MAD of estimate.py: kernel outer([1, -2, 1], [1, -2, 1]), norm 6
_KERNEL_NORM = 6.0
# pixels whose smoothed value is this many (first-guess) sigmas up count as signal, where
# Rician noise is Gaussian-like with std sigma; in the dark background its spread is 0.66 sigma
_SIGNAL_SIGMAS = 5.0


def rician_mean(signal: np.ndarray | float, sigma: float) -> np.ndarray:
    """``E[M]`` of a Rician magnitude with signal ``A = signal`` and Gaussian std ``sigma``.

    Examples
    --------
    >>> float(rician_mean(0.0, 1.0)) == float(np.sqrt(np.pi / 2))
    True
    >>> round(float(rician_mean(30.0, 1.0)), 3)  # high signal: about the signal
    30.017
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    t = (np.asarray(signal, dtype=np.float64) / sigma) ** 2 / 2
    # L_1/2(-t) with exponentially scaled Bessel functions: no overflow at high signal
    return sigma * np.sqrt(np.pi / 2) * ((1 + t) * i0e(t / 2) + t * i1e(t / 2))


_MEANS = rician_mean(_GRID, 1.0)


def rician_unbias(estimate: np.ndarray, sigma: float) -> np.ndarray:
    """The signal whose Rician mean is ``estimate``: the bias of magnitude noise removed.

    Parameters
    ----------
    estimate : ndarray
        An estimate of the local mean of a magnitude image (a denoised image), in the
        image's units; values below ``sigma * sqrt(pi / 2)`` (the mean of pure noise)
        map to 0.
    sigma : float
        The std of the Gaussian noise on each channel, in the same units.

    Returns
    -------
    ndarray
        float32, the same shape.

    Examples
    --------
    >>> sig = np.array([0.0, 0.5, 2.0, 20.0])
    >>> np.round(rician_unbias(rician_mean(sig, 1.0), 1.0), 4)
    array([ 0. ,  0.5,  2. , 20. ], dtype=float32)
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    ratio = np.asarray(estimate, dtype=np.float64) / sigma
    inside = np.interp(np.clip(ratio, _MEANS[0], _MEANS[-1]), _MEANS, _GRID)
    far = np.sqrt(np.maximum(ratio, _MEANS[-1]) ** 2 - 1.0)  # high signal: E[M]^2 = A^2 + s^2
    return (np.where(ratio > _MEANS[-1], far, inside) * sigma).astype(np.float32)


def rician_sigma(image: np.ndarray, *, max_slices: int | None = 32) -> float:
    """The Gaussian std ``sigma`` of the Rician noise of a magnitude image.

    The high-pass MAD of ``estimate_noise`` taken only where there is clear signal (the
    smoothed image above five first-guess sigmas), where Rician noise has std ``sigma``;
    over the whole image the dark background, whose Rayleigh values spread 0.66 times as
    much, pulls it low (0.78-0.80x on MNI152 slices). Falls back to the whole-image
    estimate when too little of the image is signal.

    Raises
    ------
    InvalidImageError
        A negative value: not a magnitude image.
    """
    arr = as_float_image(image)
    arr = arr[None] if arr.ndim == 2 else arr
    if arr.ndim != 3 or arr.shape[1] < 3 or arr.shape[2] < 3:
        raise InvalidImageError(f"image: expected (H, W) or (D, H, W) slices, got {arr.shape}")
    if float(arr.min()) < 0:
        raise InvalidImageError(
            f"image: has negative values (min {float(arr.min()):.4g}), so it is not a magnitude "
            "image and its noise is not Rician; denoise it without the Rician option"
        )
    if max_slices is not None:
        arr = arr[even_slices(arr.shape[0], max_slices)]
    first: list[np.ndarray] = []
    bright: list[np.ndarray] = []
    for sl in arr:
        d2 = sl[:-2] - 2 * sl[1:-1] + sl[2:]
        hp = np.abs(d2[:, :-2] - 2 * d2[:, 1:-1] + d2[:, 2:])
        varying = varying_3x3(sl)[1:-1, 1:-1]
        first.append(hp[varying])
        bright.append(hp)
    values = np.concatenate(first)
    if values.size == 0:
        return 0.0
    guess = float(np.median(values)) / MAD_TO_STD / _KERNEL_NORM
    picked = []
    for sl, hp in zip(arr, bright, strict=True):
        smooth = ndimage.gaussian_filter(sl, 2.0)[1:-1, 1:-1]
        mask = (smooth > _SIGNAL_SIGMAS * guess) & varying_3x3(sl)[1:-1, 1:-1]
        picked.append(hp[mask])
    signal = np.concatenate(picked)
    if signal.size < max(1000, values.size // 10):
        return guess
    return float(np.median(signal)) / MAD_TO_STD / _KERNEL_NORM
