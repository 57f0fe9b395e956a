"""Validation PSNR of several checkpoints on a recipe's validation images, many noise draws.

The validation score that training logs comes from 12 small crops noised once, so two runs
with different seeds are not comparable and one lucky draw can decide "best". This script
scores checkpoints on the same whole validation slices under ``--draws`` noise draws each
(seeds fixed, the same for every checkpoint) and prints the mean PSNR, its standard error and
each checkpoint's paired difference to the first one. It is how a new fine-tune of the
default model is judged against the shipped one before it may replace it; the hold-out set
stays for reporting only.

    python benchmarks/val_compare.py --config configs/default.yaml \\
        medidenoise/weights/default.safetensors runs/default_stage3/best.safetensors
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

import numpy as np
import torch

from medidenoise.engine.data import training_and_validation
from medidenoise.engine.datasets import ValidationDataset
from medidenoise.engine.trainer import resolve_config
from medidenoise.models.checkpoint import load_model
from medidenoise.models.network import contract_of


def scores(checkpoint: str, cfg, volumes, draws: int, seed: int) -> np.ndarray:
    """PSNR (dB, data range 1) of every validation slice under every noise draw."""
    net = load_model(checkpoint).eval()
    contract = contract_of(net)
    out = []
    for draw in range(draws):
        ds = ValidationDataset(
            volumes,
            cfg.noise,
            crop=0,
            size_multiple=contract.size_multiple,
            max_items=cfg.data.val_max_slices,
            seed=seed + 1000 * draw,
            context_slices=contract.context_slices,
            noise_level_input=contract.noise_level_input,
        )
        with torch.inference_mode():
            for item in ds:
                pred = net(item["image"][None])
                mse = float(torch.mean((pred - item["label"][None]) ** 2))
                out.append(10 * math.log10(1.0 / max(mse, 1e-12)))
    return np.asarray(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", help="checkpoint files or shipped model names")
    ap.add_argument(
        "--config",
        required=True,
        help="recipe whose validation images are used",
    )
    ap.add_argument("--draws", type=int, default=20, help="noise draws per slice (default 20)")
    ap.add_argument("--seed", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = resolve_config(args.config)
    if not (cfg.data.val or cfg.data.val_band):
        ap.error(f"{args.config} has no data.val images or data.val_band to score on")
    # the recipe's own validation set, bands of the training images included; the split
    # depends on the network only through its size multiple: the first checkpoint's, so
    # every checkpoint is scored on the same slices
    multiple = contract_of(load_model(args.checkpoints[0])).size_multiple
    _, volumes, _ = training_and_validation(
        cfg.data, seed=cfg.seed, size_multiple=multiple, base_dir=cfg.base_dir
    )
    first: np.ndarray | None = None
    for ckpt in args.checkpoints:
        psnr = scores(ckpt, cfg, volumes, args.draws, args.seed)
        line = f"{ckpt}: {psnr.mean():.3f} dB +- {psnr.std(ddof=1) / math.sqrt(psnr.size):.3f}"
        if first is None:
            first = psnr
        else:
            diff = psnr - first
            se = diff.std(ddof=1) / math.sqrt(diff.size)
            line += f"; vs first: {diff.mean():+.3f} dB +- {se:.3f} (paired)"
        print(f"{line} (n={psnr.size})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
