""" "Adapt to this image" in a real viewer (Qt under Xvfb), and its Qt-free worker."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from napari_medidenoise._adapt_worker import AdaptJob, AdaptResult, adapt_steps
from napari_medidenoise._job import JobState
from napari_medidenoise._state import DenoiseSettings

import medidenoise as md

WAIT_MS = 60_000


@pytest.mark.gui
def test_adapted_model_becomes_the_selected_model_and_can_be_saved(
    viewer, ct_layer, tiny_checkpoint, denoise_widget, wait_idle, notes, tmp_path
):
    widget = denoise_widget(tiny_checkpoint)
    panel = widget.adapt_panel
    panel["budget"].value = 0.05
    before = np.array(ct_layer.data, copy=True)
    panel.adapt()
    assert panel.status.state is JobState.RUNNING
    assert panel["cancel_button"].enabled and not panel["adapt_button"].enabled
    wait_idle(panel, WAIT_MS)
    np.testing.assert_array_equal(ct_layer.data, before)  # the image is never modified
    assert panel.status.state is JobState.DONE
    assert panel.status.done == panel.status.total > 0
    assert panel["progress"].value == panel["progress"].max == panel.status.total
    # the adapted model is now the Denoise widget's model, shown in its controls
    chosen = widget.settings.checkpoint
    assert widget.settings.model == "checkpoint" and chosen is not None
    assert chosen != tiny_checkpoint and chosen.is_file()
    assert widget["model"].value == "checkpoint" and widget["checkpoint"].value == chosen
    meta = md.load_model(chosen).metadata["adaptation"]
    assert meta["base_model"] == tiny_checkpoint.name and meta["images"][0]["shape"] == [6, 64, 64]
    # the guard's decision is shown, its reason on hover and in the news
    assert panel.status.message.startswith(("adapted weights kept", "base model kept"))
    assert panel["adapted"].value == panel.status.message
    assert panel["adapted"].tooltip == meta["reason"] and "kept" in meta["reason"]
    assert notes.infos[-1].endswith(f"model selected ({chosen.name})") and notes.errors == []
    # ... and it denoises
    widget.denoise_volume()
    wait_idle(widget)
    denoised = viewer.layers[f"{ct_layer.name} denoised"]
    assert denoised.data.shape == (6, 64, 64)
    assert denoised.metadata["medidenoise"]["model"] == str(chosen)
    # save it where the user wants
    assert panel["save_button"].enabled
    panel["save_as"].value = tmp_path / "my_scanner"
    saved = panel.save()
    assert saved == tmp_path / "my_scanner.safetensors"
    assert md.load_model(saved).metadata["adaptation"]["method"] == meta["method"]
    assert panel.status.message == "saved my_scanner.safetensors"


@pytest.mark.gui
def test_cancel_keeps_the_selected_model(
    viewer, ct_layer, tiny_checkpoint, denoise_widget, wait_idle, qtbot
):
    widget = denoise_widget(tiny_checkpoint)
    panel = widget.adapt_panel
    panel["budget"].value = 5.0
    panel.adapt()
    qtbot.waitUntil(lambda: panel.status.total > 1, timeout=WAIT_MS)
    panel.cancel()
    assert panel.status.state is JobState.CANCELLING and not panel["cancel_button"].enabled
    wait_idle(panel, WAIT_MS)
    assert panel.status.state is JobState.CANCELLED
    assert panel["adapted"].value.startswith("cancelled")
    assert widget.settings.checkpoint == tiny_checkpoint
    assert not panel["save_button"].enabled and panel["adapt_button"].enabled


@pytest.mark.gui
def test_a_constant_image_is_a_notification_and_changes_nothing(
    viewer, tiny_checkpoint, denoise_widget, wait_idle, notes
):
    viewer.add_image(np.full((64, 64), 5.0, np.float32), name="flat")
    widget = denoise_widget(tiny_checkpoint)
    widget["image"].value = viewer.layers["flat"]
    panel = widget.adapt_panel
    panel["budget"].value = 0.05
    panel.adapt()
    wait_idle(panel, WAIT_MS)
    assert len(notes.errors) == 1 and "constant" in notes.errors[0]
    assert panel.status.state is JobState.FAILED and "constant" in panel.status.error
    assert panel["adapted"].value.startswith("failed")
    assert widget.settings.checkpoint == tiny_checkpoint and panel["adapt_button"].enabled


class _Host:
    """A stand-in for the Denoise widget: the panel needs only :class:`AdaptHost`."""

    def __init__(self, layer, settings: DenoiseSettings) -> None:
        self.layer, self.settings, self.selected = layer, settings, []

    def current_choice(self):
        return self.layer, self.settings

    def select_checkpoint(self, path) -> None:
        self.selected.append(path)


@pytest.mark.gui
@pytest.mark.parametrize(
    ("layer", "model", "said"),
    [
        (None, "auto", "open an image first (no image layer to adapt to)"),
        ("scan", "nlm", "non-local means has nothing to adapt"),
        ("scan", "checkpoint", "not found"),
    ],
)
def test_the_panel_refuses_what_it_cannot_adapt(qtbot, notes, layer, model, said):
    from napari_medidenoise._adapt_panel import AdaptPanel

    host = _Host(layer, DenoiseSettings(model=model))
    panel = AdaptPanel(host, notifier=notes)
    panel.adapt()
    assert len(notes.errors) == 1 and said in notes.errors[0]
    assert panel.status.state is JobState.IDLE and host.selected == []
    assert not panel["save_button"].enabled
    assert panel.save() is None and "nothing to save yet" in notes.errors[-1]


def test_adapt_steps_yields_progress_and_saves_a_checkpoint(tiny_checkpoint, tmp_path):
    rng = np.random.default_rng(0)
    data = (100 + rng.normal(0, 5, (2, 64, 64))).astype(np.float32)
    steps = adapt_steps(
        data, AdaptJob(model=str(tiny_checkpoint), minutes=0.05), "scan 1/2", folder=tmp_path
    )
    seen = []
    try:
        while True:
            seen.append(next(steps))
    except StopIteration as stop:
        result = stop.value
    assert isinstance(result, AdaptResult)
    assert result.checkpoint == tmp_path / "scan_1_2-adapted.safetensors"
    assert seen[0].done == 0 and seen[-1].done == seen[-1].total
    assert md.load_model(result.checkpoint).metadata["adaptation"]["steps"] >= 1


def test_adapt_steps_cancelled_saves_nothing(tiny_checkpoint, tmp_path):
    rng = np.random.default_rng(0)
    data = (100 + rng.normal(0, 5, (64, 64))).astype(np.float32)
    cancel = threading.Event()
    steps = adapt_steps(
        data, AdaptJob(model=str(tiny_checkpoint), minutes=2), "x", folder=tmp_path, cancel=cancel
    )
    next(steps)
    cancel.set()
    with pytest.raises(StopIteration) as stop:
        while True:
            next(steps)
    assert stop.value.value is None
    assert list(tmp_path.iterdir()) == []
