"""The "Adapt to this image" part of the Denoise widget: a view; compute runs in a worker.

It fine-tunes the model chosen in the Denoise widget on the chosen image alone
(``medidenoise.adapt``) in the background, with progress, a time budget and
Cancel. The adapted model is saved as a checkpoint and becomes the widget's
selected model; "Save adapted model" copies it wherever the user wants.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

from napari_medidenoise._adapt_worker import AdaptJob, AdaptProgress, AdaptResult, adapt_steps

if TYPE_CHECKING:
    from napari_medidenoise._denoise_widget import DenoiseWidget

__all__ = ["AdaptPanel"]


class _Failure:
    """A worker's error, returned (not raised) so it reaches the GUI as a notification."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _adapt_job(
    data: np.ndarray, job: AdaptJob, name: str, cancel: threading.Event
) -> Generator[AdaptProgress, None, AdaptResult | _Failure | None]:
    """Worker body: the result, a failure, or None when cancelled."""
    try:
        return (yield from adapt_steps(data, job, name, cancel=cancel))
    except Exception as exc:  # worker boundary: failures become notifications
        return _Failure(exc)


class AdaptPanel(Container):
    """Budget, method, Adapt / Cancel / Save buttons and progress, under the Denoise widget."""

    def __init__(self, owner: DenoiseWidget) -> None:
        super().__init__(label="adapt")
        self.owner = owner
        self.worker: Any = None
        self.result: AdaptResult | None = None
        self._cancel = threading.Event()
        self._minutes = FloatSpinBox(label="budget (min)", value=3.0, min=0.05, max=240, step=0.5)
        self._method = ComboBox(label="method", choices=["auto", "recorrupt", "blindspot"])
        self._adapt_button = PushButton(text="Adapt to this image")
        self._cancel_button = PushButton(text="Cancel adapting", enabled=False)
        self._progress = ProgressBar(label="adapting", value=0, min=0, max=1)
        self._status = Label(label="adapted model", value="-")
        self._save_path = FileEdit(label="save as", mode=FileDialogMode.OPTIONAL_FILE,
                                   filter="*.safetensors")  # fmt: skip
        self._save_button = PushButton(text="Save adapted model", enabled=False)
        self.extend([self._minutes, self._method, self._adapt_button, self._cancel_button,
                     self._progress, self._status, self._save_path, self._save_button])  # fmt: skip
        self._adapt_button.changed.connect(self.adapt)
        self._cancel_button.changed.connect(self.cancel)
        self._save_button.changed.connect(self.save)

    def _job(self) -> tuple[Any, AdaptJob] | None:
        from napari.utils.notifications import show_error

        owner = self.owner
        owner._sync_settings()
        layer = owner._layer.value
        if layer is None:
            show_error("medidenoise: open an image first (no image layer to adapt to)")
            return None
        s = owner.settings
        if s.model == "nlm":
            show_error("medidenoise: non-local means has nothing to adapt; pick a network model")
            return None
        try:
            model = s.job().model
        except ValueError as exc:
            show_error(f"medidenoise: {exc}")
            return None
        level = None if s.auto_noise else float(s.noise_level) or None
        job = AdaptJob(model=model, minutes=float(self._minutes.value),
                       method=self._method.value, noise_level=level, device=s.device)  # fmt: skip
        return layer, job

    def adapt(self, _value: Any = None) -> None:
        """Start adapting the selected model to the selected image in a background worker."""
        from napari.qt.threading import create_worker

        picked = self._job()
        if picked is None or self.worker is not None:
            return
        layer, job = picked
        self._cancel = threading.Event()
        worker = create_worker(_adapt_job, np.asarray(layer.data), job, layer.name, self._cancel)
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(self._on_done)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self._adapt_button.enabled = False
        self._cancel_button.enabled = True
        self._progress.value = 0
        self._status.value = f"adapting to {layer.name}..."
        worker.start()

    def cancel(self, _value: Any = None) -> None:
        """Stop adapting at the next training step; the selected model stays as it was."""
        self._cancel.set()
        self._status.value = "cancelling..."

    def _on_progress(self, progress: AdaptProgress) -> None:
        self._progress.max = max(1, progress.total)
        self._progress.value = min(progress.done, progress.total)

    def _on_done(self, outcome: AdaptResult | _Failure | None) -> None:
        from napari.utils.notifications import show_error, show_info

        if isinstance(outcome, _Failure):
            show_error(f"medidenoise: {outcome.error}")
            self._status.value = f"failed: {outcome.error}"
            return
        if outcome is None:
            self._status.value = "cancelled (model unchanged)"
            return
        self.result = outcome
        owner = self.owner
        owner._model.value = "checkpoint"
        owner._checkpoint.value = outcome.checkpoint
        owner._sync_settings()
        info = outcome.info
        kept = "adapted weights kept" if info.get("kept") == "adapted" else "base model kept"
        self._status.value = (
            f"{kept} ({info['method']}, {info['steps']} steps; estimated "
            f"{info['estimated_psnr_base']:.1f} -> {info['estimated_psnr_adapted']:.1f} dB)"
        )
        self._status.tooltip = info.get("reason", "")
        self._save_button.enabled = True
        show_info(
            f"medidenoise: {info.get('reason', kept)}; model selected ({outcome.checkpoint.name})"
        )

    def _on_finished(self) -> None:
        self.worker = None
        self._adapt_button.enabled = True
        self._cancel_button.enabled = False

    def save(self, _value: Any = None) -> Path | None:
        """Copy the adapted checkpoint to the "save as" path (``.safetensors`` added)."""
        from napari.utils.notifications import show_error

        target = self._save_path.value
        if self.result is None:
            show_error("medidenoise: nothing to save yet; adapt a model first")
            return None
        if not isinstance(target, Path) or target == Path(".") or target.is_dir():
            show_error("medidenoise: choose a file name to save the adapted model as")
            return None
        if target.suffix != ".safetensors":
            target = target.with_name(target.name + ".safetensors")
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            shutil.copyfile(self.result.checkpoint, tmp)
            tmp.replace(target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            show_error(f"medidenoise: cannot save {target}: {exc}")
            return None
        self._status.value = f"saved {target.name}"
        return target
