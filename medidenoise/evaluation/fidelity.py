"""Where an image is flat, and how much noise it holds there, measured without a clean reference.

Real scans come with their own noise: a head CT's few HU, a radiograph's quantum noise, an MR
magnitude image's Rician noise. To judge a denoiser on them (:mod:`.fidelity_patterns`,
:mod:`.fidelity_nps`) one needs the places where the image is flat soft tissue or flat object,
and the noise std there. Both work on a 2D slice or a (D, H, W) volume (slice by slice), in
the image's own units; inputs are never modified.

- :func:`flat_region_mask`: the image less its padding (a given mask, the image minimum,
  areas of exactly constant pixels), less the darkest class as displayed (air, background:
  Otsu's threshold on the log of a smoothed copy), less edges (where the smoothed copy
  bends, or climbs steeply, beyond what its noise does nearby).
- :func:`flat_region_noise` / :func:`flat_region_std`: the noise std in small patches wholly
  inside that mask, each patch's best-fit plane removed; the median over patches, corrected
  for the degrees of freedom the plane takes and for the noise's spatial correlation, whose
  autocorrelation is fitted from the same patches.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage as ndi

from medidenoise.errors import InvalidImageError
from medidenoise.evaluation._flat import as_mask, as_slices, check_photometric, regions

__all__ = ["FlatNoise", "Photometric", "flat_region_mask", "flat_region_noise", "flat_region_std"]

log = logging.getLogger(__name__)

Photometric = Literal["MONOCHROME2", "MONOCHROME1"]
#: at most this many patches enter the noise fit (a seeded draw of them when there are more)
MAX_PATCHES = 20000
_LAG = 3  # autocorrelation fitted up to this lag along each axis


@dataclass(frozen=True)
class FlatNoise:
    """The noise of flat regions, as :func:`flat_region_noise` measured it.

    Attributes
    ----------
    std : float
        Noise std in image units, corrected for the plane and the noise's correlation.
    white_std : float
        The same without the correlation correction (what patches show if the noise were
        white): below ``std`` when neighbouring pixels are correlated.
    lag1 : tuple of float
        Autocorrelation of the noise at one pixel along rows (down a column) and columns.
    patches : int
        Patches measured.
    """

    std: float
    white_std: float
    lag1: tuple[float, float]
    patches: int


def flat_region_mask(
    image: ArrayLike,
    *,
    padding: ArrayLike | None = None,
    photometric: Photometric = "MONOCHROME2",
    smoothing: float = 2.0,
    edge_threshold: float = 1.0,
    background: bool = True,
) -> np.ndarray:
    """Where the image is flat soft tissue or flat object: no padding, background or edges.

    Left out, slice by slice:

    - ``padding``, pixels equal to the image minimum and areas of exactly constant pixels
      (3 x 3 or more: padding or air even when PixelPaddingValue is not tagged, clipped
      values), with the pixels around them;
    - the darkest class as displayed (air, an MR's background, a radiograph's direct
      exposure): below Otsu's threshold on the log of a copy smoothed over ``smoothing``
      pixels, less its minimum, when its mean lies at least 5 noise std below the rest's and
      is at most a third of theirs there (air, not tissue against bone); then the connected
      parts of the object smaller than half the largest (a CT's table, a radiograph's strips
      beside the collimator);
    - edges: where the curvature of the smoothed copy exceeds 4 x ``edge_threshold`` times
      its local median (noise alone, white or correlated, passes 3 times it in 0.1 % of
      pixels), widened by ``smoothing`` pixels; and where its slope exceeds 12 x
      ``edge_threshold`` times its local median. Gentler slopes (a radiograph's thickness, an
      MR coil's shading) stay: the plane of each patch takes them. The local medians are
      those of 32 x 32 blocks, away from the edges a first pass found.

    Parameters
    ----------
    image : array_like
        2D slice or (D, H, W) volume, in its own units.
    padding : array_like of bool, optional
        Pixels that are not image (a Volume's ``padding``), same shape.
    photometric : {"MONOCHROME2", "MONOCHROME1"}
        How the image is displayed: with MONOCHROME1 (bright = low value, most radiographs)
        the background is the class of the highest values.
    smoothing : float
        Std in pixels of the Gaussian smoothing before the background split and the edges.
    edge_threshold : float
        Scales both edge limits; lower is stricter. At 1, a step of about 2.5 noise std
        (white noise; more for correlated noise) is an edge.
    background : bool
        Leave out the darkest class; False keeps it (an image of object only).

    Returns
    -------
    numpy.ndarray
        Boolean mask, the shape of ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> image = np.full((64, 64), -1000.0)           # air, exactly constant
    >>> image[16:48, 16:48] = 40 + rng.normal(0, 3, (32, 32))
    >>> mask = flat_region_mask(image)
    >>> bool(mask[:16].any()), bool(mask[24:40, 24:40].all())
    (False, True)
    """
    vol = as_slices(image)
    pad = as_mask(padding, vol.shape, "padding")
    bright = check_photometric(photometric)
    if not (smoothing > 0 and edge_threshold > 0):
        raise ValueError(
            f"smoothing and edge_threshold must be > 0, got {smoothing!r} and {edge_threshold!r}"
        )
    floor = float(vol.min())
    out = np.zeros(vol.shape, bool)
    for i, a in enumerate(vol):
        out[i] = regions(
            a,
            None if pad is None else pad[i],
            floor,
            bright=bright,
            smoothing=smoothing,
            edge_threshold=edge_threshold,
            background=background,
        )[2]
    return out.reshape(np.shape(image))


@functools.lru_cache(maxsize=4)
def _noise_model(k: int) -> tuple[np.ndarray, list[tuple[int, int]], np.ndarray, np.ndarray]:
    """For k x k patches: the projection that removes each patch's plane, the lags (dy, dx)
    up to :data:`_LAG` (one of each +/- pair), their (L, n, n) patterns, and the design
    matrix (n*n, L) of the residual covariance each lag makes."""
    c = np.arange(k) - (k - 1) / 2
    y, x = np.meshgrid(c, c, indexing="ij")
    q, _ = np.linalg.qr(np.stack([np.ones(k * k), y.ravel(), x.ravel()], 1))
    proj = np.eye(k * k) - q @ q.T
    lags = [(dy, dx) for dy in range(_LAG + 1) for dx in range(-_LAG, _LAG + 1) if dy or dx >= 0]
    pos = np.stack([y.ravel(), x.ravel()], 1)
    d = pos[None, :, :] - pos[:, None, :]
    pats = np.stack(
        [
            ((d[..., 0] == dy) & (d[..., 1] == dx)) | ((d[..., 0] == -dy) & (d[..., 1] == -dx))
            for dy, dx in lags
        ]
    ).astype(np.float64)
    design = (proj @ pats @ proj).reshape(len(lags), -1).T
    return proj, lags, pats, design


def _patch_stack(vol: np.ndarray, mask: np.ndarray, k: int, stride: int) -> np.ndarray:
    """(N, k*k) patches wholly inside ``mask``, top-left corners on a ``stride`` grid; a
    seeded draw of :data:`MAX_PATCHES` of them when there are more."""
    found = []
    for i in range(vol.shape[0]):
        inside = ndi.minimum_filter(mask[i].astype(np.uint8), k, mode="constant", origin=0)
        h = k // 2
        ys, xs = np.nonzero(inside[h : inside.shape[0] - (k - 1 - h), h : -(k - 1 - h) or None])
        keep = (ys % stride == 0) & (xs % stride == 0)
        found.append(np.stack([np.full(keep.sum(), i), ys[keep], xs[keep]], 1))
    where = np.concatenate(found) if found else np.zeros((0, 3), int)
    if len(where) > MAX_PATCHES:
        pick = np.random.default_rng(0).choice(len(where), MAX_PATCHES, replace=False)
        where = where[np.sort(pick)]
    off = np.arange(k)
    d, y, x = (where[:, j, None, None] for j in range(3))
    return vol[d, y + off[:, None], x + off[None, :]].reshape(len(where), k * k)


def flat_region_noise(
    image: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    padding: ArrayLike | None = None,
    photometric: Photometric = "MONOCHROME2",
    patch: int = 7,
) -> FlatNoise:
    """The noise std of the flat regions of ``image``, without a clean reference.

    Patches of ``patch`` x ``patch`` pixels wholly inside the flat mask (every other
    position, up to 20,000 of them), each less its least-squares plane. For white noise of
    std s the residual sum of squares of a patch averages s**2 (n - 3); correlated noise loses
    more to the plane, so the residuals' covariance is fitted with an autocorrelation of
    lags up to 3 pixels (each patch's plane removal modelled exactly), and the median of the
    patches' residual variance is divided by what that autocorrelation makes it expect
    (and by the median of a chi-square of the Satterthwaite degrees of freedom).
    Patches more than four times the median are left out of the fit (edges let through).

    Parameters
    ----------
    image : array_like
        2D slice or (D, H, W) volume, in its own units.
    mask : array_like of bool, optional
        Where to measure; default :func:`flat_region_mask` (with ``padding`` and
        ``photometric``).
    padding, photometric
        As for :func:`flat_region_mask`, when ``mask`` is not given.
    patch : int
        Side of the patches, 5 to 15 pixels.

    Returns
    -------
    FlatNoise
        ``.std`` and the details of the measurement.

    Raises
    ------
    InvalidImageError
        If fewer than 16 patches fit in the mask (a ``ValueError``).

    Examples
    --------
    >>> import numpy as np
    >>> image = 100 + np.random.default_rng(0).normal(0, 2.0, (96, 96))
    >>> noise = flat_region_noise(image)
    >>> round(noise.std, 1), noise.patches > 100
    (2.0, True)
    """
    if not (isinstance(patch, int | np.integer) and 5 <= patch <= 15):
        raise ValueError(f"patch must be an integer from 5 to 15 pixels, got {patch!r}")
    vol = as_slices(image)
    flat = as_mask(mask, vol.shape, "mask")
    if flat is None:
        flat = flat_region_mask(vol, padding=padding, photometric=photometric)
    patches = _patch_stack(vol, flat, patch, 2)
    if len(patches) < 16:
        raise InvalidImageError(
            f"only {len(patches)} patches of {patch} x {patch} pixels lie wholly in the flat "
            "region; pass a smaller patch, a mask of a flat area, or a larger image"
        )
    proj, lags, pats, design = _noise_model(int(patch))
    n = patch * patch
    res = patches @ proj
    rss = np.einsum("ij,ij->i", res, res)
    med = float(np.median(rss))
    if med == 0:  # at least half the patches are exact planes: no noise to measure there
        return FlatNoise(std=0.0, white_std=0.0, lag1=(np.nan, np.nan), patches=len(rss))
    keep = rss <= 4 * med
    cov = res[keep].T @ res[keep] / keep.sum()
    coef = np.linalg.lstsq(design, cov.ravel(), rcond=None)[0]
    if coef[0] <= 0:
        raise InvalidImageError("the flat region holds no measurable noise (variance <= 0)")
    rho = coef / coef[0]
    expect = proj @ np.einsum("l,lab->ab", rho, pats)  # E[residual outer product] / s**2
    trace = float(np.trace(expect))
    dof = trace**2 / float(np.sum(expect * expect.T))
    chi_median = (1 - 2 / (9 * dof)) ** 3  # median of chi2(dof) / dof (Wilson-Hilferty)
    std = float(np.sqrt(med / (trace * chi_median)))
    white_dof = n - 3
    white = float(np.sqrt(med / (white_dof * (1 - 2 / (9 * white_dof)) ** 3)))
    lag1 = (float(rho[lags.index((1, 0))]), float(rho[lags.index((0, 1))]))
    log.debug("flat noise %.4g (white %.4g), lag-1 %s, %d patches", std, white, lag1, len(rss))
    return FlatNoise(std=std, white_std=white, lag1=lag1, patches=len(rss))


def flat_region_std(
    image: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    padding: ArrayLike | None = None,
    photometric: Photometric = "MONOCHROME2",
    patch: int = 7,
) -> float:
    """The noise std of the flat regions of ``image``: :func:`flat_region_noise`'s ``.std``.

    Parameters
    ----------
    image, mask, padding, photometric, patch
        As for :func:`flat_region_noise`.

    Returns
    -------
    float
        Noise std in the image's units.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> image = np.zeros((128, 128))                  # padding at 0
    >>> image[16:112, 16:112] = 500 + rng.normal(0, 4.0, (96, 96))
    >>> round(flat_region_std(image))
    4
    """
    return flat_region_noise(
        image, mask=mask, padding=padding, photometric=photometric, patch=patch
    ).std
