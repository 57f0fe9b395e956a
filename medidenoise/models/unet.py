"""A lean 2D U-Net with optional residual (noise-predicting) output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from medidenoise.models._blocks import Norm, Upsample, check_common, conv_block, up_layer
from medidenoise.models.network import DenoisingNetwork

__all__ = ["UNet"]


class UNet(DenoisingNetwork):
    """U-Net with skip connections, sized for CPU inference.

    Each level has two 3x3 conv -> norm -> ReLU blocks; downsampling is a 2x2
    max-pool, upsampling bilinear interpolation and a 1x1 conv (or, in networks
    trained before 0.9, a 2x2 stride-2 transposed conv) followed by
    concatenation with the skip. Nothing else: no attention, no dropout, so
    the cost is set by ``features`` alone.

    Parameters
    ----------
    features : sequence of int
        Channels per level, shallowest first, e.g. ``[16, 32, 64, 128]`` (at
        least two levels; ``size_multiple = 2 ** (len(features) - 1)``).
    context_slices : int
        Neighbouring slices given as input channels (odd; 1 for 2D). The
        centre channel is the slice being denoised.
    noise_level_input : bool
        Whether a constant noise-level channel is appended (last) to the input.
    norm : {"batch", "instance", "none"}
        Normalisation after each convolution.
    residual : bool
        Predict the noise: output = centre slice - network(x).
    upsample : {"resize", "transpose"}
        The decoder's upsampling (:class:`~medidenoise.models._blocks.ResizeConv`;
        ``"transpose"`` only to load networks trained before 0.9: it adds a 2-pixel
        pattern on inputs unlike its training).

    Examples
    --------
    >>> import torch
    >>> net = UNet([8, 16, 32], context_slices=3, noise_level_input=True, residual=True)
    >>> net(torch.rand(2, 4, 32, 40)).shape
    torch.Size([2, 1, 32, 40])
    """

    arch: ClassVar[str] = "unet"

    def __init__(
        self,
        features: Sequence[int] = (32, 64, 128, 256),
        *,
        context_slices: int = 1,
        noise_level_input: bool = False,
        norm: Norm = "batch",
        residual: bool = False,
        upsample: Upsample = "resize",
    ) -> None:
        super().__init__()
        check_common(context_slices, features)
        if len(features) < 2:
            raise ValueError(f"features needs at least 2 levels, got {list(features)}")
        self.context_slices = int(context_slices)
        self.noise_level_input = bool(noise_level_input)
        self.residual = bool(residual)
        self.size_multiple = 2 ** (len(features) - 1)
        self.hparams: dict[str, Any] = {
            "features": [int(f) for f in features],
            "context_slices": self.context_slices,
            "noise_level_input": self.noise_level_input,
            "norm": norm,
            "residual": self.residual,
            "upsample": upsample,
        }
        in_ch = self.context_slices + int(self.noise_level_input)
        self.down = nn.ModuleList()
        for f in features:
            self.down.append(conv_block(in_ch, f, norm))
            in_ch = f
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for f in reversed(features[:-1]):
            self.up.append(up_layer(in_ch, f, upsample))
            self.merge.append(conv_block(2 * f, f, norm))
            in_ch = f
        self.head = nn.Conv2d(in_ch, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) noisy input -> (B, 1, H, W) denoised centre slice."""
        # written for TorchScript too (medidenoise.export scripts the network): a typed
        # list, skips taken by index from the deepest but one, ModuleLists walked by zip
        skips: list[torch.Tensor] = []
        h = x
        for i, block in enumerate(self.down):
            if i > 0:
                h = self.pool(h)
            h = block(h)
            skips.append(h)
        level = len(skips) - 2
        for up, merge in zip(self.up, self.merge):  # noqa: B905 (TorchScript has no strict=)
            h = merge(torch.cat([up(h), skips[level]], dim=1))
            level -= 1
        out = self.head(h)
        if self.residual:
            c = self.context_slices // 2
            out = x[:, c : c + 1] - out
        return out
