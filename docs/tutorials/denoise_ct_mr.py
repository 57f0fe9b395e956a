"""Tutorial: denoise a real CT and a real MR from Python (executed when the site is built)."""

# %% [markdown]
# # Denoise a CT and an MR
#
# This page reads two real DICOM images that ship with `pydicom-data` (installed by
# `make setup`), denoises them with the shipped model and looks at the result the way a
# radiologist would: at a clinical window, not at the full intensity range. Everything below
# ran when this site was built.
#
# ## A head CT
#
# `md.read_volume` takes a DICOM file or folder, a NIfTI file, or a PNG/TIFF and returns a
# `Volume`: a `(D, H, W)` float32 array in the modality's units (Hounsfield units for CT, each
# slice's rescale applied) with its spacing and metadata.

# %%
import matplotlib.pyplot as plt
import numpy as np
from pydicom.data import get_testdata_file

import medidenoise as md

ct = md.read_volume(get_testdata_file("693_UNCR.dcm"))
print(ct.modality, ct.array.shape, ct.array.dtype, "spacing (mm):", ct.spacing)
print(f"HU range {ct.array.min():.0f} .. {ct.array.max():.0f}")

# %% [markdown]
# `md.Denoiser()` binds the default model, `"auto"`: it measures the noise of the volume,
# picks the shipped network for that kind of noise and gives it the measured level. The
# result says which network ran and at which level (here in HU).

# %%
result = md.Denoiser().run(ct)
denoised = result.image
print("model:", result.model)
print(f"noise level given to the network: {result.noise_level:.2f} HU")
print("same geometry:", denoised.array.shape == ct.array.shape, denoised.spacing == ct.spacing)

# %% [markdown]
# A real CT's noise is a few HU, a fraction of a percent of its 4000 HU range: at the full
# range nothing shows. At a brain window (level 40 HU, width 80 HU) it does. The third panel
# is what the denoiser removed, on its own scale.


# %%
def window(image, level, width):
    return np.clip((image - (level - width / 2)) / width, 0, 1)


before, after = ct.array[0], denoised.array[0]
crop = np.s_[140:380, 130:390]
fig, axes = plt.subplots(1, 3, figsize=(12, 4.4))
axes[0].imshow(window(before[crop], 40, 80), cmap="gray")
axes[0].set_title("CT as acquired (W80 L40)")
axes[1].imshow(window(after[crop], 40, 80), cmap="gray")
axes[1].set_title(f"denoised: {result.model}")
removed = axes[2].imshow((before - after)[crop], cmap="RdBu_r", vmin=-10, vmax=10)
axes[2].set_title("removed (HU)")
fig.colorbar(removed, ax=axes[2], fraction=0.046)
for ax in axes:
    ax.set_axis_off()

# %% [markdown]
# How much did flat tissue quieten? The standard deviation in a small patch of brain
# parenchyma, before and after, measures it (the mean should not move):

# %%
patch = np.s_[0, 250:270, 240:260]
print(
    f"brain patch: mean {ct.array[patch].mean():.1f} -> {denoised.array[patch].mean():.1f} HU, "
    f"std {ct.array[patch].std():.2f} -> {denoised.array[patch].std():.2f} HU"
)

# %% [markdown]
# ## An MR with added noise
#
# To see the denoiser at work on a known noise, add some: `md.add_noise` draws controlled
# noise (here Rician, the noise of magnitude MR images, at 4 % of the image's range) with a
# fixed seed, and `md.psnr` scores both images against the original.

# %%
mr = md.read_volume(get_testdata_file("MR2_UNCR.dcm"))
clean = mr.array
sigma = 0.04 * float(clean.max() - clean.min())
noisy = md.add_noise(clean, "rician", sigma, rng=0)
print(f"{mr.modality} {clean.shape}, added Rician sigma {sigma:.1f}")
print(f"estimated noise level of the noisy image: {md.estimate_noise(noisy):.1f}")

mr_result = md.Denoiser().run(noisy)
print("model:", mr_result.model)
data_range = float(clean.max() - clean.min())
print(
    f"PSNR noisy {md.psnr(clean, noisy, data_range=data_range):.2f} dB -> "
    f"denoised {md.psnr(clean, mr_result.image, data_range=data_range):.2f} dB"
)

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 4.4))
vmax = np.percentile(clean, 99.5)
for ax, image, title in zip(
    axes,
    [clean, noisy, mr_result.image],
    ["MR as acquired", "with Rician noise", "denoised"],
    strict=True,
):
    ax.imshow(image[0], cmap="gray", vmin=0, vmax=vmax)
    ax.set_title(title)
    ax.set_axis_off()

# %% [markdown]
# ## What next
#
# - The same from the command line, over whole DICOM folders:
#   [Convert a DICOM folder](convert_folder.md).
# - Which model to use and when to give the noise level yourself:
#   [Choose a model](../howto/choose-model.md), [Noise levels and units](../howto/noise-levels.md).
# - Every function used here: [Python API](../reference/api/index.md).
