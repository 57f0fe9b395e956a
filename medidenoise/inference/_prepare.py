"""Prepare a volume for the network: padding filled, outliers clipped, noise level chosen.

:func:`prepare` is the part of a denoising run that looks at the whole volume
(its normalisation, outlier bounds and noise level, :mod:`._robust`). A one-slice
preview (``Denoiser.denoise_slice``) needs the same whole-volume figures, so that
it equals that slice of the volume's result; they are kept for the last few
volumes seen by content, so that previewing slice after slice of one volume
computes them once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from medidenoise.inference._robust import (
    Excess,
    RobustStats,
    fill_padding,
    merge_excess,
    noise_window,
    robust_stats,
    split_outliers,
)
from medidenoise.transforms import measure_noise, rician_sigma
from medidenoise.transforms.rician import magnitude_sigma

__all__ = ["Prepared", "prepare"]

log = logging.getLogger(__name__)

#: volumes whose whole-volume figures are kept for previews (a few floats each)
_KEEP = 4
_lock = threading.Lock()
_seen: OrderedDict[tuple[object, ...], tuple[RobustStats, float, bool | None, bool]] = OrderedDict()


@dataclass
class Prepared:
    """The slices to denoise (clipped, padding filled, image units) and the volume's figures."""

    vol: np.ndarray
    stats: RobustStats
    excess: Excess
    sigma: float  # the noise std in image units
    correlated: bool | None = None  # the noise is spatially correlated (None: not measured)
    rician: bool = False  # a magnitude image: sigma is the Rician one, its bias to be removed


def noise_level(
    vol: np.ndarray,
    noise_level: float | None,
    stats: RobustStats,
    route: bool = False,
    rician: bool | None = False,
) -> tuple[float, bool | None, bool]:
    """The noise std in image units: the caller's (bounded), or estimated on the clipped image
    (the Rician sigma of a magnitude image); whether the noise is correlated, when it was
    measured (always with ``route``); and whether the image is taken for a magnitude image
    with Rician noise: ``rician`` itself, or with ``rician=None`` as ``detect_rician`` finds
    (white noise only: the ``"auto"`` model)."""
    bound = stats.span
    found = measure_noise(vol) if (noise_level is None and not rician) or route else None
    correlated = found.correlated if found is not None else None
    magnitude = None  # the Rician sigma, when detection found a magnitude image
    if rician is None:
        magnitude = None if correlated else magnitude_sigma(vol)
        rician = magnitude is not None
    if noise_level is None:
        if rician:
            estimate = magnitude if magnitude is not None else rician_sigma(vol)
        else:
            assert found is not None  # measured above: no level, no rician
            estimate = found.sigma
        if bound > 0 and estimate > bound:
            log.warning("estimated noise %.4g capped at the image range %.4g", estimate, bound)
        return (min(estimate, bound) if bound > 0 else estimate), correlated, rician
    if noise_level > max(bound, stats.params.scale):
        raise ValueError(
            f"noise_level={noise_level:g} is larger than the image's whole intensity range "
            f"(about {max(bound, stats.params.scale):.4g} in its own units), which no noise "
            "can be; give the noise standard deviation in the image's units (HU for CT), or "
            "leave noise_level out to estimate it"
        )
    return float(noise_level), correlated, rician


def _digest(array: np.ndarray | None) -> str:
    if array is None:
        return ""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((array.shape, array.dtype.str)).encode())
    h.update(np.ascontiguousarray(array).data)
    return h.hexdigest()


def prepare(
    vol: np.ndarray,
    modality: str | None,
    level: float | None,
    padding: np.ndarray | None,
    index: int | None = None,
    *,
    context: tuple[int, int] | None = None,
    route: bool = False,
    rician: bool | None = False,
) -> Prepared:
    """Fill, clip and measure ``vol`` (this call's own float32 copy: changed in place).

    With ``index``, only slices ``context[0]:context[1]`` (around ``index``) are
    returned, and the outliers' excess is that of slice ``index`` alone; the
    whole-volume figures then come from the last volumes seen when ``vol`` is
    one of them. ``route``: also tell whether the noise is correlated when the level
    is given (the ``"auto"`` model picks its network by it); ``rician``: estimate the
    Rician sigma of a magnitude image (``transforms.rician_sigma``) instead; ``None``: when
    ``transforms.detect_rician`` takes the image for one (``Prepared.rician`` says).
    """
    if index is None:
        if padding is not None:
            fill_padding(vol, padding)
        stats = robust_stats(vol, modality, padding)
        excess = split_outliers(vol, stats.low, stats.high)
        sigma, correlated, magnitude = noise_level(vol, level, stats, route, rician)
        narrow = noise_window(vol, stats, sigma)
        if narrow is not None:  # low noise for the range: the window narrowed around tissue
            excess = merge_excess(excess, split_outliers(vol, narrow.low, narrow.high))
            stats = narrow
        return Prepared(vol, stats, excess, sigma, correlated, magnitude)
    lo, hi = context if context is not None else (index, index + 1)
    key = (_digest(vol), _digest(padding), modality, level, route, rician)
    with _lock:
        known = _seen.get(key)
        if known is not None:
            _seen.move_to_end(key)
    if known is None:
        whole = prepare(vol, modality, level, padding, route=route, rician=rician)
        known = (whole.stats, whole.sigma, whole.correlated, whole.rician)
        with _lock:
            _seen[key] = known
            while len(_seen) > _KEEP:
                _seen.popitem(last=False)
        excess = _excess_of(whole.excess, vol, index)
        return Prepared(
            vol[lo:hi], whole.stats, excess, whole.sigma, whole.correlated, whole.rician
        )
    stats, sigma, correlated, magnitude = known
    part = vol[lo:hi]
    if padding is not None:
        fill_padding(part, padding[lo:hi])
    excess = _excess_of(split_outliers(part, stats.low, stats.high), part, index - lo)
    return Prepared(part, stats, excess, sigma, correlated, magnitude)


def _excess_of(excess: Excess, vol: np.ndarray, index: int) -> Excess:
    """The outliers of slice ``index`` of ``vol``, indexed within that slice."""
    plane = vol.shape[1] * vol.shape[2]
    first, stop = index * plane, (index + 1) * plane
    keep = (excess.index >= first) & (excess.index < stop)
    return Excess(excess.index[keep] - first, excess.value[keep])
