"""The Denoise widget: a view over :class:`DenoiseSettings`; compute runs in workers."""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.types import FileDialogMode
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    ProgressBar,
    PushButton,
)

from napari_medidenoise._adapt_panel import AdaptPanel
from napari_medidenoise._layers import (
    DIFFERENCE,
    DIFFERENCE_COLORMAP,
    ROLE_DENOISED,
    ROLE_REMOVED_NOISE,
    difference_limits,
    source_volume,
)
from napari_medidenoise._run_report import card_text, run_text, warnings_text
from napari_medidenoise._state import MODEL_CHOICES, DenoiseSettings, available_devices
from napari_medidenoise._status import StatusLabel, text_box
from napari_medidenoise._viewer_tools import (
    bring_to_top,
    current_slice,
    image_layer_choices,
    publish_layer,
)
from napari_medidenoise._workers import (
    DenoiseJob,
    Progress,
    SliceResult,
    VolumeResult,
    denoise_slice,
    denoise_volume_steps,
)

if TYPE_CHECKING:
    import napari
    from napari.layers import Image

__all__ = ["DenoiseWidget"]


@dataclass(frozen=True)
class _VolumeRequest:
    """What a "Denoise volume" run was started with; the widget may change meanwhile."""

    layer: Image
    job: DenoiseJob
    removed_noise: bool


@dataclass(frozen=True)
class _Failure:
    """A worker's error, returned (not raised) so it reaches the GUI as a notification."""

    error: Exception


def _preview_job(
    data: np.ndarray, index: int | None, job: DenoiseJob, axis: int, source: Any = None
) -> SliceResult | _Failure:
    """Worker body of "Preview slice"."""
    try:
        return denoise_slice(data, index, job, axis=axis, source=source)
    except Exception as exc:  # worker boundary: failures become notifications
        return _Failure(exc)


def _volume_job(
    data: np.ndarray, job: DenoiseJob, cancel: threading.Event, source: Any = None
) -> Generator[Progress, None, VolumeResult | _Failure | None]:
    """Worker body of "Denoise volume": the result, a failure, or None when cancelled."""
    try:
        return (yield from denoise_volume_steps(data, job, cancel=cancel, source=source))
    except Exception as exc:  # worker boundary: failures become notifications
        return _Failure(exc)


class DenoiseWidget(Container):
    """Denoise the slice on screen at once, or the whole volume in the background.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer whose image layers are offered and receive the results.
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        devices = available_devices()
        self.settings = DenoiseSettings(device=devices[-1])
        self.worker: Any = None
        self._cancel = threading.Event()
        self._source: Image | None = None
        self._slice: tuple[int, int | None] = (0, None)
        self._preview_job = DenoiseJob()
        self._request: _VolumeRequest | None = None
        self._warned: tuple[str, ...] = ()  # the last warnings notified, with their layer
        self._layer = ComboBox(label="image", choices=self._layer_choices)
        self._model = ComboBox(
            label="model", choices=[(text, key) for key, text in MODEL_CHOICES.items()]
        )
        self._checkpoint = FileEdit(
            label="checkpoint", mode=FileDialogMode.EXISTING_FILE, visible=False
        )
        self._auto = CheckBox(text="estimate noise level", value=True)
        self._level = FloatSpinBox(label="noise level", min=0.0, max=1e9, step=0.1, enabled=False)
        self._estimate = Label(label="estimated", value="-")
        self._device = ComboBox(label="device", choices=devices, value=devices[-1])
        self._removed = CheckBox(text="add removed-noise layer", value=True)
        self._ensemble = CheckBox(text="8 flips/rotations (better, 8x slower)", value=False)
        self._rician = CheckBox(
            text="magnitude MR: remove Rician bias", value=False,
            tooltip="always; 'auto' does it unasked where the dark background is Rayleigh noise",
        )  # fmt: skip
        self._preview_button = PushButton(text="Preview slice")
        self._run_button = PushButton(text="Denoise volume")
        self._cancel_button = PushButton(text="Cancel", enabled=False)
        self._progress = ProgressBar(label="progress", value=0, min=0, max=1)
        self._status = StatusLabel(label="status", value="")
        self._card_button = PushButton(text="Model card")
        self.run_report = text_box(label="run", value="", visible=False)
        self.extend(
            [self._layer, self._model, self._checkpoint, self._auto, self._level, self._estimate,
             self._device, self._removed, self._ensemble, self._rician, self._preview_button,
             self._run_button, self._cancel_button, self._progress, self._status,
             self._card_button, self.run_report]
        )  # fmt: skip
        self.adapt_panel = AdaptPanel(self)
        self.append(self.adapt_panel)
        for widget in (self._model, self._checkpoint, self._auto, self._level, self._device,
                       self._removed, self._ensemble, self._rician):  # fmt: skip
            widget.changed.connect(self._sync_settings)
        self._preview_button.changed.connect(self.preview_slice)
        self._run_button.changed.connect(self.denoise_volume)
        self._cancel_button.changed.connect(self.cancel)
        self._card_button.changed.connect(self.show_model_card)
        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            event.connect(self._refresh_layers)

    # -- settings ----------------------------------------------------------------------------
    def _layer_choices(self, _widget: Any) -> list[tuple[str, Image]]:
        return image_layer_choices(self.viewer)

    def _refresh_layers(self, _event: Any = None) -> None:
        self._layer.reset_choices()

    def _sync_settings(self, _value: Any = None) -> None:
        """Copy the widget values into :attr:`settings` and show what applies."""
        s = self.settings
        s.model = self._model.value
        chosen = self._checkpoint.value
        s.checkpoint = chosen if s.model == "checkpoint" and isinstance(chosen, Path) else None
        s.auto_noise, s.noise_level = self._auto.value, float(self._level.value)
        s.device, s.removed_noise = self._device.value, self._removed.value
        s.self_ensemble = self._ensemble.value
        s.rician = self._rician.value
        self._checkpoint.visible = s.model == "checkpoint"
        self._level.enabled = not s.auto_noise

    def _show_noise_level(self, level: float | None, job: DenoiseJob, where: str) -> None:
        """Show the level the Denoiser used (``where`` it was estimated, unless manual)."""
        if level is None:  # a model that takes no noise level
            self._estimate.value = "-"
            return
        self._estimate.value = f"{level:.4g} ({where if job.noise_level is None else 'manual'})"
        if self.settings.auto_noise:
            self._level.value = level

    def _start(self, worker: Any, busy: str) -> None:
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self._preview_button.enabled = self._run_button.enabled = False
        self._status.value = busy
        worker.start()

    def _job_for(self) -> tuple[Image, DenoiseJob] | None:
        from napari.utils.notifications import show_error

        self._sync_settings()
        layer = self._layer.value
        if layer is None:
            show_error("medidenoise: open an image first (no image layer to denoise)")
            return None
        try:
            return layer, self.settings.job()
        except ValueError as exc:
            show_error(f"medidenoise: {exc}")
            return None

    # -- preview -----------------------------------------------------------------------------
    def preview_slice(self, _value: Any = None) -> None:
        """Denoise the slice on screen in a worker; the result appears as "<name> preview"."""
        from napari.qt.threading import create_worker

        picked = self._job_for()
        if picked is None or self.worker is not None:
            return
        layer, job = picked
        axis, index = current_slice(self.viewer, layer)
        self._source, self._slice, self._preview_job = layer, (axis, index), job
        self._progress.value = 0  # the bar tracks volume runs: no stale value beside a preview
        source = source_volume(layer.metadata)
        worker = create_worker(_preview_job, np.asarray(layer.data), index, job, axis, source)
        worker.returned.connect(self._on_preview_done)
        self._start(
            worker, f"previewing slice {index}..." if index is not None else "previewing..."
        )

    def _on_preview_done(self, outcome: SliceResult | _Failure) -> None:
        if isinstance(outcome, _Failure):
            self._on_error(outcome.error)
            return
        layer, (axis, index), job = self._source, self._slice, self._preview_job
        if layer is None:  # the run's layer is gone: nothing to publish next to
            return
        translate = list(layer.translate)
        data = outcome.denoised
        if index is not None:
            data = np.expand_dims(data, axis)
            translate[axis] += index * layer.scale[axis]
        record = self._record_facts(outcome.provenance, warnings=outcome.warnings)
        publish_layer(self.viewer, layer, f"{layer.name} preview", data, role=ROLE_DENOISED,
                      translate=tuple(translate), noise_level=outcome.noise_level,
                      model=outcome.model, self_ensemble=job.self_ensemble,
                      rician=job.rician, **record)  # fmt: skip
        self._show_noise_level(outcome.noise_level, job, "volume" if index is not None else "image")
        text = run_text(outcome.provenance, warnings=outcome.warnings)
        self._show_run(text, outcome.warnings, layer.name)
        self._status.value = "preview ready"

    # -- whole volume ------------------------------------------------------------------------
    def denoise_volume(self, _value: Any = None) -> None:
        """Denoise the whole layer in a background worker with progress and Cancel."""
        from napari.qt.threading import create_worker

        picked = self._job_for()
        if picked is None or self.worker is not None:
            return
        layer, job = picked
        self._request = _VolumeRequest(layer, job, removed_noise=self.settings.removed_noise)
        self._cancel = threading.Event()
        source = source_volume(layer.metadata)
        worker = create_worker(_volume_job, np.asarray(layer.data), job, self._cancel, source)
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(self._on_volume_done)
        self._cancel_button.enabled = True
        self._progress.value = 0
        self._start(worker, "denoising volume...")

    def cancel(self, _value: Any = None) -> None:
        """Ask the running volume job to stop at the next slice batch."""
        self._cancel.set()
        self._status.value = "cancelling..."

    def _on_progress(self, progress: Progress) -> None:
        self._progress.max = max(1, progress.total)
        self._progress.value = progress.done
        if self._request is not None:
            self._show_noise_level(progress.noise_level, self._request.job, "volume")

    def _on_volume_done(self, outcome: VolumeResult | _Failure | None) -> None:
        """Publish the result of the run as it was started (later widget changes do not apply).

        A cancelled run adds no layer. The denoised layer goes above the other
        layers (only its hidden removed noise is higher) and is selected, so the
        user sees the result; :meth:`_publish_removed_noise` adds the removed noise.
        """
        request, self._request = self._request, None
        if isinstance(outcome, _Failure):
            self._on_error(outcome.error)
            return
        if outcome is None or request is None:
            self._status.value = "cancelled"
            return
        layer = request.layer
        facts: dict[str, Any] = {
            "noise_level": outcome.noise_level,
            "model": outcome.model,
            "self_ensemble": request.job.self_ensemble,
            "rician": request.job.rician,
            **self._record_facts(outcome.provenance, outcome.quality),
        }
        denoised = publish_layer(self.viewer, layer, f"{layer.name} denoised",
                                 outcome.denoised, role=ROLE_DENOISED, **facts)  # fmt: skip
        bring_to_top(self.viewer, denoised)
        if request.removed_noise:
            self._publish_removed_noise(layer, outcome.removed_noise, facts)
        self.viewer.layers.selection.active = denoised
        from medidenoise import auto_pick  # loaded with the model already

        level = outcome.noise_level
        details = [] if level is None else [f"{level:.4g} noise level"]
        if auto_pick(outcome.model) is not None:  # which network auto picked for this volume
            details.append(outcome.model)
        self._status.value = f"denoised ({'; '.join(details)})" if details else "denoised"
        warned = outcome.quality.warnings if outcome.quality is not None else []
        self._show_run(run_text(outcome.provenance, outcome.quality), warned, layer.name)

    def _publish_removed_noise(
        self, layer: Image, residual: np.ndarray, facts: dict[str, Any]
    ) -> None:
        """Add (or update) ``"<name> removed noise"``, the difference input - denoised.

        It must never pass for the scan: a diverging colormap (near-white = 0,
        unchanged; green = the denoiser lowered the voxel, magenta = raised it)
        with contrast limits symmetric around 0, and the metadata say it is a
        difference image (``role``, ``difference``). It is added *hidden*, on top
        of the layer list, never between the source and its denoised layer:
        hiding the denoised layer shows the scan, and ticking the eye of the
        removed noise shows it at once (below the opaque scan it would never be
        seen). Each run hides it again, so the new result is what is seen.
        """
        removed = publish_layer(self.viewer, layer, f"{layer.name} removed noise", residual,
                                role=ROLE_REMOVED_NOISE, difference=DIFFERENCE,
                                contrast_limits=difference_limits(residual),
                                colormap=DIFFERENCE_COLORMAP, visible=False,
                                **facts)  # fmt: skip
        bring_to_top(self.viewer, removed)

    # -- what was done, how well, and the model card ----------------------------------------
    @staticmethod
    def _record_facts(
        provenance: Any, quality: Any = None, warnings: list[str] | None = None
    ) -> dict[str, Any]:
        """What a result layer keeps of its run (plain data, written by the savers)."""
        facts: dict[str, Any] = {}
        if provenance is not None:
            facts["provenance"] = provenance.to_dict()
        if quality is not None:
            facts["quality"] = quality.to_dict()
            warnings = list(quality.warnings) if warnings is None else warnings
        facts["warnings"] = list(warnings or [])
        return facts

    def _show_run(self, text: str, warnings: list[str], layer: str) -> None:
        """Show the run's record, figures and warnings; warnings also as a notification, once
        per layer (previews of one volume do not repeat what was said)."""
        from napari.utils.notifications import show_warning

        self.run_report.value, self.run_report.visible = text, bool(text)
        said = (layer, *warnings)
        if warnings and said != self._warned:
            show_warning(f"medidenoise: {layer}: {warnings_text(warnings)}")
        self._warned = said

    def show_model_card(self, _value: Any = None) -> str:
        """Show the model card of the chosen model (its training data, figures, limits and
        intended use) in the widget's text box."""
        self._sync_settings()
        s = self.settings
        chosen = str(s.checkpoint) if s.model == "checkpoint" and s.checkpoint else s.model
        text = card_text(chosen)
        self.run_report.value, self.run_report.visible = text, True
        return text

    # -- both --------------------------------------------------------------------------------
    def _on_error(self, exc: BaseException) -> None:
        from napari.utils.notifications import show_error

        show_error(f"medidenoise: {exc}")
        self._status.value = f"failed: {exc}"

    def _on_finished(self) -> None:
        self.worker = None
        self._cancel_button.enabled = False
        self._preview_button.enabled = self._run_button.enabled = True
