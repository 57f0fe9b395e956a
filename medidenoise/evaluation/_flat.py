"""The regions of a slice the fidelity measures use: valid, object, flat (private helpers).

:func:`~medidenoise.evaluation.flat_region_mask` documents what each leaves out.
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

from medidenoise._validate import check_image
from medidenoise.errors import InvalidImageError

__all__ = [
    "as_mask",
    "as_slices",
    "check_photometric",
    "image_pair",
    "object_and_flat",
    "regions",
]

log = logging.getLogger(__name__)

#: Otsu's darkest class is background when its mean lies this many noise std below the rest's
#: (split a flat noisy image in two and the halves differ by a fraction of the noise std)
BACKGROUND_CONTRAST = 5.0
#: and when, above the image's floor, it is this much darker in log units than the rest (a
#: factor 3.3: air against tissue, not tissue against bone; 1.75-3.4 on the hold-out scans)
BACKGROUND_LOG_GAP = 1.2
#: connected parts of the object smaller than this share of the largest are left out (a CT's
#: table and headrest, a radiograph's strips beside the collimator)
MIN_PART = 0.5
#: edges: where the curvature of the smoothed image exceeds this many times its local median
#: (noise alone, white or correlated, passes 3 times it in 0.1 % of pixels)
EDGE_FACTOR = 4.0
#: and where its slope exceeds this many times more than its local median: gentler slopes (a
#: radiograph's thickness, an MR coil's shading) stay, each patch's plane takes them
RAMP_STEEPNESS = 3.0
_BLOCK = 32  # side of the blocks whose medians give the local scale of curvature and slope


def as_slices(image: ArrayLike, name: str = "image") -> np.ndarray:
    """``image`` (2D or (D, H, W)) as a float64 (D, H, W) array, checked."""
    arr = check_image(
        image,
        name=name,
        real="{name} must be real-valued, got dtype {dtype}",
        ndim="{name} must be a 2D slice or a (D, H, W) volume, got shape {shape}",
        size="{name} needs at least 8 pixels along each axis of a slice, got {shape}",
        finite="{name} holds {bad} NaN or infinite values",
    )
    if min(arr.shape[-2:]) < 8:
        raise InvalidImageError(
            f"{name} needs at least 8 pixels along each axis of a slice, got {arr.shape}"
        )
    out = np.asarray(image, dtype=np.float64)
    return out[None] if out.ndim == 2 else out


def as_mask(mask: ArrayLike | None, shape: tuple[int, ...], name: str) -> np.ndarray | None:
    if mask is None:
        return None
    arr = np.asarray(mask, dtype=bool)
    if arr.shape != shape and arr.shape != shape[1:]:
        raise InvalidImageError(
            f"{name} must have the image's shape {shape[1:] if shape[0] == 1 else shape}, "
            f"got {arr.shape}"
        )
    return np.broadcast_to(arr, shape)


def _smooth(a: np.ndarray, ok: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of ``a`` over the pixels ``ok`` only (normalised convolution)."""
    w = ndi.gaussian_filter(ok.astype(np.float64), sigma)
    s = ndi.gaussian_filter(np.where(ok, a, 0.0), sigma)
    return np.divide(s, w, out=np.zeros_like(s), where=w > 1e-3)


def _background(s: np.ndarray, ok: np.ndarray, bright: bool, noise: float) -> np.ndarray:
    """The darkest class as displayed: below Otsu's threshold on the log of ``s`` above its
    floor (above it for MONOCHROME1), when its mean lies :data:`BACKGROUND_CONTRAST` x
    ``noise`` and :data:`BACKGROUND_LOG_GAP` below the rest's; all False otherwise."""
    vals = -s[ok] if bright else s[ok]
    if vals.size < 64:
        return np.zeros_like(ok)
    lo, hi = float(vals.min()), float(np.percentile(vals, 99.5))  # the floor: however little
    if hi <= lo:
        return np.zeros_like(ok)
    logs = np.log(np.clip((vals - lo) / (hi - lo), 0.0, None) + 0.005)
    t = threshold_otsu(logs)
    low = logs <= t
    if low.all() or not low.any():
        return np.zeros_like(ok)
    contrast = (vals[~low].mean() - vals[low].mean()) / max(noise, 1e-12)
    gap = float(logs[~low].mean() - logs[low].mean())
    if contrast < BACKGROUND_CONTRAST or gap < BACKGROUND_LOG_GAP:
        log.debug("no background class (contrast %.2f noise std, log gap %.2f)", contrast, gap)
        return np.zeros_like(ok)
    threshold = (np.exp(t) - 0.005) * (hi - lo) + lo
    return ok & ((-s if bright else s) <= threshold)


def _block_median(r: np.ndarray, ok: np.ndarray, fill: float) -> np.ndarray:
    """The median of ``r`` over the ``ok`` pixels of each 32 x 32 block (``fill`` where they
    are too few), interpolated between block centres."""
    h, w = r.shape
    ny, nx = -(-h // _BLOCK), -(-w // _BLOCK)
    pad = np.full((ny * _BLOCK, nx * _BLOCK), np.nan)
    pad[:h, :w] = np.where(ok, r, np.nan)
    blocks = pad.reshape(ny, _BLOCK, nx, _BLOCK).transpose(0, 2, 1, 3).reshape(ny, nx, -1)
    counts = np.isfinite(blocks).sum(-1)
    med = np.full((ny, nx), np.nan)
    enough = counts >= _BLOCK * _BLOCK // 8
    if enough.any():
        med[enough] = np.nanmedian(blocks[enough], axis=-1)
    med = np.where(np.isfinite(med), med, fill)
    yy = (np.arange(h) + 0.5) / _BLOCK - 0.5
    xx = (np.arange(w) + 0.5) / _BLOCK - 0.5
    grid = np.meshgrid(np.clip(yy, 0, ny - 1), np.clip(xx, 0, nx - 1), indexing="ij")
    return ndi.map_coordinates(med, grid, order=1, mode="nearest")


def _main_parts(obj: np.ndarray) -> np.ndarray:
    """``obj`` less its connected parts smaller than :data:`MIN_PART` of the largest."""
    labels, count = ndi.label(obj)
    if count <= 1:
        return obj
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.flatnonzero(sizes >= MIN_PART * sizes.max()) + 1
    return np.isin(labels, keep)


def regions(
    a: np.ndarray,
    padding: np.ndarray | None,
    floor: float,
    *,
    bright: bool,
    smoothing: float = 2.0,
    edge_threshold: float = 1.0,
    background: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(valid, object, flat)`` masks of one slice ``a`` (helper of the public functions)."""
    const = ndi.maximum_filter(a, 3) == ndi.minimum_filter(a, 3)
    invalid = const | (a == floor)
    if padding is not None:
        invalid |= padding
    valid = ~ndi.binary_dilation(invalid, np.ones((3, 3), bool))
    if not valid.any():
        return valid, valid, valid
    s = _smooth(a, valid, smoothing)
    noise = 1.4826 * float(np.median(np.abs(a - s)[valid]))
    obj = valid & ~_background(s, valid, bright, noise) if background else valid
    obj = _main_parts(obj)
    gy, gx = np.gradient(s)
    (gyy, gyx), (gxy, gxx) = np.gradient(gy), np.gradient(gx)
    curve = np.sqrt(gyy**2 + gyx**2 + gxy**2 + gxx**2)
    slope = np.hypot(gy, gx)
    near = obj if obj.any() else valid

    def edges(curve_scale: np.ndarray | float, slope_scale: np.ndarray | float) -> np.ndarray:
        limit = EDGE_FACTOR * edge_threshold
        bent = ndi.binary_dilation(curve > limit * curve_scale, iterations=round(smoothing))
        return bent | (slope > RAMP_STEEPNESS * limit * slope_scale)

    # the scales: first the medians over the object (edges are few), then block by block
    # away from the edges found
    curve0, slope0 = float(np.median(curve[near])), float(np.median(slope[near]))
    calm = near & ~edges(curve0, slope0)
    flat = obj & ~edges(
        _block_median(curve, calm, curve0) + 1e-300, _block_median(slope, calm, slope0) + 1e-300
    )
    return valid, obj, flat


def check_photometric(photometric: str) -> bool:
    """Whether ``photometric`` is MONOCHROME1 (bright = low value); refuses anything else
    than MONOCHROME1/MONOCHROME2."""
    if photometric not in ("MONOCHROME2", "MONOCHROME1"):
        raise ValueError(f"photometric must be 'MONOCHROME2' or 'MONOCHROME1', got {photometric!r}")
    return photometric == "MONOCHROME1"


def image_pair(denoised: ArrayLike, original: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``denoised`` and ``original`` as (D, H, W) float64 arrays of one shape, checked."""
    den = as_slices(denoised, "denoised")
    orig = as_slices(original, "original")
    if den.shape != orig.shape:
        raise InvalidImageError(
            f"denoised and original must have the same shape, got {np.shape(denoised)} and "
            f"{np.shape(original)}"
        )
    return den, orig


def object_and_flat(
    orig: np.ndarray, mask: ArrayLike | None, padding: ArrayLike | None, photometric: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(object, flat)`` masks of the input: ``mask`` or the flat-region mask."""
    bright = check_photometric(photometric)
    pad = as_mask(padding, orig.shape, "padding")
    obj, flat = np.zeros(orig.shape, bool), np.zeros(orig.shape, bool)
    low = float(orig.min())
    for i, a in enumerate(orig):
        _, obj[i], flat[i] = regions(a, None if pad is None else pad[i], low, bright=bright)
    given = as_mask(mask, orig.shape, "mask")
    return obj, (flat if given is None else np.asarray(given))
