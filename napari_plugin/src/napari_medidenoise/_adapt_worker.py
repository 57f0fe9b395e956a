"""Compute behind "Adapt to this image", with no Qt: a generator a napari worker runs.

``medidenoise.adapt`` runs in a helper thread (:func:`~napari_medidenoise._relay.relay`)
so the generator can yield between training steps, and a set ``cancel`` event
stops the library at the next step. The adapted model is saved
(atomically, by ``medidenoise.save_checkpoint``) to a checkpoint file, which the
Denoise widget then selects like any other checkpoint.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import medidenoise as md
from napari_medidenoise._relay import relay

__all__ = ["AdaptJob", "AdaptProgress", "AdaptResult", "adapt_steps", "session_folder"]


@dataclass(frozen=True)
class AdaptJob:
    """What to adapt: the base model (``"auto"``, a shipped name, a checkpoint), budget, method."""

    model: str = "auto"
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
    array = np.asarray(data)

    def work(post: Callable[[AdaptProgress], None]) -> Any:
        def report(done: int, _total: int) -> None:
            post(AdaptProgress(int(done), total))

        return md.adapt(
            array,
            job.model,
            minutes=job.minutes,
            method=job.method,
            noise_level=job.noise_level,
            device=job.device,
            progress=report,
            should_stop=cancel.is_set,
        )

    model = yield from relay(work, cancel=cancel, name="medidenoise-adapt")
    if model is None:
        return None
    out_dir = folder if folder is not None else session_folder()
    path = out_dir / f"{_safe_stem(name)}-adapted.safetensors"
    md.save_checkpoint(path, model)
    return AdaptResult(path, dict(model.metadata["adaptation"]))
