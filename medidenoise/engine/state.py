"""Resumable training state without pickle: safetensors tensors + JSON scalars.

``resume.safetensors`` in a run folder holds the model weights (``model.*``),
the optimizer's tensors (``optim.<param>.<name>``), the moving average of the
weights when the run keeps one (``average.*``, ``train.ema``) and, as JSON metadata, the
epoch, iteration, optimizer hyper-parameters, scheduler and early-stopping
state. Loading it never unpickles anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from medidenoise.errors import CheckpointError

__all__ = ["RESUME_FILE", "find_resume_file", "load_state", "save_state"]

RESUME_FILE = "resume.safetensors"
_FORMAT = "medidenoise-resume-v1"


def _split_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, pstate in state["state"].items():
        for name, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _prefixed(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's state dict on the CPU, each name behind ``prefix``, ready for safetensors."""
    return {f"{prefix}{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def save_state(
    path: str | os.PathLike,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    info: dict[str, Any],
    average: torch.nn.Module | None = None,
) -> Path:
    """Write model, optimizer, the weights' moving average (if any) and ``info``
    (JSON-serialisable) to ``path`` atomically."""
    path = Path(path)
    tensors = _prefixed("model.", getattr(model, "module", model))
    if average is not None:
        tensors.update(_prefixed("average.", average))
    optim_tensors, optim_meta = _split_optimizer(optimizer.state_dict())
    tensors.update(optim_tensors)
    meta = {"format": _FORMAT, "info": json.dumps(info), "optimizer": json.dumps(optim_meta)}
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)
    return path


def find_resume_file(path: str | os.PathLike) -> Path:
    """The resume file for ``--resume``: the file itself, or ``resume.safetensors`` beside it."""
    path = Path(path)
    candidates = [path / RESUME_FILE] if path.is_dir() else [path, path.parent / RESUME_FILE]
    for c in candidates:
        if c.is_file() and c.name == RESUME_FILE:
            return c
    if path.is_file() or path.is_dir():
        raise CheckpointError(
            f"{path}: no {RESUME_FILE} found beside it; --resume takes a run folder or a "
            "checkpoint inside a run folder written by `medidenoise train`"
        )
    raise CheckpointError(f"{path}: resume checkpoint not found")


def load_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read a resume file: ``{"model": state_dict, "optimizer": state_dict, "info": dict,
    "average": state_dict or None}`` (``average``: the weights' moving average, ``train.ema``)."""
    path = find_resume_file(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        if meta.get("format") != _FORMAT:
            raise CheckpointError(f"{path}: not a medidenoise resume file")
        info = json.loads(meta["info"])
        optim_meta = json.loads(meta["optimizer"])
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: corrupt resume file ({exc})") from None
    model = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    average = {k[8:]: v for k, v in tensors.items() if k.startswith("average.")} or None
    opt_state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            opt_state.setdefault(int(pid), {})[name] = value
    for pid, extra in optim_meta["scalars"].items():
        opt_state.setdefault(int(pid), {}).update(extra)
    optimizer = {"state": opt_state, "param_groups": optim_meta["param_groups"]}
    return {
        "model": model,
        "optimizer": optimizer,
        "info": info,
        "average": average,
        "path": str(path),
    }
