"""Training losses and weighted mixes."""

from __future__ import annotations

import pytest
import torch

from medidenoise.engine import build_loss


@pytest.mark.parametrize("name", ["mse", "l1", "bce", "ssim"])
def test_each_loss_is_zero_ish_for_a_perfect_prediction(name: str) -> None:
    torch.manual_seed(0)
    target = torch.rand(2, 1, 32, 32)
    loss = build_loss(name)
    perfect, noisy = (
        float(loss(target, target)),
        float(loss(target + 0.2 * torch.randn_like(target), target)),
    )
    assert perfect < noisy


def test_weighted_mix_is_the_weighted_sum() -> None:
    torch.manual_seed(0)
    target = torch.rand(2, 1, 32, 32)
    pred = (target + 0.1 * torch.randn_like(target)).clamp(0, 1)
    mix = build_loss({"mse": 0.5, "ssim": 0.25})
    expected = 0.5 * build_loss("mse")(pred, target) + 0.25 * build_loss("ssim")(pred, target)
    torch.testing.assert_close(mix(pred, target), expected)


def test_unknown_loss() -> None:
    with pytest.raises(ValueError, match="mse, l1, bce, ssim"):
        build_loss("perceptual")
