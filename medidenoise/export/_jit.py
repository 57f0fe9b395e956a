"""TorchScript compilation of a pipeline, quiet about the deprecation notices of torch 2.13."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from medidenoise.errors import ExportError
from medidenoise.export.pipeline import DenoisePipeline

__all__ = ["quiet_jit", "script_pipeline"]


@contextmanager
def quiet_jit() -> Iterator[None]:
    # torch 2.13 marks TorchScript and the TorchScript-based ONNX exporter deprecated; both
    # still write files that current and older runtimes load, so the notices are noise here
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*TorchScript.*")
        warnings.filterwarnings("ignore", message=".*torch.jit.*")
        yield


def script_pipeline(pipeline: DenoisePipeline) -> torch.jit.ScriptModule:
    """``torch.jit.script`` of a pipeline, with a clear error naming a network that cannot be."""
    with quiet_jit():
        try:
            return torch.jit.script(pipeline)
        except Exception as exc:  # TorchScript raises several types while compiling
            arch = getattr(pipeline, "metadata", {}).get("model", {}).get("arch", "?")
            raise ExportError(
                f"the {arch!r} network cannot be compiled by torch.jit.script: "
                f"{str(exc).strip().splitlines()[0]}; its forward() must be TorchScript code"
            ) from None
