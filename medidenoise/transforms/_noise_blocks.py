"""Noise level from the flattest blocks of an image's object, calibrated by simulation (private).

Used by :func:`medidenoise.transforms.estimate_noise`; works for white and for
spatially correlated noise, as long as the object has flat regions.

The blocks are sorted by their mean intensity into strata, and each stratum gets its
own calibrated estimate: real noise changes with the intensity (CT air is quieter than
tissue, an MR background holds Rayleigh noise, radiographs have Poisson noise), so a
statistic over all blocks at once reads the quietest region, and mixing populations
makes the block variances spread as no noise does. Strata at an end of the intensity
range that are quieter than the rest at every scale are background and left out; the
estimate is that of the quietest remaining strata.
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
#: blocks per intensity stratum (at least), and at most this many strata
_PER_STRATUM = 40
_MAX_STRATA = 6
#: a stratum's block variances may spread this much more than simulated noise's (one
#: stratum for the whole image, in small images: more, since it mixes intensities)
_MAX_SPREAD = 1.5
_MAX_SPREAD_ONE = 2.0
#: background: quieter than the rest by these factors (block and finest scale), its
#: finest-scale part measurable, and its intensity this near the end of the range
_QUIETER = 0.8
_QUIETER_FINE = 0.87
_FINE_PART = 0.2
_NEAR_END = 0.2
#: blocks per stratum (at most) whose high-pass is measured
_FINE_BLOCKS = 500
#: object strata within this factor of the quietest one are measured as equally quiet
#: (noisier ones hold texture, or noise that rises with the intensity)
_WITHIN = 1.25
#: share of the 16 px spectrum below 2.5 cycles per block above which 32 px blocks are used
_LOW_FREQUENCY = 0.4


@dataclass(frozen=True)
class BlockEstimate:
    """What :func:`block_noise_estimate` measured.

    ``sigma``: the per-pixel noise std of the object; ``spread``: how much more the
    block variances of the strata used spread (25th over 5th percentile) than
    simulated noise's, about 1 when their flattest blocks hold noise only; ``blocks``:
    how many blocks were measured; ``strata``: how many intensity strata gave
    ``sigma``; ``background``: how many were left out as background.
    """

    sigma: float
    spread: float
    blocks: int
    strata: int = 1
    background: int = 0


@dataclass(frozen=True)
class _Stratum:
    sigma: float  # calibrated noise std of the stratum's flattest blocks
    spread: float
    low_frequency: float  # share of the residual spectrum below 2.5 cycles per block
    fine: float  # finest-scale (3x3 high-pass) noise std, median over the blocks
    level: float  # median block mean
    low: float  # block-mean range
    high: float


def _block_size(height: int, width: int) -> int:
    return 16 if min(height, width) >= 128 else 8


@functools.lru_cache(maxsize=4)
def _surface_basis(size: int) -> np.ndarray:
    """Orthonormal basis (size*size, 6) of quadratic surfaces over a block (read-only, cached)."""
    y, x = (a.ravel() for a in np.mgrid[0:size, 0:size].astype(np.float64) / size)
    design = np.stack([np.ones_like(y), y, x, y * y, x * x, x * y], axis=1)
    basis = np.linalg.qr(design)[0]
    basis.flags.writeable = False
    return basis


def _blocks(volume: np.ndarray, varying: list[np.ndarray], size: int) -> np.ndarray:
    """Non-overlapping size x size blocks (centred) as float64 rows, padding and clipping left out.

    A block is kept when every 3x3 neighbourhood in it varies (no padding, no constant
    background) and none of its values is the volume's minimum or maximum (clipped air,
    saturated exposure, padding values that a little noise reaches).
    """
    low, high = volume.min(), volume.max()
    rows = []
    for sl, var in zip(volume, varying, strict=True):
        values = _tiles(sl, size)
        keep = _tiles(var, size).all(axis=1) & ~((values == low) | (values == high)).any(axis=1)
        rows.append(values[keep].astype(np.float64))
    return np.concatenate(rows)


def _tiles(a: np.ndarray, size: int) -> np.ndarray:
    """The non-overlapping size x size tiles of the centred crop of 2D ``a``, as rows."""
    h, w = a.shape
    ny, nx = h // size, w // size
    top, left = (h - ny * size) // 2, (w - nx * size) // 2
    crop = a[top : top + ny * size, left : left + nx * size]
    return crop.reshape(ny, size, nx, size).transpose(0, 2, 1, 3).reshape(-1, size * size)


def _residual(blocks: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """What is left of each block (rows) once its best-fitting quadratic surface is removed."""
    # einsum, not ``@``: a BLAS call leaves OpenBLAS's threads spinning for a while, and on a
    # small machine they then slow the network that runs next by a third (BENCHMARKS.md)
    coefficients = np.einsum("nk,kj->nj", blocks, basis)
    return blocks - np.einsum("nj,kj->nk", coefficients, basis)


def _residual_variance(blocks: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """The variance of :func:`_residual`, per degree of freedom, without forming it."""
    # the basis is orthonormal: |residual|^2 = |block|^2 - |coefficients|^2; the block mean
    # (in the basis) is removed first so that a large offset costs no precision
    centred = blocks - blocks.mean(axis=1, keepdims=True)
    coefficients = np.einsum("nk,kj->nj", centred, basis)
    power = np.einsum("nk,nk->n", centred, centred) - np.einsum(
        "nj,nj->n", coefficients, coefficients
    )
    return np.maximum(power, 0.0) / (blocks.shape[1] - basis.shape[1])


def _fine_std(blocks: np.ndarray, size: int) -> np.ndarray:
    """Per block, the white-noise std that its mean |3x3 high-pass| would mean."""
    x = blocks.reshape(-1, size, size)
    d2 = x[:, :-2] - 2 * x[:, 1:-1] + x[:, 2:]
    hp = d2[:, :, :-2] - 2 * d2[:, :, 1:-1] + d2[:, :, 2:]
    # E|N(0, 1)| = sqrt(2 / pi); the kernel outer([1, -2, 1], [1, -2, 1]) has norm 6
    return np.abs(hp).mean(axis=(1, 2)) / np.sqrt(2 / np.pi) / 6.0


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
    return _residual_variance(blocks.reshape(-1, size * size), basis)


def _calibrated(
    blocks: np.ndarray, variance: np.ndarray, size: int, basis: np.ndarray
) -> tuple[float, float, float]:
    """(noise std, spread, low-frequency share) of one set of blocks.

    The 10th percentile of the block variances over the same statistic of simulated
    noise with the spectrum of the flattest quarter of the blocks: the selection of the
    flattest blocks and the correlation are accounted for whatever the spectrum.
    """
    flattest = _residual(blocks[variance <= np.quantile(variance, _SPECTRUM_FRACTION)], basis)
    power = (np.abs(np.fft.fft2(flattest.reshape(-1, size, size))) ** 2).mean(axis=0)
    simulated = _simulate(power, size, basis)
    real_q = float(np.quantile(variance, _QUANTILE))
    sim_q = float(np.quantile(simulated, _QUANTILE))
    if real_q <= 0 or sim_q <= 0:
        return 0.0, float("inf"), 0.0
    real_spread = float(np.quantile(variance, 0.25)) / max(
        float(np.quantile(variance, 0.05)), 1e-300
    )
    sim_spread = float(np.quantile(simulated, 0.25)) / float(np.quantile(simulated, 0.05))
    f = np.fft.fftfreq(size) * size
    radius = np.hypot(*np.meshgrid(f, f, indexing="ij"))
    low = float(power[radius < 2.5].sum()) / max(float(power.sum()), 1e-300)
    return float(np.sqrt(real_q / sim_q)), real_spread / sim_spread, low


def _strata(blocks: np.ndarray, size: int) -> list[_Stratum]:
    basis = _surface_basis(size)
    variance = _residual_variance(blocks, basis)
    means = blocks.mean(axis=1)
    count = int(np.clip(len(blocks) // _PER_STRATUM, 1, _MAX_STRATA))
    out = []
    for part in np.array_split(np.argsort(means, kind="stable"), count):
        sigma, spread, low = _calibrated(blocks[part], variance[part], size, basis)
        fine = _fine_std(blocks[part[:: max(1, len(part) // _FINE_BLOCKS)]], size)
        m = means[part]
        level = float(np.median(m))
        out.append(_Stratum(sigma, spread, low, float(np.median(fine)), level, m.min(), m.max()))
    return out


def _background(strata: list[_Stratum], accepted: list[int], ends: tuple[float, float]) -> set[int]:
    """Accepted strata at an end of the intensity range that are background, not object.

    From each end, the longest run of accepted strata each of which is quieter than the
    rest at the block scale and at the finest scale (texture makes an object look noisy
    at the block scale only), whose finest-scale part can be measured at all (strongly
    correlated noise has none, and then nothing tells texture from noise), and whose
    intensity lies near that end (air, the Rayleigh floor, direct exposure).
    """
    background: set[int] = set()
    for end, order in ((ends[0], accepted), (ends[1], accepted[::-1])):
        for n in range(len(order), 0, -1):
            run = order[:n]
            rest = [i for i in range(len(strata)) if i not in run and i not in background]
            if not rest:
                continue
            ref = [i for i in rest if i in accepted] or rest
            sigma = float(np.median([strata[i].sigma for i in ref]))
            fine = float(np.median([strata[i].fine for i in ref]))
            distance = abs(float(np.median([strata[i].level for i in rest])) - end)
            if all(
                strata[i].sigma < _QUIETER * sigma
                and strata[i].fine < _QUIETER_FINE * fine
                and strata[i].fine >= _FINE_PART * strata[i].sigma
                and abs(strata[i].level - end) <= _NEAR_END * distance
                for i in run
            ):
                background.update(run)
                break
    return background


def block_noise_estimate(volume: np.ndarray) -> BlockEstimate | None:
    """Estimate the noise std of the object in (D, H, W) ``volume`` from its flattest blocks.

    Blocks sorted into intensity strata, each calibrated on its own; strata whose block
    variances spread as no noise does (texture) and background strata left out; the
    median of the object strata within 1.25x of the quietest one. Returns ``None`` when
    the slices hold too few usable blocks or no object stratum whose flattest blocks
    hold noise only.
    """
    size = _block_size(volume.shape[1], volume.shape[2])
    if min(volume.shape[1:]) < size:
        return None
    varying = [varying_3x3(sl) for sl in volume]
    blocks = _blocks(volume, varying, size)
    if blocks.shape[0] < _MIN_BLOCKS:
        return None
    strata = _strata(blocks, size)
    limit = _MAX_SPREAD if len(strata) > 1 else _MAX_SPREAD_ONE
    accepted = [i for i, s in enumerate(strata) if s.spread <= limit and s.sigma > 0]
    if not accepted:
        return None
    means = blocks.mean(axis=1)
    background = _background(strata, accepted, (float(means.min()), float(means.max())))
    kept = [i for i in accepted if i not in background]
    if not kept:
        return None
    quietest = min(strata[i].sigma for i in kept)
    used = [strata[i] for i in kept if strata[i].sigma <= _WITHIN * quietest]
    sigma = float(np.median([s.sigma for s in used]))
    spread = float(np.median([s.spread for s in used]))
    if size == 16 and np.median([s.low_frequency for s in used]) > _LOW_FREQUENCY:
        # most of the noise power sits below what a 16 px block resolves (strongly
        # correlated noise): its calibration would miss it, 32 px blocks see it
        low, high = min(s.low for s in used), max(s.high for s in used)
        big = _blocks(volume, varying, 32)  # slices of 128 px or more hold 4x4 of them
        big_means = big.mean(axis=1)
        big = big[(big_means >= low) & (big_means <= high)]
        if big.shape[0] >= _MIN_BLOCKS:
            basis = _surface_basis(32)
            big_sigma, big_spread, _ = _calibrated(big, _residual_variance(big, basis), 32, basis)
            if big_spread <= _MAX_SPREAD and big_sigma > 0:
                sigma, spread = big_sigma, big_spread
    return BlockEstimate(sigma, spread, int(blocks.shape[0]), len(used), len(background))
