"""Checkpoints: safetensors + JSON metadata round trip, no pickle, clear errors."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import medidenoise.models.checkpoint as ckpt
from medidenoise.errors import CheckpointError
from medidenoise.models import build_model, load_model, read_metadata, save_checkpoint


@pytest.fixture
def trained(tmp_path: Path):
    torch.manual_seed(0)
    net = build_model(
        {"arch": "unet", "features": [4, 8], "residual": True, "noise_level_input": True}
    )
    net.train()
    net(torch.rand(4, 2, 16, 16))  # move the BatchNorm running statistics off their defaults
    path = save_checkpoint(
        tmp_path / "m.safetensors", net, metadata={"metrics": {"val_psnr": 31.5}, "seed": 3}
    )
    return net.eval(), path


def test_round_trip_gives_the_same_outputs(trained) -> None:
    net, path = trained
    loaded = load_model(path)
    x = torch.rand(2, 2, 16, 16)
    torch.testing.assert_close(loaded(x), net(x), rtol=0, atol=0)
    assert not loaded.training
    assert loaded.metadata["metrics"]["val_psnr"] == 31.5
    assert loaded.metadata["model"]["arch"] == "unet"
    assert loaded.metadata["package_version"]


def test_loading_never_unpickles(trained, monkeypatch: pytest.MonkeyPatch) -> None:
    _, path = trained

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle/torch.load must not be used to read checkpoints")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    assert load_model(path).context_slices == 1
    assert path.read_bytes()[8:9] == b"{"  # safetensors: 8-byte length, then a JSON header


def test_metadata_readable_without_weights(trained) -> None:
    _, path = trained
    meta = read_metadata(path)
    assert meta["seed"] == 3 and meta["model"]["features"] == [4, 8]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "none.safetensors")


def test_corrupt_file(tmp_path: Path, trained) -> None:
    _, path = trained
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=r"truncated|corrupt|not a readable"):
        load_model(broken)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError):
        load_model(garbage)


def test_foreign_safetensors_file(tmp_path: Path) -> None:
    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="without medidenoise metadata"):
        load_model(path)


def _rewrite_model_config(src: Path, dst: Path, model: dict) -> None:
    from safetensors import safe_open

    with safe_open(str(src), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = dict(f.metadata())
    inner = json.loads(meta["medidenoise"])
    inner["model"] = model
    meta["medidenoise"] = json.dumps(inner)
    save_file(tensors, str(dst), metadata=meta)


def test_incompatible_weights(tmp_path: Path, trained) -> None:
    _, path = trained
    bad = tmp_path / "bad.safetensors"
    _rewrite_model_config(path, bad, {"arch": "unet", "features": [8, 16]})
    with pytest.raises(CheckpointError, match="do not match"):
        load_model(bad)
    _rewrite_model_config(path, bad, {"arch": "transformer"})
    with pytest.raises(CheckpointError, match="incompatible model config"):
        load_model(bad)


@pytest.mark.parametrize("name", ["default", "cae-baseline"])
def test_missing_shipped_model_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str
) -> None:
    monkeypatch.setattr(ckpt, "shipped_weights_path", lambda n: tmp_path / f"{n}.safetensors")
    recipe = ckpt.SHIPPED_MODELS[name][1]
    with pytest.raises(CheckpointError, match=f"shipped model '{name}' is not installed") as err:
        load_model(name)
    assert recipe in str(err.value)


def test_default_model_loads_when_present(monkeypatch: pytest.MonkeyPatch, trained) -> None:
    _, path = trained
    monkeypatch.setattr(ckpt, "shipped_weights_path", lambda n: path)
    assert load_model("default").noise_level_input


@pytest.mark.parametrize(
    ("name", "arch"),
    [
        ("default", "fast_unet"),  # the network of "correlated" since issue 26
        ("correlated", "fast_unet"),
        ("white", "fast_unet"),
        ("cae-baseline", "cae"),
    ],
)
def test_shipped_models_are_in_the_package(name: str, arch: str) -> None:
    path = ckpt.shipped_weights_path(name)
    assert path.is_file(), f"{name} is not shipped: {path} (see {ckpt.SHIPPED_MODELS[name][1]})"
    assert path.stat().st_size < 8 * 2**20  # a few MB at most
    model = load_model(name)
    meta = model.metadata
    assert meta["model"]["arch"] == arch
    # trained on shipped data only, never on the hold-out images
    sources = " ".join(map(str, meta["data"]["train"]))
    assert not any(h in sources for h in ("RG3_", "MR2_", "693_"))
    assert meta["metrics"]["val_psnr"] > 20


def test_save_is_atomic_and_rejects_foreign_modules(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not a medidenoise network"):
        save_checkpoint(tmp_path / "x.safetensors", torch.nn.Linear(2, 2))
    assert not list(tmp_path.iterdir())


def test_correlated_model_removes_correlated_noise_the_white_one_leaves() -> None:
    from medidenoise import denoise
    from medidenoise.engine.procedural import phantom
    from medidenoise.transforms import add_correlated_noise

    clean = phantom(128, np.random.default_rng(3))
    noisy = add_correlated_noise(clean, 0.06, rng=4, spectrum="bandpass", width=0.4)

    def error(model: str) -> float:
        return float(np.sqrt(np.mean((denoise(noisy, model) - clean) ** 2)))

    # a network trained with correlated noise in its mixture: what users of CT pick
    assert error("correlated") < 0.9 * error("white") < error("identity")


def test_auto_is_a_choice_between_two_shipped_networks_not_a_file(tmp_path: Path) -> None:
    from medidenoise.errors import ExportError
    from medidenoise.export import export_model

    label = ckpt.model_label("auto", checksum=True)  # what a derived series' header records
    assert label.startswith("auto: white (sha256 ") and ", correlated (sha256 " in label
    for use in (lambda: load_model("auto"), lambda: export_model("auto", tmp_path / "m.onnx")):
        with pytest.raises((CheckpointError, ExportError), match="'white' or 'correlated'"):
            use()
    assert not list(tmp_path.iterdir())
