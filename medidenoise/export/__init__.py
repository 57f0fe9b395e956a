"""Export a model with its pre- and post-processing: TorchScript, ONNX, MONAI bundle."""

from medidenoise.export.api import EXPORT_FORMATS, build_pipeline, export_model
from medidenoise.export.pipeline import DenoisePipeline

__all__ = ["EXPORT_FORMATS", "DenoisePipeline", "build_pipeline", "export_model"]
