"""Inference: denoise images and volumes, convert DICOM folders."""

from medidenoise.inference.denoiser import CLASSICAL, Denoiser, denoise

__all__ = ["CLASSICAL", "Denoiser", "denoise"]
