"""Compute behind "Adapt to this image", with no Qt: a generator a napari worker runs.

``medidenoise.adapt`` runs in a helper thread; its progress callback is relayed
through a queue so the generator can yield between training steps, and a set
``cancel`` event stops the library at the next step. The adapted model is saved
(atomically, by ``medidenoise.save_checkpoint``) to a checkpoint file, which the
Denoise widget then selects like any other checkpoint.
"""

from __future__ import annotations

import queue
import tempfile
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import medidenoise as md

__all__ = ["AdaptJob", "AdaptProgress", "AdaptResult", "adapt_steps", "session_folder"]


@dataclass(frozen=True)
class AdaptJob:
    """What to adapt: the base model (``"default"`` or a checkpoint path), budget, method."""

    model: str = "default"
    minutes: float = 3.0
    method: str = "auto"
    noise_level: float | None = None
    device: str = "cpu"


@dataclass(frozen=True)
class AdaptProgress:
    """``done`` of ``total`` seconds of the budget."""

    done: int
    total: int


@dataclass(frozen=True)
class AdaptResult:
    """The saved adapted model and what the adaptation reported."""

    checkpoint: Path
    info: dict[str, Any]


_SESSION: list[Path] = []


def session_folder() -> Path:
    """A folder for this session's adapted models (created once, left for the user's OS)."""
    if not _SESSION:
        _SESSION.append(Path(tempfile.mkdtemp(prefix="medidenoise-adapted-")))
    return _SESSION[0]


def _safe_stem(name: str) -> str:
    kept = "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_")
    return kept[:60] or "image"


def adapt_steps(
    data: np.ndarray,
    job: AdaptJob,
    name: str,
    *,
    folder: Path | None = None,
    cancel: threading.Event | None = None,
) -> Generator[AdaptProgress, None, AdaptResult | None]:
    """Adapt ``job.model`` to ``data``, yielding progress; save the result as a checkpoint.

    Parameters
    ----------
    data : numpy.ndarray
        (H, W) image or (D, H, W) volume in its own units; never modified.
    job : AdaptJob
        Base model, budget, method, device.
    name : str
        Names the checkpoint file (``<name>-adapted.safetensors``).
    folder : pathlib.Path, optional
        Where the checkpoint goes (default: :func:`session_folder`).
    cancel : threading.Event, optional
        Set it to stop; the generator then returns ``None`` and nothing is saved.

    Returns
    -------
    AdaptResult or None
        The checkpoint path and the adaptation metadata, or ``None`` when cancelled.
    """
    cancel = cancel if cancel is not None else threading.Event()
    total = max(1, round(60 * job.minutes))
    yield AdaptProgress(0, total)
    events: queue.SimpleQueue = queue.SimpleQueue()
    run = _AdaptRun(np.asarray(data), job, cancel, events.put)
    thread = threading.Thread(target=run, name="medidenoise-adapt", daemon=True)
    thread.start()
    try:
        while True:
            kind, payload = events.get()
            if cancel.is_set():
                return None
            if kind == "progress":
                yield AdaptProgress(int(payload), total)
            elif kind == "error":
                raise payload
            else:
                out_dir = folder if folder is not None else session_folder()
                path = out_dir / f"{_safe_stem(name)}-adapted.safetensors"
                md.save_checkpoint(path, payload)
                return AdaptResult(path, dict(payload.metadata["adaptation"]))
    finally:
        cancel.set()  # stops the helper when the generator is closed early
        thread.join()


class _AdaptRun:
    """The helper-thread body of :func:`adapt_steps`."""

    def __init__(
        self,
        data: np.ndarray,
        job: AdaptJob,
        cancel: threading.Event,
        post: Callable[[tuple[str, object]], None],
    ) -> None:
        self.data, self.job, self.cancel, self.post = data, job, cancel, post

    def report(self, done: int, total: int) -> None:
        """Library progress callback: relay it."""
        self.post(("progress", done))

    def __call__(self) -> None:
        try:
            model = md.adapt(
                self.data,
                self.job.model,
                minutes=self.job.minutes,
                method=self.job.method,
                noise_level=self.job.noise_level,
                device=self.job.device,
                progress=self.report,
                should_stop=self.cancel.is_set,
            )
        except BaseException as exc:  # handed over to the generator, which re-raises it
            self.post(("error", exc))
        else:
            self.post(("done", model))
