"""A half-resolution U-Net built for CPU throughput, with a full-resolution bilinear head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from medidenoise.models._blocks import Norm, ResizeConv, check_common, conv_block
from medidenoise.models.network import DenoisingNetwork

__all__ = ["FastUNet"]


class FastUNet(DenoisingNetwork):
    """Residual U-Net on the 2x2 pixel-unshuffled slice, sized for a 2-thread CPU.

    FFDNet's trick with a U-Net's reach: the slice becomes four half-resolution
    channels, so the first working scale can be wide (64 channels) at a quarter of the
    pixels. To keep the cost there low, the decoder *adds* each upsampled level to its
    skip connection (no concatenation, which doubles a convolution's input) and runs
    one convolution per level. Upsampling between levels is bilinear + 1x1 convolution
    (no 2-pixel pattern, :class:`~medidenoise.models._blocks.ResizeConv`).

    The way back to full resolution is no pixel shuffle (which gives each pixel of a 2x2
    block its own weights and, trained, a 2-pixel pattern): the half-resolution features
    are resized bilinearly to ``head_channels`` full-resolution maps, concatenated with
    the noisy centre slice (and the noise level), and two 3x3 convolutions at full
    resolution predict the noise, the same weights at every pixel.

    Parameters
    ----------
    features : sequence of int
        Channels per level at half resolution, shallowest first, e.g. ``[64, 96, 128, 192]``
        (at least two; ``size_multiple = 2 ** len(features)``).
    context_slices : int
        Neighbouring slices given as input channels (odd; 1 for 2D).
    noise_level_input : bool
        Whether a constant noise-level channel is appended (last) to the input.
    norm : {"batch", "instance", "none"}
        Normalisation after each half-resolution convolution (the head has none).
    head_channels : int
        Full-resolution feature maps of the head.

    Examples
    --------
    >>> import torch
    >>> net = FastUNet([8, 16], noise_level_input=True, head_channels=4)
    >>> net(torch.rand(2, 2, 16, 24)).shape
    torch.Size([2, 1, 16, 24])
    """

    arch: ClassVar[str] = "fast_unet"

    def __init__(
        self,
        features: Sequence[int] = (64, 96, 128, 192),
        *,
        context_slices: int = 1,
        noise_level_input: bool = True,
        norm: Norm = "batch",
        head_channels: int = 16,
    ) -> None:
        super().__init__()
        check_common(context_slices, features)
        if len(features) < 2:
            raise ValueError(f"features needs at least 2 levels, got {list(features)}")
        if head_channels < 1:
            raise ValueError(f"head_channels must be >= 1, got {head_channels}")
        self.context_slices = int(context_slices)
        self.noise_level_input = bool(noise_level_input)
        self.size_multiple = 2 ** len(features)
        self.hparams: dict[str, Any] = {
            "features": [int(f) for f in features],
            "context_slices": self.context_slices,
            "noise_level_input": self.noise_level_input,
            "norm": norm,
            "head_channels": int(head_channels),
        }
        level = int(self.noise_level_input)
        in_ch = 4 * self.context_slices + level
        self.down = nn.ModuleList()
        for f in features:
            self.down.append(conv_block(in_ch, f, norm))
            in_ch = f
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for f in list(features[:-1])[::-1]:
            self.up.append(ResizeConv(in_ch, f))
            self.merge.append(conv_block(f, f, norm, convs=1))
            in_ch = f
        self.lift = ResizeConv(in_ch, head_channels)
        self.head = nn.Sequential(
            nn.Conv2d(head_channels + 1 + level, head_channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(head_channels, 1, 3, padding=1),
        )
        self.unshuffle = nn.PixelUnshuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) noisy input -> (B, 1, H, W) denoised centre slice."""
        c = self.context_slices // 2
        centre = x[:, c : c + 1]
        h = self.unshuffle(x[:, : self.context_slices])
        if self.noise_level_input:
            h = torch.cat([h, x[:, self.context_slices :, ::2, ::2]], dim=1)
        skips: list[torch.Tensor] = []
        for i, block in enumerate(self.down):
            if i > 0:
                h = self.pool(h)
            h = block(h)
            skips.append(h)
        depth = len(skips)
        # TorchScript knows no zip(strict=); the two lists are built together
        for i, (up, merge) in enumerate(zip(self.up, self.merge)):  # noqa: B905
            h = merge(up(h) + skips[depth - 2 - i])
        lifted = F.relu(self.lift(h))
        full = [lifted, centre]
        if self.noise_level_input:
            full.append(x[:, self.context_slices :])
        return centre - self.head(torch.cat(full, dim=1))
