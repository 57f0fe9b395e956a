"""Noise models, noise-adding MONAI transforms, intensity normalisation, noise estimation.

Functional core (numpy in, numpy out) -> MONAI array transforms -> dictionary
transforms, following MONAI's naming and ``randomize()`` contract.
"""

from __future__ import annotations

from medidenoise.transforms.estimate import estimate_noise
from medidenoise.transforms.intensity import (
    CT_WINDOW,
    NORMALIZATION_METHODS,
    NormalizationParams,
    normalize_intensity,
)
from medidenoise.transforms.noise import (
    NOISE_KINDS,
    NoiseKind,
    add_gaussian_noise,
    add_noise,
    add_poisson_noise,
    add_rician_noise,
    add_salt_and_pepper_noise,
    add_speckle_noise,
)
from medidenoise.transforms.noise_array import (
    DEFAULT_LEVELS,
    RandAddGaussianNoise,
    RandAddNoise,
    RandAddPoissonNoise,
    RandAddRicianNoise,
    RandAddSaltAndPepperNoise,
    RandAddSpeckleNoise,
)
from medidenoise.transforms.noise_dict import (
    RandAddGaussianNoiseD,
    RandAddGaussianNoised,
    RandAddGaussianNoiseDict,
    RandAddNoiseD,
    RandAddNoised,
    RandAddNoiseDict,
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

__all__ = [
    "CT_WINDOW",
    "DEFAULT_LEVELS",
    "NOISE_KINDS",
    "NORMALIZATION_METHODS",
    "NoiseKind",
    "NormalizationParams",
    "RandAddGaussianNoise",
    "RandAddGaussianNoiseD",
    "RandAddGaussianNoiseDict",
    "RandAddGaussianNoised",
    "RandAddNoise",
    "RandAddNoiseD",
    "RandAddNoiseDict",
    "RandAddNoised",
    "RandAddPoissonNoise",
    "RandAddPoissonNoiseD",
    "RandAddPoissonNoiseDict",
    "RandAddPoissonNoised",
    "RandAddRicianNoise",
    "RandAddRicianNoiseD",
    "RandAddRicianNoiseDict",
    "RandAddRicianNoised",
    "RandAddSaltAndPepperNoise",
    "RandAddSaltAndPepperNoiseD",
    "RandAddSaltAndPepperNoiseDict",
    "RandAddSaltAndPepperNoised",
    "RandAddSpeckleNoise",
    "RandAddSpeckleNoiseD",
    "RandAddSpeckleNoiseDict",
    "RandAddSpeckleNoised",
    "RandNoisyPairD",
    "RandNoisyPairDict",
    "RandNoisyPaird",
    "add_gaussian_noise",
    "add_noise",
    "add_poisson_noise",
    "add_rician_noise",
    "add_salt_and_pepper_noise",
    "add_speckle_noise",
    "estimate_noise",
    "normalize_intensity",
]
