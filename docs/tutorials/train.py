"""Tutorial: train a small model from a YAML config and read its learning curves."""

# %% [markdown]
# # Train a model from a config
#
# Training is driven by a YAML file in `configs/`: the network, the training images, the
# noise mixture and the optimiser settings, all validated before anything runs. This page
# trains the tiny `configs/smoke.yaml` network for a few epochs (seconds on a CPU) and reads
# what the run left behind. The shipped models were trained the same way from
# `configs/default.yaml`, `configs/white.yaml` and `configs/correlated.yaml` (see
# [Model cards](../model_cards.md)).
#
# ## The config

# %%
from pathlib import Path

import matplotlib.pyplot as plt

import medidenoise as md

ROOT = Path(__file__).resolve().parents[2]
config = md.load_config(ROOT / "configs/smoke.yaml", overrides=["train.epochs=10"])
print(config.model)
print(config.data.train, "patch", config.data.patch_size)
print(config.noise.mixture)

# %% [markdown]
# Any setting can be overridden with a dotted path, as `--set` does on the command line:
# `medidenoise train --config configs/smoke.yaml --set train.epochs=10 --output runs/smoke`.
#
# ## Train

# %%
result = md.train(config, output_dir="runs/smoke", device="cpu", progress=False)
print(f"{len(result.metrics)} epochs in {result.seconds:.1f} s; best: {result.best_checkpoint}")
print(sorted(p.name for p in result.output_dir.iterdir()))

# %% [markdown]
# ## Read the curves
#
# `result.metrics` (also `metrics.csv` in the run folder) has one row per epoch: training and
# validation loss, validation PSNR and SSIM, learning rate and time.

# %%
epochs = [row["epoch"] for row in result.metrics]
fig, (loss_ax, psnr_ax) = plt.subplots(1, 2, figsize=(10, 3.5))
loss_ax.plot(epochs, [row["train_loss"] for row in result.metrics], "o-", label="train")
loss_ax.plot(epochs, [row["val_loss"] for row in result.metrics], "s-", label="validation")
loss_ax.set_xlabel("epoch")
loss_ax.set_ylabel("loss")
loss_ax.legend()
psnr_ax.plot(epochs, [row["val_psnr"] for row in result.metrics], "o-")
psnr_ax.set_xlabel("epoch")
psnr_ax.set_ylabel("validation PSNR (dB)")
fig.tight_layout()

# %% [markdown]
# A ten-epoch toy on two small images does not denoise well; the point is the loop. The
# checkpoint carries its architecture and where it came from, and works like any shipped
# model wherever a model is asked for (`md.denoise(image, model=path)`, `--model PATH`):

# %%
net = md.load_model(result.best_checkpoint)
print(type(net).__name__, sum(p.numel() for p in net.parameters()), "parameters")

# %% [markdown]
# `medidenoise evaluate --model runs/smoke/best.safetensors` compares a checkpoint with the
# classical baselines on the hold-out images; to fine-tune a shipped model on your own clean
# images set `train.init_weights` (see [Choose a model](../howto/choose-model.md)).
