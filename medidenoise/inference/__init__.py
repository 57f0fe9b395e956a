"""Inference: denoise images and volumes, convert DICOM folders."""

from medidenoise.inference.adapt import adapt
from medidenoise.inference.convert import convert_dicom_folder
from medidenoise.inference.convert_report import ConversionReport
from medidenoise.inference.denoiser import CLASSICAL, Denoiser, denoise

__all__ = [
    "CLASSICAL",
    "ConversionReport",
    "Denoiser",
    "adapt",
    "convert_dicom_folder",
    "denoise",
]
