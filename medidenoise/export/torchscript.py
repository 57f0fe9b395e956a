"""The pipeline as a TorchScript file that plain ``torch.jit.load`` runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from medidenoise._version import __version__
from medidenoise.export._jit import quiet_jit, script_pipeline
from medidenoise.export.pipeline import DenoisePipeline

__all__ = ["TORCHSCRIPT_USAGE", "torchscript_metadata", "write_torchscript"]

#: how to call the exported module, stored beside it and in the bundle's README
TORCHSCRIPT_USAGE = """\
net = torch.jit.load("model.ts")
denoised = net(image, noise_level=None, modality="", intensity_range=None)

image: (B, H, W), (B, 1, H, W) or (H, W) tensor of any real dtype, in the image's own units
  (HU for CT). The B slices are consecutive slices of one volume (2.5D models use the
  neighbours) and the normalisation and noise level are computed over the whole batch: pass a
  volume in one call to get what `medidenoise denoise` gives.
noise_level: noise standard deviation in image units; None (or negative): estimated.
modality: "CT" maps the fixed window [-1000, 1000] HU to [0, 1]; anything else uses the
  0.5/99.5 percentiles of a Gaussian-smoothed copy of the batch.
intensity_range: [low, high] image values mapped to 0 and 1; wins over modality.
Returns float32 of the input's shape, in the input's units. Any height and width: padding to
the network's size multiple and cropping back happen inside, up to 2048 x 2048 pixels per
slice (no tiling inside: cut larger slices into overlapping tiles, or use medidenoise). Refused
as `medidenoise.denoise` refuses them: complex images, NaN or infinite pixels, slices under
3x3 when the noise level is to be estimated. Tested on the CPU; the code follows the image's
device, so net.to("cuda") with the image on the GPU should run there too."""


def torchscript_metadata(pipeline: DenoisePipeline) -> dict[str, Any]:
    """What is stored in the ``.ts`` file beside the code (``medidenoise.json``)."""
    return {
        "exported_by": f"medidenoise {__version__}",
        "format": "medidenoise-torchscript-v1",
        "context_slices": pipeline.context_slices,
        "noise_level_input": pipeline.noise_level_input,
        "size_multiple": pipeline.size_multiple,
        "max_slice_pixels": pipeline.max_slice_pixels,
        "usage": TORCHSCRIPT_USAGE,
        "checkpoint": getattr(pipeline, "metadata", {}),
    }


def write_torchscript(pipeline: DenoisePipeline, path: Path) -> Path:
    """Script ``pipeline`` and save it with its metadata as the extra file ``medidenoise.json``.

    ``torch.jit.load(path, _extra_files={"medidenoise.json": ""})`` reads the metadata back.
    """
    scripted = script_pipeline(pipeline)
    meta = json.dumps(torchscript_metadata(pipeline), sort_keys=True, default=str)
    with quiet_jit():
        torch.jit.save(scripted, str(path), _extra_files={"medidenoise.json": meta})
    return path
