"""A quality report per denoised series: did denoising help, and did it do harm?

Measured without a clean reference, in the input's flat regions (the fidelity measures of
:mod:`medidenoise.evaluation.fidelity`): the noise std before and after and their ratio,
the mean shift there, the radial noise power spectrum of input and output and the shift of
its mean frequency (the "plastic" look of over-smoothed CT), the structure of the removed
noise (its correlation with the input's edges: anatomy removed), the 2-pixel patterns a
network can add; and the out-of-distribution warnings of :func:`~.ood.ood_warnings`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medidenoise.errors import InvalidImageError
from medidenoise.evaluation.fidelity import flat_region_mask
from medidenoise.evaluation.fidelity_nps import NoisePowerSpectrum, noise_power_spectrum
from medidenoise.evaluation.fidelity_patterns import pattern_metrics
from medidenoise.evaluation.ood import ood_warnings
from medidenoise.inference.provenance import Provenance
from medidenoise.io import Volume

__all__ = ["QualityReport", "quality_report"]

#: patch side of the NPS and the pattern spectra: small enough for 64-pixel images
NPS_PATCH = 32


def _nps_dict(nps: NoisePowerSpectrum | None) -> dict[str, Any] | None:
    if nps is None:
        return None
    return {
        "frequencies": [round(float(f), 5) for f in nps.frequencies],
        "power": [float(p) for p in nps.power],
        "mean_frequency": float(nps.mean_frequency),
        "patches": int(nps.patches),
    }


def _clean(value: float) -> float | None:
    return None if not math.isfinite(value) else round(float(value), 6)


@dataclass(frozen=True)
class QualityReport:
    """What :func:`quality_report` measured (image units unless named otherwise).

    Attributes
    ----------
    flat_std_before, flat_std_after : float
        Noise std of the input and the output in the input's flat regions.
    std_ratio : float
        ``flat_std_after / flat_std_before`` (below 1: noise removed).
    mean_shift : float
        Mean of output - input there (a CT-number shift for CT).
    nps_before, nps_after : NoisePowerSpectrum or None
        Radial NPS of input and output from the same flat patches (``None`` where no
        32 x 32 patch is flat).
    mean_frequency_shift : float
        ``nps_after.mean_frequency - nps_before.mean_frequency`` (cycles/pixel; negative:
        the noise left is coarser, the over-smooth look).
    structure : float
        Correlation of the removed noise's magnitude with the input's edges (about 0: only
        noise removed; clearly above 0: edges or anatomy removed).
    pattern_amplitude : float
        The largest 2-pixel pattern (rows, columns, checkerboard) the denoiser added, in
        units of the input's flat std.
    flat_pixels : int
        Pixels measured.
    slices : list of int
        The slices measured (at most ``max_slices``, evenly spaced).
    units : str
        ``"HU"`` for CT, else ``"image units"``.
    warnings : list of str
        Out-of-distribution warnings (:func:`~medidenoise.evaluation.ood.ood_warnings`).
    """

    flat_std_before: float
    flat_std_after: float
    std_ratio: float
    mean_shift: float
    nps_before: NoisePowerSpectrum | None
    nps_after: NoisePowerSpectrum | None
    mean_frequency_shift: float
    structure: float
    pattern_amplitude: float
    flat_pixels: int
    slices: list[int] = field(default_factory=list)
    units: str = "image units"
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON (NaN becomes ``None``)."""
        return {
            "flat_std_before": _clean(self.flat_std_before),
            "flat_std_after": _clean(self.flat_std_after),
            "std_ratio": _clean(self.std_ratio),
            "mean_shift": _clean(self.mean_shift),
            "mean_frequency_shift": _clean(self.mean_frequency_shift),
            "structure": _clean(self.structure),
            "pattern_amplitude": _clean(self.pattern_amplitude),
            "flat_pixels": self.flat_pixels,
            "slices": list(self.slices),
            "units": self.units,
            "nps_before": _nps_dict(self.nps_before),
            "nps_after": _nps_dict(self.nps_after),
            "warnings": list(self.warnings),
        }

    def lines(self) -> list[str]:
        """The figures as short readable lines (the report's text and the CLI print them)."""
        u = self.units
        out = [
            f"flat-region noise {self.flat_std_before:.3g} -> {self.flat_std_after:.3g} {u} "
            f"(ratio {self.std_ratio:.2f}); mean shift {self.mean_shift:+.3g} {u}",
        ]
        if self.nps_before is not None and self.nps_after is not None:
            out.append(
                f"NPS mean frequency {self.nps_before.mean_frequency:.3f} -> "
                f"{self.nps_after.mean_frequency:.3f} cycles/pixel "
                f"(shift {self.mean_frequency_shift:+.3f})"
            )
        out.append(
            f"removed-noise structure {self.structure:+.2f} (0: noise only); 2-pixel pattern "
            f"{self.pattern_amplitude:.3f} x the input's noise"
        )
        return out


def _pick(n: int, count: int) -> list[int]:
    if n <= count:
        return list(range(n))
    return sorted({int(k) for k in np.rint(np.linspace(0, n - 1, count))})


def quality_report(
    original: Volume | np.ndarray,
    denoised: Volume | np.ndarray,
    *,
    provenance: Provenance | dict[str, Any] | None = None,
    modality: str | None = None,
    max_slices: int = 8,
) -> QualityReport:
    """Measure what a denoising run did to a series, without a clean reference.

    Parameters
    ----------
    original : Volume or numpy.ndarray
        The input, 2D or (D, H, W), in its own units; a Volume brings its modality,
        padding, photometric interpretation and header (for the warnings).
    denoised : Volume or numpy.ndarray
        The output, same shape and units.
    provenance : Provenance or dict, optional
        The run's record (``DenoiseResult.provenance``), for the noise-level warning.
    modality : str, optional
        Default: the Volume's (``"CT"`` reports in HU).
    max_slices : int
        At most this many slices are measured, evenly spaced (a long series costs the same
        as a short one).

    Returns
    -------
    QualityReport
        NaN figures where the input has no flat region to measure in.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noisy = 100 + rng.normal(0, 4.0, (96, 96))
    >>> q = quality_report(noisy, np.full((96, 96), 100.0))
    >>> round(q.flat_std_before), round(q.flat_std_after, 3), q.warnings
    (4, 0.0, [])
    """
    if max_slices < 1:
        raise ValueError(f"max_slices must be at least 1, got {max_slices}")
    vol = original if isinstance(original, Volume) else None
    before = np.asarray(vol.array if vol is not None else original, dtype=np.float32)
    after = np.asarray(denoised.array if isinstance(denoised, Volume) else denoised, np.float32)
    if before.shape != after.shape:
        raise ValueError(
            f"original {before.shape} and denoised {after.shape} differ in shape; pass the "
            "input and the output of one run"
        )
    kind = modality if modality is not None else (vol.modality if vol is not None else "")
    before3, after3 = (before[None], after[None]) if before.ndim == 2 else (before, after)
    picked = _pick(before3.shape[0], max_slices)
    b, a = before3[picked], after3[picked]
    padding = None
    if vol is not None and vol.padding is not None:
        padding = vol.padding.reshape(before3.shape)[picked]
    photometric: Any = vol.photometric if vol is not None else "MONOCHROME2"
    nan = float("nan")
    flat = flat_region_mask(b, padding=padding, photometric=photometric)
    nps_in = nps_out = None
    try:
        m = pattern_metrics(a, b, mask=flat, patch=NPS_PATCH)
    except InvalidImageError:  # no flat region: nothing to measure in
        stats = (nan, nan, nan, nan, nan, 0)
    else:
        pattern = max(
            abs(m.row_alternation_std), abs(m.column_alternation_std), abs(m.checkerboard_std)
        )
        stats = (m.flat_std_before, m.flat_std_after, m.mean_shift, m.structure, pattern,
                 m.flat_pixels)  # fmt: skip
        try:
            nps_in = noise_power_spectrum(b, flat, patch=NPS_PATCH)
            nps_out = noise_power_spectrum(a, flat, patch=NPS_PATCH)
        except InvalidImageError:  # flat pixels, but no flat patch
            pass
    std_before, std_after, shift, structure, pattern, pixels = stats
    ratio = std_after / std_before if std_before > 0 else nan
    f_shift = nps_out.mean_frequency - nps_in.mean_frequency if nps_in and nps_out else nan
    warnings = ood_warnings(
        original, provenance=provenance, nps=nps_in, modality=kind
    )  # fmt: skip
    return QualityReport(
        flat_std_before=float(std_before),
        flat_std_after=float(std_after),
        std_ratio=float(ratio),
        mean_shift=float(shift),
        nps_before=nps_in,
        nps_after=nps_out,
        mean_frequency_shift=float(f_shift),
        structure=float(structure),
        pattern_amplitude=float(pattern),
        flat_pixels=int(pixels),
        slices=picked,
        units="HU" if kind.upper() == "CT" else "image units",
        warnings=warnings,
    )
