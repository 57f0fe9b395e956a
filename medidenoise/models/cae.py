"""The classic convolutional denoising autoencoder: the project's baseline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from medidenoise.models._blocks import Norm, Upsample, check_common, make_norm
from medidenoise.models.network import DenoisingNetwork

__all__ = ["DenoisingCAE", "resize_from_transposed"]


class DenoisingCAE(DenoisingNetwork):
    """Convolutional denoising autoencoder (encoder 32/64/128, mirrored decoder, sigmoid).

    Each encoder level is a 3x3 conv, normalisation, ReLU and a 2x2 max-pool;
    each decoder level doubles the resolution (bilinear interpolation and a 3x3 conv, or
    the tutorials' 3x3 stride-2 transposed conv), then normalisation and ReLU; a final
    3x3 conv and a sigmoid give the denoised centre slice in [0, 1].

    Parameters
    ----------
    features : sequence of int
        Encoder channels per level (the decoder mirrors them).
    context_slices : int
        Neighbouring slices given as input channels (odd; 1 for 2D).
    noise_level_input : bool
        Whether a constant noise-level channel is appended (last) to the input.
    norm : {"batch", "instance", "none"}
        Normalisation after each convolution.
    upsample : {"resize", "transpose"}
        The decoder's upsampling. ``"resize"``: bilinear, then a 3x3 convolution (the
        decoder has no skip connections, so it keeps the 3x3 reach of the layer it
        replaces); ``"transpose"``: the stride-2 transposed convolution of the CAE shipped
        before 0.9, whose uneven kernel overlap draws a 2-pixel grid on low-noise scans.

    Examples
    --------
    >>> import torch
    >>> net = DenoisingCAE()
    >>> net(torch.rand(2, 1, 64, 48)).shape
    torch.Size([2, 1, 64, 48])
    """

    arch: ClassVar[str] = "cae"

    def __init__(
        self,
        features: Sequence[int] = (32, 64, 128),
        *,
        context_slices: int = 1,
        noise_level_input: bool = False,
        norm: Norm = "batch",
        upsample: Upsample = "resize",
    ) -> None:
        super().__init__()
        check_common(context_slices, features)
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
        if upsample not in ("resize", "transpose"):
            raise ValueError(f"upsample must be 'resize' or 'transpose', got {upsample!r}")
        in_ch = self.context_slices + int(self.noise_level_input)
        enc: list[nn.Module] = []
        for f in features:
            enc += [
                nn.Conv2d(in_ch, f, 3, padding=1, bias=norm == "none"),
                make_norm(norm, f),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            in_ch = f
        dec: list[nn.Module] = []
        for f in reversed(features):
            if upsample == "resize":
                dec += [
                    nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=False),
                    nn.Conv2d(in_ch, f, 3, padding=1, bias=norm == "none"),
                ]
            else:
                dec.append(
                    nn.ConvTranspose2d(
                        in_ch, f, 3, stride=2, padding=1, output_padding=1, bias=norm == "none"
                    )
                )
            dec += [
                make_norm(norm, f),
                nn.ReLU(inplace=True),
            ]
            in_ch = f
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)
        self.head = nn.Conv2d(in_ch, 1, 3, padding=1)
        # a module (no weights) rather than torch.sigmoid, so the layer list shows it
        self.out = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) noisy input -> (B, 1, H, W) denoised centre slice in [0, 1]."""
        return self.out(self.head(self.decoder(self.encoder(x))))


def resize_from_transposed(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A transposed-upsampling CAE's state dict in the ``"resize"`` layout, to fine-tune from.

    Each decoder level ``[transposed conv, norm, ReLU]`` becomes ``[upsample, conv, norm,
    ReLU]``. A 3x3 stride-2 transposed convolution uses each of its taps for one of the four
    pixels of a 2x2 output block; the 3x3 convolution after bilinear upsampling gets its
    kernel flipped and transposed, divided by four: on a smooth feature map it gives what the
    old layer gave on average over each block, without the block-to-block pattern. Other
    keys (encoder, head) are copied unchanged.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] != "decoder":
            out[key] = value
            continue
        level, offset = divmod(int(parts[1]), 3)
        rest = ".".join(parts[2:])
        if offset == 0 and rest == "weight":  # (C_in, C_out, 3, 3) -> (C_out, C_in, 3, 3)
            value = value.transpose(0, 1).flip(2, 3).contiguous() / 4.0
        out[f"decoder.{4 * level + 1 + offset}.{rest}"] = value
    return out
