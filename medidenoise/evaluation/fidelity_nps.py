"""The noise power spectrum of flat regions (IEC 61223-3-5, AAPM TG-233), and its shift.

:func:`noise_power_spectrum`: the radial NPS of the flat patches of an image;
:func:`nps_mean_frequency_shift`: how far a denoiser moved its mean frequency (down: the
over-smooth, "plastic" look readers dislike). The Nyquist shares of
:func:`~medidenoise.evaluation.pattern_metrics` come from the same 2D spectra.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage as ndi

from medidenoise.errors import InvalidImageError
from medidenoise.evaluation._flat import as_mask, as_slices, image_pair, object_and_flat
from medidenoise.evaluation.fidelity import Photometric

__all__ = ["NoisePowerSpectrum", "noise_power_spectrum", "nps_mean_frequency_shift"]


@dataclass(frozen=True)
class NoisePowerSpectrum:
    """A radial noise power spectrum (TG-233): :func:`noise_power_spectrum`'s result.

    Attributes
    ----------
    frequencies : numpy.ndarray
        Centres of the radial bins, cycles per pixel, 1/patch to 0.5.
    power : numpy.ndarray
        Mean NPS of each bin, (image units)**2 x pixel**2: its integral over the 2D
        frequency plane is the variance.
    mean_frequency : float
        ``sum(f * NPS(f)) / sum(NPS(f))`` over the bins (TG-233's f_av), cycles per pixel.
    patches : int
        Patches averaged.
    """

    frequencies: np.ndarray
    power: np.ndarray
    mean_frequency: float
    patches: int


def _patch_corners(mask: np.ndarray, patch: int, coverage: float) -> np.ndarray:
    """(N, 3) slice/top/left of the patches on a patch/2 grid with ``coverage`` in ``mask``."""
    found = []
    step = patch // 2
    for i, m in enumerate(mask):
        share = ndi.uniform_filter(m.astype(np.float64), patch, mode="constant")
        h = patch // 2  # uniform_filter centres an even window at index + patch/2
        ys = np.arange(0, m.shape[0] - patch + 1, step)
        xs = np.arange(0, m.shape[1] - patch + 1, step)
        yy, xx = np.meshgrid(ys, xs, indexing="ij")
        good = share[yy + h, xx + h] >= coverage - 1e-9
        found.append(np.stack([np.full(good.sum(), i), yy[good], xx[good]], 1))
    return np.concatenate(found) if found else np.zeros((0, 3), int)


def _nps_2d(vol: np.ndarray, mask: np.ndarray, corners: np.ndarray, patch: int) -> np.ndarray:
    """Mean |FFT|**2 / pixels of the patches at ``corners``, each less the quadratic surface
    fitted to its ``mask`` pixels (TG-233's detrending) and zero outside them (unshifted
    frequency order)."""
    c = np.arange(patch) - (patch - 1) / 2
    y, x = np.meshgrid(c, c, indexing="ij")
    basis = np.stack([np.ones_like(y), y, x, y * y, x * x, x * y], -1)
    total = np.zeros((patch, patch))
    for d, top, left in corners:
        window = np.s_[top : top + patch, left : left + patch]
        p, m = vol[d][window], mask[d][window]
        coef = np.linalg.lstsq(basis[m], p[m], rcond=None)[0]
        res = np.where(m, p - basis @ coef, 0.0)
        total += np.abs(np.fft.fft2(res)) ** 2 / m.sum()
    return total / max(len(corners), 1)


def _nyquist_share(nps: np.ndarray) -> float:
    k = nps.shape[0] // 2
    on_lines = nps[k, :].sum() + nps[:, k].sum() - nps[k, k]
    total = nps.sum() - nps[0, 0]
    return float(on_lines / total) if total > 0 else float("nan")


def _check_patch(patch: int, coverage: float) -> None:
    if not (isinstance(patch, int | np.integer) and patch >= 8 and patch % 2 == 0):
        raise ValueError(f"patch must be an even number of pixels >= 8, got {patch!r}")
    if not 0.5 <= coverage <= 1:
        raise ValueError(f"coverage must be from 0.5 to 1, got {coverage!r}")


def noise_power_spectrum(
    image: ArrayLike, mask: ArrayLike, *, patch: int = 64, coverage: float = 0.9
) -> NoisePowerSpectrum:
    """Radial noise power spectrum of the flat patches of ``image`` (IEC / AAPM TG-233 style).

    Square patches of ``patch`` pixels on a half-overlapping grid with at least
    ``coverage`` of their pixels in ``mask``; each less the quadratic surface fitted to
    those pixels (zero elsewhere); ``NPS = |FFT|**2 / pixels``, averaged over patches, then
    over rings of width 1/patch cycles per pixel up to 0.5.

    Parameters
    ----------
    image : array_like
        2D or (D, H, W), in its own units.
    mask : array_like of bool
        Flat regions (:func:`~medidenoise.evaluation.flat_region_mask`).
    patch : int
        Side of the patches (even); TG-233 uses 64-128 on a phantom.
    coverage : float
        Share of a patch that must lie in ``mask``.

    Returns
    -------
    NoisePowerSpectrum

    Raises
    ------
    InvalidImageError
        If no patch fits in ``mask`` (a ``ValueError``): pass a smaller patch.

    Examples
    --------
    >>> import numpy as np
    >>> noise = np.random.default_rng(0).normal(0, 1.0, (128, 128))
    >>> nps = noise_power_spectrum(noise, np.ones((128, 128), bool), patch=32)
    >>> round(float(nps.power.mean()), 1), round(nps.mean_frequency, 1)  # flat: white noise
    (1.0, 0.3)
    """
    _check_patch(patch, coverage)
    vol = as_slices(image)
    flat = as_mask(mask, vol.shape, "mask")
    assert flat is not None
    corners = _patch_corners(np.asarray(flat), patch, coverage)
    if not len(corners):
        raise InvalidImageError(
            f"no {patch} x {patch} patch has {coverage:.0%} of its pixels in the mask; "
            "pass a smaller patch or a lower coverage"
        )
    return _radial(_nps_2d(vol, np.asarray(flat), corners, patch), len(corners))


def _radial(nps: np.ndarray, patches: int) -> NoisePowerSpectrum:
    patch = nps.shape[0]
    f = np.fft.fftfreq(patch)
    radius = np.hypot(f[:, None], f[None, :])
    ring = np.rint(radius * patch).astype(int)
    bins = np.arange(1, patch // 2 + 1)
    power = np.array([nps[ring == k].mean() for k in bins])
    freqs = bins / patch
    total = power.sum()
    mean = float((freqs * power).sum() / total) if total > 0 else float("nan")
    return NoisePowerSpectrum(frequencies=freqs, power=power, mean_frequency=mean, patches=patches)


def nps_mean_frequency_shift(
    denoised: ArrayLike,
    original: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    padding: ArrayLike | None = None,
    photometric: Photometric = "MONOCHROME2",
    patch: int = 64,
    coverage: float = 0.9,
) -> float:
    """How far a denoiser moved the mean frequency of the flat regions' NPS (cycles/pixel).

    Both NPS from the same patches of the input's flat mask; negative: the noise left is
    coarser than the input's (the over-smooth, "plastic" look); NaN when nothing is left.

    Parameters
    ----------
    denoised, original, mask, padding, photometric
        As for :func:`pattern_metrics`.
    patch, coverage
        As for :func:`noise_power_spectrum`.

    Returns
    -------
    float
        ``f_av(denoised) - f_av(original)``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.ndimage import gaussian_filter
    >>> noisy = np.random.default_rng(0).normal(0, 1.0, (128, 128))
    >>> flat = np.ones((128, 128), bool)
    >>> shift = nps_mean_frequency_shift(gaussian_filter(noisy, 1.0), noisy, mask=flat, patch=32)
    >>> bool(shift < -0.1)
    True
    """
    den, orig = image_pair(denoised, original)
    _check_patch(patch, coverage)
    flat = object_and_flat(orig, mask, padding, photometric)[1]
    corners = _patch_corners(flat, patch, coverage)
    if not len(corners):
        raise InvalidImageError(
            f"no {patch} x {patch} patch has {coverage:.0%} of its pixels in the flat mask; "
            "pass a smaller patch or a lower coverage"
        )
    before = _radial(_nps_2d(orig, flat, corners, patch), len(corners)).mean_frequency
    after = _radial(_nps_2d(den, flat, corners, patch), len(corners)).mean_frequency
    return after - before
