"""Inference: denoise images and volumes (batch conversion is :mod:`medidenoise.convert`)."""

from medidenoise._exports import public_names as _public_names
from medidenoise.inference.denoiser import Denoiser, denoise
from medidenoise.inference.monai_transforms import Denoise, DenoiseD, Denoised, DenoiseDict
from medidenoise.inference.options import DenoiseOptions
from medidenoise.inference.progress import DenoiseProgress, DenoiseResult
from medidenoise.inference.provenance import Provenance

__all__ = _public_names(globals())  # the names imported above
