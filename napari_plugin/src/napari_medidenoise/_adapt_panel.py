"""The "Adapt to this image" part of the Denoise widget: a view; compute runs in a worker.

It fine-tunes the model chosen in the Denoise widget on the chosen image alone
(``medidenoise.adapt``) in the background, with progress, a time budget and
Cancel. The adapted model is saved as a checkpoint and becomes the widget's
selected model; "Save adapted model" copies it wherever the user wants.

The panel knows its host only through :class:`AdaptHost`: what the user chose,
and a way to select a checkpoint. It imports nothing of the Denoise widget.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from magicgui.types import FileDialogMode
from magicgui.widgets import (
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    ProgressBar,
    PushButton,
)

import medidenoise as md
from napari_medidenoise._adapt_worker import AdaptJob, AdaptProgress, AdaptResult, adapt_steps
from napari_medidenoise._job import BackgroundJob, JobState, JobStatus
from napari_medidenoise._notify import NapariNotifier, Notifier
from napari_medidenoise._state import DenoiseSettings

if TYPE_CHECKING:
    from napari.layers import Image

__all__ = ["AdaptHost", "AdaptPanel"]


class AdaptHost(Protocol):
    """What the adapt panel needs from the widget it sits in."""

    def current_choice(self) -> tuple[Image | None, DenoiseSettings]:
        """The chosen image layer (``None`` without one) and the denoising settings."""

    def select_checkpoint(self, path: Path) -> None:
        """Make the checkpoint file ``path`` the chosen model."""


def _adapt_body(
    data: np.ndarray, job: AdaptJob, name: str, *, cancel: threading.Event
) -> Generator[AdaptProgress, None, AdaptResult | None]:
    """Worker body: the result, or None when cancelled."""
    return (yield from adapt_steps(data, job, name, cancel=cancel))


class AdaptPanel(Container):
    """Budget, method, Adapt / Cancel / Save buttons and progress, under the Denoise widget.

    Parameters
    ----------
    host : AdaptHost
        Gives the image and the model to adapt, and receives the adapted checkpoint.
    notifier : Notifier, optional
        Where errors and news go (default: napari's notifications).

    Attributes
    ----------
    result : AdaptResult or None
        The last adapted model, ``None`` before the first.
    """

    def __init__(self, host: AdaptHost, *, notifier: Notifier | None = None) -> None:
        super().__init__(name="adapt", label="adapt")
        self.host = host
        self.notifier: Notifier = notifier if notifier is not None else NapariNotifier()
        self.result: AdaptResult | None = None
        self._job = BackgroundJob(self.notifier)
        self._minutes = FloatSpinBox(name="budget", label="budget (min)", value=3.0, min=0.05,
                                     max=240, step=0.5)  # fmt: skip
        self._method = ComboBox(name="method", choices=["auto", "recorrupt", "blindspot"])
        self._adapt_button = PushButton(name="adapt_button", label="", text="Adapt to this image")
        self._cancel_button = PushButton(name="cancel_button", label="", text="Cancel adapting",
                                         enabled=False)  # fmt: skip
        self._progress = ProgressBar(name="progress", label="adapting", value=0, min=0, max=1)
        self._status = Label(name="adapted", label="adapted model", value="-")
        self._save_path = FileEdit(name="save_as", label="save as",
                                   mode=FileDialogMode.OPTIONAL_FILE,
                                   filter="*.safetensors")  # fmt: skip
        self._save_button = PushButton(name="save_button", label="", text="Save adapted model",
                                       enabled=False)  # fmt: skip
        self.extend([self._minutes, self._method, self._adapt_button, self._cancel_button,
                     self._progress, self._status, self._save_path, self._save_button])  # fmt: skip
        self._adapt_button.changed.connect(self.adapt)
        self._cancel_button.changed.connect(self.cancel)
        self._save_button.changed.connect(self.save)
        self.status.events.all.connect(self._show_status)

    @property
    def status(self) -> JobStatus:
        """The adaptation job: its :class:`JobState`, message and progress (evented)."""
        return self._job.status

    def _show_status(self, _info: Any = None) -> None:
        """Draw the buttons, the progress bar and the status line from :attr:`status`."""
        s = self.status
        self._adapt_button.enabled = not s.busy
        self._cancel_button.enabled = s.state is JobState.RUNNING
        self._progress.max = s.total
        self._progress.value = s.done
        if s.message:
            self._status.value = s.message
        self._save_button.enabled = self.result is not None

    def _job_for(self) -> tuple[Image, AdaptJob] | None:
        layer, s = self.host.current_choice()
        if layer is None:
            self.notifier.error("medidenoise: open an image first (no image layer to adapt to)")
            return None
        entry = md.MODELS.get(s.model)
        if entry is not None and not entry.adaptable:
            self.notifier.error(
                f"medidenoise: {entry.summary.split(' (')[0]} has nothing to adapt; "
                "pick a network model"
            )
            return None
        try:
            model = s.job().model
        except ValueError as exc:
            self.notifier.error(f"medidenoise: {exc}")
            return None
        level = None if s.auto_noise else float(s.noise_level) or None
        job = AdaptJob(model=model, minutes=float(self._minutes.value),
                       method=self._method.value, noise_level=level, device=s.device)  # fmt: skip
        return layer, job

    def adapt(self, _value: Any = None) -> None:
        """Start adapting the selected model to the selected image in a background worker."""
        picked = None if self.status.busy else self._job_for()
        if picked is None:
            return
        layer, job = picked
        self._status.tooltip = None
        self._job.start(
            _adapt_body, np.asarray(layer.data), job, layer.name,
            message=f"adapting to {layer.name}...", on_done=self._on_done,
            on_progress=self._on_progress, cancelled="cancelled (model unchanged)",
        )  # fmt: skip

    def cancel(self, _value: Any = None) -> None:
        """Stop adapting at the next training step; the selected model stays as it was."""
        self._job.cancel()

    def _on_progress(self, progress: AdaptProgress) -> None:
        self.status.advance(progress.done, progress.total)

    def _on_done(self, outcome: AdaptResult) -> str:
        """Select the adapted model in the host; returns the status (the guard's decision)."""
        self.result = outcome
        self.host.select_checkpoint(outcome.checkpoint)
        info = outcome.info
        kept = "adapted weights kept" if info.get("kept") == "adapted" else "base model kept"
        self._status.tooltip = info.get("reason", "")
        self.notifier.info(
            f"medidenoise: {info.get('reason', kept)}; model selected ({outcome.checkpoint.name})"
        )
        return (
            f"{kept} ({info['method']}, {info['steps']} steps; estimated "
            f"{info['estimated_psnr_base']:.1f} -> {info['estimated_psnr_adapted']:.1f} dB)"
        )

    def save(self, _value: Any = None) -> Path | None:
        """Copy the adapted checkpoint to the "save as" path (``.safetensors`` added)."""
        target = self._save_path.value
        if self.result is None:
            self.notifier.error("medidenoise: nothing to save yet; adapt a model first")
            return None
        if not isinstance(target, Path) or target == Path(".") or target.is_dir():
            self.notifier.error("medidenoise: choose a file name to save the adapted model as")
            return None
        if target.suffix != ".safetensors":
            target = target.with_name(target.name + ".safetensors")
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            shutil.copyfile(self.result.checkpoint, tmp)
            tmp.replace(target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            self.notifier.error(f"medidenoise: cannot save {target}: {exc}")
            return None
        self.status.message = f"saved {target.name}"
        return target
