"""The decoders' upsampling: the resize form adds no 2-pixel pattern; old files still load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import medidenoise as md
from medidenoise.config import ModelConfig
from medidenoise.models._blocks import ResizeConv, equalise_transposed
from medidenoise.models.cae import DenoisingCAE
from medidenoise.models.factory import model_config_of
from medidenoise.models.unet import UNet
from medidenoise.models.unshuffle_unet import UnshuffleUNet


def _alternation(out: np.ndarray) -> float:
    """|mean of even rows - mean of odd rows| + the same for columns, away from the borders."""
    inner = out[8:-8, 8:-8].astype(np.float64)
    rows = abs(inner[0::2].mean() - inner[1::2].mean())
    cols = abs(inner[:, 0::2].mean() - inner[:, 1::2].mean())
    return float(rows + cols)


def _ramp_output(net: torch.nn.Module) -> np.ndarray:
    yy, xx = np.mgrid[0:64, 0:64] / 64.0
    ramp = torch.from_numpy((0.3 + 0.2 * xx + 0.1 * yy).astype(np.float32))[None, None]
    with torch.no_grad():
        return net.eval()(ramp)[0, 0].numpy()


def _save_as_before(net: torch.nn.Module, path) -> None:
    """Write ``net`` as a checkpoint of before the ``upsample`` option (0.8): no such key."""
    hparams = {k: v for k, v in net.hparams.items() if k != "upsample"}
    meta = {"model": {"arch": net.arch, **hparams}}
    tensors = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(path), metadata={
        "format": "medidenoise-checkpoint-v1", "medidenoise": json.dumps(meta)})  # fmt: skip


def test_a_new_network_keeps_a_smooth_input_free_of_a_two_pixel_pattern() -> None:
    torch.manual_seed(0)
    resize = UNet([8, 16, 32], norm="none", upsample="resize")
    torch.manual_seed(0)
    transpose = UNet([8, 16, 32], norm="none", upsample="transpose")
    for net in (resize, transpose):  # make the decoder's part large enough to see
        for layer in net.up:
            layer.weight.data.mul_(20)
    assert _alternation(_ramp_output(transpose)) > 10 * _alternation(_ramp_output(resize))


def test_a_new_cae_keeps_a_smooth_input_free_of_a_two_pixel_pattern() -> None:
    outputs = {}
    for mode in ("resize", "transpose"):
        torch.manual_seed(3)
        net = DenoisingCAE([8, 16, 32], norm="none", upsample=mode)  # type: ignore[arg-type]
        outputs[mode] = _ramp_output(net)
    assert _alternation(outputs["transpose"]) > 10 * _alternation(outputs["resize"])


def test_new_cae_upsamples_by_resizing_and_a_cae_of_before_loads_as_transposed(
    tmp_path,
) -> None:
    net = md.build_model({"arch": "cae", "features": [8, 16]})
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in net.modules())
    assert model_config_of(net)["upsample"] == "resize"
    torch.manual_seed(4)
    old = DenoisingCAE([8, 16], upsample="transpose")
    path = tmp_path / "old_cae.safetensors"
    _save_as_before(old, path)
    loaded = md.load_model(path)
    assert loaded.hparams["upsample"] == "transpose"
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), old.eval()(x))


def test_new_networks_upsample_by_resizing_and_record_it() -> None:
    for arch in ("unet", "unshuffle_unet"):
        net = md.build_model({"arch": arch, "features": [8, 16]})
        assert isinstance(net.up[0], ResizeConv)
        assert model_config_of(net)["upsample"] == "resize"
    assert isinstance(UnshuffleUNet([8, 16], upsample="transpose").up[0], torch.nn.ConvTranspose2d)
    with pytest.raises(ValueError, match="upsample"):
        ModelConfig(arch="unet", upsample="pixelshuffle")  # type: ignore[arg-type]


def test_a_checkpoint_written_before_the_option_loads_as_transposed(tmp_path) -> None:
    torch.manual_seed(1)
    old = UNet([8, 16], noise_level_input=True, residual=True, upsample="transpose")
    path = tmp_path / "old.safetensors"
    _save_as_before(old, path)
    loaded = md.load_model(path)
    assert loaded.hparams["upsample"] == "transpose"
    x = torch.rand(1, 2, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), old.eval()(x))


def test_equalising_a_transposed_network_averages_its_four_sub_pixel_kernels() -> None:
    torch.manual_seed(2)
    old = UNet([8, 16], norm="none", upsample="transpose")
    new = UNet([8, 16], norm="none", upsample="resize")
    new.load_state_dict(equalise_transposed(old.state_dict()))
    w = old.up[0].weight.detach()  # (C_in, C_out, 2, 2)
    torch.testing.assert_close(new.up[0].weight[:, :, 0, 0], w.mean(dim=(2, 3)).t())
    # a constant feature map upsampled: the mean of the old four outputs, everywhere
    h = torch.rand(1, 16, 1, 1).expand(1, 16, 4, 4).contiguous()
    with torch.no_grad():
        torch.testing.assert_close(new.up[0](h), old.up[0](h).mean(dim=(2, 3), keepdim=True)
                                   .expand(1, 8, 8, 8))  # fmt: skip


def test_the_resize_network_scripts_and_matches_itself() -> None:
    net = UNet([8, 16, 32], noise_level_input=True, residual=True).eval()
    scripted = torch.jit.script(net)
    x = torch.rand(2, 2, 24, 40)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), net(x))


@pytest.mark.parametrize("name", ["white", "correlated", "default", "cae-baseline"])
def test_the_shipped_networks_upsample_by_resizing(name: str) -> None:
    net = md.load_model(name)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in net.modules())
    assert net.hparams.get("upsample", "resize") == "resize"  # fast_unet: resizing only


def test_an_old_cae_turns_into_a_resize_cae_to_fine_tune_from() -> None:
    from medidenoise.models.cae import resize_from_transposed

    torch.manual_seed(5)
    old = DenoisingCAE([8, 16], norm="none", upsample="transpose").eval()
    new = DenoisingCAE([8, 16], norm="none", upsample="resize").eval()
    new.load_state_dict(resize_from_transposed(old.state_dict()))  # strict: every key placed
    torch.testing.assert_close(new.encoder[0].weight, old.encoder[0].weight)
    torch.testing.assert_close(new.head.weight, old.head.weight)
    # a constant feature map through the first decoder level: away from the borders, the
    # new layer gives the old one's mean over each 2x2 block, everywhere the same
    h = torch.rand(1, 16, 1, 1).expand(1, 16, 8, 8).contiguous()
    with torch.no_grad():
        before = old.decoder[0](h)[..., 4:12, 4:12]
        after = new.decoder[1](new.decoder[0](h))[..., 4:12, 4:12]
    block_mean = before.reshape(1, 16, 4, 2, 4, 2).mean(dim=(3, 5))
    torch.testing.assert_close(after[..., ::2, ::2], block_mean, atol=1e-5, rtol=1e-4)
    assert float(after.std(dim=(2, 3)).max()) < 1e-5
