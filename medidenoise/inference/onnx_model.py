"""Run a model exported with ``medidenoise export --format onnx`` through onnxruntime.

The exported graph takes a slice batch in image units with two more inputs, ``noise_level``
(image units; negative: estimate it) and ``intensity_range`` (``[low, high]`` mapped to 0 and
1; ``high <= low``: choose it from the batch). :class:`Denoiser` normalises the whole volume and
estimates its noise level itself, then sends slice batches already in network units with
``intensity_range = [0, 1]`` and the noise level in network units, so a volume is normalised
once, the way the torch path does it, and never has to fit in one call.

For a 2D model (one input slice) :meth:`OnnxModel.as_network` stands in for the torch network
inside ``run_network``: the same batching, tiling of large slices and self-ensemble as the
checkpoint, only the network's arithmetic done by onnxruntime.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medidenoise._optional import require
from medidenoise.errors import CheckpointError

__all__ = ["ONNX_METADATA_KEY", "OnnxModel", "is_onnx_path"]

#: key of the JSON document in the ONNX model's metadata properties
ONNX_METADATA_KEY = "medidenoise"
# slices per call on CPU: as the torch path, about one 512x512 slice
_PIXELS_PER_CALL = 1 << 18


def is_onnx_path(model: object) -> bool:
    """Whether ``model`` names an ``.onnx`` file (by its suffix)."""
    return isinstance(model, (str, os.PathLike)) and os.fspath(model).lower().endswith(".onnx")


def _import_onnxruntime() -> Any:
    return require(
        "onnxruntime",
        "running an .onnx model needs onnxruntime: pip install 'medidenoise[onnx]' "
        "(or pip install onnxruntime)",
    )


class OnnxModel:
    """An exported ``.onnx`` medidenoise model in an onnxruntime session (CPU).

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``medidenoise export --format onnx``.
    threads : int, optional
        Intra-op threads; default torch's thread count, so both runtimes compare fairly.

    Raises
    ------
    CheckpointError
        Missing file, not an ONNX model, or an ONNX model not exported by medidenoise.
    MissingPackageError
        onnxruntime is not installed.
    """

    def __init__(self, path: str | os.PathLike, *, threads: int | None = None) -> None:
        ort = _import_onnxruntime()
        self.path = Path(path)
        if not self.path.is_file():
            raise CheckpointError(f"{self.path}: ONNX model file not found")
        options = ort.SessionOptions()
        if threads is None:
            threads = torch.get_num_threads()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise CheckpointError(
                f"{self.path}: onnxruntime cannot load it ({type(exc).__name__}: {exc}); "
                "export it again with `medidenoise export MODEL --format onnx`"
            ) from None
        props = self.session.get_modelmeta().custom_metadata_map
        if ONNX_METADATA_KEY not in props:
            raise CheckpointError(
                f"{self.path}: an ONNX model without medidenoise metadata; only models written "
                "by `medidenoise export --format onnx` can be run by denoise()"
            )
        info = json.loads(props[ONNX_METADATA_KEY])
        self.context_slices = int(info["context_slices"])
        self.noise_level_input = bool(info["noise_level_input"])
        self.size_multiple = int(info["size_multiple"])
        self.metadata: dict[str, Any] = dict(info.get("checkpoint", {}))
        self.metadata.setdefault("name", self.path.name)

    def run(
        self,
        volume: np.ndarray,
        *,
        noise_level: float | None,
        intensity_range: tuple[float, float] | None = None,
    ) -> np.ndarray:
        """The exported pipeline on one slice batch; ``None``/no range: estimated in the graph."""
        feeds = {
            "image": np.ascontiguousarray(volume, dtype=np.float32),
            "noise_level": np.array([-1.0 if noise_level is None else noise_level], np.float32),
            "intensity_range": np.array(intensity_range or (0.0, 0.0), np.float32),
        }
        # a model without a noise-level channel has no noise_level input (the exporter drops it)
        wanted = {i.name for i in self.session.get_inputs()}
        return self.session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0]

    def denoise_normalized(
        self,
        volume: np.ndarray,
        sigma: float,
        *,
        batch_size: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """Denoise a (D, H, W) volume already in network units, in slice batches.

        2.5D models get ``context_slices // 2`` extra slices on each side of a batch, so
        each slice sees the neighbours it would see in one call over the whole volume.
        """
        depth, height, width = volume.shape
        if batch_size is None:
            batch_size = max(1, _PIXELS_PER_CALL // max(1, height * width))
        half = self.context_slices // 2
        out = np.empty_like(volume, dtype=np.float32)
        for start in range(0, depth, batch_size):
            if should_stop is not None and should_stop():
                raise InterruptedError("denoising was cancelled")
            stop = min(depth, start + batch_size)
            lo, hi = max(0, start - half), min(depth, stop + half)
            y = self.run(volume[lo:hi], noise_level=sigma, intensity_range=(0.0, 1.0))
            out[start:stop] = y[start - lo : start - lo + stop - start]
            if progress is not None:
                progress(stop, depth)
        return out

    def as_network(self) -> _GraphAsNetwork:
        """A callable for ``run_network`` (2D models only): (B, C_in, H, W) -> (B, 1, H, W)."""
        if self.context_slices != 1:
            raise ValueError(f"{self.path}: a 2.5D model cannot run slice stacks one by one")
        return _GraphAsNetwork(self)


class _GraphAsNetwork:
    """The graph behind the network contract of ``docs/internals.md``, for ``run_network``.

    Its input is already in network units and padded, with the constant noise-level channel
    last: the graph gets the slice channel, ``intensity_range = [0, 1]`` (no normalisation) and
    the level read back from that channel.
    """

    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        self.context_slices = 1
        self.noise_level_input = model.noise_level_input
        self.size_multiple = model.size_multiple
        self.metadata = model.metadata

    def to(self, *args: Any, **kwargs: Any) -> _GraphAsNetwork:
        return self

    def eval(self) -> _GraphAsNetwork:
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        level = float(x[0, -1, 0, 0]) if self.noise_level_input else None
        image = x[:, 0].detach().cpu().numpy()
        y = self.model.run(image, noise_level=level, intensity_range=(0.0, 1.0))
        return torch.from_numpy(y).unsqueeze(1).to(x.device)
