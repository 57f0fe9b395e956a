"""The Denoise widget: a view over :class:`DenoiseSettings` and a :class:`JobStatus`.

Compute runs in workers (:class:`BackgroundJob`); the buttons, progress bar and status
line are drawn from the job's evented status, never set on their own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from functools import partial
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
from napari_medidenoise._job import BackgroundJob, JobState, JobStatus
from napari_medidenoise._layers import (
    DIFFERENCE,
    DIFFERENCE_COLORMAP,
    ROLE_DENOISED,
    ROLE_REMOVED_NOISE,
    difference_limits,
    source_volume,
)
from napari_medidenoise._notify import NapariNotifier, Notifier
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
    import threading

    import napari
    from napari.layers import Image

__all__ = ["DenoiseWidget"]


@dataclasses.dataclass(frozen=True)
class _Request:
    """What a run was started with; the widget may change meanwhile, the result may not."""

    layer: Image
    job: DenoiseJob
    removed_noise: bool = True
    axis: int = 0
    index: int | None = None


def _preview_body(
    data: np.ndarray, index: int | None, job: DenoiseJob, axis: int, source: Any
) -> SliceResult:
    """Worker body of "Preview slice"."""
    return denoise_slice(data, index, job, axis=axis, source=source)


def _volume_body(
    data: np.ndarray, job: DenoiseJob, source: Any, *, cancel: threading.Event
) -> Generator[Progress, None, VolumeResult | None]:
    """Worker body of "Denoise volume": the result, or None when cancelled."""
    return (yield from denoise_volume_steps(data, job, cancel=cancel, source=source))


class DenoiseWidget(Container):
    """Denoise the slice on screen at once, or the whole volume in the background.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer whose image layers are offered and receive the results.
    notifier : Notifier, optional
        Where errors, warnings and news go (default: napari's notifications).

    Attributes
    ----------
    settings : DenoiseSettings
        What the user chose, copied from the controls.
    adapt_panel : AdaptPanel
        "Adapt to this image", below the denoising controls.
    run_report : magicgui.widgets.TextEdit
        The record, figures and warnings of the last run, or a model card.
    """

    def __init__(
        self, napari_viewer: napari.viewer.Viewer, *, notifier: Notifier | None = None
    ) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.notifier: Notifier = notifier if notifier is not None else NapariNotifier()
        devices = available_devices()
        self.settings = DenoiseSettings(device=devices[-1])
        self._job = BackgroundJob(self.notifier)
        self._warned: tuple[str, ...] = ()  # the last warnings notified, with their layer
        self._layer = ComboBox(name="image", choices=self._layer_choices)
        self._model = ComboBox(
            name="model", choices=[(text, key) for key, text in MODEL_CHOICES.items()]
        )
        self._checkpoint = FileEdit(
            name="checkpoint", mode=FileDialogMode.EXISTING_FILE, visible=False
        )
        self._auto = CheckBox(name="auto_noise", label="", text="estimate noise level", value=True)
        self._level = FloatSpinBox(name="noise_level", min=0.0, max=1e9, step=0.1, enabled=False)
        self._estimate = Label(name="estimated", value="-")
        self._device = ComboBox(name="device", choices=devices, value=devices[-1])
        self._removed = CheckBox(name="removed_noise", label="", text="add removed-noise layer",
                                 value=True)  # fmt: skip
        self._ensemble = CheckBox(
            name="self_ensemble", label="", text="8 flips/rotations (better, 8x slower)",
            value=False,
        )  # fmt: skip
        self._rician = CheckBox(
            name="rician", label="", text="magnitude MR: remove Rician bias", value=False,
            tooltip="always; 'auto' does it unasked where the dark background is Rayleigh noise",
        )  # fmt: skip
        self._preview_button = PushButton(name="preview_button", label="", text="Preview slice")
        self._run_button = PushButton(name="run_button", label="", text="Denoise volume")
        self._cancel_button = PushButton(
            name="cancel_button", label="", text="Cancel", enabled=False
        )
        self._progress = ProgressBar(name="progress", value=0, min=0, max=1)
        self._status = StatusLabel(name="status_line", label="status", value="")
        self._card_button = PushButton(name="card_button", label="", text="Model card")
        self.run_report = text_box(name="run_report", label="run", value="", visible=False)
        self.extend(
            [self._layer, self._model, self._checkpoint, self._auto, self._level, self._estimate,
             self._device, self._removed, self._ensemble, self._rician, self._preview_button,
             self._run_button, self._cancel_button, self._progress, self._status,
             self._card_button, self.run_report]
        )  # fmt: skip
        self.adapt_panel = AdaptPanel(self, notifier=self.notifier)
        self.append(self.adapt_panel)
        for widget in (self._model, self._checkpoint, self._auto, self._level, self._device,
                       self._removed, self._ensemble, self._rician):  # fmt: skip
            widget.changed.connect(self._sync_settings)
        self._preview_button.changed.connect(self.preview_slice)
        self._run_button.changed.connect(self.denoise_volume)
        self._cancel_button.changed.connect(self.cancel)
        self._card_button.changed.connect(self.show_model_card)
        self.status.events.all.connect(self._show_status)
        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            event.connect(self._refresh_layers)

    @property
    def status(self) -> JobStatus:
        """The preview / volume job: its :class:`JobState`, message and progress (evented)."""
        return self._job.status

    # -- settings, and what the adapt panel may ask for ------------------------------------
    def current_choice(self) -> tuple[Image | None, DenoiseSettings]:
        """The chosen image layer (``None`` without one) and a copy of the settings."""
        self._sync_settings()
        return self._layer.value, dataclasses.replace(self.settings)

    def select_checkpoint(self, path: str | Path) -> None:
        """Make the checkpoint file ``path`` the chosen model, shown in the controls."""
        self._model.value = "checkpoint"
        self._checkpoint.value = Path(path)
        self._sync_settings()

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

    def _show_status(self, _info: Any = None) -> None:
        """Draw the buttons, the progress bar and the status line from :attr:`status`."""
        s = self.status
        self._preview_button.enabled = self._run_button.enabled = not s.busy
        self._cancel_button.enabled = s.state is JobState.RUNNING and s.cancellable
        self._progress.max = s.total
        self._progress.value = s.done
        self._status.value = s.message

    def _job_for(self) -> tuple[Image, DenoiseJob] | None:
        layer, settings = self.current_choice()
        if layer is None:
            self.notifier.error("medidenoise: open an image first (no image layer to denoise)")
            return None
        try:
            return layer, settings.job()
        except ValueError as exc:
            self.notifier.error(f"medidenoise: {exc}")
            return None

    # -- preview -----------------------------------------------------------------------------
    def preview_slice(self, _value: Any = None) -> None:
        """Denoise the slice on screen in a worker; the result appears as "<name> preview"."""
        picked = None if self.status.busy else self._job_for()
        if picked is None:
            return
        layer, job = picked
        axis, index = current_slice(self.viewer, layer)
        request = _Request(layer, job, axis=axis, index=index)
        self._job.start(
            _preview_body, np.asarray(layer.data), index, job, axis, source_volume(layer.metadata),
            message=f"previewing slice {index}..." if index is not None else "previewing...",
            on_done=partial(self._on_preview_done, request),
        )  # fmt: skip

    def _on_preview_done(self, request: _Request, outcome: SliceResult) -> str:
        layer, axis, index, job = request.layer, request.axis, request.index, request.job
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
        return "preview ready"

    # -- whole volume ------------------------------------------------------------------------
    def denoise_volume(self, _value: Any = None) -> None:
        """Denoise the whole layer in a background worker with progress and Cancel."""
        picked = None if self.status.busy else self._job_for()
        if picked is None:
            return
        layer, job = picked
        request = _Request(layer, job, removed_noise=self.settings.removed_noise)
        self._job.start(
            _volume_body, np.asarray(layer.data), job, source_volume(layer.metadata),
            message="denoising volume...", on_done=partial(self._on_volume_done, request),
            on_progress=partial(self._on_progress, job),
        )  # fmt: skip

    def cancel(self, _value: Any = None) -> None:
        """Ask the running volume job to stop at the next slice batch."""
        self._job.cancel()

    def _on_progress(self, job: DenoiseJob, progress: Progress) -> None:
        self.status.advance(progress.done, progress.total)
        self._show_noise_level(progress.noise_level, job, "volume")

    def _on_volume_done(self, request: _Request, outcome: VolumeResult) -> str:
        """Publish the result of the run as it was started (later widget changes do not apply).

        The denoised layer goes above the other layers (only its hidden removed
        noise is higher) and is selected, so the user sees the result;
        :meth:`_publish_removed_noise` adds the removed noise. Returns the status.
        """
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

        warned = outcome.quality.warnings if outcome.quality is not None else []
        self._show_run(run_text(outcome.provenance, outcome.quality), warned, layer.name)
        level = outcome.noise_level
        details = [] if level is None else [f"{level:.4g} noise level"]
        if auto_pick(outcome.model) is not None:  # which network auto picked for this volume
            details.append(outcome.model)
        return f"denoised ({'; '.join(details)})" if details else "denoised"

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
        self.run_report.value, self.run_report.visible = text, bool(text)
        said = (layer, *warnings)
        if warnings and said != self._warned:
            self.notifier.warning(f"medidenoise: {layer}: {warnings_text(warnings)}")
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
