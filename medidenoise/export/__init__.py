"""Export a model with its pre- and post-processing: TorchScript, ONNX, MONAI bundle."""

from medidenoise._exports import public_names as _public_names
from medidenoise.export.api import EXPORT_FORMATS, build_pipeline, export_model
from medidenoise.export.pipeline import DenoisePipeline

__all__ = _public_names(globals())  # the names imported above
