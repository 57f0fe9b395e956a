"""Measure a noisy image's own noise: its spatial correlation and how it scales with signal.

Self-supervised adaptation (``medidenoise.adapt``) needs a model of the noise
that is actually in the user's scan, which is never white: reconstruction
kernels and interpolation correlate it, photon statistics make it depend on
the signal. :func:`measure_noise_model` estimates, from the noisy image alone,

* the noise autocorrelation over a small window of lags (its shape), averaged
  over the image blocks where the image itself is flat;
* the noise variance as a function of the local mean, ``a + b * mean``.

:func:`coloured_noise` draws stationary noise with the measured
autocorrelation (unit variance), which the adaptation scales per pixel.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from medidenoise.errors import InvalidImageError
from medidenoise.transforms._checks import MAD_TO_STD, as_float_image, even_slices

__all__ = ["NoiseModel", "coloured_noise", "measure_noise_model"]

#: half-width of the measured autocorrelation window (lags -K..K on each axis)
MAX_LAG = 6
#: side of the blocks the image is cut into; ``_SMALL_BLOCK`` when that leaves fewer than
#: ``_MIN_BLOCKS`` (a 128x128 slice of a head: 16 blocks of 32, all but a few touch anatomy,
#: and the correlation read from them was that of the anatomy)
_BLOCK = 32
_SMALL_BLOCK = 16
_MIN_BLOCKS = 64
#: blocks whose variance/high-pass ratio is within this factor of the flattest count as flat
_FLAT_FACTOR = 1.25
#: the quantile of the variance/high-pass ratios that stands for pure noise
_FLAT_QUANTILE = 0.25
#: with a reference std, a flat block's variance must also stay below this factor of it
#: squared (pure noise in a 16-pixel block strays ~20 % in variance: 1.35^2 is 4 such
#: strays) unless fewer than ``_MIN_CAPPED`` blocks would be left
_CAP = 1.35
_MIN_CAPPED = 8
#: the rise across the intensities below which flat blocks' variances are read as constant:
#: smooth anatomy left in "flat" blocks of a small head scan raises their variance with the
#: intensity by 30-40 % under signal-independent noise (MR2 shrunk to 128 px, white, row- and
#: column-correlated noise alike); a model whose std varies by less than ~26 % across the image
#: gains little over a constant one, while a false gain misdirects every recorrupted pair
_MIN_RISE = 1.6
#: the high-pass used to measure noise robustly: second differences along both axes
_HP = np.outer([1.0, -2.0, 1.0], [1.0, -2.0, 1.0])


@dataclass(frozen=True)
class NoiseModel:
    """Measured noise of an image, in the units of the array it was measured on.

    Attributes
    ----------
    autocorrelation : ndarray
        (2K+1, 2K+1) correlation coefficients of the noise at lags
        (-K..K, -K..K) along (rows, columns); 1 at the centre.
    offset, gain : float
        Noise variance at local mean ``m`` is ``max(offset + gain * m, floor)``.
    std : float
        Noise standard deviation at the image's median intensity.
    flat_blocks, blocks : int
        How many blocks the correlation was measured on, out of how many.
    """

    autocorrelation: np.ndarray
    offset: float
    gain: float
    std: float
    flat_blocks: int
    blocks: int
    floor: float = field(default=0.0)

    def correlation_length(self, threshold: float = 0.2) -> tuple[int, int]:
        """Largest lag (rows, columns) at which the correlation still exceeds ``threshold``."""
        ac = self.autocorrelation
        k = ac.shape[0] // 2
        lengths = []
        for profile in (ac[k:, k], ac[k, k:]):
            above = np.nonzero(np.abs(profile) > threshold)[0]
            lengths.append(int(above.max()) if above.size else 0)
        return lengths[0], lengths[1]

    @property
    def signal_dependent(self) -> bool:
        """True when the variance rises by more than ``_MIN_RISE`` across the range [0, 1]."""
        low = max(self.offset, 1e-12)
        return self.gain > 0 and self.gain * 1.0 > (_MIN_RISE - 1.0) * low

    def variance(self, mean: np.ndarray | float) -> np.ndarray:
        """Noise variance at local mean ``mean``."""
        var = self.offset + self.gain * np.asarray(mean, dtype=np.float64)
        return np.maximum(var, max(self.floor, 1e-12))

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary (for checkpoint metadata and logs)."""
        d = asdict(self)
        d["autocorrelation"] = np.round(self.autocorrelation, 4).tolist()
        d["correlation_length"] = list(self.correlation_length())
        d["signal_dependent"] = self.signal_dependent
        return d


def _plane_residual(block: np.ndarray, basis: np.ndarray, pinv: np.ndarray) -> np.ndarray:
    coef = pinv @ block.reshape(-1)
    return block - (basis @ coef).reshape(block.shape)


def _autocorr(res: np.ndarray, k: int) -> np.ndarray:
    """Autocovariance of a zero-mean block at lags -k..k (unbiased per lag count)."""
    h, w = res.shape
    f = np.fft.rfft2(res, s=(h + k, w + k))
    full = np.fft.irfft2(f * np.conj(f), s=(h + k, w + k))
    full = np.fft.fftshift(full)
    ch, cw = (h + k) // 2, (w + k) // 2
    win = full[ch - k : ch + k + 1, cw - k : cw + k + 1]
    lags = np.arange(-k, k + 1)
    counts = np.outer(h - np.abs(lags), w - np.abs(lags))
    return win / counts


def measure_noise_model(
    image: np.ndarray, *, max_slices: int = 32, reference_std: float | None = None
) -> NoiseModel:
    """Measure the noise of a noisy image or volume, without a clean reference.

    Every slice is cut into 32x32 blocks (smaller for small slices). In each
    block a fitted plane is removed; what is left is noise plus structure. Two
    numbers are compared: the block's variance and a robust (median absolute)
    variance of its second differences. For pure noise their ratio depends
    only on the noise's correlation; structure (edges, texture, smooth
    anatomy) raises the variance much more than the robust high-pass. The
    blocks whose ratio is within 25 % of the lowest quartile are taken as
    flat: the autocorrelation is averaged over them, and their variances give
    the noise variance. The noise is signal dependent only when flat blocks at
    three or more intensities show it rising (:func:`_signal_dependence`); a
    scan whose only flat blocks are background is measured signal
    independent.

    Parameters
    ----------
    image : ndarray
        (H, W) or (D, H, W), in any units; the model is in the same units.
    max_slices : int
        At most this many evenly spaced slices are measured.
    reference_std : float, optional
        A noise std measured otherwise (``estimate_noise``): flat blocks whose
        variance exceeds ``1.35**2`` times its square are taken to hold smooth
        anatomy that the flatness test let through, and left out, unless fewer
        than 8 blocks would remain (then the reference is ignored: it is too
        low for this image). For signal-independent noise only.

    Returns
    -------
    NoiseModel

    Raises
    ------
    InvalidImageError
        NaN/Inf, slices smaller than 16x16, or an image with no variation.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.normal(0, 1, (128, 129))
    >>> streaks = (noise[:, 1:] + noise[:, :-1]) / np.sqrt(2)   # correlated along columns
    >>> m = measure_noise_model(0.5 + 0.05 * streaks)
    >>> m.correlation_length()
    (0, 1)
    >>> round(m.std, 2)
    0.05
    """
    arr = as_float_image(image)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise InvalidImageError(f"image: expected 2D or 3D, got shape {arr.shape}")
    d, h, w = arr.shape
    if h < 16 or w < 16:
        raise InvalidImageError(
            f"image: slices of {h}x{w} are too small to measure noise on; at least 16x16 needed"
        )
    arr = arr[even_slices(d, max_slices)]
    b = min(_BLOCK, h, w)
    if len(arr) * (h // b) * (w // b) < _MIN_BLOCKS:
        b = _SMALL_BLOCK  # a small image: too few blocks of 32 are free of anatomy
    k = min(MAX_LAG, b // 4)
    yy, xx = np.mgrid[0:b, 0:b].astype(np.float64) / b
    basis = np.stack([np.ones(b * b), yy.ravel(), xx.ravel()], axis=1)
    pinv = np.linalg.pinv(basis)
    ratios, hp_vars, means, acs, variances = [], [], [], [], []
    for sl in arr.astype(np.float64):
        for top in range(0, h - b + 1, b):
            for left in range(0, w - b + 1, b):
                block = sl[top : top + b, left : left + b]
                if np.ptp(block) == 0:
                    continue  # padding outside a field of view: no noise there to measure
                res = _plane_residual(block, basis, pinv)
                hp = ndimage.convolve(block, _HP, mode="nearest")[1:-1, 1:-1]
                hp_var = (np.median(np.abs(hp - np.median(hp))) / MAD_TO_STD) ** 2
                if hp_var <= 0:
                    continue
                ratios.append(float(res.var()) / hp_var)
                variances.append(float(res.var()))
                hp_vars.append(hp_var)
                means.append(float(np.median(block)))
                acs.append(_autocorr(res, k))
    if len(ratios) < 2:
        raise InvalidImageError(
            "image: no noise to measure (the image is constant, or constant apart from a "
            "few blocks); self-supervised adaptation needs a noisy image"
        )
    r = np.asarray(ratios)
    q = float(np.quantile(r, _FLAT_QUANTILE))
    flat = r <= q * _FLAT_FACTOR
    if reference_std is not None and reference_std > 0:
        quiet = flat & (np.asarray(variances) <= (_CAP * reference_std) ** 2)
        if quiet.sum() >= _MIN_CAPPED:
            flat = quiet
    ac = np.mean([a for a, f in zip(acs, flat, strict=True) if f], axis=0)
    ac = ac / ac[k, k]
    kept = _residual_share(ac, basis, pinv, b)
    # the noise variance is read on the flat blocks only: a block with anatomy in it has a
    # variance/high-pass ratio of its own, and scaling its high-pass by the flat blocks' ratio
    # reads that anatomy as noise (correlated noise in a head MR: 10x the variance at the top
    # of the range)
    flat_var = np.asarray(ratios)[flat] * np.asarray(hp_vars)[flat] / kept
    flat_mean = np.asarray(means)[flat]
    offset, gain = _signal_dependence(flat_mean, flat_var)
    ref = float(np.median(arr))
    var_ref = max(offset + gain * ref, float(np.min(flat_var)))
    model = NoiseModel(
        autocorrelation=ac.astype(np.float64),
        offset=offset,
        gain=gain,
        std=float(np.sqrt(var_ref)),
        flat_blocks=int(flat.sum()),
        blocks=len(ratios),
        floor=float(np.quantile(flat_var, 0.02)),
    )
    return model


def _residual_share(ac: np.ndarray, basis: np.ndarray, pinv: np.ndarray, b: int) -> float:
    """The share of the noise variance a fitted plane leaves in a ``b`` x ``b`` block, for
    noise of autocorrelation ``ac`` (the plane takes part of it, more of correlated noise)."""
    k = ac.shape[0] // 2
    yy, xx = np.divmod(np.arange(b * b), b)
    dy = yy[:, None] - yy[None, :]
    dx = xx[:, None] - xx[None, :]
    near = (np.abs(dy) <= k) & (np.abs(dx) <= k)
    cov = np.where(near, ac[np.clip(dy + k, 0, 2 * k), np.clip(dx + k, 0, 2 * k)], 0.0)
    taken = float(np.sum((basis @ pinv) * cov)) / (b * b)
    return float(np.clip(1.0 - taken, 0.5, 1.0))


def _signal_dependence(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(offset, gain)`` of the noise variance ``y`` against the block mean ``x``, from
    structure-free blocks only, and a gain only where they support one.

    The blocks are grouped by intensity (up to five groups of at least three blocks); a
    gain is kept when at least three groups span the intensities, their median variances
    rise with the intensity (no group below the one before it by more than 10 %), and the
    line rises by at least 60 % (``_MIN_RISE``) across them. Otherwise the noise is taken as signal
    independent: the median variance of the blocks.
    """
    flat_only = float(np.median(y)), 0.0
    order = np.argsort(x)
    groups = min(5, x.size // 3)
    if groups < 3 or np.ptp(x) == 0:
        return flat_only
    cx, cy = [], []
    for part in np.array_split(order, groups):
        cx.append(float(np.median(x[part])))
        cy.append(float(np.median(y[part])))
    if np.ptp(cx) == 0 or any(b < 0.9 * a for a, b in itertools.pairwise(cy)):
        return flat_only
    gain, offset = np.polyfit(cx, cy, 1)
    low = offset + gain * cx[0]
    high = offset + gain * cx[-1]
    if gain <= 0 or low <= 0 or high < _MIN_RISE * low:
        return flat_only
    return float(offset), float(gain)


def _psd_from_autocorrelation(ac: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Non-negative power spectrum on ``shape`` whose inverse FFT is ~``ac`` (circular)."""
    k = ac.shape[0] // 2
    win = ac
    grid = np.zeros(shape, dtype=np.float64)
    lags = np.arange(-k, k + 1)
    grid[np.ix_(lags % shape[0], lags % shape[1])] = win
    psd = np.fft.rfft2(grid).real
    psd = np.maximum(psd, 0.0)
    # unit variance: the mean of the full spectrum equals the zero-lag value
    full_mean = (psd[:, 0].sum() + 2 * psd[:, 1:].sum()) / (shape[0] * shape[1])
    if shape[1] % 2 == 0:
        full_mean -= psd[:, -1].sum() / (shape[0] * shape[1])
    return psd / max(full_mean, 1e-12)


def coloured_noise(
    shape: tuple[int, ...], autocorrelation: np.ndarray, *, rng: np.random.Generator | int | None
) -> np.ndarray:
    """Stationary unit-variance Gaussian noise with the given autocorrelation.

    White noise is filtered in the Fourier domain by the square root of the
    power spectrum the autocorrelation implies (tapered, clipped at zero).
    ``shape`` is ``(..., H, W)``; every (H, W) plane is an independent draw.

    Examples
    --------
    >>> import numpy as np
    >>> ac = np.zeros((3, 3)); ac[1, :] = [0.5, 1.0, 0.5]
    >>> z = coloured_noise((256, 256), ac, rng=0)
    >>> round(float(np.corrcoef(z[:, 1:].ravel(), z[:, :-1].ravel())[0, 1]), 1)
    0.5
    """
    gen = np.random.default_rng(rng)
    h, w = shape[-2:]
    amp = np.sqrt(_psd_from_autocorrelation(np.asarray(autocorrelation, np.float64), (h, w)))
    white = gen.standard_normal(shape)
    out = np.fft.irfft2(np.fft.rfft2(white) * amp, s=(h, w))
    return out.astype(np.float32)
