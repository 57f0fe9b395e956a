"""The resumable state of a from-scratch recipe of train_gpu.py (issue 29), in small files.

A device call brings back files of at most 16 MiB each, so the state is split:
``<recipe>_state.safetensors`` holds the raw weights and, in its metadata, the step, the
patches seen and the seconds trained so far; ``<recipe>_adam.safetensors`` holds Adam's
two moments per parameter. The moving average of the weights is the recipe's checkpoint
itself (``<recipe>.safetensors``, a medidenoise checkpoint), so nothing is stored twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file


def _write(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp), meta)
    tmp.replace(path)


def save_state(
    out: Path, recipe: str, net: torch.nn.Module, opt: torch.optim.Optimizer, progress: dict
) -> None:
    """Write the raw weights + progress and Adam's moments beside the checkpoint."""
    _write(
        out / f"{recipe}_state.safetensors",
        net.state_dict(),
        {"format": "medidenoise-gpu-state-v1", "progress": json.dumps(progress)},
    )
    moments: dict[str, torch.Tensor] = {}
    for index, state in opt.state_dict()["state"].items():
        for key in ("exp_avg", "exp_avg_sq", "step"):
            value = state[key]
            moments[f"{index}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    _write(out / f"{recipe}_adam.safetensors", moments, {"format": "medidenoise-gpu-adam-v1"})


def load_state(
    folder: Path,
    recipe: str,
    net: torch.nn.Module,
    opt: torch.optim.Optimizer,
    average: dict[str, torch.Tensor],
) -> dict:
    """Load a state written by :func:`save_state` (and the moving average from the
    checkpoint) into ``net``, ``opt`` and ``average``; returns the progress dict."""
    state_file = folder / f"{recipe}_state.safetensors"
    if not state_file.is_file():
        raise SystemExit(f"--resume {folder}: no {state_file.name} there")
    dev = next(net.parameters()).device
    with safe_open(str(state_file), framework="pt") as f:
        progress = json.loads(f.metadata()["progress"])
        net.load_state_dict({k: f.get_tensor(k) for k in f.keys()})
    with safe_open(str(folder / f"{recipe}.safetensors"), framework="pt") as f:
        for k in f.keys():
            average[k].copy_(f.get_tensor(k).to(dev))
    saved = opt.state_dict()
    with safe_open(str(folder / f"{recipe}_adam.safetensors"), framework="pt") as f:
        for index in range(len(saved["param_groups"][0]["params"])):
            saved["state"][index] = {
                "step": f.get_tensor(f"{index}.step").float(),
                "exp_avg": f.get_tensor(f"{index}.exp_avg").to(dev),
                "exp_avg_sq": f.get_tensor(f"{index}.exp_avg_sq").to(dev),
            }
    opt.load_state_dict(saved)
    return progress
