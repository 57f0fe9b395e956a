"""The pipeline as an ONNX graph, its contract written into the model's metadata properties.

ONNX inputs are tensors, so the TorchScript module's optional arguments become two small
inputs with sentinel values, and the branches (given or estimated noise level, given or
computed intensity range) become ONNX ``If`` nodes: the graph is exported from the scripted
module by the TorchScript-based exporter, which keeps the control flow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from medidenoise._optional import require
from medidenoise._version import __version__
from medidenoise.export._jit import quiet_jit
from medidenoise.export.pipeline import DenoisePipeline, estimate_noise_torch

__all__ = ["ONNX_OPSET", "ONNX_USAGE", "import_onnx", "onnx_metadata", "write_onnx"]

#: the ONNX opset written (ONNX Runtime >= 1.14 runs it)
ONNX_OPSET = 18
#: the contract, stored in the metadata property ``usage``
ONNX_USAGE = """\
inputs:
  image: float32 (B, H, W), consecutive slices of one volume in the image's own units (HU for
    CT); any B, H, W (padding to the network's size multiple happens inside)
  noise_level: float32 (1,), noise standard deviation in image units; negative: estimated
    from the batch (median absolute deviation of a 3x3 high-pass, median over slices);
    absent when the network takes no noise level ("noise_level_input": false in the
    'medidenoise' metadata property)
  intensity_range: float32 (2,), [low, high] image values mapped to 0 and 1 for the network;
    high <= low (e.g. [0, 0]): the 0.5/99.5 percentiles of a Gaussian-smoothed copy of the
    batch (sigma 3 px); pass [-1000, 1000] for CT, as medidenoise does
output:
  denoised: float32 (B, H, W) in the image's units
What the caller does: pass a whole volume (or slices that share one intensity_range and
noise_level) so that the normalisation matches `medidenoise denoise`; read DICOM/NIfTI and
apply RescaleSlope/Intercept first; no tiling is done inside: slices of at most 2048 x 2048
pixels (4194304, the 'max_slice_pixels' of the 'medidenoise' property); cut larger ones into
overlapping tiles (`medidenoise denoise --model THIS.onnx` does). A graph cannot refuse an
input, so where `medidenoise denoise` refuses one: NaN or infinite pixels are given back
unchanged (the others denoised as if they held the mean), slices under 3x3 with a negative
noise_level run with no noise level; pass real-valued images only."""


def import_onnx() -> Any:
    """The ``onnx`` package, or a :class:`MissingPackageError` naming what to install."""
    return require(
        "onnx",
        "ONNX export needs the onnx package: pip install 'medidenoise[onnx]' "
        "(onnx, and onnxruntime to run the result)",
    )


class _OnnxEntry(nn.Module):
    """Tensor-only entry point: sentinels instead of optional arguments."""

    def __init__(self, pipeline: DenoisePipeline) -> None:
        super().__init__()
        self.pipeline = pipeline

    def forward(
        self, image: torch.Tensor, noise_level: torch.Tensor, intensity_range: torch.Tensor
    ) -> torch.Tensor:
        raw = image.to(torch.float32)
        # no raise in an ONNX graph: NaN/inf pixels are filled with the mean of the others
        # for the network and given back unchanged, so they cannot spread
        finite = torch.isfinite(raw)
        count = torch.clamp(finite.sum(), min=1).to(torch.float32)
        fill = torch.where(finite, raw, torch.zeros_like(raw)).sum() / count
        volume = torch.where(finite, raw, fill)
        if bool(intensity_range[1] > intensity_range[0]):
            low = intensity_range[0]
            high = intensity_range[1]
        else:
            lo, hi = self.pipeline.normalization(volume)
            low = torch.tensor(lo)
            high = torch.tensor(hi)
        # a constant image: unit scale, as the TorchScript module and medidenoise choose
        scale = torch.where(high > low, high - low, torch.ones_like(high))
        if bool(noise_level[0] >= 0):
            sigma = noise_level[0]
        else:
            sigma = estimate_noise_torch(volume, self.pipeline.noise_max_slices)
        out = self.pipeline.denoise_normalized((volume - low) / scale, float(sigma / scale))
        return torch.where(finite, out * scale + low, raw)


def onnx_metadata(pipeline: DenoisePipeline) -> dict[str, str]:
    """The metadata properties of the exported model (string to string)."""
    info = {
        "exported_by": f"medidenoise {__version__}",
        "format": "medidenoise-onnx-v1",
        "context_slices": pipeline.context_slices,
        "noise_level_input": pipeline.noise_level_input,
        "size_multiple": pipeline.size_multiple,
        "max_slice_pixels": pipeline.max_slice_pixels,
        "checkpoint": getattr(pipeline, "metadata", {}),
    }
    return {
        "medidenoise": json.dumps(info, sort_keys=True, default=str),
        "usage": ONNX_USAGE,
    }


def write_onnx(pipeline: DenoisePipeline, path: Path) -> Path:
    """Export ``pipeline`` to ``path`` (dynamic batch, height and width) with its metadata."""
    onnx = import_onnx()
    entry = _OnnxEntry(pipeline).eval()
    with quiet_jit():
        scripted = torch.jit.script(entry)
        example = (torch.rand(2, 40, 48), torch.tensor([-1.0]), torch.tensor([0.0, 0.0]))
        torch.onnx.export(
            scripted,
            example,
            str(path),
            dynamo=False,
            input_names=["image", "noise_level", "intensity_range"],
            output_names=["denoised"],
            dynamic_axes={
                "image": {0: "slices", 1: "height", 2: "width"},
                "denoised": {0: "slices", 1: "height", 2: "width"},
            },
            opset_version=ONNX_OPSET,
        )
    proto = onnx.load(str(path))
    for key, value in onnx_metadata(pipeline).items():
        entry_prop = proto.metadata_props.add()
        entry_prop.key, entry_prop.value = key, value
    proto.doc_string = "medidenoise denoising pipeline; see the metadata property 'usage'"
    proto.producer_name = "medidenoise"
    proto.producer_version = __version__
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return path
