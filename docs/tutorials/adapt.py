"""Tutorial: adapt the shipped model to a scan's own noise, without clean images."""

# %% [markdown]
# # Adapt to your own scans
#
# A scanner's noise may not be the noise the shipped networks were trained on: correlated by
# the reconstruction kernel, growing with the signal. `md.adapt` measures the noise of your
# noisy images and fine-tunes a copy of the model on those images alone, within a time
# budget; no clean image is needed. Here a chest radiograph from pydicom-data gets a
# correlated noise it was never trained on, and the model adapts to it for about 20 seconds
# (real runs use a few minutes: `minutes=3`).

# %%
import matplotlib.pyplot as plt
import numpy as np
from pydicom.data import get_testdata_file

import medidenoise as md

radiograph = md.read_volume(get_testdata_file("RG1_UNCR.dcm"))
clean = radiograph.array[:, 600:856, 600:856]
sigma = 0.03 * float(clean.max() - clean.min())
noisy = md.add_noise(clean, "correlated", sigma, rng=1)
print(f"{radiograph.modality} crop {clean.shape}, correlated noise sigma {sigma:.1f}")

# %%
adapted = md.adapt(noisy, minutes=0.3, rng=0)
info = adapted.metadata["adaptation"]
print(f"method {info['method']}, {info['steps']} steps in {info['seconds']:.0f} s")
print("kept:", info["kept"], "-", info["reason"])

# %% [markdown]
# The guard keeps the adapted weights only when held-out tiles say they do better than the
# base model; otherwise `adapt` returns the base model, and says so. Both denoise the same way:

# %%
data_range = float(clean.max() - clean.min())
base = md.denoise(noisy)
mine = md.denoise(noisy, adapted)
for name, image in [("noisy", noisy), ("auto", base), ("adapted", mine)]:
    print(f"{name:8s} PSNR {md.psnr(clean, image, data_range=data_range):.2f} dB")

fig, axes = plt.subplots(1, 3, figsize=(12, 4.4))
low, high = np.percentile(clean, [1, 99])
for ax, image, title in zip(axes, [noisy, base, mine], ["noisy", "auto", "adapted"], strict=True):
    ax.imshow(image[0], cmap="gray", vmin=low, vmax=high)
    ax.set_title(title)
    ax.set_axis_off()

# %% [markdown]
# Save it to use it later, from the command line or in napari:

# %%
path = md.save_checkpoint("my_scanner.safetensors", adapted)
print(path, f"{path.stat().st_size / 1e6:.1f} MB")

# %% [markdown]
# On the command line:
#
# ```bash
# medidenoise adapt my_ct_series/ --output my_scanner.safetensors --minutes 3
# medidenoise denoise my_ct_series/ out/ --model my_scanner.safetensors
# ```
#
# It prints the guard's decision (`guard: ...`). In napari, the Denoise widget's *Adapt to
# this image* runs the same in the background, with a budget, progress and *Cancel adapting*;
# the adapted model becomes the selected one and *Save adapted model* writes it.
#
# How the guard decides: held-out tiles across the anatomy of several slices and a few in the
# background are never trained on; the weights that do best there (by Stein's unbiased
# estimate of the error against the unseen clean image, at the noise level `denoise` will
# use) and leave the background no worse are kept, the base model's unless they surely beat
# it. When the noise level estimate and the noise measured on structure-free blocks disagree,
# nothing is trained and the base model is returned: pass `noise_level=` if you know it.
# For folders of noisy scans and longer runs, `train.objective: recorrupt` trains through the
# same engines as supervised training (`configs/selfsupervised.yaml`). Figures: the
# "Self-supervised adaptation" section of [Benchmarks](../benchmarks.md); the method:
# [Internals](../internals.md).
