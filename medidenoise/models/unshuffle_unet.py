"""A U-Net run at half resolution on a pixel-unshuffled input (FFDNet's trick)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from medidenoise.models._blocks import Norm, Upsample, check_common, conv_block, up_layer
from medidenoise.models.network import DenoisingNetwork

__all__ = ["UnshuffleUNet"]


class UnshuffleUNet(DenoisingNetwork):
    """Residual U-Net on the 2x2 pixel-unshuffled slice, with a noise-level channel.

    The input slice (H, W) becomes four half-resolution channels (each 2x2 block's
    pixels), so every convolution covers twice the field of view and costs a
    quarter of the pixels: at equal time the network can be wider (more channels)
    than a full-resolution U-Net. The last layer predicts four channels that are
    shuffled back into the full-resolution noise estimate, subtracted from the
    input. Written so that ``torch.jit.script`` compiles it.

    Parameters
    ----------
    features : sequence of int
        Channels per level at half resolution, shallowest first, e.g.
        ``[48, 96, 192]`` (at least two levels; ``size_multiple = 2 ** len(features)``).
    context_slices : int
        Neighbouring slices given as input channels (odd; 1 for 2D).
    noise_level_input : bool
        Whether a constant noise-level channel is appended (last) to the input.
    norm : {"batch", "instance", "none"}
        Normalisation after each convolution.
    upsample : {"resize", "transpose"}
        The decoder's upsampling between levels (as :class:`~medidenoise.models.unet.UNet`'s).
        The last step back to full resolution is a pixel shuffle of four predicted
        channels, which like a transposed convolution gives each pixel of a 2x2 block its
        own weights: check a trained network for a 2-pixel pattern before shipping it
        (``medidenoise.evaluation.pattern_metrics``).

    Examples
    --------
    >>> import torch
    >>> net = UnshuffleUNet([8, 16], noise_level_input=True)
    >>> net(torch.rand(2, 2, 16, 24)).shape
    torch.Size([2, 1, 16, 24])
    """

    arch: ClassVar[str] = "unshuffle_unet"

    def __init__(
        self,
        features: Sequence[int] = (48, 96, 192),
        *,
        context_slices: int = 1,
        noise_level_input: bool = True,
        norm: Norm = "batch",
        upsample: Upsample = "resize",
    ) -> None:
        super().__init__()
        check_common(context_slices, features)
        if len(features) < 2:
            raise ValueError(f"features needs at least 2 levels, got {list(features)}")
        self.context_slices = int(context_slices)
        self.noise_level_input = bool(noise_level_input)
        self.size_multiple = 2 ** len(features)
        self.hparams: dict[str, Any] = {
            "features": [int(f) for f in features],
            "context_slices": self.context_slices,
            "noise_level_input": self.noise_level_input,
            "norm": norm,
            "upsample": upsample,
        }
        in_ch = 4 * self.context_slices + int(self.noise_level_input)
        self.down = nn.ModuleList()
        for f in features:
            self.down.append(conv_block(in_ch, f, norm))
            in_ch = f
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for f in list(features[:-1])[::-1]:
            self.up.append(up_layer(in_ch, f, upsample))
            self.merge.append(conv_block(2 * f, f, norm))
            in_ch = f
        self.head = nn.Conv2d(in_ch, 4, 3, padding=1)
        self.unshuffle = nn.PixelUnshuffle(2)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) noisy input -> (B, 1, H, W) denoised centre slice."""
        slices = x[:, : self.context_slices]
        h = self.unshuffle(slices)
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
            h = merge(torch.cat([up(h), skips[depth - 2 - i]], dim=1))
        noise = self.shuffle(self.head(h))
        c = self.context_slices // 2
        return x[:, c : c + 1] - noise
