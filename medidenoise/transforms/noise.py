"""Noise models as pure numpy functions.

Every function takes the image first, returns a new float32 array of the same
shape (the input is never modified; other real dtypes are converted to
float32) and draws its random numbers from the keyword-only ``rng``: a
``numpy.random.Generator``, an int seed, or ``None`` for fresh entropy.
The noise level is always given in the image's own units (HU for CT, the
stored intensity for MR and X-ray, [0, 1] for a normalised image), except for
Poisson noise whose level is a photon count.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from medidenoise._noise_kinds import NOISE_KINDS, NOISE_LEVELS, NoiseKind
from medidenoise.transforms._checks import RngLike, as_float_image, check_number, make_rng
from medidenoise.transforms._noise_realistic import (
    add_correlated_noise,
    add_poisson_gaussian_noise,
)

__all__ = [
    "DEFAULT_LEVELS",
    "NOISE_KINDS",
    "NoiseKind",
    "add_correlated_noise",
    "add_gaussian_noise",
    "add_noise",
    "add_poisson_gaussian_noise",
    "add_poisson_noise",
    "add_rician_noise",
    "add_salt_and_pepper_noise",
    "add_speckle_noise",
    "check_noise_kind",
    "check_noise_level",
]

#: Default ``(low, high)`` level ranges, meant for images in network units [0, 1].
DEFAULT_LEVELS: dict[str, tuple[float, float]] = {k: r.default for k, r in NOISE_LEVELS.items()}


def add_gaussian_noise(image: np.ndarray, sigma: float, *, rng: RngLike = None) -> np.ndarray:
    """Add zero-mean Gaussian noise: ``x + sigma * n``, ``n ~ N(0, 1)``.

    Parameters
    ----------
    image : ndarray
        Image of any shape (typically 2D or 3D), real-valued.
    sigma : float
        Standard deviation of the noise in the image's units, ``>= 0``.
    rng : numpy.random.Generator, int or None, optional
        Source of randomness; an int is a seed.

    Returns
    -------
    ndarray
        float32 array of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> clean = np.zeros((64, 64), dtype=np.float32)
    >>> noisy = add_gaussian_noise(clean, 0.1, rng=0)
    >>> noisy.dtype, noisy.shape
    (dtype('float32'), (64, 64))
    >>> bool(abs(noisy.std() - 0.1) < 0.01)
    True
    """
    sigma = check_noise_level("gaussian", sigma, name="sigma")
    arr = as_float_image(image)
    gen = make_rng(rng)
    noise = gen.standard_normal(arr.shape, dtype=np.float32)
    noise *= np.float32(sigma)
    return arr + noise


def add_salt_and_pepper_noise(
    image: np.ndarray,
    amount: float,
    *,
    salt_fraction: float = 0.5,
    low: float | None = None,
    high: float | None = None,
    rng: RngLike = None,
) -> np.ndarray:
    """Replace a random fraction of the pixels by the extreme values.

    Each pixel is hit independently with probability ``amount``; a hit pixel
    becomes "salt" (``high``) with probability ``salt_fraction``, else
    "pepper" (``low``).

    Parameters
    ----------
    image : ndarray
        Image of any shape (typically 2D or 3D), real-valued.
    amount : float
        Expected fraction of pixels replaced, in ``[0, 1]``.
    salt_fraction : float, optional
        Fraction of the replaced pixels that become salt, in ``[0, 1]``.
    low, high : float, optional
        Pepper and salt values; default to the image minimum and maximum.
    rng : numpy.random.Generator, int or None, optional
        Source of randomness; an int is a seed.

    Returns
    -------
    ndarray
        float32 array of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> clean = np.linspace(0, 1, 100 * 100, dtype=np.float32).reshape(100, 100)
    >>> noisy = add_salt_and_pepper_noise(clean, 0.1, rng=0)
    >>> changed = noisy != clean
    >>> bool(abs(changed.mean() - 0.1) < 0.01)
    True
    >>> sorted(set(np.unique(noisy[changed]).tolist()))
    [0.0, 1.0]
    """
    amount = check_noise_level("salt_and_pepper", amount, name="amount")
    salt_fraction = check_number("salt_fraction", salt_fraction, low=0.0, high=1.0)
    arr = as_float_image(image)
    lo = float(arr.min()) if low is None else check_number("low", low)
    hi = float(arr.max()) if high is None else check_number("high", high)
    if low is not None and high is not None and lo > hi:
        raise ValueError(f"low must be <= high, got low={lo!r}, high={hi!r}")
    gen = make_rng(rng)
    hit = gen.random(arr.shape, dtype=np.float32) < amount
    salt = gen.random(arr.shape, dtype=np.float32) < salt_fraction
    out = arr.copy()
    out[hit & salt] = hi
    out[hit & ~salt] = lo
    return out


def add_poisson_noise(image: np.ndarray, photons: float, *, rng: RngLike = None) -> np.ndarray:
    """Add photon-counting (Poisson) noise.

    The image is read as a photon count proportional to its intensity, with
    ``photons`` photons at the image maximum:
    ``x -> Poisson((x - o) / (max - o) * photons) / photons * (max - o) + o``.
    The origin ``o`` is ``min(0, image.min())``: a non-negative image is
    used as it is (0 means no photons), an image with negative values (CT in
    HU) is shifted so that its minimum receives no photons. Noise variance is
    thus proportional to ``x - o``; the noise std at the maximum is
    ``(max - o) / sqrt(photons)``. A constant image is returned unchanged.

    Parameters
    ----------
    image : ndarray
        Image of any shape (typically 2D or 3D), real-valued.
    photons : float
        Expected photon count at the image maximum, ``> 0``; larger means less
        noise.
    rng : numpy.random.Generator, int or None, optional
        Source of randomness; an int is a seed.

    Returns
    -------
    ndarray
        float32 array of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> clean = np.full((100, 100), 0.5, dtype=np.float32)
    >>> clean[0, 0] = 1.0  # the maximum gets 400 photons, 0.5 gets 200
    >>> noisy = add_poisson_noise(clean, 400, rng=0)
    >>> expected_std = 0.5 / np.sqrt(200)
    >>> bool(abs(noisy.std() - expected_std) < 0.1 * expected_std)
    True
    """
    photons = check_noise_level("poisson", photons, name="photons")
    arr = as_float_image(image)
    origin = min(0.0, float(arr.min()))
    span = float(arr.max()) - origin
    if span <= 0.0:
        return arr.copy()
    gen = make_rng(rng)
    lam = (arr.astype(np.float64) - origin) * (photons / span)
    counts = _poisson_counts(gen, lam)
    return (counts * (span / photons) + origin).astype(np.float32)


#: above this mean, Poisson counts are drawn from their normal limit N(lam, lam): numpy's
#: generator refuses means beyond ~9.2e18 ("lam value too large"), and past 1e15 the two
#: distributions differ by far less than float32 can show
_POISSON_EXACT_MAX = 1e15


def _poisson_counts(gen: np.random.Generator, lam: np.ndarray) -> np.ndarray:
    """Poisson draws of mean ``lam`` (float64), any mean (the normal limit for huge ones)."""
    big = lam > _POISSON_EXACT_MAX
    if not big.any():
        return gen.poisson(lam).astype(np.float64)
    counts = np.empty_like(lam)
    counts[~big] = gen.poisson(lam[~big])
    counts[big] = lam[big] + np.sqrt(lam[big]) * gen.standard_normal(int(big.sum()))
    return counts


def add_rician_noise(image: np.ndarray, sigma: float, *, rng: RngLike = None) -> np.ndarray:
    """Add Rician noise, as found in magnitude MR images.

    The image is taken as the real channel of a complex signal; independent
    Gaussian noise of std ``sigma`` is added to the real and imaginary
    channels and the magnitude is returned:
    ``sqrt((x + sigma * n1) ** 2 + (sigma * n2) ** 2)``. The result is
    non-negative and biased upward where the signal is low (a zero signal has
    mean ``sigma * sqrt(pi / 2)``).

    Parameters
    ----------
    image : ndarray
        Image of any shape (typically 2D or 3D), real-valued, normally >= 0.
    sigma : float
        Standard deviation of the Gaussian noise in each channel, ``>= 0``.
    rng : numpy.random.Generator, int or None, optional
        Source of randomness; an int is a seed.

    Returns
    -------
    ndarray
        float32 array of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> background = np.zeros((200, 200), dtype=np.float32)
    >>> noisy = add_rician_noise(background, 0.1, rng=0)
    >>> bool(abs(noisy.mean() - 0.1 * np.sqrt(np.pi / 2)) < 0.005)
    True
    """
    sigma = check_noise_level("rician", sigma, name="sigma")
    arr = as_float_image(image)
    gen = make_rng(rng)
    s = np.float32(sigma)
    real = gen.standard_normal(arr.shape, dtype=np.float32)
    real *= s
    real += arr
    imag = gen.standard_normal(arr.shape, dtype=np.float32)
    imag *= s
    return np.hypot(real, imag)


def add_speckle_noise(image: np.ndarray, sigma: float, *, rng: RngLike = None) -> np.ndarray:
    """Add multiplicative (speckle) noise: ``x + x * sigma * n``, ``n ~ N(0, 1)``.

    The noise std at a pixel is ``sigma * |x|``: zero where the image is zero.

    Parameters
    ----------
    image : ndarray
        Image of any shape (typically 2D or 3D), real-valued.
    sigma : float
        Relative standard deviation of the noise, ``>= 0``.
    rng : numpy.random.Generator, int or None, optional
        Source of randomness; an int is a seed.

    Returns
    -------
    ndarray
        float32 array of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> clean = np.full((100, 100), 2.0, dtype=np.float32)
    >>> noisy = add_speckle_noise(clean, 0.1, rng=0)
    >>> bool(abs(noisy.std() - 0.2) < 0.02)
    True
    """
    sigma = check_noise_level("speckle", sigma, name="sigma")
    arr = as_float_image(image)
    gen = make_rng(rng)
    noise = gen.standard_normal(arr.shape, dtype=np.float32)
    noise *= np.float32(sigma)
    noise += np.float32(1.0)
    return arr * noise


_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "gaussian": add_gaussian_noise,
    "salt_and_pepper": add_salt_and_pepper_noise,
    "poisson": add_poisson_noise,
    "rician": add_rician_noise,
    "speckle": add_speckle_noise,
    "correlated": add_correlated_noise,
    "poisson_gaussian": add_poisson_gaussian_noise,
}


def check_noise_kind(kind: object, *, name: str = "kind") -> str:
    """Return ``kind`` if it is one of :data:`NOISE_KINDS`, else raise ``ValueError``."""
    if not isinstance(kind, str) or kind not in _FUNCTIONS:
        raise ValueError(f"{name} must be one of {', '.join(NOISE_KINDS)}; got {kind!r}")
    return kind


def check_noise_level(kind: str, level: object, *, name: str = "level") -> float:
    """Check a noise level for ``kind`` and return it as a float.

    Allowed (:data:`~medidenoise._noise_kinds.NOISE_LEVELS`): sigma ``>= 0`` (gaussian,
    rician, speckle, correlated, poisson_gaussian), amount in ``[0, 1]``
    (salt_and_pepper), photons ``> 0`` (poisson).
    """
    rule = NOISE_LEVELS[kind]
    return check_number(
        f"{name} ({kind} {rule.name})", level, low=0.0, high=rule.high, low_open=rule.low_open
    )


def add_noise(
    image: np.ndarray, kind: NoiseKind, level: float, *, rng: RngLike = None
) -> np.ndarray:
    """Add noise of the given kind; a single entry point for every noise model.

    Parameters
    ----------
    image : ndarray
        Image of any shape (typically 2D or 3D), real-valued.
    kind : str
        Noise model, one of :data:`NOISE_KINDS`: ``"gaussian"``, ``"salt_and_pepper"``,
        ``"poisson"``, ``"rician"``, ``"speckle"``, ``"correlated"`` (Gaussian noise with
        a random low-pass or band-pass spectrum, :func:`add_correlated_noise`) or
        ``"poisson_gaussian"`` (signal-dependent, :func:`add_poisson_gaussian_noise`).
    level : float
        The model's strength: ``sigma`` for gaussian, rician, speckle, correlated
        and poisson_gaussian (the per-pixel std),
        ``amount`` for salt_and_pepper, ``photons`` for poisson (see the
        ``add_*_noise`` function of each kind).
    rng : numpy.random.Generator, int or None, optional
        Source of randomness; an int is a seed.

    Returns
    -------
    ndarray
        float32 array of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> clean = np.ones((32, 32), dtype=np.float32)
    >>> noisy = add_noise(clean, "gaussian", 0.05, rng=1)
    >>> np.array_equal(noisy, add_gaussian_noise(clean, 0.05, rng=1))
    True
    >>> add_noise(clean, "blur", 1.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: kind must be one of gaussian, salt_and_pepper, ..., poisson_gaussian; got 'blur'
    """
    kind = check_noise_kind(kind)  # type: ignore[assignment]
    level = check_noise_level(kind, level)
    return _FUNCTIONS[kind](image, level, rng=rng)
