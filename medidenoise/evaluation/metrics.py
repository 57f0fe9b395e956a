"""Image quality metrics on a fixed data range: PSNR and SSIM.

Both metrics compare a test image with the clean reference on a *fixed*
``data_range`` given by the caller (1.0 for images scaled to [0, 1]), never on
a range guessed from the test image, so that figures from different methods,
images and noises are comparable. Computation is in float64.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from medidenoise._validate import check_finite
from medidenoise.errors import InvalidImageError

__all__ = ["SSIM_SETTINGS", "psnr", "ssim"]

#: SSIM as defined by Wang et al. (2004): 11x11 Gaussian window of sigma 1.5,
#: population covariances, K1 = 0.01, K2 = 0.03.
SSIM_SETTINGS: dict[str, object] = {
    "gaussian_weights": True,
    "sigma": 1.5,
    "use_sample_covariance": False,
    "K1": 0.01,
    "K2": 0.03,
}


def _pair(clean: ArrayLike, test: ArrayLike, data_range: float | None) -> tuple[np.ndarray, ...]:
    if data_range is None:
        raise ValueError(
            "data_range is required: pass the fixed range of the clean image's scale, "
            "e.g. data_range=1.0 for images scaled to [0, 1]"
        )
    if not (isinstance(data_range, int | float) and math.isfinite(data_range) and data_range > 0):
        raise ValueError(f"data_range must be a positive finite number, got {data_range!r}")
    a = np.asarray(clean, dtype=np.float64)
    b = np.asarray(test, dtype=np.float64)
    if a.shape != b.shape:
        raise InvalidImageError(
            f"clean and test images must have the same shape, got {a.shape} and {b.shape}; "
            "crop or resample one of them first"
        )
    if a.size == 0:
        raise InvalidImageError(f"images are empty: shape {a.shape}")
    for image in (a, b):
        check_finite(image, "images contain NaN or infinite values; metrics are undefined")
    return a, b


def psnr(clean: ArrayLike, test: ArrayLike, *, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in decibels on a fixed data range.

    ``PSNR = 10 * log10(data_range**2 / MSE)``.

    Parameters
    ----------
    clean : array_like
        The reference (noise-free) image.
    test : array_like
        The image to score, same shape as ``clean``.
    data_range : float
        The fixed range of the intensity scale, e.g. 1.0 for [0, 1] images.
        Required: a range taken from the data would make scores incomparable.

    Returns
    -------
    float
        PSNR in dB; ``inf`` when the images are identical.

    Raises
    ------
    ValueError
        If ``data_range`` is missing or not positive.
    InvalidImageError
        If the shapes differ or the images hold NaN/inf (a ``ValueError``).

    Examples
    --------
    >>> import numpy as np
    >>> clean = np.zeros((8, 8))
    >>> round(psnr(clean, clean + 0.1, data_range=1.0), 6)
    20.0
    """
    a, b = _pair(clean, test, data_range)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return math.inf
    return float(peak_signal_noise_ratio(a, b, data_range=float(data_range)))  # type: ignore[arg-type]


def ssim(clean: ArrayLike, test: ArrayLike, *, data_range: float | None = None) -> float:
    """Structural similarity index (Wang et al. 2004) on a fixed data range.

    Uses scikit-image's ``structural_similarity`` with the settings in
    :data:`SSIM_SETTINGS` (Gaussian window, sigma 1.5). 2D images only
    (a single slice); for a volume, score each slice.

    Parameters
    ----------
    clean : array_like
        The reference (noise-free) 2D image, at least 11 x 11 pixels.
    test : array_like
        The image to score, same shape as ``clean``.
    data_range : float
        The fixed range of the intensity scale, e.g. 1.0 for [0, 1] images.

    Returns
    -------
    float
        SSIM in [-1, 1]; 1 for identical images.

    Raises
    ------
    ValueError
        If ``data_range`` is missing or not positive.
    InvalidImageError
        If the shapes differ, the image is not 2D, too small, or holds NaN/inf.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.random.default_rng(0).random((32, 32))
    >>> ssim(img, img, data_range=1.0)
    1.0
    """
    a, b = _pair(clean, test, data_range)
    if a.ndim != 2:
        raise InvalidImageError(f"ssim expects 2D images, got shape {a.shape}; score each slice")
    if min(a.shape) < 11:
        raise InvalidImageError(f"ssim needs images of at least 11 x 11 pixels, got {a.shape}")
    value = structural_similarity(a, b, data_range=float(data_range), **SSIM_SETTINGS)  # type: ignore[arg-type]
    return float(value)
