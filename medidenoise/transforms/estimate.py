"""Blind estimation of the noise level of an image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from medidenoise.errors import InvalidImageError
from medidenoise.transforms._checks import MAD_TO_STD, as_float_image, even_slices, varying_3x3
from medidenoise.transforms._noise_blocks import BlockEstimate, block_noise_estimate

__all__ = ["NoiseMeasure", "estimate_noise", "measure_noise"]

# the 3x3 high-pass kernel outer([1, -2, 1], [1, -2, 1]) has squared norm 36
_KERNEL_NORM = 6.0
# block estimate over high-pass estimate above which it replaces the high-pass one (below,
# white noise: the exact high-pass estimate is kept)
_ABOVE_WHITE = 1.2
# block estimate over high-pass estimate above which the noise counts as correlated
_CORRELATED = 2.0


@dataclass(frozen=True)
class NoiseMeasure:
    """What :func:`measure_noise` found: the noise std and whether it is spatially correlated.

    ``sigma`` is what ``estimate_noise(image)`` returns, ``highpass`` the high-pass
    estimate alone (white noise's std; a fraction of correlated noise's), and
    ``correlated`` whether the noise is clearly spatially correlated: the block
    estimate of the object's noise is over twice the high-pass one, on blocks that
    hold noise only.
    """

    sigma: float
    highpass: float
    correlated: bool


def estimate_noise(
    image: np.ndarray,
    *,
    max_slices: int | None = 32,
    method: Literal["auto", "highpass", "blocks"] = "auto",
) -> float:
    """Estimate the per-pixel standard deviation of the noise in the object, white or correlated.

    Two estimates are made and combined:

    ``highpass``
        Each 2D slice is filtered with the separable high-pass kernel
        ``outer([1, -2, 1], [1, -2, 1])``, which cancels any intensity that varies at
        most quadratically along rows or columns, so smooth anatomy leaves little
        behind while white noise of std ``s`` gives outputs of std ``6 s``. The noise
        std is the median absolute output / 0.6745 / 6 (a MAD estimate, robust to the
        few large outputs at edges). Exact for white noise, but it sees only the finest
        frequencies: spatially correlated noise (a CT reconstruction kernel, MR
        interpolation, a detector's blur) is underestimated, by 2-50x; and it is a
        median over the whole slice, background included.
    ``blocks``
        The slices are cut into 16 px blocks (8 px in slices under 128 px); blocks that
        touch padding (a constant neighbourhood) or the volume's minimum or maximum
        value (clipped air, saturated exposure) are left out. A quadratic surface is
        fitted to each block and the variance of what it leaves is taken. Real noise
        changes with the intensity (CT air is quieter than tissue, an MR background
        holds Rayleigh noise, a radiograph Poisson noise), so the blocks are sorted by
        their mean into up to six intensity strata, each measured on its own: the 10th
        percentile of its block variances (its flattest blocks, which hold noise only),
        turned into a per-pixel variance by running the same statistic on simulated
        noise with the power spectrum of its flattest quarter (so the selection and the
        correlation are accounted for whatever the spectrum). A stratum whose block
        variances spread more than simulated noise's (1.5x; 2x for a single stratum)
        holds texture and is not used. Strata at an end of the intensity range that
        are quieter than the rest both at the block scale and at the finest scale are
        background (air, the Rayleigh floor, direct exposure) and are left out too;
        the estimate is that of the quietest remaining strata (the median of those
        within 1.25x of the quietest: noisier ones hold texture, or noise that rises
        with the intensity, as in bone on a radiograph). Noise whose power lies mostly
        below what a 16 px block resolves (strongly correlated) is measured again on
        32 px blocks of the same intensities. Needs flat regions in the object; on an
        image that has none (a crop of one texture) it reads texture as noise.
    ``auto`` (default)
        The block estimate when it is more than 1.2x the high-pass one (the noise is
        correlated, or the background pulled the high-pass median down) and blocks
        holding noise only were found; else the high-pass one. White noise thus keeps
        the high-pass estimate, which needs no flat region. ``measure_noise`` calls the
        noise correlated when the block estimate is over twice the high-pass one.

    Padding (an exactly constant neighbourhood, e.g. outside a CT field of view or
    an empty background) carries no information about the noise and is left out,
    whether or not the file tags it. On the real scans of pydicom-data (a head CT,
    two radiographs, three MR) ``auto`` is within 1.5x of the std measured in their
    flat tissue; on white, low-pass and band-pass noise added to the hold-out images
    it is within 8 % of the added std where the image's own noise is negligible
    (BENCHMARKS.md). An image whose object is textured everywhere gets the high-pass
    estimate.

    Parameters
    ----------
    image : ndarray
        2D image (H, W) or 3D volume (D, H, W), in its own units; H, W >= 3.
    max_slices : int or None, optional
        Use at most this many evenly spaced slices of a volume (``None``: all).
    method : {"auto", "highpass", "blocks"}, optional
        Which estimate to return (see above); ``"blocks"`` gives the high-pass
        estimate when no block holds noise only.

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

    Correlated noise: the high-pass estimate sees a fraction of it, ``auto`` all of it.

    >>> from medidenoise.transforms import add_correlated_noise
    >>> blurred = add_correlated_noise(smooth, 0.05, rng=0, spectrum="lowpass", width=0.15)
    >>> round(estimate_noise(blurred, method="highpass"), 3), round(estimate_noise(blurred), 2)
    (0.003, 0.05)

    A quiet background does not pull the estimate down: a disc of tissue with noise
    of std 0.05 on a background with noise of std 0.02.

    >>> rng = np.random.default_rng(1)
    >>> yy, xx = np.mgrid[0:256, 0:256] / 256.0
    >>> disc = ((yy - 0.5) ** 2 + (xx - 0.5) ** 2) < 0.15
    >>> tissue, air = rng.normal(0.6, 0.05, disc.shape), rng.normal(0, 0.02, disc.shape)
    >>> scan = np.where(disc, tissue, air)
    >>> round(estimate_noise(scan, method="highpass"), 2), round(estimate_noise(scan), 2)
    (0.03, 0.05)
    """
    if method not in ("auto", "highpass", "blocks"):
        raise ValueError(f"method must be 'auto', 'highpass' or 'blocks', got {method!r}")
    arr = noise_slices(image, max_slices)
    highpass = _highpass(arr)
    if method == "highpass":
        return highpass
    blocks = block_noise_estimate(arr)
    if method == "blocks":
        return blocks.sigma if blocks is not None else highpass
    return _combine(highpass, blocks).sigma


def measure_noise(image: np.ndarray, *, max_slices: int | None = 32) -> NoiseMeasure:
    """The noise std as ``estimate_noise(image)`` gives it, and whether the noise is correlated.

    ``image`` and ``max_slices`` are those of :func:`estimate_noise`; both estimates are
    made once and returned together.

    Returns
    -------
    NoiseMeasure
        ``sigma`` (image units), ``highpass`` and ``correlated``. The model ``"auto"``
        denoises with the ``correlated`` model when ``correlated`` is true.

    Examples
    --------
    >>> import numpy as np
    >>> from medidenoise.transforms import add_correlated_noise
    >>> yy, xx = np.mgrid[0:128, 0:128] / 128.0
    >>> smooth = (np.sin(3 * xx) * np.cos(2 * yy)).astype(np.float32)
    >>> white = smooth + np.random.default_rng(0).normal(0, 0.05, smooth.shape)
    >>> measure_noise(white).correlated
    False
    >>> blurred = add_correlated_noise(smooth, 0.05, rng=0, spectrum="lowpass", width=0.15)
    >>> found = measure_noise(blurred)
    >>> found.correlated, round(found.sigma, 2)
    (True, 0.05)
    """
    arr = noise_slices(image, max_slices)
    return _combine(_highpass(arr), block_noise_estimate(arr))


def noise_slices(image: np.ndarray, max_slices: int | None) -> np.ndarray:
    """``image`` as a float (D, H, W) stack of at most ``max_slices`` evenly spaced slices."""
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
        arr = arr[even_slices(arr.shape[0], max_slices)]
    return arr


def _highpass(arr: np.ndarray) -> float:
    estimates = [s for s in (_slice_sigma(sl) for sl in arr) if s is not None]
    return float(np.median(estimates)) if estimates else 0.0


def _combine(highpass: float, blocks: BlockEstimate | None) -> NoiseMeasure:
    """``auto``: the block estimate when it is clearly above the high-pass one, else the latter."""
    if blocks is None or blocks.sigma <= _ABOVE_WHITE * highpass:
        return NoiseMeasure(highpass, highpass, False)
    return NoiseMeasure(float(blocks.sigma), highpass, blocks.sigma > _CORRELATED * highpass)


def highpass_abs(sl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|high-pass| of a slice and where its 3x3 neighbourhood varies (both (H-2, W-2))."""
    x = sl  # float32: the input precision; the high-pass adds no meaningful rounding
    d2 = x[:-2] - 2 * x[1:-1] + x[2:]
    hp = d2[:, :-2] - 2 * d2[:, 1:-1] + d2[:, 2:]
    return np.abs(hp), varying_3x3(x)[1:-1, 1:-1]


def highpass_std(values: np.ndarray) -> float:
    """The noise std from |high-pass| outputs of white noise: their MAD over the kernel norm."""
    return float(np.median(values)) / MAD_TO_STD / _KERNEL_NORM


def _slice_sigma(sl: np.ndarray) -> float | None:
    hp, varying = highpass_abs(sl)
    values = hp[varying]
    if values.size == 0:
        return None
    return highpass_std(values)
