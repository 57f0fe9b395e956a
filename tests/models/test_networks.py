"""Every network obeys the contract of docs/internals.md."""

from __future__ import annotations

import pytest
import torch

from medidenoise.config import ModelConfig
from medidenoise.errors import ConfigError
from medidenoise.models import DenoisingCAE, UNet, build_model

CASES = [
    {"arch": "cae"},
    {"arch": "cae", "features": [8, 16], "context_slices": 3, "noise_level_input": True},
    {"arch": "unet", "features": [8, 16, 32]},
    {"arch": "unet", "features": [8, 16], "residual": True, "noise_level_input": True},
    {"arch": "unet", "features": [8, 16, 32], "context_slices": 5, "norm": "instance"},
    {"arch": "unet", "features": [4, 8], "norm": "none"},
    {"arch": "unshuffle_unet", "features": [8, 16], "noise_level_input": True},
    {"arch": "unshuffle_unet", "features": [4, 8, 16], "context_slices": 3, "norm": "none"},
    {"arch": "fast_unet", "features": [8, 16], "head_channels": 4, "noise_level_input": True},
]


@pytest.mark.parametrize("cfg", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_forward_contract(cfg: dict) -> None:
    torch.manual_seed(0)
    net = build_model(cfg)
    c_in = net.context_slices + int(net.noise_level_input)
    m = net.size_multiple
    x = torch.rand(2, c_in, 3 * m, 5 * m)
    y = net.eval()(x)
    assert y.shape == (2, 1, 3 * m, 5 * m)
    assert y.dtype == torch.float32
    assert net.context_slices == cfg.get("context_slices", 1)
    assert net.noise_level_input is cfg.get("noise_level_input", False)


def test_size_multiples() -> None:
    assert build_model({"arch": "cae"}).size_multiple == 8
    assert build_model({"arch": "unet", "features": [8, 16, 32, 64]}).size_multiple == 8
    assert build_model({"arch": "unet", "features": [8, 16]}).size_multiple == 2


def test_cae_output_is_in_unit_range() -> None:
    with torch.no_grad():
        y = DenoisingCAE().eval()(torch.randn(1, 1, 32, 32) * 10)
    assert float(y.min()) >= 0 and float(y.max()) <= 1


def test_residual_unet_subtracts_from_the_centre_slice() -> None:
    net = UNet([4, 8], context_slices=3, noise_level_input=True, residual=True).eval()
    torch.nn.init.zeros_(net.head.weight)
    torch.nn.init.zeros_(net.head.bias)
    x = torch.rand(2, 4, 16, 16)
    # with a zero head the network predicts no noise: output = centre slice (channel 1)
    torch.testing.assert_close(net(x), x[:, 1:2])


def test_noise_level_channel_changes_the_output() -> None:
    torch.manual_seed(0)
    net = UNet([4, 8], noise_level_input=True).eval()
    x = torch.rand(1, 1, 16, 16)
    lo = net(torch.cat([x, torch.full_like(x, 0.01)], 1))
    hi = net(torch.cat([x, torch.full_like(x, 0.2)], 1))
    assert not torch.allclose(lo, hi)


def test_build_model_accepts_pydantic_config() -> None:
    net = build_model(ModelConfig(arch="unet", features=[4, 8], norm="none"))
    assert isinstance(net, UNet) and net.hparams["norm"] == "none"


def test_build_model_rejects_bad_config() -> None:
    with pytest.raises(ConfigError, match="arch"):
        build_model({"arch": "resnet"})
    with pytest.raises(ConfigError, match=r"unknown|Extra"):
        build_model({"arch": "unet", "depth": 3})


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: UNet([8]), "at least 2 levels"),
        (lambda: UNet([8, 16], context_slices=2), "context_slices"),
        (lambda: DenoisingCAE([]), "features"),
        (lambda: DenoisingCAE(norm="group"), "norm"),
    ],
)
def test_constructors_fail_early(factory, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        factory()


def test_unet_trains_on_one_batch() -> None:
    torch.manual_seed(0)
    net = UNet([8, 16], residual=True)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    clean = torch.rand(4, 1, 16, 16)
    noisy = clean + 0.1 * torch.randn_like(clean)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(noisy), clean)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]


def _layers(net: torch.nn.Module) -> list[tuple]:
    """The leaf modules in registration order, as (kind, in, out) / (kind, size) tuples."""
    out: list[tuple] = []
    for module in net.modules():
        if list(module.children()):
            continue
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            kind = "convT" if isinstance(module, torch.nn.ConvTranspose2d) else "conv"
            out.append((kind, module.in_channels, module.out_channels))
        elif isinstance(module, torch.nn.BatchNorm2d):
            out.append(("bn", module.num_features))
        elif isinstance(module, torch.nn.MaxPool2d):
            out.append(("pool", module.kernel_size, module.stride))
        else:
            out.append((type(module).__name__.lower(),))
    return out


@pytest.mark.parametrize("upsample", ["resize", "transpose"])
def test_cae_has_the_classic_layer_sequence(upsample: str) -> None:
    # issue 3: encoder conv 32/64/128, each + BatchNorm, ReLU, 2x2 max-pool; decoder
    # transposed conv 128/64/32 + BatchNorm, ReLU; output conv with a sigmoid. Issue 26: the
    # default decoder upsamples bilinearly and convolves (3x3) in place of the transposed conv
    net = build_model({"arch": "cae", "noise_level_input": False, "upsample": upsample})
    encoder = [
        layer
        for c_in, c_out in ((1, 32), (32, 64), (64, 128))
        for layer in (("conv", c_in, c_out), ("bn", c_out), ("relu",), ("pool", 2, 2))
    ]
    up = {"resize": lambda i, o: [("upsample",), ("conv", i, o)],
          "transpose": lambda i, o: [("convT", i, o)]}[upsample]  # fmt: skip
    decoder = [
        layer
        for c_in, c_out in ((128, 128), (128, 64), (64, 32))
        for layer in (*up(c_in, c_out), ("bn", c_out), ("relu",))
    ]
    assert _layers(net) == [*encoder, *decoder, ("conv", 32, 1), ("sigmoid",)]
    # each upsampling doubles the size back: 3 pools down, 3 x2 up
    for module in net.modules():
        if isinstance(module, torch.nn.ConvTranspose2d):
            assert module.stride == (2, 2)
        if isinstance(module, torch.nn.Upsample):
            assert module.scale_factor == 2.0 and module.mode == "bilinear"
    x = torch.rand(1, 1, 24, 16)
    assert net.eval()(x).shape == (1, 1, 24, 16)
    # the sigmoid is the last step of forward: its input is the output conv's
    seen: dict[str, torch.Tensor] = {}
    net.head.register_forward_hook(lambda _m, _i, o: seen.setdefault("head", o))
    torch.testing.assert_close(net(x), torch.sigmoid(seen["head"]))


def test_unshuffle_unet_is_residual_scriptable_and_rebuilt_from_its_config() -> None:
    from medidenoise.models import model_config_of
    from medidenoise.models.unshuffle_unet import UnshuffleUNet

    net = build_model({"arch": "unshuffle_unet", "features": [4, 8], "noise_level_input": True})
    assert isinstance(net, UnshuffleUNet) and net.size_multiple == 4
    torch.nn.init.zeros_(net.head.weight)
    torch.nn.init.zeros_(net.head.bias)
    x = torch.rand(2, 2, 8, 12)
    torch.testing.assert_close(net.eval()(x), x[:, :1])  # zero head: no noise predicted
    torch.nn.init.normal_(net.head.weight)
    scripted = torch.jit.script(net)
    torch.testing.assert_close(scripted(x), net(x))
    rebuilt = build_model(model_config_of(net))
    assert model_config_of(rebuilt) == model_config_of(net)
    assert ModelConfig.model_validate({"arch": "unshuffle_unet"}).residual is True
