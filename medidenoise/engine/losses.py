"""Training losses: MSE, L1, BCE, SSIM and weighted mixes of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from monai.losses import SSIMLoss
from torch import nn

__all__ = ["WeightedLoss", "build_loss"]


class _BCE(nn.Module):
    """Binary cross-entropy on predictions clamped into (0, 1) (targets are [0, 1] images)."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        eps = 1e-6
        pred = pred.float().clamp(eps, 1 - eps)
        return nn.functional.binary_cross_entropy(pred, target.float())


class _SSIM(nn.Module):
    """1 - SSIM (MONAI's SSIMLoss) on a fixed data range of 1."""

    def __init__(self) -> None:
        super().__init__()
        self.loss = SSIMLoss(spatial_dims=2, data_range=1.0)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss(pred.float(), target.float())


def _single(name: str) -> nn.Module:
    if name == "mse":
        return nn.MSELoss()
    if name == "l1":
        return nn.L1Loss()
    if name == "bce":
        return _BCE()
    if name == "ssim":
        return _SSIM()
    raise ValueError(f"loss must be one of mse, l1, bce, ssim; got {name!r}")


class WeightedLoss(nn.Module):
    """``sum(weight * loss)`` over named losses, e.g. ``{"mse": 0.5, "ssim": 0.5}``."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        super().__init__()
        if not weights:
            raise ValueError("weights must name at least one loss")
        self.names = list(weights)
        self.weights = [float(weights[n]) for n in self.names]
        self.losses = nn.ModuleList(_single(n) for n in self.names)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = pred.new_zeros((), dtype=torch.float32)
        for w, loss in zip(self.weights, self.losses, strict=True):
            total = total + w * loss(pred, target)
        return total


def build_loss(spec: str | Mapping[Any, float]) -> nn.Module:
    """A loss module from a config value: a name or a ``{name: weight}`` mix."""
    if isinstance(spec, str):
        return _single(spec)
    return WeightedLoss(spec)
