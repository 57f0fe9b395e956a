"""What the Denoiser does so that a few hostile pixels cannot spoil a whole image.

* **Padding** (a CT's outside of the field of view, from DICOM Pixel Padding):
  filled, slice by slice, with the median of the image pixels along its border,
  so that neither the statistics nor the network see a step to -3024 HU; the
  caller's exact values are put back afterwards.
* **Outliers** (one hot pixel of 1e6 in a dark frame, a saturated pixel in an
  MR slice): values beyond the robust range of the image are clipped before the
  normalisation, the noise estimate and the network, and their excess is added
  back to the output, so they keep their value and do not reach their neighbours.
* **Noise level**: bounded by the image's own intensity range; and never shown to the
  network below :data:`NOISE_FLOOR` of its units: a real CT's noise is ~0.1 % of the
  -1000..1000 HU window, so the window is narrowed around the tissue until the noise
  is that large (:func:`noise_window`; the values beyond it pass around the network
  like outliers).
* **Precision**: arithmetic moves to float64 when float32 would overflow, and the
  output is clipped to the float32 range, so finite input gives finite output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from medidenoise._network_window import NARROW_MARGIN, NOISE_FLOOR, NORM_SMOOTHING
from medidenoise.transforms import NormalizationParams, normalization_params

__all__ = [
    "NOISE_FLOOR",
    "Excess",
    "RobustStats",
    "fill_padding",
    "from_network",
    "merge_excess",
    "noise_window",
    "robust_stats",
    "split_outliers",
    "to_network",
]

#: at most this many slices are looked at to choose the normalisation
NORM_MAX_SLICES = 16
#: percentiles of the raw image beyond which a value may be an outlier (a hot pixel)
_RAW_PERCENTILES = (0.1, 99.9)
#: float32 arithmetic is exact enough and cannot overflow below this magnitude
_F32_SAFE = 1e30
_F32_MAX = float(np.finfo(np.float32).max)
#: pixels in the lowest part of the window (air, background) do not set the tissue centre
_TISSUE_ABOVE = 0.05


@dataclass(frozen=True)
class RobustStats:
    """Normalisation and outlier bounds of one image, in its own units."""

    params: NormalizationParams
    low: float  # values below are clipped (their excess passes around the network)
    high: float
    span: float  # the image's robust intensity range: the largest sensible noise std

    @property
    def float32_safe(self) -> bool:
        """True when normalising in float32 cannot overflow."""
        extremes = (abs(self.low), abs(self.high), self.params.scale, abs(self.params.low))
        return max(extremes) < _F32_SAFE


@dataclass
class Excess:
    """Flat indices and excess values (image units) of clipped outliers."""

    index: np.ndarray
    value: np.ndarray


def fill_padding(vol: np.ndarray, padding: np.ndarray) -> None:
    """Fill each slice's padding with the median of the image pixels bordering it (in place)."""
    for k in range(vol.shape[0]):
        mask = padding[k]
        if not mask.any():
            continue
        ring = ndimage.binary_dilation(mask) & ~mask
        border = vol[k][ring] if ring.any() else vol[k][~mask]
        vol[k][mask] = float(np.median(border)) if border.size else 0.0


def robust_stats(vol: np.ndarray, modality: str | None, padding: np.ndarray | None) -> RobustStats:
    """Normalisation parameters as they would be for the clean image, and outlier bounds.

    The networks were trained on images normalised by the percentiles of the
    *clean* image. Percentiles of a noisy image sit about 2.5 sigma further
    out, which shifts the background away from where the network saw it and
    costs several dB; percentiles of a smoothed copy (noise std divided by
    about 10) are close to the clean ones. Smoothing would spread a hot pixel
    over hundreds of pixels, so the sample is first clipped to its raw 0.1 and
    99.9 percentiles widened by half their span (a normal image is not
    changed). Padding is left out of every percentile. CT keeps its fixed HU
    window.
    """
    step = max(1, vol.shape[0] // NORM_MAX_SLICES)
    sample = vol[::step]
    keep = None if padding is None else ~padding[::step]
    values = sample if keep is None else sample[keep]
    if values.size == 0:  # nothing but padding
        values = sample.reshape(-1)
    r_lo, r_hi = (float(v) for v in np.percentile(values, _RAW_PERCENTILES))
    r_span = r_hi - r_lo
    params = normalization_params(vol[:1, :1, :1], modality=modality)
    if params.method == "percentile":
        # a new array, hot pixels cut before smoothing: a normal image is left as it is
        smooth = np.clip(sample, r_lo - 0.5 * r_span, r_hi + 0.5 * r_span)
        sigma = [0.0, NORM_SMOOTHING, NORM_SMOOTHING]
        smooth = ndimage.gaussian_filter(smooth, sigma=sigma, mode="reflect", output=smooth)
        picked = smooth if keep is None else smooth[keep]
        params = normalization_params(picked if picked.size else smooth, method="percentile")
    n_span = params.high - params.low
    low = min(params.low - n_span, r_lo - 0.5 * r_span)
    high = max(params.high + n_span, r_hi + 0.5 * r_span)
    return RobustStats(params, low, high, max(r_span, n_span))


def noise_window(vol: np.ndarray, stats: RobustStats, sigma: float) -> RobustStats | None:
    """A narrower normalisation in which ``sigma`` (image units) is :data:`NOISE_FLOOR`.

    ``None`` when the noise is already at least that large in network units (every
    benchmark image, most radiographs and MR), or when there is no noise. Otherwise the
    window shrinks by ``sigma_net / NOISE_FLOOR`` about the median of the tissue (the
    clipped ``vol``'s pixels above the lowest 5 % of the old window: not air, not
    background), which keeps its value in network units; the outlier bounds become
    [-0.25, 1.25] of the new window (``NARROW_MARGIN``), so air and bone far from the
    tissue pass around the network with their own values instead of reaching it as
    intensities it never saw. A CT's brain at 2.7 HU of noise gets a window of about
    700 HU instead of 2000.
    """
    p = stats.params
    if sigma <= 0 or p.scale <= 0 or sigma / p.scale >= NOISE_FLOOR:
        return None
    step = max(1, vol.shape[0] // NORM_MAX_SLICES)
    sample = vol[::step]
    tissue = sample[sample > p.low + _TISSUE_ABOVE * p.scale]
    centre = float(np.median(tissue)) if tissue.size else float(np.median(sample))
    at = (centre - p.low) / p.scale  # the tissue's place in network units, kept
    scale = sigma / NOISE_FLOOR
    low = centre - at * scale
    params = NormalizationParams(low=low, high=low + scale, method=f"{p.method}+noise")
    margin = NARROW_MARGIN * scale
    return RobustStats(params, low - margin, low + scale + margin, stats.span)


def merge_excess(first: Excess, second: Excess) -> Excess:
    """The excess of two clippings in turn (a pixel cut twice carries both parts)."""
    if not second.index.size:
        return first
    if not first.index.size:
        return second
    index = np.concatenate([first.index, second.index])
    value = np.concatenate([first.value, second.value])
    unique, inverse = np.unique(index, return_inverse=True)
    total = np.zeros(unique.size, dtype=np.float64)
    np.add.at(total, inverse, value)
    return Excess(unique, total)


def split_outliers(vol: np.ndarray, low: float, high: float) -> Excess:
    """Clip ``vol`` to [low, high] in place, slice by slice; return what was cut off."""
    plane = vol.shape[1] * vol.shape[2]
    index, value = [], []
    for k in range(vol.shape[0]):
        sl = vol[k]
        out = (sl < low) | (sl > high)
        if out.any():
            flat = np.flatnonzero(out)
            v = sl.reshape(-1)[flat].astype(np.float64)
            index.append(flat + k * plane)
            value.append(v - np.clip(v, low, high))
            np.clip(sl, low, high, out=sl)
    if not index:
        return Excess(np.empty(0, np.intp), np.empty(0, np.float64))
    return Excess(np.concatenate(index), np.concatenate(value))


def to_network(vol: np.ndarray, stats: RobustStats) -> np.ndarray:
    """Normalise ``vol`` (clipped, float32) to network units: in place when float32 is safe."""
    if stats.float32_safe:
        return stats.params.apply_inplace(vol)
    p = stats.params
    return ((vol.astype(np.float64) - p.low) / p.scale).astype(np.float32)


def from_network(result: np.ndarray, stats: RobustStats, excess: Excess) -> np.ndarray:
    """Back to image units, outliers' excess added back, clipped to the float32 range."""
    if stats.float32_safe:
        out = stats.params.inverse_inplace(result)
    else:
        p = stats.params
        wide = result.astype(np.float64) * p.scale + p.low
        out = np.clip(wide, -_F32_MAX, _F32_MAX).astype(np.float32)
    if excess.index.size:
        flat = out.reshape(-1)
        restored = flat[excess.index].astype(np.float64) + excess.value
        flat[excess.index] = np.clip(restored, -_F32_MAX, _F32_MAX)
    if not np.isfinite(out).all():  # a network can still overflow: never hand back inf/NaN
        np.nan_to_num(out, copy=False, nan=stats.params.low, posinf=_F32_MAX, neginf=-_F32_MAX)
    return out
