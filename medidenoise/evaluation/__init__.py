"""Evaluation: PSNR/SSIM metrics, classical baselines, evaluation reports, and the fidelity
measures of real scans (flat regions, their noise, patterns, NPS, windowed PSNR/SSIM).

The public ``medidenoise.evaluate(model, ...)`` (:mod:`.evaluate_model`) runs the
model through ``medidenoise.Denoiser``; :func:`evaluate_denoisers` takes the
denoisers as callables. The classical baselines live in
:mod:`medidenoise.models.classical` (``denoise(model="nlm")`` runs them too).
"""

from medidenoise._exports import public_names as _public_names
from medidenoise.evaluation.fidelity import (
    FlatNoise,
    flat_region_mask,
    flat_region_noise,
    flat_region_std,
)
from medidenoise.evaluation.fidelity_nps import (
    NoisePowerSpectrum,
    noise_power_spectrum,
    nps_mean_frequency_shift,
)
from medidenoise.evaluation.fidelity_patterns import PatternMetrics, pattern_metrics
from medidenoise.evaluation.fidelity_tissue import tissue_noise_std
from medidenoise.evaluation.fidelity_windows import (
    apply_window,
    clinical_windows,
    windowed_psnr,
    windowed_ssim,
)
from medidenoise.evaluation.inputs import (
    DEFAULT_NOISES,
    HOLDOUT_NAMES,
    EvalImage,
    NoiseSpec,
    holdout_paths,
    load_images,
    parse_noises,
)
from medidenoise.evaluation.metrics import psnr, ssim
from medidenoise.evaluation.ood import ood_warnings
from medidenoise.evaluation.quality_figure import save_quality_figure
from medidenoise.evaluation.quality_report import QualityReport, quality_report
from medidenoise.evaluation.report import EvaluationResult
from medidenoise.evaluation.roi import RoiContrast, roi_contrast
from medidenoise.evaluation.runner import DenoiseFn, evaluate_denoisers
from medidenoise.models.classical import (
    CLASSICAL_METHODS,
    bm3d_available,
    denoise_bm3d,
    denoise_nlm,
    denoise_tv,
    denoise_wavelet,
)

__all__ = _public_names(globals())  # the names imported above
