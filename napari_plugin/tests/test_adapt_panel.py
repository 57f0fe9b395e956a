""" "Adapt to this image" in a real viewer (Qt under Xvfb), and its Qt-free worker."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from napari_medidenoise._adapt_worker import AdaptJob, AdaptResult, adapt_steps

import medidenoise as md

WAIT_MS = 60_000


def _wait(qtbot, panel) -> None:
    qtbot.waitUntil(lambda: panel.worker is None, timeout=WAIT_MS)


@pytest.mark.gui
def test_adapted_model_becomes_the_selected_model_and_can_be_saved(
    viewer, ct_layer, tiny_checkpoint, denoise_widget, wait_idle, qtbot, tmp_path
):
    widget = denoise_widget(tiny_checkpoint)
    panel = widget.adapt_panel
    panel._minutes.value = 0.05
    before = np.array(ct_layer.data, copy=True)
    panel.adapt()
    assert panel._cancel_button.enabled and not panel._adapt_button.enabled
    _wait(qtbot, panel)
    np.testing.assert_array_equal(ct_layer.data, before)  # the image is never modified
    assert panel._progress.value == panel._progress.max > 0
    # the adapted model is now the Denoise widget's model
    chosen = widget.settings.checkpoint
    assert widget.settings.model == "checkpoint" and chosen is not None
    assert chosen != tiny_checkpoint and chosen.is_file()
    meta = md.load_model(chosen).metadata["adaptation"]
    assert meta["base_model"] == tiny_checkpoint.name and meta["images"][0]["shape"] == [6, 64, 64]
    # the guard's decision is shown, its reason on hover
    assert panel._status.value.startswith(("adapted weights kept", "base model kept"))
    assert panel._status.tooltip == meta["reason"] and "kept" in meta["reason"]
    # ... and it denoises
    widget.denoise_volume()
    wait_idle(widget)
    denoised = viewer.layers[f"{ct_layer.name} denoised"]
    assert denoised.data.shape == (6, 64, 64)
    assert denoised.metadata["medidenoise"]["model"] == str(chosen)
    # save it where the user wants
    panel._save_path.value = tmp_path / "my_scanner"
    saved = panel.save()
    assert saved == tmp_path / "my_scanner.safetensors"
    assert md.load_model(saved).metadata["adaptation"]["method"] == meta["method"]


@pytest.mark.gui
def test_cancel_keeps_the_selected_model(viewer, ct_layer, tiny_checkpoint, denoise_widget, qtbot):
    widget = denoise_widget(tiny_checkpoint)
    panel = widget.adapt_panel
    panel._minutes.value = 5.0
    panel.adapt()
    qtbot.waitUntil(lambda: panel._progress.max > 1, timeout=WAIT_MS)
    panel.cancel()
    _wait(qtbot, panel)
    assert panel._status.value.startswith("cancelled")
    assert widget.settings.checkpoint == tiny_checkpoint
    assert not panel._save_button.enabled


@pytest.mark.gui
def test_a_constant_image_is_a_notification_and_changes_nothing(
    viewer, tiny_checkpoint, denoise_widget, qtbot, monkeypatch
):
    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    viewer.add_image(np.full((64, 64), 5.0, np.float32), name="flat")
    widget = denoise_widget(tiny_checkpoint)
    widget._layer.value = viewer.layers["flat"]
    widget.adapt_panel._minutes.value = 0.05
    widget.adapt_panel.adapt()
    _wait(qtbot, widget.adapt_panel)
    assert shown and "constant" in shown[-1]
    assert widget.adapt_panel._status.value.startswith("failed")
    assert widget.settings.checkpoint == tiny_checkpoint


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
