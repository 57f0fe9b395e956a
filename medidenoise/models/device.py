"""Which device a model runs on, and which torchrun rank this process is.

The one home of these choices for training, inference and batch conversion.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import torch

from medidenoise.errors import ConfigError

__all__ = ["TorchrunRank", "check_device", "pick_device", "torchrun_rank"]

_ALLOWED = "'auto', 'cpu', 'cuda' or 'cuda:N'"


def check_device(device: str | torch.device) -> torch.device:
    """An explicit device (not ``"auto"``) that this machine can run on.

    Shared by training and inference. ``"cuda"`` keeps no index (the caller
    picks one); ``"cuda:N"`` must exist here.

    Raises
    ------
    ConfigError
        Not a device, not a CPU/CUDA device, or a CUDA device this machine
        does not have; the message names the value and what is allowed.
    """
    name = str(device)
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"device={name!r} is not a device; use {_ALLOWED}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(
            f"device={name!r}: training runs on {_ALLOWED}, and so does denoising; "
            f"{name!r} is not a device medidenoise uses"
        )
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device={name!r} was asked for but CUDA is not available on this "
                f"machine; use 'cpu' (allowed: {_ALLOWED})"
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ConfigError(
                f"device={name!r}: this machine has {count} CUDA device(s), "
                f"cuda:0 to cuda:{count - 1}"
            )
    return dev


def pick_device(
    device: str | torch.device | None, *, local_rank: int | None = None
) -> torch.device:
    """The device to run on: CUDA when available and not told otherwise, else CPU.

    ``None`` or ``"auto"`` picks ``cuda`` (``cuda:<local_rank>`` when a
    ``local_rank`` is given: one GPU per torchrun process) or ``cpu``. An
    explicit device is checked by :func:`check_device`; a bare ``"cuda"`` gets
    the ``local_rank`` index when one is given.

    Raises
    ------
    ConfigError
        As :func:`check_device`.
    """
    if device is None or str(device) == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        return torch.device("cuda" if local_rank is None else f"cuda:{local_rank}")
    dev = check_device(device)
    if dev.type == "cuda" and dev.index is None and local_rank is not None:
        dev = torch.device(f"cuda:{local_rank}")
    return dev


class TorchrunRank(NamedTuple):
    """Where this process stands in a torchrun launch, from its environment."""

    rank: int
    world_size: int
    #: ``LOCAL_RANK``; None when it is not set (not launched by torchrun)
    local_rank: int | None


def torchrun_rank() -> TorchrunRank:
    """``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` as torchrun sets them.

    Outside torchrun, or when the values make no sense (not whole numbers, a
    rank outside the world), rank 0 of a world of 1.
    """
    local = os.environ.get("LOCAL_RANK")
    local_rank = int(local) if local is not None and local.strip().isdigit() else None
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
    except ValueError:
        return TorchrunRank(0, 1, local_rank)
    if world < 1 or not 0 <= rank < world:
        return TorchrunRank(0, 1, local_rank)
    return TorchrunRank(rank, world, local_rank)
