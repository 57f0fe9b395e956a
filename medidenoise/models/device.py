"""Which device a model runs on: one check shared by training and inference."""

from __future__ import annotations

import torch

from medidenoise.errors import ConfigError

__all__ = ["check_device"]

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
