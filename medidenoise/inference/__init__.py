"""Inference: denoise images and volumes (batch conversion is :mod:`medidenoise.convert`)."""

from medidenoise.inference.adapt import adapt
from medidenoise.inference.denoiser import CLASSICAL, Denoiser, denoise
from medidenoise.inference.monai_transforms import Denoise, DenoiseD, Denoised, DenoiseDict

__all__ = [
    "CLASSICAL",
    "Denoise",
    "DenoiseD",
    "DenoiseDict",
    "Denoised",
    "Denoiser",
    "adapt",
    "denoise",
]
