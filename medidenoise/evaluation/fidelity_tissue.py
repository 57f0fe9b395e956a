"""A real scan's noise in a given intensity window of tissue: the reference of the estimator.

:func:`tissue_noise_std` measures the noise without the estimator it checks
(``transforms.estimate_noise``) and without the automatic flat mask of
:func:`~medidenoise.evaluation.flat_region_std`: the caller names the tissue by its
intensities (brain, not air or bone; the body, not the direct exposure of a radiograph).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from medidenoise.transforms._checks import varying_3x3

__all__ = ["tissue_noise_std"]


def _patches(x: np.ndarray, size: int) -> np.ndarray:
    ny, nx = x.shape[0] // size, x.shape[1] // size
    x = x[: ny * size, : nx * size].reshape(ny, size, nx, size)
    return x.transpose(0, 2, 1, 3).reshape(ny * nx, size * size)


def tissue_noise_std(
    volume: np.ndarray, low: float | None = None, high: float | None = None, *, patch: int = 9
) -> float:
    """The noise std of the flattest tissue patches of a scan, in its units.

    The median, over the flattest quarter of the ``patch`` x ``patch`` tissue patches, of
    each patch's std after removing its best-fit plane (``patch**2 - 3`` degrees of
    freedom). Tissue: values in [``low``, ``high``], not the volume's minimum or maximum
    (clipped values), every 3x3 neighbourhood varying (no padding, tagged or not), away
    from the mask's border. Flattest: the smallest largest-gradient over the patch of the
    image smoothed by a 2 px Gaussian (edges left out). On an image of pure white noise the
    flattest quarter is also the quietest, a few per cent low; correlated noise reads a
    little lower (the plane and the patch size take its slowest part).

    Parameters
    ----------
    volume : ndarray
        (D, H, W) scan in its own units.
    low, high : float, optional
        The tissue's intensity window (``None``: no bound).
    patch : int, optional
        Patch side in pixels.

    Returns
    -------
    float
        The noise std in the scan's units.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> scan = np.full((1, 128, 128), 40.0) + rng.normal(0, 3.0, (1, 128, 128))
    >>> round(tissue_noise_std(scan), 1)
    2.9
    """
    y, x = np.mgrid[0:patch, 0:patch]
    plane = np.linalg.qr(np.stack([np.ones(patch * patch), y.ravel(), x.ravel()], axis=1))[0]
    erode = max(1, min(volume.shape[1:]) // 64)
    stds, gradients = [], []
    for sl in np.asarray(volume, dtype=np.float64):
        mask = varying_3x3(sl) & (sl > volume.min()) & (sl < volume.max())
        mask &= (sl >= (low if low is not None else -np.inf)) & (
            sl <= (high if high is not None else np.inf)
        )
        mask = ndimage.binary_erosion(ndimage.binary_opening(mask), iterations=erode)
        smooth = ndimage.gaussian_filter(sl, 2.0)
        gradient = np.hypot(ndimage.sobel(smooth, 0), ndimage.sobel(smooth, 1))
        inside = _patches(mask, patch).all(axis=1)
        values = _patches(sl, patch)[inside]
        residual = values - (values @ plane) @ plane.T
        stds.append(np.sqrt((residual**2).sum(axis=1) / (patch * patch - 3)))
        gradients.append(_patches(gradient, patch)[inside].max(axis=1))
    std, gradient = np.concatenate(stds), np.concatenate(gradients)
    return float(np.median(std[gradient <= np.quantile(gradient, 0.25)]))
