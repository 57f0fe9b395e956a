"""What a :class:`~medidenoise.inference.denoiser.Denoiser` runs: a network, an ONNX model,
a classical method or ``"identity"``, resolved from what the caller passed.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from medidenoise._model_names import model_kind
from medidenoise.inference._inputs import check_model_arg
from medidenoise.inference._network import mixed_precision, optimise_for_inference
from medidenoise.inference.onnx_model import OnnxModel, is_onnx_path
from medidenoise.models import load_model
from medidenoise.models.checkpoint import (
    AUTO_MODEL,
    AUTO_RICIAN,
    AUTO_ROUTES,
    SHIPPED_MODELS,
    shipped_weights_path,
)
from medidenoise.models.classical import CLASSICAL_METHODS
from medidenoise.models.network import contract_of

log = logging.getLogger("medidenoise.inference.denoiser")  # the name users configure

ModelLike = str | os.PathLike | torch.nn.Module


@functools.lru_cache(maxsize=4)
def cached_model(key: str, mtime: float, device: str) -> torch.nn.Module:
    del mtime  # part of the cache key only: a rewritten checkpoint is loaded again
    model = load_model(key, device=device)
    fast = mixed_precision(optimise_for_inference(model, torch.device(device)))
    fast.metadata = getattr(model, "metadata", {})  # type: ignore[assignment]
    return fast


@dataclass(frozen=True)
class Routed:
    """``"auto"``: a shipped network per noise kind, one picked per image by its measured noise."""

    networks: dict[bool, torch.nn.Module]  # by "the noise is spatially correlated"
    names: dict[bool, str] = field(default_factory=lambda: dict(AUTO_ROUTES))  # for labels

    @property
    def context_slices(self) -> int:
        return max(contract_of(n).context_slices for n in self.networks.values())

    def pick(self, correlated: bool, rician: bool = False) -> tuple[torch.nn.Module, str]:
        """The network for this noise and the label a result records: ``"auto: correlated"``,
        or ``"auto: white, Rician bias removed"`` when it took the image for a magnitude
        image (:data:`~medidenoise.models.checkpoint.AUTO_RICIAN`)."""
        label = f"{AUTO_MODEL}: {self.names[correlated]}{AUTO_RICIAN if rician else ''}"
        return self.networks[correlated], label


def resolve_model(
    model: ModelLike, device: torch.device
) -> torch.nn.Module | OnnxModel | Routed | str:
    """A ready network, an :class:`OnnxModel`, the ``"auto"`` pair, or a classical method name."""
    check_model_arg(model)
    if is_onnx_path(model):
        if device.type != "cpu":
            log.info("%s: an .onnx model runs on the CPU through onnxruntime", model)
        return OnnxModel(model)  # type: ignore[arg-type]
    if isinstance(model, torch.nn.Module):
        fast = mixed_precision(optimise_for_inference(model, device))
        for attr in ("metadata", "context_slices", "noise_level_input", "size_multiple"):
            if hasattr(model, attr):
                setattr(fast, attr, getattr(model, attr))
        return fast
    name = os.fspath(model)
    if model_kind(name) in ("identity", "classical"):
        return name
    if name == AUTO_MODEL:
        nets = {k: resolve_model(v, device) for k, v in AUTO_ROUTES.items()}
        return Routed(nets)  # type: ignore[arg-type]
    path = shipped_weights_path(name) if name in SHIPPED_MODELS else Path(name)
    mtime = path.stat().st_mtime if path.is_file() else 0.0
    return cached_model(name, mtime, str(device))


def run_classical(
    method: str,
    vol: np.ndarray,
    sigma: float,
    report: Callable[[int, int], None] | None,
    should_stop: Callable[[], bool] | None = None,
) -> np.ndarray:
    """``method`` on each slice of ``vol``, reporting after each and stopping when asked."""
    fn = CLASSICAL_METHODS[method]
    out = np.empty_like(vol)
    for k in range(vol.shape[0]):
        if should_stop is not None and should_stop():
            raise InterruptedError("denoising was cancelled")
        out[k] = fn(vol[k], sigma)
        if report is not None:
            report(k + 1, vol.shape[0])
    return out
