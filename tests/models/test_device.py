"""One device choice and one torchrun-rank reading for training, inference and conversion."""

from __future__ import annotations

import pytest
import torch

from medidenoise.errors import ConfigError
from medidenoise.models.device import pick_device, torchrun_rank


def test_auto_is_cuda_when_present_with_the_local_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device(None) == torch.device("cpu")
    assert pick_device("auto", local_rank=3) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("cuda")  # inference: the current GPU
    assert pick_device(None, local_rank=2) == torch.device("cuda:2")  # one GPU per rank
    assert pick_device("cpu", local_rank=2) == torch.device("cpu")


def test_an_unusable_device_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="CUDA is not available"):
        pick_device("cuda")
    with pytest.raises(ConfigError, match="not a device"):
        pick_device("gpu please")


def test_torchrun_rank_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert torchrun_rank() == (0, 1, None)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert torchrun_rank() == (3, 4, 1)
    monkeypatch.setenv("RANK", "4")  # outside the world: not a torchrun launch after all
    assert torchrun_rank()[:2] == (0, 1)
    monkeypatch.setenv("WORLD_SIZE", "many")
    assert torchrun_rank()[:2] == (0, 1)
