"""Noise level from the flattest blocks of an image, calibrated by simulation (private).

Used by :func:`medidenoise.transforms.estimate_noise`; works for white and for
spatially correlated noise, as long as the image has flat regions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from medidenoise.transforms._checks import varying_3x3

__all__ = ["BlockEstimate", "block_noise_estimate"]

#: percentile of the block variances taken as the noise-only statistic
_QUANTILE = 0.1
#: fraction of the flattest blocks whose residuals give the noise power spectrum
_SPECTRUM_FRACTION = 0.25
#: fewest usable blocks for an estimate
_MIN_BLOCKS = 16
#: simulated noise blocks for the calibration (a fixed seed: the estimate is deterministic)
_SIM_FIELDS = 40


@dataclass(frozen=True)
class BlockEstimate:
    """What :func:`block_noise_estimate` measured.

    ``sigma``: the per-pixel noise std; ``spread``: how much more the block variances
    spread (25th over 5th percentile) than simulated noise's, about 1 when the flat
    blocks hold noise only; ``blocks``: how many blocks were used.
    """

    sigma: float
    spread: float
    blocks: int


def _block_size(height: int, width: int) -> int:
    side = min(height, width)
    return 32 if side >= 192 else 16 if side >= 64 else 8


@functools.lru_cache(maxsize=4)
def _surface_basis(size: int) -> np.ndarray:
    """Orthonormal basis (size*size, 6) of quadratic surfaces over a block (read-only, cached)."""
    y, x = (a.ravel() for a in np.mgrid[0:size, 0:size].astype(np.float64) / size)
    design = np.stack([np.ones_like(y), y, x, y * y, x * x, x * y], axis=1)
    basis = np.linalg.qr(design)[0]
    basis.flags.writeable = False
    return basis


def _blocks(sl: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping size x size blocks of a slice (centred), as rows; padding left out."""
    h, w = sl.shape
    ny, nx = h // size, w // size
    top, left = (h - ny * size) // 2, (w - nx * size) // 2
    crop = sl[top : top + ny * size, left : left + nx * size]
    varying = varying_3x3(crop)

    def tile(a: np.ndarray) -> np.ndarray:
        return a.reshape(ny, size, nx, size).transpose(0, 2, 1, 3).reshape(-1, size * size)

    keep = tile(varying).all(axis=1)
    return tile(crop.astype(np.float64))[keep]


def _residual_variance(blocks: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # einsum, not ``@``: a BLAS call leaves OpenBLAS's threads spinning for a while, and on a
    # small machine they then slow the network that runs next by a third (BENCHMARKS.md)
    coefficients = np.einsum("nk,kj->nj", blocks, basis)
    residual = blocks - np.einsum("nj,kj->nk", coefficients, basis)
    return residual, (residual**2).sum(axis=1) / (blocks.shape[1] - basis.shape[1])


def _simulate(power: np.ndarray, size: int, basis: np.ndarray) -> np.ndarray:
    """Residual variances of unit-variance noise blocks with the given power spectrum."""
    # the block spectrum, as an autocorrelation embedded in a 4x larger field, so the
    # simulated noise is not forced to be periodic over one block
    big = 4 * size
    acf = np.fft.fftshift(np.fft.ifft2(power).real)
    field_acf = np.zeros((big, big))
    start = big // 2 - size // 2
    field_acf[start : start + size, start : start + size] = acf
    field_power = np.abs(np.fft.fft2(np.fft.ifftshift(field_acf)))
    mean_power = float(field_power.mean())
    if mean_power <= 0:
        return np.ones(1)
    amplitude = np.sqrt(field_power / mean_power)
    # the amplitude is symmetric (the spectrum of a real field): real FFTs give the same
    # fields as complex ones at half the work; one draw of all fields, the same numbers
    white = np.random.default_rng(0).standard_normal((_SIM_FIELDS, big, big))
    half = amplitude[:, : big // 2 + 1]
    noise = np.fft.irfft2(np.fft.rfft2(white) * half, s=(big, big))
    blocks = noise.reshape(_SIM_FIELDS, 4, size, 4, size).transpose(0, 1, 3, 2, 4)
    return _residual_variance(blocks.reshape(-1, size * size), basis)[1]


def block_noise_estimate(volume: np.ndarray) -> BlockEstimate | None:
    """Estimate the noise std from the flattest blocks of (D, H, W) ``volume``.

    Returns ``None`` when the slices hold too few non-padding blocks.
    """
    size = _block_size(volume.shape[1], volume.shape[2])
    if min(volume.shape[1:]) < size:
        return None
    basis = _surface_basis(size)
    blocks = np.concatenate([_blocks(sl, size) for sl in volume])
    if blocks.shape[0] < _MIN_BLOCKS:
        return None
    residual, variance = _residual_variance(blocks, basis)
    flattest = variance <= np.quantile(variance, _SPECTRUM_FRACTION)
    power = (np.abs(np.fft.fft2(residual[flattest].reshape(-1, size, size))) ** 2).mean(axis=0)
    simulated = _simulate(power, size, basis)
    real_q = float(np.quantile(variance, _QUANTILE))
    sim_q = float(np.quantile(simulated, _QUANTILE))
    if real_q <= 0 or sim_q <= 0:
        return BlockEstimate(0.0, float("inf"), int(blocks.shape[0]))
    real_spread = float(np.quantile(variance, 0.25)) / max(
        float(np.quantile(variance, 0.05)), 1e-300
    )
    sim_spread = float(np.quantile(simulated, 0.25)) / float(np.quantile(simulated, 0.05))
    return BlockEstimate(
        float(np.sqrt(real_q / sim_q)), real_spread / sim_spread, int(blocks.shape[0])
    )
