"""The CPU network (fast_unet): half-resolution body, full-resolution bilinear head."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medidenoise.config import ModelConfig
from medidenoise.errors import ConfigError
from medidenoise.models import build_model, model_config_of
from medidenoise.models.fast_unet import FastUNet


def _small(**kw) -> torch.nn.Module:
    return build_model({"arch": "fast_unet", "features": [8, 16, 24], "head_channels": 4, **kw})


@pytest.mark.parametrize("context", [1, 3])
def test_forward_shape_residual_and_scriptable(context: int) -> None:
    torch.manual_seed(0)
    net = _small(context_slices=context, noise_level_input=True).eval()
    assert isinstance(net, FastUNet) and net.size_multiple == 8
    x = torch.rand(2, context + 1, 16, 40)
    assert net(x).shape == (2, 1, 16, 40)
    last = net.head[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    c = context // 2
    torch.testing.assert_close(net(x), x[:, c : c + 1])  # no noise predicted: the input back
    torch.nn.init.normal_(last.weight, std=0.1)
    scripted = torch.jit.script(net)
    torch.testing.assert_close(scripted(x), net(x))


def test_rebuilt_from_its_config_and_defaults() -> None:
    net = _small(noise_level_input=True)
    rebuilt = build_model(model_config_of(net))
    assert model_config_of(rebuilt) == model_config_of(net)
    rebuilt.load_state_dict(net.state_dict())  # same parameters, same names
    cfg = ModelConfig.model_validate({"arch": "fast_unet"})
    assert cfg.features is not None and cfg.features[0] >= 64  # wide at its first scale
    assert cfg.residual is True
    with pytest.raises(ConfigError, match="resizing only"):
        build_model({"arch": "fast_unet", "upsample": "transpose"})
    with pytest.raises(ValueError, match="head_channels"):
        FastUNet([8, 16], head_channels=0)


def _interior_alternation(y: torch.Tensor) -> float:
    """Largest 2-pixel alternation (rows, columns, checkerboard) away from the borders."""
    inner = y[0, 0, 16:-16, 16:-16].double()
    sign_r = (-1.0) ** torch.arange(inner.shape[0], dtype=torch.float64)[:, None]
    sign_c = (-1.0) ** torch.arange(inner.shape[1], dtype=torch.float64)[None, :]
    return max(abs(float((inner * s).mean())) for s in (sign_r, sign_c, sign_r * sign_c))


def test_a_flat_input_gives_a_flat_output_unlike_a_pixel_shuffle_head() -> None:
    # every pixel of the output has the same weights: a constant slice stays constant
    # (a pixel-shuffle head gives each pixel of a 2x2 block its own: a 2-pixel pattern)
    torch.manual_seed(1)
    x = torch.cat([torch.full((1, 1, 96, 96), 0.4), torch.full((1, 1, 96, 96), 0.05)], dim=1)
    ours = _small(noise_level_input=True, norm="none").eval()
    shuffled = build_model(
        {
            "arch": "unshuffle_unet",
            "features": [8, 16, 24],
            "noise_level_input": True,
            "norm": "none",
        }
    ).eval()
    with torch.no_grad():
        a, b = ours(x), shuffled(x)
    assert _interior_alternation(a) < 1e-6
    assert _interior_alternation(b) > 1e-4


def test_bfloat16_runs_at_half_resolution_only_and_the_denoiser_can_turn_it_off() -> None:
    """On CPUs with bfloat16 the Denoiser runs fast_unet's half-resolution body in bfloat16
    while the full-resolution head, which subtracts the predicted noise from the image,
    stays float32: the output moves by rounding only; ``precision="float32"`` turns it off."""
    from medidenoise.inference._network import (
        mixed_precision,
        optimise_for_inference,
        run_network,
        use_bf16,
    )

    torch.manual_seed(3)
    net = _small(noise_level_input=True).eval()
    fast = mixed_precision(optimise_for_inference(net, torch.device("cpu")))
    assert mixed_precision(fast) is fast  # marking twice changes nothing
    cpu = torch.device("cpu")
    assert use_bf16(fast, cpu, "auto") == torch.cpu._is_avx512_bf16_supported()
    assert not use_bf16(fast, cpu, "float32")
    x = torch.rand(2, 64, 64).numpy()
    plain = run_network(net, x, sigma=0.05, device=cpu)
    mixed = run_network(fast, x, sigma=0.05, device=cpu, bf16=True)
    assert plain.dtype == mixed.dtype == np.float32
    np.testing.assert_allclose(mixed, plain, atol=0.02, rtol=0)
    # the image passes through the float32 head: where the network predicts no noise, the
    # input comes back bit for bit, whatever the body computed in bfloat16
    torch.nn.init.zeros_(fast.head.module[-1].weight)
    torch.nn.init.zeros_(fast.head.module[-1].bias)
    same = run_network(fast, x, sigma=0.05, device=cpu, bf16=True)
    np.testing.assert_array_equal(same, x)
