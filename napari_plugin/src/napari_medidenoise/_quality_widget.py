"""The Quality widget: how well a denoising run did, ROI SNR/CNR, a swipe view, model cards.

A view: the figures come from the public API (``md.quality_report``, ``md.roi_contrast``,
``md.model_card``); the widget picks layers and shows text. The quality report (at most
eight slices, a second or several for large radiographs) runs in a worker; ROI statistics
and the swipe layer are quick and run at once.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import ComboBox, Container, FloatSlider, PushButton

import medidenoise as md
from napari_medidenoise._job import BackgroundJob, JobState, JobStatus
from napari_medidenoise._layers import (
    ROLE_DENOISED,
    ROLE_REMOVED_NOISE,
    layer_entry,
    layer_role,
    source_volume,
)
from napari_medidenoise._notify import NapariNotifier, Notifier
from napari_medidenoise._run_report import card_text, run_text
from napari_medidenoise._status import text_box
from napari_medidenoise._viewer_tools import image_layer_choices


def _quality_job(
    original: md.Volume | np.ndarray, denoised: np.ndarray, provenance: md.Provenance | None
) -> md.QualityReport:
    """Worker body of "Measure quality"."""
    return md.quality_report(original, denoised, provenance=provenance)


if TYPE_CHECKING:
    import napari
    from napari.layers import Image, Shapes

__all__ = ["SWIPE_NAME", "QualityWidget", "roi_masks"]

#: the layer the swipe view shows: "before" left of the split, "after" right of it
SWIPE_NAME = "before | after (swipe)"


def roi_masks(shapes: Shapes, image: Image, point: tuple[float, ...] = ()) -> list[np.ndarray]:
    """The first two shapes of ``shapes`` as boolean masks on ``image``'s voxels.

    Shapes are drawn in world coordinates (millimetres for a scan read by this plugin), so
    their vertices go through world space into the image's own voxel indices: the same
    region covers the same anatomy in every layer, whatever its scale, translation or
    flips. A 2D shape over a 3D image lies on the slice on screen (``point``, the viewer's
    ``dims.point``).
    """
    from napari.layers import Shapes as ShapesLayer

    vertices = []
    for verts in shapes.data[:2]:
        world = [np.asarray(shapes.data_to_world(v), dtype=np.float64) for v in verts]
        lead = max(0, image.ndim - shapes.ndim)
        world = [np.concatenate([np.asarray(point[:lead], float), w]) for w in world]
        data = np.array([image.world_to_data(w) for w in world], dtype=np.float64)
        data[:, : image.ndim - 2] = np.round(data[:, : image.ndim - 2])  # the slice drawn on
        vertices.append(data)
    mapped = ShapesLayer(vertices, shape_type=list(shapes.shape_type[:2]), ndim=image.ndim)
    return list(mapped.to_masks(mask_shape=np.shape(image.data)))


class QualityWidget(Container):
    """Quality figures of a before/after pair, ROI SNR/CNR per layer, swipe view, model card.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer whose layers are measured.
    notifier : Notifier, optional
        Where errors go (default: napari's notifications).
    """

    def __init__(
        self, napari_viewer: napari.viewer.Viewer, *, notifier: Notifier | None = None
    ) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.notifier: Notifier = notifier if notifier is not None else NapariNotifier()
        self._job = BackgroundJob(self.notifier)
        #: the last quality report measured (``None`` before the first)
        self.last_report: md.QualityReport | None = None
        self._cut: int | None = None
        choices = self._image_choices
        self.before = ComboBox(label="before", choices=choices)
        self.after = ComboBox(label="after", choices=choices)
        self._measure = PushButton(name="measure_button", label="", text="Measure quality")
        self.report = text_box(value="")
        self.rois = ComboBox(label="ROIs (shapes)", choices=self._shapes_choices)
        self._roi_button = PushButton(
            name="rois_button", label="", text="SNR / CNR (shape 1: signal, 2: background)"
        )
        self.roi_report = text_box(value="")
        self.split = FloatSlider(label="swipe", min=0.0, max=1.0, step=0.01, value=0.5)
        self._swipe_button = PushButton(name="swipe_button", label="", text="Swipe view")
        self.card_model = ComboBox(label="model card", choices=list(md.CARD_MODELS))
        self._card_button = PushButton(name="card_button", label="", text="Show model card")
        self.card = text_box(value="")
        self._measure.changed.connect(self.measure)
        self._roi_button.changed.connect(self.measure_rois)
        self._swipe_button.changed.connect(self.swipe)
        self.split.changed.connect(self._resplit)
        self._card_button.changed.connect(self.show_card)
        self.extend(
            [
                self.before, self.after, self._measure, self.report, self.rois,
                self._roi_button, self.roi_report, self.split, self._swipe_button,
                self.card_model, self._card_button, self.card,
            ]
        )  # fmt: skip
        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            event.connect(self._refresh)
        self.status.events.all.connect(self._show_status)
        self._guess_pair()

    @property
    def status(self) -> JobStatus:
        """The "Measure quality" job: its :class:`JobState` and message (evented)."""
        return self._job.status

    def _show_status(self, _info: Any = None) -> None:
        self._measure.enabled = not self.status.busy
        if self.status.state is JobState.FAILED:
            self.report.value = f"could not measure: {self.status.error}"

    # -- layer pickers -----------------------------------------------------------------------
    def _image_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return [c for c in image_layer_choices(self.viewer) if c[0] != SWIPE_NAME]

    def _shapes_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        from napari.layers import Shapes as ShapesLayer

        layers = self.viewer.layers
        return [(layer.name, layer) for layer in layers if isinstance(layer, ShapesLayer)]

    def _refresh(self, _event: Any = None) -> None:
        for box in (self.before, self.after, self.rois):
            box.reset_choices()
        self._guess_pair()

    def _guess_pair(self) -> None:
        """Pick a denoised layer as "after" and the layer it came from as "before", unless the
        user has picked a pair already."""
        if self.before.value is not None and self.before.value is not self.after.value:
            return
        names = {name: layer for name, layer in self._image_choices()}
        for layer in names.values():
            entry = layer_entry(layer.metadata)
            source = names.get(str(entry.get("derived_from")))
            same = source is not None and np.shape(source.data) == np.shape(layer.data)
            if entry.get("role") == ROLE_DENOISED and same:
                self.before.value, self.after.value = source, layer
                return

    def _pair(self) -> tuple[Image, Image] | None:
        before, after = self.before.value, self.after.value
        if before is None or after is None or before is after:
            self.report.value = "pick two different image layers: before and after"
            return None
        if np.shape(before.data) != np.shape(after.data):
            self.report.value = (
                f"{before.name} {np.shape(before.data)} and {after.name} "
                f"{np.shape(after.data)} differ in shape: pick a layer and its denoised result"
            )
            return None
        return before, after

    # -- quality report ----------------------------------------------------------------------
    def measure(self, _value: Any = None) -> None:
        """Measure the pair in a worker; then show the run's record (if "after" has one), the
        figures and the warnings, and keep the report in :attr:`last_report`."""
        pair = None if self.status.busy else self._pair()
        if pair is None:
            return
        before, after = pair
        data = np.asarray(before.data, dtype=np.float32)
        volume = source_volume(before.metadata)  # a scan's modality and header, for warnings
        original: Any = data
        if volume is not None and volume.array.size == data.size:
            original = volume.with_array(data.reshape(volume.shape))
        entry = layer_entry(after.metadata).get("provenance")
        record = md.Provenance.from_dict(dict(entry)) if entry else None
        denoised = np.asarray(after.data, dtype=np.float32).reshape(original.shape)
        self.report.value = f"measuring {after.name} against {before.name}..."
        self._job.start(
            _quality_job, original, denoised, record, message="measuring...",
            on_done=partial(self._on_measured, record),
        )  # fmt: skip

    def _on_measured(self, record: md.Provenance | None, outcome: md.QualityReport) -> str:
        self.last_report = outcome
        self.report.value = run_text(record, outcome)
        return "measured"

    # -- ROI SNR / CNR -----------------------------------------------------------------------
    def measure_rois(self, _value: Any = None) -> dict[str, md.RoiContrast]:
        """SNR and CNR in every image layer from the first two shapes of the chosen layer:
        shape 1 the signal region, shape 2 the background."""
        shapes = self.rois.value
        if shapes is None or len(shapes.data) < 2:
            self.roi_report.value = "draw two shapes: the signal region, then the background"
            return {}
        found: dict[str, md.RoiContrast] = {}
        lines = []
        point = tuple(self.viewer.dims.point)
        for name, layer in self._image_choices():
            if layer_role(layer.metadata) == ROLE_REMOVED_NOISE:
                continue  # a difference image: no signal to speak of
            try:
                signal, background = roi_masks(shapes, layer, point)
                found[name] = r = md.roi_contrast(np.asarray(layer.data), signal, background)
            except ValueError as exc:
                lines.append(f"{name}: {exc}")
                continue
            lines.append(f"{name}: SNR {r.snr:.3g}, CNR {r.cnr:.3g}")
        self.roi_report.value = "\n".join(lines)
        return found

    # -- swipe view --------------------------------------------------------------------------
    def swipe(self, _value: Any = None) -> Image | None:
        """Show the swipe layer: "before" left of the split, "after" right of it."""
        pair = self._pair()
        if pair is None:
            return None
        before, after = pair
        composite = np.array(after.data, dtype=np.float32, copy=True)
        self._cut = self._cut_at()
        composite[..., : self._cut] = np.asarray(before.data)[..., : self._cut]
        if SWIPE_NAME in self.viewer.layers:
            layer = self.viewer.layers[SWIPE_NAME]
            layer.data = composite
        else:
            layer = self.viewer.add_image(
                composite, name=SWIPE_NAME, contrast_limits=before.contrast_limits,
                scale=before.scale, translate=before.translate,
                affine=np.array(before.affine.affine_matrix), colormap=before.colormap.name,
            )  # fmt: skip
        return layer

    def _cut_at(self) -> int:
        before = self.before.value
        width = np.shape(before.data)[-1] if before is not None else 0
        return round(float(self.split.value) * width)

    def _resplit(self, _value: Any = None) -> None:
        """Move the split: only the columns between the old and new split are copied."""
        if SWIPE_NAME not in self.viewer.layers or self._cut is None:
            return
        pair = self._pair()
        layer = self.viewer.layers[SWIPE_NAME]
        if pair is None or np.shape(layer.data) != np.shape(pair[0].data):
            return
        cut, old = self._cut_at(), self._cut
        low, high = sorted((cut, old))
        origin = pair[0] if cut > old else pair[1]  # the split moved right: "before" shows
        layer.data[..., low:high] = np.asarray(origin.data)[..., low:high]
        self._cut = cut
        layer.refresh()

    # -- model card --------------------------------------------------------------------------
    def show_card(self, _value: Any = None) -> str:
        """Show the chosen model's card (training data, figures, limits, intended use)."""
        text = card_text(self.card_model.value)
        self.card.value = text
        return text
