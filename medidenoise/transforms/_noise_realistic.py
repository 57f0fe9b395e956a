"""Noise as scanners leave it: spatially correlated and signal-dependent (private).

Registered as the ``"correlated"`` and ``"poisson_gaussian"`` kinds of
:func:`medidenoise.transforms.add_noise`; see there for the public entry point.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from medidenoise.transforms._checks import RngLike, as_float_image, check_number, make_rng

__all__ = ["SPECTRA", "add_correlated_noise", "add_poisson_gaussian_noise", "noise_filter"]

Spectrum = Literal["lowpass", "bandpass", "horizontal", "vertical"]
#: noise power spectrum shapes of :func:`add_correlated_noise`
SPECTRA: tuple[str, ...] = ("lowpass", "bandpass", "horizontal", "vertical")
#: the shapes drawn when none is given (isotropic, as reconstruction kernels make them)
_RANDOM_SPECTRA = ("lowpass", "bandpass")


def noise_filter(shape: tuple[int, int], spectrum: str, width: float) -> np.ndarray:
    """The real, non-negative frequency response (H, W) that shapes white noise.

    ``lowpass``: a Gaussian of std ``width`` cycles/pixel (what interpolation or a
    smooth reconstruction kernel leaves); ``bandpass``: a ramp ``|f|`` times a Hann
    window reaching zero at ``width`` cycles/pixel (the filtered back-projection
    spectrum of CT, peaking at mid frequencies); ``horizontal`` / ``vertical``: a
    Gaussian low-pass along one axis only (noise correlated along rows or columns:
    streaks, MR phase-encode noise). Normalised to a mean squared value of 1, so
    filtered unit white noise keeps a per-pixel variance of 1.
    """
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    if spectrum == "lowpass":
        h = np.exp(-(fy**2 + fx**2) / (2 * width**2))
    elif spectrum == "bandpass":
        f = np.hypot(fy, fx)
        h = f * np.where(f < width, 0.5 + 0.5 * np.cos(np.pi * f / width), 0.0)
    elif spectrum == "horizontal":  # correlated along each row: blurred in x only
        h = np.exp(-(fx**2) / (2 * width**2)) * np.ones_like(fy)
    elif spectrum == "vertical":
        h = np.exp(-(fy**2) / (2 * width**2)) * np.ones_like(fx)
    else:
        raise ValueError(f"spectrum must be one of {', '.join(SPECTRA)}; got {spectrum!r}")
    power = float(np.mean(h**2))
    if power <= 0:
        raise ValueError(
            f"width={width} leaves no frequency of a {shape} image; use a larger width"
        )
    return (h / np.sqrt(power)).astype(np.float64)


def add_correlated_noise(
    image: np.ndarray,
    sigma: float,
    *,
    rng: RngLike = None,
    spectrum: Spectrum | None = None,
    width: float | None = None,
) -> np.ndarray:
    """Add spatially correlated Gaussian noise of per-pixel std ``sigma``.

    White Gaussian noise is shaped in the Fourier domain of each 2D slice (the
    last two axes) by :func:`noise_filter`, so neighbouring pixels' noise is
    correlated as a CT reconstruction kernel or MR interpolation makes it, and
    the per-pixel standard deviation stays ``sigma``.

    Parameters
    ----------
    image : ndarray
        Image with at least two dimensions; the last two are a slice.
    sigma : float
        Per-pixel standard deviation of the noise in the image's units, ``>= 0``.
    rng : numpy.random.Generator, int or None, optional
        Source of randomness; an int is a seed.
    spectrum : {"lowpass", "bandpass", "horizontal", "vertical"}, optional
        Shape of the noise power spectrum; drawn from ``rng`` (lowpass or bandpass)
        when not given.
    width : float, optional
        Cut-off in cycles/pixel (Gaussian std for the low-passes, 0.1-0.5; end of
        the window for bandpass, 0.2-0.7); drawn from ``rng`` when not given.

    Returns
    -------
    ndarray
        float32 array of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> noisy = add_correlated_noise(np.zeros((128, 128)), 0.05, rng=0, spectrum="lowpass",
    ...                              width=0.15)
    >>> bool(abs(noisy.std() - 0.05) < 0.005)
    True
    >>> lag1 = np.corrcoef(noisy[:, :-1].ravel(), noisy[:, 1:].ravel())[0, 1]
    >>> bool(lag1 > 0.5)
    True
    """
    sigma = check_number("sigma (correlated sigma)", sigma, low=0.0)
    arr = as_float_image(image)
    if arr.ndim < 2 or min(arr.shape[-2:]) < 2:
        raise ValueError(f"correlated noise needs 2D slices, got an image of shape {arr.shape}")
    gen = make_rng(rng)
    if spectrum is None:
        spectrum = _RANDOM_SPECTRA[int(gen.integers(len(_RANDOM_SPECTRA)))]  # type: ignore[assignment]
    if width is None:
        low, high = (0.2, 0.7) if spectrum == "bandpass" else (0.1, 0.5)
        width = float(gen.uniform(low, high))
    check_number("width", width, low=0.0, low_open=True)
    h = noise_filter(arr.shape[-2:], str(spectrum), float(width))
    white = gen.standard_normal(arr.shape)
    shaped = np.fft.ifft2(np.fft.fft2(white, axes=(-2, -1)) * h, axes=(-2, -1)).real
    return (arr + np.float32(sigma) * shaped.astype(np.float32)).astype(np.float32)


def add_poisson_gaussian_noise(
    image: np.ndarray,
    sigma: float,
    *,
    rng: RngLike = None,
    signal_fraction: float | None = None,
) -> np.ndarray:
    """Add signal-dependent Poisson-Gaussian noise (X-ray and CT detectors).

    The noise variance grows linearly with the signal above the image's minimum,
    ``var(x) = sigma**2 * (f * (x - lo) / mean(x - lo) + (1 - f))``: a photon-counting
    part (a fraction ``f`` of the variance at the mean intensity) plus electronic
    Gaussian noise. The per-pixel standard deviation over the image is about
    ``sigma``. The Poisson part is drawn as its Gaussian approximation, which is
    what it is at the counts that make ``sigma`` small.

    Parameters
    ----------
    image : ndarray
        Image of any shape, real-valued.
    sigma : float
        Noise std at the mean intensity, in the image's units, ``>= 0``.
    rng : numpy.random.Generator, int or None, optional
        Source of randomness; an int is a seed.
    signal_fraction : float, optional
        ``f`` in ``[0, 1]``; drawn uniformly from [0.3, 0.9] when not given.

    Returns
    -------
    ndarray
        float32 array of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.tile(np.linspace(0.0, 1.0, 256, dtype=np.float32), (256, 1))
    >>> noisy = add_poisson_gaussian_noise(ramp, 0.05, rng=0, signal_fraction=0.8)
    >>> bool((noisy - ramp)[:, -20:].std() > (noisy - ramp)[:, :20].std())
    True
    """
    sigma = check_number("sigma (poisson_gaussian sigma)", sigma, low=0.0)
    arr = as_float_image(image)
    gen = make_rng(rng)
    if signal_fraction is None:
        signal_fraction = float(gen.uniform(0.3, 0.9))
    f = check_number("signal_fraction", signal_fraction, low=0.0, high=1.0)
    shifted = arr.astype(np.float64) - float(arr.min())
    mean = float(shifted.mean())
    relative = shifted / mean if mean > 0 else np.zeros_like(shifted)
    std = sigma * np.sqrt(f * relative + (1.0 - f))
    return (arr + std * gen.standard_normal(arr.shape)).astype(np.float32)
