"""The pipeline as a MONAI bundle: metadata, an inference config, weights, TorchScript, docs.

The bundle runs with MONAI alone (``python -m monai.bundle run``): its ``inference.json`` loads
a NIfTI file, hands the volume's slices (along the file's third axis, ordered as medidenoise
orders them) to ``models/model.ts`` in one call and saves the result with the input's affine.
That config uses MONAI's ``$`` expressions because that is the bundle format; medidenoise's
own configs stay plain data. ``models/model.pt`` is the network's state dict (tensors only:
``torch.load(..., weights_only=True)`` reads it without unpickling code).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medidenoise._version import __version__
from medidenoise.export.pipeline import DenoisePipeline
from medidenoise.export.torchscript import TORCHSCRIPT_USAGE, write_torchscript

__all__ = ["MONAI_SCHEMA_URL", "SCHEMA_PATH", "bundle_metadata", "write_monai_bundle"]

#: the schema MONAI's model zoo names in ``metadata.json``
MONAI_SCHEMA_URL = (
    "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/"
    "0.8.1/meta_schema_20240725.json"
)
#: the schema shipped with medidenoise and copied into each bundle (offline verification)
SCHEMA_PATH = Path(__file__).with_name("bundle_schema.json")
_SCHEMA_IN_BUNDLE = "docs/metadata_schema.json"

_LICENSE = """\
MIT License

Copyright (c) medidenoise developers

Permission is hereby granted, free of charge, to any person obtaining a copy of this model,
its weights and the accompanying files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""

# MONAI's config syntax: "$..." is a Python expression, "@key" another entry of the config.
# The NIfTI array is (i, j, k); medidenoise's volume is (k, j, i), with k reversed when the
# (k, j, i) axes form a right-handed frame (det of the i, j, k columns < 0), as
# medidenoise.io.nifti orders slices. A 2D file is one slice. The result goes back the same way,
# saved without a channel axis and unsqueezed, so it has the input's shape ((X, Y, 1) stays so);
# a 4D file is refused with a message (one volume at a time).
_INFERENCE: dict[str, Any] = {
    "imports": ["$import os", "$import numpy", "$import torch", "$import monai", "$import nibabel"],
    "bundle_root": ".",
    "input": "",
    "output_dir": "$@bundle_root + '/eval'",
    "output_postfix": "denoised",
    "noise_level": None,
    "modality": "",
    "network": "$torch.jit.load(@bundle_root + '/models/model.ts', map_location='cpu').eval()",
    "loader": {
        "_target_": "LoadImage",
        "reader": "NibabelReader",
        "image_only": True,
        "ensure_channel_first": True,
        "dtype": "$numpy.float32",
    },
    "image": "$@loader(@input)",
    "one_volume": (
        "$torch._assert(@image.shape[0] == 1, str(@input) + ': a 4D NIfTI of ' + "
        "str(@image.shape[0]) + ' volumes; this bundle denoises one 3D (or 2D) volume: save "
        "the volume to denoise on its own first (nibabel: img.slicer[..., k]), or run "
        "medidenoise denoise --volume-index K')"
    ),
    "reverse_slices": "$bool(numpy.linalg.det(numpy.asarray(@image.affine)[:3, :3]) < 0)",
    "slices": (
        "$@image.as_tensor()[0].reshape(@image.shape[1], @image.shape[2], -1).permute(2, 1, 0)"
    ),
    "ordered": "$@slices.flip(0) if @reverse_slices else @slices",
    "denoised": (
        "$@network(@ordered, None if @noise_level is None else float(@noise_level), str(@modality))"
    ),
    "restored": (
        "$(@denoised.flip(0) if @reverse_slices else @denoised).permute(2, 1, 0)"
        ".reshape(@image.shape)"
    ),
    # saved by nibabel with the source's own header: the same shape (a trailing axis of 1
    # kept, which MONAI's SaveImage squeezes away), affine and codes; float32, unscaled
    "source": "$nibabel.load(@input)",
    "result": (
        "$nibabel.Nifti1Image(@restored[0].numpy().astype(numpy.float32), @source.affine, "
        "@source.header)"
    ),
    "output_path": (
        "$os.path.join(@output_dir, os.path.basename(@input).split('.nii')[0] + '_' + "
        "@output_postfix + '.nii.gz')"
    ),
    "run": [
        "$torch.set_grad_enabled(False)",
        "@one_volume",
        "$@result.header.set_data_dtype(numpy.float32)",
        "$@result.header.set_slope_inter(1.0, 0.0)",
        "$os.makedirs(@output_dir, exist_ok=True)",
        "$nibabel.save(@result, @output_path)",
        "$print('saved ' + @output_path)",
    ],
}


def _readme(meta: dict[str, Any], pipeline: DenoisePipeline, name: str) -> str:
    desc = meta.get("description", "a medidenoise denoising model")
    return f"""# {name}: medidenoise denoising model as a MONAI bundle

{desc}

Exported by medidenoise {__version__}. Research use; not a medical device.

## Run it

```
python -m monai.bundle run --bundle_root {name} --config_file {name}/configs/inference.json \\
    --input scan.nii.gz --output_dir out
```

writes `out/scan_denoised.nii.gz`: the same shape and affine, float32, in the input's units.
Each slice along the file's third axis is denoised (the whole volume in one call, so the
normalisation and the estimated noise level are those of the volume, as `medidenoise denoise`
chooses them). Options: `--noise_level 12.5` (noise standard deviation in image units; default
estimated), `--modality CT` (the fixed [-1000, 1000] HU window instead of percentiles; use it for
CT in HU, as medidenoise does for DICOM CT).

## Check the metadata offline

```
python -m monai.bundle verify_metadata --meta_file {name}/configs/metadata.json \\
    --filepath {name}/{_SCHEMA_IN_BUNDLE}
```

`--filepath` names the schema file: MONAI only downloads the schema named in `metadata.json`
when that file does not exist, so the copy in `docs/` makes the check work without a network.
It holds the keys the MONAI Bundle specification makes mandatory.

## Files

- `models/model.ts`: TorchScript, pre- and post-processing inside (below); needs only torch.
- `models/model.pt`: the network's weights (a state dict of tensors; `torch.load(path,
  weights_only=True)`). The network is medidenoise's `build_model(config)` with the config in
  `configs/metadata.json` under `medidenoise.model`: input {pipeline.context_slices} slice(s)
  {"+ a constant noise-level channel " if pipeline.noise_level_input else ""}in [0, 1]
  network units, height and width multiples of {pipeline.size_multiple}.
- `configs/inference.json`: the MONAI config above (MONAI expressions).

## The TorchScript module

```
{TORCHSCRIPT_USAGE}
```
"""


def bundle_metadata(pipeline: DenoisePipeline, name: str) -> dict[str, Any]:
    """``configs/metadata.json`` of a bundle of ``pipeline``."""
    import monai
    import nibabel

    meta = dict(getattr(pipeline, "metadata", {}) or {})
    m = pipeline.size_multiple
    c_in = pipeline.context_slices + int(pipeline.noise_level_input)
    channels = {str(i): f"slice {i - pipeline.context_slices // 2:+d}" for i in range(c_in)}
    channels[str(pipeline.context_slices // 2)] = "the slice to denoise"
    if pipeline.noise_level_input:
        channels[str(c_in - 1)] = "noise standard deviation in network units (constant)"
    modality = "CT, MR, CR, DX (greyscale slices)"
    train = meta.get("data", {}).get("train", [])
    return {
        "schema": MONAI_SCHEMA_URL,
        "version": __version__,
        "changelog": {__version__: f"exported by medidenoise {__version__}"},
        "monai_version": monai.__version__,
        "pytorch_version": torch.__version__.split("+")[0],
        "numpy_version": np.__version__,
        "required_packages_version": {"nibabel": nibabel.__version__},
        "optional_packages_version": {},
        "name": name,
        "task": "Denoising of X-ray, CT and MR images, slice by slice",
        "description": str(meta.get("description", "a medidenoise denoising network")),
        "authors": "medidenoise developers",
        "copyright": "Copyright (c) medidenoise developers",
        "license": "MIT",
        "data_source": "training images: " + (", ".join(map(str, train)) or "see medidenoise"),
        "data_type": "nibabel",
        "intended_use": "Research: reduce noise in medical images. Not for diagnostic use.",
        "network_data_format": {
            "inputs": {
                "image": {
                    "type": "image",
                    "format": "magnitude",
                    "modality": modality,
                    "num_channels": c_in,
                    "spatial_shape": [f"{m}*n", f"{m}*m"],
                    "dtype": "float32",
                    "value_range": [0, 1],
                    "is_patch_data": False,
                    "channel_def": channels,
                }
            },
            "outputs": {
                "pred": {
                    "type": "image",
                    "format": "magnitude",
                    "modality": modality,
                    "num_channels": 1,
                    "spatial_shape": [f"{m}*n", f"{m}*m"],
                    "dtype": "float32",
                    "value_range": [0, 1],
                    "is_patch_data": False,
                    "channel_def": {"0": "the denoised slice"},
                }
            },
        },
        "medidenoise": {
            "exported_by": f"medidenoise {__version__}",
            "note": (
                "network_data_format describes models/model.pt (network units, height and "
                f"width multiples of {m}); models/model.ts takes slices of any size in the "
                "image's own units, see docs/README.md"
            ),
            "context_slices": pipeline.context_slices,
            "noise_level_input": pipeline.noise_level_input,
            "size_multiple": m,
            "model": meta.get("model", {}),
            "checkpoint": meta,
        },
    }


def write_monai_bundle(
    pipeline: DenoisePipeline, folder: Path, *, name: str, weights: dict[str, torch.Tensor]
) -> Path:
    """Write the bundle into ``folder`` (created; it must not exist).

    ``weights`` is the network's state dict as the checkpoint holds it (the pipeline's own
    network has BatchNorm folded into the convolutions), saved as ``models/model.pt``.
    """
    (folder / "configs").mkdir(parents=True)
    (folder / "models").mkdir()
    (folder / "docs").mkdir()
    meta = bundle_metadata(pipeline, name)
    text = json.dumps(meta, indent=2, sort_keys=False, default=str)
    (folder / "configs" / "metadata.json").write_text(text + "\n", encoding="utf-8")
    inference = json.dumps(_INFERENCE, indent=2)
    (folder / "configs" / "inference.json").write_text(inference + "\n", encoding="utf-8")
    state = {k: v.detach().cpu().contiguous() for k, v in weights.items()}
    torch.save(state, folder / "models" / "model.pt")
    write_torchscript(pipeline, folder / "models" / "model.ts")
    checkpoint = getattr(pipeline, "metadata", {}) or {}
    (folder / "docs" / "README.md").write_text(
        _readme(checkpoint, pipeline, name), encoding="utf-8"
    )
    (folder / "docs" / "license.txt").write_text(_LICENSE, encoding="utf-8")
    shutil.copyfile(SCHEMA_PATH, folder / _SCHEMA_IN_BUNDLE)
    return folder
