"""Tutorial: export a model to TorchScript, ONNX and a MONAI bundle and run each."""

# %% [markdown]
# # Export and run elsewhere
#
# To run a model where medidenoise is not installed (a PACS node, an ONNX Runtime or C++
# service, a MONAI Deploy pipeline), export it with its pre- and post-processing inside: the
# exported model takes slices in the image's own units (HU for CT) and returns them denoised
# in the same units. Normalisation, the noise level (estimated or given), padding to the
# network's size multiple and cropping back all happen inside.
#
# The command-line form is `medidenoise export MODEL --format torchscript|onnx|monai-bundle
# --output PATH`. From Python:

# %%
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from pydicom.data import get_testdata_file

import medidenoise as md

ct = md.read_volume(get_testdata_file("CT_small.dcm"))
volume = ct.array  # (1, 128, 128) in HU
print(md.EXPORT_FORMATS)
for name in ["denoise.ts", "denoise.onnx"]:
    print(md.export_model("default", name))

# %% [markdown]
# ## TorchScript: needs only torch

# %%
net = torch.jit.load("denoise.ts")
with torch.no_grad():
    estimated = net(torch.from_numpy(volume))  # noise level estimated inside
    given = net(torch.from_numpy(volume), noise_level=12.0, modality="CT")  # fixed HU window
source = torch.from_numpy(volume)
print(
    tuple(estimated.shape),
    f"mean change {float((estimated - source).abs().mean()):.2f} HU"
    f" (level estimated), {float((given - source).abs().mean()):.2f} HU (level given)",
)

# %% [markdown]
# Pass a whole volume (or one slice) per call: the normalisation and the estimated noise
# level are those of the batch. The estimate inside an exported model is the white-noise one:
# on spatially correlated noise (CT kernels, interpolated MR) it reads too low, so measure
# the level once with `md.estimate_noise(volume)` and pass it as `noise_level`. The hot-pixel
# and CT-padding handling of `md.denoise` is not inside the export.
#
# ## ONNX: onnxruntime, or back through medidenoise

# %%
import onnxruntime as ort  # noqa: E402  (the section needs it, not the others)

session = ort.InferenceSession("denoise.onnx", providers=["CPUExecutionProvider"])
print([(i.name, i.shape) for i in session.get_inputs()])
print(session.get_modelmeta().custom_metadata_map["usage"][:300], "...")
via_md = md.denoise(volume, model="denoise.onnx", noise_level=12.0)
via_torch = md.denoise(volume, model="default", noise_level=12.0)
print(
    f"md.denoise with the .onnx file vs the torch model: "
    f"largest difference {float(np.abs(via_md - via_torch).max()):.4f} HU"
)

# %% [markdown]
# The ONNX model has inputs `image` (B, H, W), `noise_level` (1,) (negative: estimate) and
# `intensity_range` (2,) (`[0, 0]`: from the batch, `[-1000, 1000]` for CT). Inside
# medidenoise a 2D `.onnx` model runs like its checkpoint (same batches, tiling of large
# slices, self-ensemble): `medidenoise denoise scan.nii.gz out.nii.gz --model denoise.onnx`.
# A 2.5D `.onnx` model takes whole slices, without the self-ensemble; the exported files
# themselves do not tile.
#
# ## A MONAI bundle

# %%
bundle = md.export_model("default", "my_bundle", format="monai-bundle")
print(sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file()))
md.write_nifti(ct, "scan.nii.gz")
subprocess.run(
    [sys.executable, "-m", "monai.bundle", "run", "--bundle_root", "my_bundle",
     "--config_file", "my_bundle/configs/inference.json",
     "--input", "scan.nii.gz", "--output_dir", "out"],
    check=True, capture_output=True,
)  # fmt: skip
print(sorted(str(p) for p in Path("out").rglob("*.nii.gz")))

# %% [markdown]
# The bundle runs with MONAI alone and checks offline against the schema it carries:
#
# ```bash
# python -m monai.bundle verify_metadata --meta_file my_bundle/configs/metadata.json \
#     --filepath my_bundle/docs/metadata_schema.json
# ```
#
# An existing output is refused unless `overwrite=True` (`--overwrite`); an export is written
# beside its target and moved into place only when complete. On the CPU onnxruntime ran the
# default model faster than torch at 512 x 512 (see [Benchmarks](../benchmarks.md)), so
# `--model denoise.onnx` is the faster choice there.
