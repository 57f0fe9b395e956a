"""Classical (non-learned) denoisers: ``model="nlm"`` etc. and the evaluation's baselines.

Every function has the same shape, ``denoise_x(image, sigma, *, options)``:
a 2D image, typically float32 scaled to about [0, 1], and the standard
deviation ``sigma`` of its noise in the same units. The input is never
modified; the result is a new float32 array of the same shape. Parameters
follow the scikit-image and BM3D authors' recommendations and were checked on
256 x 256 crops of pydicom's non-hold-out test images (RG1, CT_small,
MR_small, liver) at sigma 0.05 and 0.1.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle
from skimage.restoration import denoise_wavelet as _sk_denoise_wavelet

from medidenoise._optional import available
from medidenoise._validate import check_finite, check_ndim, check_real, check_size
from medidenoise.errors import MissingDecoderError

__all__ = [
    "CLASSICAL",
    "CLASSICAL_METHODS",
    "NLM_SETTINGS",
    "TV_WEIGHT_PER_SIGMA",
    "WAVELET",
    "baseline_settings",
    "bm3d_available",
    "denoise_bm3d",
    "denoise_nlm",
    "denoise_tv",
    "denoise_wavelet",
]

log = logging.getLogger(__name__)

#: non-local means: 5x5 patches searched within 13x13 (distance 6), h = 0.8 sigma,
#: scikit-image's recommendation when sigma is known and ``fast_mode=True``.
NLM_SETTINGS: dict[str, float] = {"patch_size": 5, "patch_distance": 6, "h_per_sigma": 0.8}
#: TV (Chambolle) weight = 1.25 sigma: best mean PSNR between sigma 0.05 (1.0) and 0.1 (1.5).
TV_WEIGHT_PER_SIGMA = 1.25
#: Daubechies-2 wavelet, soft thresholds; BayesShrink beat VisuShrink by 1-3 dB.
WAVELET = "db2"


def _check(image: ArrayLike, sigma: float, name: str) -> np.ndarray:
    arr = np.asarray(image)
    check_ndim(
        arr,
        (2,),
        "{name} expects a 2D image (H, W), got shape {shape}; denoise volumes slice "
        "by slice (medidenoise.denoise does this for model='{name}')",
        name=name,
    )
    check_real(arr, "{name} expects a real-valued image, got dtype {dtype}", name=name, kinds="fiu")
    check_size(arr, "{name} expects at least 2 x 2 pixels, got {shape}", name=name, min_side=2)
    out = np.array(arr, dtype=np.float32, copy=True)
    check_finite(out, "{name}: image contains NaN or infinite values", name=name)
    if not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"{name}: sigma must be a finite number >= 0, got {sigma!r}")
    return out


def denoise_nlm(image: ArrayLike, sigma: float) -> np.ndarray:
    """Non-local means (scikit-image, ``fast_mode=True``) for a known noise std.

    Settings are in :data:`NLM_SETTINGS`: 5 x 5 patches, search distance 6,
    ``h = 0.8 * sigma`` and ``sigma`` passed on so that the expected noise is
    subtracted from patch distances.

    Parameters
    ----------
    image : array_like
        2D image, e.g. float32 in [0, 1].
    sigma : float
        Noise standard deviation in the image's units. 0 returns a copy.

    Returns
    -------
    numpy.ndarray
        float32 array of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> noisy = np.random.default_rng(0).normal(0.5, 0.1, (32, 32)).astype(np.float32)
    >>> out = denoise_nlm(noisy, 0.1)
    >>> out.dtype, out.shape, bool(out.std() < noisy.std())
    (dtype('float32'), (32, 32), True)
    """
    img = _check(image, sigma, "nlm")
    if sigma == 0:
        return img
    out = denoise_nl_means(
        img,
        h=NLM_SETTINGS["h_per_sigma"] * sigma,
        sigma=sigma,
        patch_size=int(NLM_SETTINGS["patch_size"]),
        patch_distance=int(NLM_SETTINGS["patch_distance"]),
        fast_mode=True,
    )
    return np.asarray(out, dtype=np.float32)


def denoise_tv(image: ArrayLike, sigma: float) -> np.ndarray:
    """Total-variation denoising (Chambolle) with weight ``1.25 * sigma``.

    Parameters
    ----------
    image : array_like
        2D image, e.g. float32 in [0, 1].
    sigma : float
        Noise standard deviation in the image's units. 0 returns a copy.

    Returns
    -------
    numpy.ndarray
        float32 array of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> noisy = np.random.default_rng(0).normal(0.5, 0.1, (32, 32)).astype(np.float32)
    >>> bool(denoise_tv(noisy, 0.1).std() < noisy.std())
    True
    """
    img = _check(image, sigma, "tv")
    if sigma == 0:
        return img
    out = denoise_tv_chambolle(img, weight=TV_WEIGHT_PER_SIGMA * sigma)
    return np.asarray(out, dtype=np.float32)


def denoise_wavelet(
    image: ArrayLike,
    sigma: float,
    *,
    method: Literal["BayesShrink", "VisuShrink"] = "BayesShrink",
) -> np.ndarray:
    """Wavelet shrinkage (scikit-image) with a known noise std.

    Daubechies-2 wavelet (:data:`WAVELET`), soft thresholds, all levels that
    scikit-image picks by default.

    Parameters
    ----------
    image : array_like
        2D image, e.g. float32 in [0, 1].
    sigma : float
        Noise standard deviation in the image's units. 0 returns a copy.
    method : {"BayesShrink", "VisuShrink"}
        Per-sub-band adaptive thresholds (BayesShrink, default) or the
        universal threshold (VisuShrink, smoother).

    Returns
    -------
    numpy.ndarray
        float32 array of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> noisy = np.random.default_rng(0).normal(0.5, 0.1, (32, 32)).astype(np.float32)
    >>> bool(denoise_wavelet(noisy, 0.1).std() < noisy.std())
    True
    """
    if method not in ("BayesShrink", "VisuShrink"):
        raise ValueError(f"method must be 'BayesShrink' or 'VisuShrink', got {method!r}")
    img = _check(image, sigma, "wavelet")
    if sigma == 0:
        return img
    out = _sk_denoise_wavelet(
        img, sigma=sigma, wavelet=WAVELET, mode="soft", method=method, rescale_sigma=True
    )
    return np.asarray(out, dtype=np.float32)


def bm3d_available() -> bool:
    """Whether the optional ``bm3d`` package is installed.

    Examples
    --------
    >>> isinstance(bm3d_available(), bool)
    True
    """
    return available("bm3d")


def denoise_bm3d(image: ArrayLike, sigma: float) -> np.ndarray:
    """BM3D (Makinen, Azzari & Foi; the ``bm3d`` package) for white noise of std ``sigma``.

    Calls ``bm3d.bm3d(image, sigma_psd=sigma)`` with the package's default
    ("np", normal) profile and both stages. Slow on large images on CPU: about
    a second per 256 x 256 image, tens of seconds for a 2000 x 2000 radiograph.

    Parameters
    ----------
    image : array_like
        2D image, e.g. float32 in [0, 1].
    sigma : float
        Noise standard deviation in the image's units. 0 returns a copy.

    Returns
    -------
    numpy.ndarray
        float32 array of the same shape.

    Raises
    ------
    MissingDecoderError
        If ``bm3d`` is not installed (an ``ImportError``); install it with
        ``pip install bm3d`` or ``pip install medidenoise[bm3d]``.

    Examples
    --------
    >>> import numpy as np
    >>> noisy = np.random.default_rng(0).normal(0.5, 0.1, (32, 32)).astype(np.float32)
    >>> bool(denoise_bm3d(noisy, 0.1).std() < noisy.std())  # doctest: +SKIP
    True
    """
    img = _check(image, sigma, "bm3d")
    if not bm3d_available():
        raise MissingDecoderError(
            "the BM3D baseline needs the 'bm3d' package: pip install bm3d "
            "(or medidenoise[bm3d]); or leave 'bm3d' out of methods"
        )
    if sigma == 0:
        return img
    import bm3d

    out = bm3d.bm3d(img.astype(np.float64), sigma_psd=float(sigma))
    return np.asarray(out, dtype=np.float32).reshape(img.shape)


def baseline_settings() -> dict[str, dict[str, object]]:
    """The parameters of every classical method, for reports.

    Examples
    --------
    >>> baseline_settings()["tv"]
    {'weight_per_sigma': 1.25}
    """
    return {
        "nlm": {**NLM_SETTINGS, "fast_mode": True},
        "tv": {"weight_per_sigma": TV_WEIGHT_PER_SIGMA},
        "wavelet": {"wavelet": WAVELET, "method": "BayesShrink", "mode": "soft"},
        "bm3d": {"call": "bm3d.bm3d(image, sigma_psd=sigma)", "profile": "np"},
    }


#: method name -> ``fn(image, sigma) -> float32 image``; what ``model="nlm"`` etc. run, in
#: the order of the evaluation's reports (strongest first)
CLASSICAL_METHODS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "bm3d": denoise_bm3d,
    "nlm": denoise_nlm,
    "tv": denoise_tv,
    "wavelet": denoise_wavelet,
}

#: the classical methods' names (the ``model=`` values that run one), in report order
CLASSICAL: tuple[str, ...] = tuple(CLASSICAL_METHODS)
