"""Training losses: MSE, L1, BCE, SSIM, edge-weighted L1 and weighted mixes of them.

Every loss is computed in float32 with autocast switched off, whatever the
caller's precision: MONAI's engines run the network *and the loss* inside
``torch.autocast`` when ``amp`` is on, where PyTorch refuses
``binary_cross_entropy`` on CUDA ("unsafe to autocast") and would run the SSIM
convolutions in half precision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from monai.losses import SSIMLoss
from torch import nn

__all__ = ["WeightedLoss", "build_loss"]


class _Float32(nn.Module):
    """Runs ``loss(pred, target)`` in float32 with autocast disabled on the inputs' device."""

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=pred.device.type, enabled=False):
            return self.loss(pred.float(), target.float())


class _BCE(nn.Module):
    """Binary cross-entropy on predictions clamped into (0, 1) (targets are [0, 1] images).

    The probability form, not ``binary_cross_entropy_with_logits``: the CAE's
    sigmoid sits inside the network and the U-Net has no logits at all.
    """

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        eps = 1e-6
        return nn.functional.binary_cross_entropy(pred.clamp(eps, 1 - eps), target)


def _ssim() -> nn.Module:
    """1 - SSIM (MONAI's SSIMLoss) on a fixed data range of 1."""
    return SSIMLoss(spatial_dims=2, data_range=1.0)


class _EdgeL1(nn.Module):
    """L1 error weighted by the target's gradient magnitude, normalised by the weights' sum.

    Plain L1 over mostly flat patches rewards smoothing: sharp, high-contrast edges
    (bone and air in CT) are a few percent of the pixels. Here each pixel counts in
    proportion to how steep the clean image is there (central differences, edges
    replicated), so the error on edges is what this term measures; a patch with no
    edge at all contributes nothing. Mix it with ``l1`` to keep flat regions in the loss.
    """

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        padded = nn.functional.pad(target, (1, 1, 1, 1), mode="replicate")
        gx = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2
        gy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2
        weight = torch.sqrt(gx * gx + gy * gy)
        return (weight * (pred - target).abs()).sum() / weight.sum().clamp_min(1e-8)


def _single(name: str) -> nn.Module:
    if name == "mse":
        return _Float32(nn.MSELoss())
    if name == "l1":
        return _Float32(nn.L1Loss())
    if name == "bce":
        return _Float32(_BCE())
    if name == "ssim":
        return _Float32(_ssim())
    if name == "edge_l1":
        return _Float32(_EdgeL1())
    raise ValueError(f"loss must be one of mse, l1, bce, ssim, edge_l1; got {name!r}")


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
