"""Compute behind the widgets, with no Qt: plain functions and generators.

The widgets run these in ``napari.qt.threading`` workers; tests call them
directly. Everything goes through the public ``medidenoise`` API, the same
code path as the command line.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

import medidenoise as md

__all__ = [
    "DenoiseJob",
    "Progress",
    "SliceResult",
    "VolumeResult",
    "add_noise_to",
    "denoise_slice",
    "denoise_volume_steps",
]


@dataclass(frozen=True)
class DenoiseJob:
    """A resolved denoising request.

    Attributes
    ----------
    model : str
        ``"default"``, a checkpoint path, an ``.onnx`` export, ``"nlm"`` or ``"identity"``.
    noise_level : float or None
        Noise std in image units; ``None`` estimates it.
    device : str
        ``"cpu"`` or ``"cuda"``.
    batch_size : int or None
        Slices per forward pass (library default when ``None``).
    self_ensemble : bool
        Average the network over the 8 flips/rotations of each slice
        (slightly better, 8 times slower; networks only).
    """

    model: str = "default"
    noise_level: float | None = None
    device: str = "cpu"
    batch_size: int | None = None
    self_ensemble: bool = False


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` slices; ``noise_level`` is the level in use."""

    done: int
    total: int
    noise_level: float


@dataclass(frozen=True)
class SliceResult:
    """A denoised slice and the noise level it was denoised with."""

    denoised: np.ndarray
    noise_level: float


@dataclass(frozen=True)
class VolumeResult:
    """A denoised volume, the removed noise (input - denoised) and the level used."""

    denoised: np.ndarray
    removed_noise: np.ndarray
    noise_level: float


def _mtime(model: str) -> float:
    path = Path(model)
    return path.stat().st_mtime if path.is_file() else 0.0


@lru_cache(maxsize=4)
def _cached_denoiser(
    model: str, device: str, batch_size: int | None, self_ensemble: bool, mtime: float
) -> md.Denoiser:
    del mtime  # cache key only: a rewritten checkpoint is loaded again
    return md.Denoiser(model, device=device, batch_size=batch_size, self_ensemble=self_ensemble)


def _denoiser(job: DenoiseJob) -> md.Denoiser:
    return _cached_denoiser(
        job.model, job.device, job.batch_size, job.self_ensemble, _mtime(job.model)
    )


def _context_slices(denoiser: md.Denoiser) -> int:
    return int(getattr(denoiser.model, "context_slices", 1))


def denoise_slice(
    data: np.ndarray, index: int | None, job: DenoiseJob, *, axis: int = 0
) -> SliceResult:
    """Denoise one slice of a 2D image or 3D volume, as the Preview button does.

    Parameters
    ----------
    data : numpy.ndarray
        (H, W) image or 3D volume in its own units.
    index : int or None
        The slice along ``axis`` (ignored for 2D data).
    job : DenoiseJob
        Model, noise level and device.
    axis : int
        The axis the slice is taken across.

    Returns
    -------
    SliceResult
        The denoised (H, W) slice and the noise level used; an automatic level
        is estimated on this slice.
    """
    data = np.asarray(data)
    if data.ndim == 2:
        image = data
        stack, centre = data[np.newaxis], 0
    elif data.ndim == 3:
        if index is None or not 0 <= index < data.shape[axis]:
            raise IndexError(f"slice {index} is outside 0..{data.shape[axis] - 1}")
        moved = np.moveaxis(data, axis, 0)
        image = moved[index]
        denoiser = _denoiser(job)
        half = _context_slices(denoiser) // 2
        start, stop = max(0, index - half), min(moved.shape[0], index + half + 1)
        stack, centre = moved[start:stop], index - start
    else:
        raise ValueError(f"need a 2D or 3D grayscale image, got shape {data.shape}")
    level = job.noise_level
    if level is None:
        level = float(md.estimate_noise(np.asarray(image, dtype=np.float32)))
    out = _denoiser(job)(np.asarray(stack, dtype=np.float32), noise_level=level)
    return SliceResult(denoised=np.asarray(out[centre], dtype=np.float32), noise_level=level)


def denoise_volume_steps(
    data: np.ndarray,
    job: DenoiseJob,
    *,
    cancel: threading.Event | None = None,
) -> Generator[Progress, None, VolumeResult | None]:
    """Denoise a whole volume, yielding progress after each slice batch.

    The library call runs in a helper thread; its progress callback is relayed
    through a queue so this generator can yield between batches, and setting
    ``cancel`` stops the library at the next batch boundary.

    Parameters
    ----------
    data : numpy.ndarray
        (D, H, W) volume or (H, W) image in its own units; never modified.
    job : DenoiseJob
        Model, noise level and device.
    cancel : threading.Event, optional
        Set it to stop; the generator then returns ``None``.

    Yields
    ------
    Progress
        Slices done so far, the total and the noise level in use.

    Returns
    -------
    VolumeResult or None
        The result, or ``None`` when cancelled.
    """
    cancel = cancel if cancel is not None else threading.Event()
    array = np.asarray(data, dtype=np.float32)
    total = 1 if array.ndim == 2 else array.shape[0]
    level = job.noise_level
    if level is None:
        level = float(md.estimate_noise(array))
    yield Progress(0, total, level)
    if cancel.is_set():
        return None
    events: queue.SimpleQueue = queue.SimpleQueue()
    run = _VolumeRun(array, job, level, cancel, events.put)
    thread = threading.Thread(target=run, name="medidenoise-volume", daemon=True)
    thread.start()
    try:
        while True:
            kind, payload = events.get()
            if cancel.is_set():
                return None
            if kind == "progress":
                yield Progress(payload, total, level)
            elif kind == "error":
                if isinstance(payload, InterruptedError) and cancel.is_set():
                    return None
                raise payload
            else:
                denoised = np.asarray(payload, dtype=np.float32)
                return VolumeResult(denoised, array - denoised, level)
    finally:
        cancel.set()  # stops the helper when the generator is closed early
        thread.join()


class _VolumeRun:
    """The helper-thread body of :func:`denoise_volume_steps`."""

    def __init__(
        self,
        array: np.ndarray,
        job: DenoiseJob,
        level: float,
        cancel: threading.Event,
        post: Callable[[tuple[str, object]], None],
    ) -> None:
        self.array, self.job, self.level = array, job, level
        self.cancel, self.post = cancel, post

    def report(self, done: int, total: int) -> None:
        """Library progress callback: relay it, and stop here when cancelled."""
        if self.cancel.is_set():
            raise InterruptedError("denoising was cancelled")
        self.post(("progress", done))

    def __call__(self) -> None:
        try:
            out = _denoiser(self.job)(
                self.array,
                noise_level=self.level,
                progress=self.report,
                should_stop=self.cancel.is_set,
            )
        except BaseException as exc:  # handed over to the generator, which re-raises it
            self.post(("error", exc))
        else:
            self.post(("done", out))


def add_noise_to(data: np.ndarray, kind: str, level: float, seed: int) -> np.ndarray:
    """``medidenoise.add_noise`` on a layer's data with a fixed seed (float32 out)."""
    if kind not in md.NOISE_KINDS:
        raise ValueError(f"noise kind {kind!r} is not one of {', '.join(md.NOISE_KINDS)}")
    image = np.asarray(data, dtype=np.float32)
    noisy = md.add_noise(image, kind, level, rng=seed)  # type: ignore[arg-type]  # checked above
    return np.asarray(noisy, dtype=np.float32)
