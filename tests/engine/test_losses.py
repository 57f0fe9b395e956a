"""Training losses and weighted mixes."""

from __future__ import annotations

import pytest
import torch

from medidenoise.engine import build_loss


@pytest.mark.parametrize("name", ["mse", "l1", "bce", "ssim", "edge_l1"])
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


def _step_image() -> torch.Tensor:
    """A flat dark half and a flat bright half: one vertical edge down the middle."""
    target = torch.full((1, 1, 32, 32), 0.2)
    target[..., 16:] = 0.8
    return target


def test_edge_l1_counts_errors_on_edges_not_in_flat_regions() -> None:
    target = _step_image()
    loss = build_loss("edge_l1")
    on_edge, in_flat = target.clone(), target.clone()
    on_edge[..., 15:17] += 0.1  # the two columns either side of the step
    in_flat[..., 4:6] += 0.1  # as many pixels, far from it
    assert float(loss(in_flat, target)) == 0.0
    assert float(loss(on_edge, target)) == pytest.approx(0.1, rel=1e-5)
    # plain L1 cannot tell the two apart
    l1 = build_loss("l1")
    assert float(l1(on_edge, target)) == pytest.approx(float(l1(in_flat, target)))


def test_edge_l1_of_a_flat_target_is_zero_not_nan() -> None:
    target = torch.full((2, 1, 16, 16), 0.5)
    value = build_loss("edge_l1")(target + 0.1, target)
    assert float(value) == 0.0


def test_edge_l1_mix_trains_in_a_config() -> None:
    from medidenoise.config import TrainConfig

    cfg = TrainConfig(loss={"l1": 0.7, "edge_l1": 0.3})
    mix = build_loss(cfg.loss)
    target = _step_image()
    pred = target.clone().requires_grad_(True)
    mix(pred + 0.05 * torch.randn_like(target), target).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()


def test_unknown_loss() -> None:
    with pytest.raises(ValueError, match="mse, l1, bce, ssim"):
        build_loss("perceptual")


@pytest.mark.parametrize("spec", ["mse", "l1", "bce", "ssim", "edge_l1", {"bce": 0.5, "ssim": 0.5}])
def test_losses_run_in_float32_under_autocast(spec) -> None:
    # MONAI's engines compute the loss inside torch.autocast when amp is on
    torch.manual_seed(0)
    target = torch.rand(2, 1, 32, 32)
    pred = (target + 0.1 * torch.randn_like(target)).clamp(0, 1)
    loss = build_loss(spec)
    expected = loss(pred, target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = loss(pred, target)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-7)


def test_bce_runs_with_autocast_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    # on CUDA, PyTorch raises for binary_cross_entropy inside autocast ("unsafe to
    # autocast"); CPU autocast does not, so emulate that refusal here
    original = torch.nn.functional.binary_cross_entropy

    def refuse_under_autocast(*args, **kwargs):
        if torch.is_autocast_enabled("cpu"):
            raise RuntimeError("binary_cross_entropy is unsafe to autocast")
        return original(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "binary_cross_entropy", refuse_under_autocast)
    target = torch.rand(1, 1, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = build_loss("bce")(target.bfloat16(), target)
    assert value.dtype == torch.float32 and torch.isfinite(value)
