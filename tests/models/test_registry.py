"""The one table of model names and the network contract that every user reads from."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from medidenoise._model_names import MODELS, base_name, model_kind, model_names, models_help
from medidenoise.convert.dask import _spec
from medidenoise.errors import CheckpointError, ExportError
from medidenoise.export import export_model
from medidenoise.inference._inputs import check_model_available
from medidenoise.models import build_model
from medidenoise.models.checkpoint import AUTO_ROUTES, SHIPPED_MODELS, shipped_weights_path
from medidenoise.models.classical import CLASSICAL_METHODS
from medidenoise.models.network import DenoisingNetwork, contract_of


def test_the_table_holds_every_name_the_library_runs() -> None:
    assert set(model_names("classical")) == set(CLASSICAL_METHODS)
    assert set(model_names("shipped")) == set(SHIPPED_MODELS)
    assert set(AUTO_ROUTES.values()) <= set(model_names("shipped"))
    for name in model_names("shipped"):
        assert shipped_weights_path(name).is_file(), name


def test_kinds_of_names_paths_and_networks() -> None:
    assert model_kind("auto") == "routed"
    assert model_kind("identity") == "identity"
    assert model_kind("white") == "shipped"
    assert model_kind("/data/model.safetensors") == "file"
    net = build_model({"arch": "cae"})
    assert model_kind(net) == "network"
    net.metadata = {"adaptation": {"method": "n2n"}}  # type: ignore[assignment]
    assert model_kind(net) == "adapted"


def test_flags_decide_export_and_adaptation() -> None:
    assert [n for n, e in MODELS.items() if e.exportable] == list(SHIPPED_MODELS)
    assert MODELS["auto"].adaptable and not MODELS["nlm"].adaptable
    with pytest.raises(ExportError, match=r"'nlm' is not a network.*'default'"):
        export_model("nlm", "out.onnx")


def test_every_user_of_names_accepts_each_name_and_refuses_others(tmp_path) -> None:
    for name in MODELS:
        check_model_available(name)
        assert _spec(name, "x").name == name  # a Dask worker loads it by name
        assert f"'{name}'" in models_help() or name in models_help()
    with pytest.raises(CheckpointError, match="not a model name"):
        check_model_available("nosuch")


def test_base_name_keeps_only_a_file_name() -> None:
    assert base_name("/patients/smith/model.safetensors") == "model.safetensors"
    assert base_name("white") == "white"


def test_networks_declare_the_contract_and_foreign_modules_get_defaults() -> None:
    unet = build_model({"arch": "unet", "features": [8, 16], "context_slices": 3})
    assert isinstance(unet, DenoisingNetwork)
    c = contract_of(unet)
    assert (c.context_slices, c.noise_level_input, c.size_multiple) == (3, False, 2)
    assert contract_of(nn.DataParallel(unet)) == c
    own = nn.Conv2d(1, 1, 3, padding=1)
    assert contract_of(own).context_slices == 1 and not contract_of(own).noise_level_input
    own.size_multiple = 4  # type: ignore[assignment]
    assert contract_of(own).size_multiple == 4
    assert torch.jit.script(build_model({"arch": "unet", "features": [8, 16]})) is not None
