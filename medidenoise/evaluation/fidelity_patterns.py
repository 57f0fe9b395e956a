"""What a denoiser did to a real scan's flat regions: patterns, mean shift, noise removed.

:func:`pattern_metrics` measures, without a clean reference, in the flat mask of the *input*
(:func:`~medidenoise.evaluation.flat_region_mask`) and in the image's units: the 2-pixel row
and column alternation and the checkerboard the denoiser added (Odena et al. 2016: transposed
convolutions and sub-pixel layers leave them), the share of the removed noise's power on the
Nyquist lines against the input's, the mean shift of flat tissue, the flat-region std before
and after, and the correlation of the removed noise with the image's gradient (Buades et al.
2005: method noise should hold no structure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage as ndi

from medidenoise.errors import InvalidImageError
from medidenoise.evaluation._flat import image_pair, object_and_flat
from medidenoise.evaluation.fidelity import Photometric, flat_region_noise
from medidenoise.evaluation.fidelity_nps import (
    _check_patch,
    _nps_2d,
    _nyquist_share,
    _patch_corners,
)

__all__ = ["PatternMetrics", "pattern_metrics"]


@dataclass(frozen=True)
class PatternMetrics:
    """What :func:`pattern_metrics` measured; image units unless named otherwise.

    Attributes
    ----------
    flat_std_before, flat_std_after : float
        Flat-region noise std of the input and of the denoised image (same mask, same
        estimator: :func:`~medidenoise.evaluation.flat_region_noise`).
    mean_shift : float
        Mean of denoised - input over the flat mask.
    row_alternation, column_alternation, checkerboard : float
        The 2-pixel patterns the denoiser added: the amplitude ``a`` of ``a * (-1)**row``
        (``(-1)**column``, ``(-1)**(row + column)``) in the denoised image less that in the
        input; negative where it removed the input's own. ``a`` is half the difference
        between the means of even and odd rows (columns; the two colours of the
        checkerboard), read from second differences so that slow trends cancel; the noise of
        a flat region of N pixels adds about std / sqrt(N) to it.
    input_patterns : tuple of float
        The input's own amplitudes (row, column, checkerboard): a scanner's, or the noise's.
    nyquist_share, nyquist_share_input : float
        Share of the power of the removed noise (input - denoised), and of the input, on the
        Nyquist lines of their 2D spectra (flat patches, quadratic trends removed). White
        noise gives about 2 / patch.
    structure : float
        Pearson correlation of ``|input - denoised|`` with the gradient magnitude of the input
        (smoothed 1 pixel) over the object: about 0 when only noise was removed (0 when
        nothing was, or the same everywhere), > 0 when edges were.
    flat_pixels : int
        Pixels in the flat mask.
    """

    flat_std_before: float
    flat_std_after: float
    mean_shift: float
    row_alternation: float
    column_alternation: float
    checkerboard: float
    input_patterns: tuple[float, float, float]
    nyquist_share: float
    nyquist_share_input: float
    structure: float
    flat_pixels: int

    def _rel(self, value: float) -> float:
        return value / self.flat_std_before if self.flat_std_before > 0 else float("nan")

    @property
    def std_removed(self) -> float:
        """Fraction of the flat-region std removed: ``1 - after / before``."""
        return 1 - self._rel(self.flat_std_after)

    @property
    def mean_shift_std(self) -> float:
        """:attr:`mean_shift` in units of the input's flat-region std."""
        return self._rel(self.mean_shift)

    @property
    def row_alternation_std(self) -> float:
        """:attr:`row_alternation` in units of the input's flat-region std."""
        return self._rel(self.row_alternation)

    @property
    def column_alternation_std(self) -> float:
        """:attr:`column_alternation` in units of the input's flat-region std."""
        return self._rel(self.column_alternation)

    @property
    def checkerboard_std(self) -> float:
        """:attr:`checkerboard` in units of the input's flat-region std."""
        return self._rel(self.checkerboard)

    @property
    def nyquist_ratio(self) -> float:
        """:attr:`nyquist_share` / :attr:`nyquist_share_input` (1: the removed noise is
        as much at the Nyquist frequency as the input is)."""
        if not self.nyquist_share_input > 0:
            return float("nan")
        return self.nyquist_share / self.nyquist_share_input


def _alternation(vol: np.ndarray, mask: np.ndarray, kind: str) -> float:
    """Signed amplitude of ``a * (-1)**row`` (``kind="row"``), ``(-1)**column`` or
    ``(-1)**(row + column)`` (``"checker"``) in ``vol`` where the whole stencil lies in
    ``mask``, from second differences: that of ``a * (-1)**k`` is ``2a * (-1)**k``."""
    inner = (slice(None), slice(1, -1), slice(1, -1))
    v, m = vol, mask
    up, down = (v[:, :-2, 1:-1], m[:, :-2, 1:-1]), (v[:, 2:, 1:-1], m[:, 2:, 1:-1])
    left, right = (v[:, 1:-1, :-2], m[:, 1:-1, :-2]), (v[:, 1:-1, 2:], m[:, 1:-1, 2:])
    pairs = {"row": (up, down), "column": (left, right), "checker": (up, down, left, right)}[kind]
    ok = m[inner].copy()
    near = np.zeros_like(v[inner])
    for values, inside in pairs:
        ok &= inside
        near += values / len(pairs)
    rows = np.arange(1, v.shape[1] - 1)[:, None]
    cols = np.arange(1, v.shape[2] - 1)[None, :]
    phase = {"row": rows + 0 * cols, "column": cols + 0 * rows, "checker": rows + cols}[kind]
    sign = np.where(phase % 2 == 0, 1.0, -1.0)[None]
    count = int(ok.sum())
    if count == 0:
        return float("nan")
    return float(np.sum((sign * (v[inner] - near))[ok])) / (2 * count)


def pattern_metrics(
    denoised: ArrayLike,
    original: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    padding: ArrayLike | None = None,
    photometric: Photometric = "MONOCHROME2",
    patch: int = 32,
    coverage: float = 0.9,
) -> PatternMetrics:
    """Patterns, mean shift and noise removed by a denoiser, in the input's flat regions.

    Parameters
    ----------
    denoised : array_like
        The denoiser's output, 2D or (D, H, W).
    original : array_like
        Its input (the real scan with its own noise), same shape and units.
    mask : array_like of bool, optional
        Flat regions; default :func:`~medidenoise.evaluation.flat_region_mask` of
        ``original`` (with ``padding`` and ``photometric``).
    padding, photometric
        As for :func:`~medidenoise.evaluation.flat_region_mask`.
    patch : int
        Side of the flat patches whose spectra give the Nyquist shares (even).
    coverage : float
        Share of a patch that must lie in the mask.

    Returns
    -------
    PatternMetrics
        The figures; ``*_std`` properties give them in units of the input's flat std.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noisy = 100 + rng.normal(0, 2.0, (96, 96))
    >>> grid = 0.5 * (-1.0) ** np.arange(96)[:, None]     # a 2-pixel row pattern
    >>> m = pattern_metrics(np.full((96, 96), 101.0) + grid, noisy)
    >>> round(m.row_alternation, 1), round(m.mean_shift, 1), round(m.flat_std_before, 1)
    (0.5, 1.0, 2.0)
    """
    den, orig = image_pair(denoised, original)
    _check_patch(patch, coverage)
    obj, flat = object_and_flat(orig, mask, padding, photometric)
    count = int(flat.sum())
    if count == 0:
        raise InvalidImageError(
            "the original has no flat region to measure in; pass mask= (e.g. an ROI of flat "
            "tissue) or check padding/photometric"
        )
    before = flat_region_noise(orig, mask=flat).std
    after = flat_region_noise(den, mask=flat).std
    removed = orig - den
    kinds = ("row", "column", "checker")
    own = {k: abs(_alternation(orig, flat, k)) for k in kinds}
    alt = {k: abs(_alternation(den, flat, k)) - own[k] for k in kinds}
    corners = _patch_corners(flat, patch, coverage)
    if len(corners):
        share = _nyquist_share(_nps_2d(removed, flat, corners, patch))
        share_in = _nyquist_share(_nps_2d(orig, flat, corners, patch))
    else:
        share = share_in = float("nan")
    grad = np.stack([ndi.gaussian_gradient_magnitude(a, 1.0) for a in orig])  # slice by slice
    mag, edges = np.abs(removed)[obj], grad[obj]
    structure = 0.0  # nothing removed, or the same everywhere: no structure in it
    if mag.size > 2 and mag.std() > 1e-9 * (mag.mean() + orig.std()) and edges.std() > 0:
        structure = float(np.corrcoef(mag, edges)[0, 1])
    return PatternMetrics(
        flat_std_before=before,
        flat_std_after=after,
        mean_shift=float(np.mean((den - orig)[flat])),
        row_alternation=alt["row"],
        column_alternation=alt["column"],
        checkerboard=alt["checker"],
        input_patterns=(own["row"], own["column"], own["checker"]),
        nyquist_share=share,
        nyquist_share_input=share_in,
        structure=structure,
        flat_pixels=count,
    )
