"""Noise models, noise-adding MONAI transforms, intensity normalisation, noise estimation.

Functional core (numpy in, numpy out) -> MONAI array transforms -> dictionary
transforms, following MONAI's naming and ``randomize()`` contract. The MONAI
transforms are imported on first use (the ``_LAZY`` table), so the numpy functions load
without torch and MONAI. ``__all__`` derives from the imports and the table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medidenoise._exports import lazy_attributes as _lazy_attributes
from medidenoise._exports import public_names as _public_names
from medidenoise.transforms.estimate import NoiseMeasure, estimate_noise, measure_noise
from medidenoise.transforms.intensity import (
    CT_WINDOW,
    NORMALIZATION_METHODS,
    NormalizationParams,
    normalization_params,
    normalize_intensity,
)
from medidenoise.transforms.noise import (
    DEFAULT_LEVELS,
    NOISE_KINDS,
    NoiseKind,
    add_correlated_noise,
    add_gaussian_noise,
    add_noise,
    add_poisson_gaussian_noise,
    add_poisson_noise,
    add_rician_noise,
    add_salt_and_pepper_noise,
    add_speckle_noise,
)
from medidenoise.transforms.rician import (
    detect_rician,
    rician_mean,
    rician_sigma,
    rician_unbias,
    rician_unbias_denoised,
)

# MONAI-based names -> module, imported on first access
_LAZY: dict[str, str] = {
    "NormalizeIntensityRange": "medidenoise.transforms.intensity_transforms",
    "NormalizeIntensityRangeD": "medidenoise.transforms.intensity_transforms",
    "NormalizeIntensityRangeDict": "medidenoise.transforms.intensity_transforms",
    "NormalizeIntensityRanged": "medidenoise.transforms.intensity_transforms",
    "RandAddCorrelatedNoise": "medidenoise.transforms.noise_array",
    "RandAddPoissonGaussianNoise": "medidenoise.transforms.noise_array",
    "RandAddCorrelatedNoiseD": "medidenoise.transforms.noise_dict",
    "RandAddCorrelatedNoised": "medidenoise.transforms.noise_dict",
    "RandAddCorrelatedNoiseDict": "medidenoise.transforms.noise_dict",
    "RandAddPoissonGaussianNoiseD": "medidenoise.transforms.noise_dict",
    "RandAddPoissonGaussianNoised": "medidenoise.transforms.noise_dict",
    "RandAddPoissonGaussianNoiseDict": "medidenoise.transforms.noise_dict",
    "RandAddGaussianNoise": "medidenoise.transforms.noise_array",
    "RandAddNoise": "medidenoise.transforms.noise_array",
    "RandAddPoissonNoise": "medidenoise.transforms.noise_array",
    "RandAddRicianNoise": "medidenoise.transforms.noise_array",
    "RandAddSaltAndPepperNoise": "medidenoise.transforms.noise_array",
    "RandAddSpeckleNoise": "medidenoise.transforms.noise_array",
    "RandAddGaussianNoiseD": "medidenoise.transforms.noise_dict",
    "RandAddGaussianNoised": "medidenoise.transforms.noise_dict",
    "RandAddGaussianNoiseDict": "medidenoise.transforms.noise_dict",
    "RandAddNoiseD": "medidenoise.transforms.noise_dict",
    "RandAddNoised": "medidenoise.transforms.noise_dict",
    "RandAddNoiseDict": "medidenoise.transforms.noise_dict",
    "RandAddPoissonNoiseD": "medidenoise.transforms.noise_dict",
    "RandAddPoissonNoised": "medidenoise.transforms.noise_dict",
    "RandAddPoissonNoiseDict": "medidenoise.transforms.noise_dict",
    "RandAddRicianNoiseD": "medidenoise.transforms.noise_dict",
    "RandAddRicianNoised": "medidenoise.transforms.noise_dict",
    "RandAddRicianNoiseDict": "medidenoise.transforms.noise_dict",
    "RandAddSaltAndPepperNoiseD": "medidenoise.transforms.noise_dict",
    "RandAddSaltAndPepperNoised": "medidenoise.transforms.noise_dict",
    "RandAddSaltAndPepperNoiseDict": "medidenoise.transforms.noise_dict",
    "RandAddSpeckleNoiseD": "medidenoise.transforms.noise_dict",
    "RandAddSpeckleNoised": "medidenoise.transforms.noise_dict",
    "RandAddSpeckleNoiseDict": "medidenoise.transforms.noise_dict",
    "RandNoisyPairD": "medidenoise.transforms.paired",
    "RandNoisyPaird": "medidenoise.transforms.paired",
    "RandNoisyPairDict": "medidenoise.transforms.paired",
}

__all__ = sorted([*_public_names(globals()), *_LAZY])
__getattr__, __dir__ = _lazy_attributes("medidenoise.transforms", _LAZY, globals())

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from medidenoise.transforms.intensity_transforms import (
        NormalizeIntensityRange,
        NormalizeIntensityRangeD,
        NormalizeIntensityRanged,
        NormalizeIntensityRangeDict,
    )
    from medidenoise.transforms.noise_array import (
        RandAddCorrelatedNoise,
        RandAddGaussianNoise,
        RandAddNoise,
        RandAddPoissonGaussianNoise,
        RandAddPoissonNoise,
        RandAddRicianNoise,
        RandAddSaltAndPepperNoise,
        RandAddSpeckleNoise,
    )
    from medidenoise.transforms.noise_dict import (
        RandAddCorrelatedNoiseD,
        RandAddCorrelatedNoised,
        RandAddCorrelatedNoiseDict,
        RandAddGaussianNoiseD,
        RandAddGaussianNoised,
        RandAddGaussianNoiseDict,
        RandAddNoiseD,
        RandAddNoised,
        RandAddNoiseDict,
        RandAddPoissonGaussianNoiseD,
        RandAddPoissonGaussianNoised,
        RandAddPoissonGaussianNoiseDict,
        RandAddPoissonNoiseD,
        RandAddPoissonNoised,
        RandAddPoissonNoiseDict,
        RandAddRicianNoiseD,
        RandAddRicianNoised,
        RandAddRicianNoiseDict,
        RandAddSaltAndPepperNoiseD,
        RandAddSaltAndPepperNoised,
        RandAddSaltAndPepperNoiseDict,
        RandAddSpeckleNoiseD,
        RandAddSpeckleNoised,
        RandAddSpeckleNoiseDict,
    )
    from medidenoise.transforms.paired import RandNoisyPairD, RandNoisyPaird, RandNoisyPairDict
