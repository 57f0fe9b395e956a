"""Small building blocks shared by the networks (normalisation choice, conv blocks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Norm",
    "ResizeConv",
    "Upsample",
    "conv_block",
    "equalise_transposed",
    "make_norm",
    "up_layer",
]

Norm = Literal["batch", "instance", "none"]
#: how a decoder doubles the resolution: ``"resize"`` (bilinear, then a 1x1 convolution)
#: or ``"transpose"`` (a 2x2 stride-2 transposed convolution: the networks shipped
#: before 0.9, which add a 2-pixel pattern when the input is unlike their training)
Upsample = Literal["resize", "transpose"]


class ResizeConv(nn.Conv2d):
    """Bilinear 2x upsampling and a 1x1 convolution.

    A 2x2 stride-2 transposed convolution gives each of the four output pixels of a
    2x2 block its own weights, and nothing makes the four agree: a trained network
    carries a small 2-pixel alternation that grows into a visible grid when the input is
    unlike its training (a real CT's noise at 0.1 % of the range). With bilinear
    interpolation every output pixel has the same weights, so a flat or smoothly varying
    feature map stays flat or smooth. Same parameters as a 1x1 ``Conv2d`` (its state-dict keys too).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) -> (B, C_out, 2H, 2W).

        The 1x1 convolution runs first, at the lower resolution: bilinear weights sum to
        one, so convolving then interpolating equals interpolating then convolving, at a
        quarter of the multiplications and with half the channels to interpolate.
        """
        mixed = F.conv2d(x, self.weight, self.bias)
        return F.interpolate(mixed, scale_factor=2.0, mode="bilinear", align_corners=False)


def up_layer(in_ch: int, out_ch: int, mode: Upsample) -> nn.Module:
    """The decoder's 2x upsampling layer by name (:data:`Upsample`)."""
    if mode == "resize":
        return ResizeConv(in_ch, out_ch)
    if mode == "transpose":
        return nn.ConvTranspose2d(in_ch, out_ch, 2, stride=2)
    raise ValueError(f"upsample must be 'resize' or 'transpose', got {mode!r}")


def equalise_transposed(
    state: dict[str, torch.Tensor], prefix: str = "up."
) -> dict[str, torch.Tensor]:
    """A transposed-upsampling state dict turned into the ``"resize"`` form.

    Each 2x2 stride-2 transposed convolution's weight ``(C_in, C_out, 2, 2)`` becomes the
    1x1 weight ``(C_out, C_in, 1, 1)`` of the mean of its four sub-pixel kernels (the
    bias is kept): the network it loads into computes, for a smooth feature map, what the
    old one computed on average over each 2x2 block, without the block-to-block pattern.
    A starting point for fine-tuning; keys other than ``prefix``'s are copied unchanged.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if (
            key.startswith(prefix)
            and key.endswith(".weight")
            and value.ndim == 4
            and value.shape[-2:] == (2, 2)
        ):
            out[key] = value.mean(dim=(2, 3)).t().contiguous()[:, :, None, None]
        else:
            out[key] = value
    return out


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
