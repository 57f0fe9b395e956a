"""Inference: denoise images and volumes, convert DICOM folders."""

from medidenoise.inference.adapt import adapt
from medidenoise.inference.convert import convert_dicom_folder, derivation_description
from medidenoise.inference.convert_report import ConversionReport
from medidenoise.inference.denoiser import CLASSICAL, Denoiser, denoise
from medidenoise.inference.monai_transforms import Denoise, DenoiseD, Denoised, DenoiseDict
from medidenoise.inference.progress import DenoiseProgress, DenoiseResult

__all__ = [
    "CLASSICAL",
    "ConversionReport",
    "Denoise",
    "DenoiseD",
    "DenoiseDict",
    "DenoiseProgress",
    "DenoiseResult",
    "Denoised",
    "Denoiser",
    "adapt",
    "convert_dicom_folder",
    "denoise",
    "derivation_description",
]
