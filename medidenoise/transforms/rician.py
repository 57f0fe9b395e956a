"""Rician noise of magnitude images: its level, and the bias it leaves after denoising.

A magnitude image (MR, mostly) is ``M = |A + n1 + i n2|`` with ``n1, n2`` Gaussian of std
``sigma``. Its mean is above the signal ``A`` where ``A`` is low: ``sigma * sqrt(pi / 2)``
where there is no signal at all, the dark background that fills half of many MR slices. A
denoiser estimates the local mean ``E[M]``, so that bias stays; :func:`rician_unbias` maps an
estimate of ``E[M]`` back to ``A`` through the inverse of the Rician mean function
``E[M] = sigma sqrt(pi / 2) L_1/2(-A^2 / (2 sigma^2))`` (a table up to 60 sigma, its
closed-form limit above). A denoiser's estimate also carries its own error, which near the
noise floor that inverse (a square root there) turns into signal where there is none:
:func:`rician_unbias_denoised` first quiets it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.special import i0e, i1e

from medidenoise.errors import InvalidImageError
from medidenoise.transforms._checks import as_float_image
from medidenoise.transforms.estimate import highpass_abs, highpass_std, noise_slices

__all__ = [
    "detect_rician",
    "rician_mean",
    "rician_sigma",
    "rician_unbias",
    "rician_unbias_denoised",
]

# signal / sigma on which the mean function is tabulated; beyond it E[M] = sqrt(A^2 + sigma^2)
# to within 1e-5 sigma, which inverts in closed form
_GRID = np.linspace(0.0, 60.0, 120001)
# pixels whose smoothed value is this many (first-guess) sigmas up count as signal, where
# Rician noise is Gaussian-like with std sigma; in the dark background its spread is 0.66 sigma
_SIGNAL_SIGMAS = 5.0
# detect_rician: the background is where the 7x7 local mean is below this many sigmas (the
# Rayleigh mean is 1.25 sigma), eroded so that no edge of the signal is left in it
_BACKGROUND_SIGMAS = 2.0
_RAYLEIGH_MEAN = float(np.sqrt(np.pi / 2))  # the mean of pure magnitude noise, in sigmas
_RAYLEIGH_CV = float(np.sqrt(4 / np.pi - 1))  # its std / mean: 0.523 whatever sigma is


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
# the inverse on a uniform grid of u = sqrt(E[M] / sigma - sqrt(pi / 2)): near the noise
# floor the signal grows as the square root of the excess mean, so in u it is smooth and
# one multiply finds the cell (np.interp's search over the table took 3-4x longer)
_U_STEP = 1e-4
_U = np.arange(0.0, np.sqrt(_MEANS[-1] - _MEANS[0]) + 2 * _U_STEP, _U_STEP)
_SIGNAL_OF_U = np.interp(_MEANS[0] + _U**2, _MEANS, _GRID)


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
    pos = np.sqrt(np.clip(ratio - _MEANS[0], 0.0, _MEANS[-1] - _MEANS[0])) / _U_STEP
    cell = np.minimum(pos.astype(np.intp), len(_U) - 2)
    frac = pos - cell
    inside = _SIGNAL_OF_U[cell] * (1.0 - frac) + _SIGNAL_OF_U[cell + 1] * frac
    far = np.sqrt(np.maximum(ratio, _MEANS[-1]) ** 2 - 1.0)  # high signal: E[M]^2 = A^2 + s^2
    return (np.where(ratio > _MEANS[-1], far, inside) * sigma).astype(np.float32)


# rician_unbias_denoised: how a denoised estimate is treated near the noise floor (BENCHMARKS.md,
# "The Rician step near the noise floor"): smoothed in-plane (Gaussian std in pixels) where the
# smoothed estimate is within _FLOOR_BAND sigmas of the floor, then the excess over the floor
# shrunk by a non-negative garrote with threshold _FLOOR_SHRINK sigmas
_FLOOR_SMOOTHING_PX = 4.0
_FLOOR_BAND = 0.25
_FLOOR_SHRINK = 0.06


def rician_unbias_denoised(estimate: np.ndarray, sigma: float) -> np.ndarray:
    """:func:`rician_unbias` for a denoiser's output, whose own error is not amplified.

    A denoised magnitude image estimates ``E[M]`` with an error of a few percent of
    ``sigma``. Near the noise floor ``sigma * sqrt(pi / 2)`` the inverse grows as the
    square root of the excess over the floor, so every upward error there becomes signal:
    on a dark background a third to a half of the pixels of a good estimate sit above the
    floor, and the background comes out grey. Two steps before the inverse:

    1. where the in-plane smoothed estimate (Gaussian, std 4 pixels; each 2D slice on its
       own, the last two axes) is within 0.25 sigma of the floor, the smoothed value
       replaces the estimate, fading linearly to the estimate itself at 0.25 sigma: a flat
       dark region keeps its level with less spread, edges of the signal are untouched;
    2. the excess ``e`` over the floor, in sigmas, becomes ``e - t**2 / e`` above
       ``t = 0.06`` and 0 below (a non-negative garrote): the last few hundredths of a
       sigma above the floor count as noise, while a clear signal (``e >> t``) keeps its
       value.

    Parameters
    ----------
    estimate : ndarray
        2D or 3D (slices on the first axis): a denoised magnitude image, in the image's units.
    sigma : float
        The std of the Gaussian noise on each channel, in the same units.

    Returns
    -------
    ndarray
        float32, the same shape.

    Examples
    --------
    >>> floor = float(rician_mean(0.0, 1.0))
    >>> background = floor + 0.05 * np.random.default_rng(0).standard_normal((64, 64))
    >>> float(np.abs(rician_unbias(background, 1.0)).mean()) > 0.1  # read as signal
    True
    >>> float(np.abs(rician_unbias_denoised(background, 1.0)).mean()) < 0.01
    True
    >>> bright = rician_mean(np.full((8, 8), 20.0), 1.0)  # clear signal: as before
    >>> bool(np.allclose(rician_unbias_denoised(bright, 1.0), 20.0, atol=1e-3))
    True
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    est = np.asarray(estimate, dtype=np.float64)
    if est.ndim not in (2, 3):
        raise ValueError(f"expected a 2D image or a 3D volume, got shape {est.shape}")
    floor = _MEANS[0] * sigma
    width = (0.0,) * (est.ndim - 2) + (_FLOOR_SMOOTHING_PX,) * 2
    smooth = ndimage.gaussian_filter(est, width, mode="reflect")
    weight = np.clip(1.0 - (smooth - floor) / (_FLOOR_BAND * sigma), 0.0, 1.0)
    excess = (est + weight * (smooth - est) - floor) / sigma
    t = _FLOOR_SHRINK
    shrunk = np.where(excess > t, excess - t * t / np.maximum(excess, t), 0.0)
    return rician_unbias(floor + shrunk * sigma, sigma)


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
    stack = noise_slices(arr, max_slices)  # checks the shape and max_slices
    if float(arr.min()) < 0:  # any slice, not only the measured ones
        raise InvalidImageError(
            f"image: has negative values (min {float(arr.min()):.4g}), so it is not a magnitude "
            "image and its noise is not Rician; denoise it without the Rician option"
        )
    slices = [highpass_abs(sl) for sl in stack]
    values = np.concatenate([hp[varying] for hp, varying in slices])
    if values.size == 0:
        return 0.0
    guess = highpass_std(values)
    signal = np.concatenate(
        [
            hp[varying & (ndimage.gaussian_filter(sl, 2.0)[1:-1, 1:-1] > _SIGNAL_SIGMAS * guess)]
            for sl, (hp, varying) in zip(stack, slices, strict=True)
        ]
    )
    if signal.size < max(1000, values.size // 10):
        return guess
    return highpass_std(signal)


def detect_rician(image: np.ndarray, *, max_slices: int | None = 32) -> bool:
    """Whether ``image`` looks like a magnitude image with Rician noise.

    The test is the dark background, where a magnitude image holds pure noise and Rician
    noise becomes Rayleigh: never zero (bar rounding of integer data), std / mean 0.52 and a
    mean of ``1.25 sigma``, the ``sigma`` measured where there is signal
    (:func:`rician_sigma`). Gaussian, Poisson or speckle noise on a dark background leaves
    negative values or many exact zeros (clipped, or no signal to scale) or a spread that
    does not match; an image whose background was masked to zero, or that has too little
    background (at least 1000 pixels and 1 % of the measured slices), is not taken for one.
    ``"auto"`` removes the Rician bias (:func:`rician_unbias`) where this holds.

    Examples
    --------
    >>> from medidenoise.transforms import add_noise
    >>> yy, xx = np.mgrid[:128, :128]
    >>> head = ((yy - 64) ** 2 + (xx - 64) ** 2 < 40**2) * 0.6
    >>> detect_rician(add_noise(head, "rician", 0.05, rng=0))
    True
    >>> detect_rician(np.clip(add_noise(head, "gaussian", 0.05, rng=0), 0, None))
    False
    """
    return magnitude_sigma(image, max_slices=max_slices) is not None


def magnitude_sigma(image: np.ndarray, *, max_slices: int | None = 32) -> float | None:
    """:func:`rician_sigma` when :func:`detect_rician` takes ``image`` for a magnitude image,
    else ``None``: both from one measurement (what ``"auto"`` needs)."""
    arr = as_float_image(image)
    stack = noise_slices(arr, max_slices)
    if float(arr.min()) < 0:
        return None
    sigma = rician_sigma(stack, max_slices=None)
    if not sigma > 0:
        return None
    picked = []
    for sl in stack:
        local = ndimage.uniform_filter(sl.astype(np.float64), 7)
        inside = ndimage.binary_erosion(local < _BACKGROUND_SIGMAS * sigma, iterations=3)
        picked.append(sl[inside])
    values = np.concatenate(picked).astype(np.float64)
    if values.size < max(1000, stack.size // 100):
        return None
    mean, spread = float(values.mean()), float(values.std())
    # integer data rounds the lowest Rayleigh values to 0: allow twice the share expected
    step = 1.0 if np.array_equal(values, np.round(values)) else 0.0
    rounded = 1.0 - np.exp(-((step / 2) ** 2) / (2 * (mean / _RAYLEIGH_MEAN) ** 2)) if mean else 1
    zeros = float(np.mean(values <= 0))
    rayleigh = (
        mean > 0
        and zeros <= max(0.005, 2 * rounded)
        and 0.85 * _RAYLEIGH_CV <= spread / mean <= 1.15 * _RAYLEIGH_CV
        and 0.7 <= mean / (_RAYLEIGH_MEAN * sigma) <= 1.4
    )
    return sigma if rayleigh else None
