"""Small building blocks shared by the networks (normalisation choice, conv blocks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import nn

__all__ = ["Norm", "conv_block", "make_norm"]

Norm = Literal["batch", "instance", "none"]


def make_norm(norm: Norm, channels: int) -> nn.Module:
    """A 2D normalisation layer by name (``"none"`` gives an identity)."""
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'batch', 'instance' or 'none', got {norm!r}")


def conv_block(in_ch: int, out_ch: int, norm: Norm, *, convs: int = 2) -> nn.Sequential:
    """``convs`` x (3x3 conv -> norm -> ReLU); the conv has no bias when a norm follows."""
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [
            nn.Conv2d(in_ch if i == 0 else out_ch, out_ch, 3, padding=1, bias=norm == "none"),
            make_norm(norm, out_ch),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers)


def check_common(context_slices: int, features: Sequence[int]) -> None:
    """Fail early with a ValueError naming the argument."""
    if context_slices < 1 or context_slices % 2 == 0:
        raise ValueError(f"context_slices must be odd and >= 1, got {context_slices}")
    if not features or any(int(f) < 1 for f in features):
        raise ValueError(f"features must be a non-empty list of positive ints, got {features}")
