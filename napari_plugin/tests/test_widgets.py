"""The widgets, reader and writers inside a real viewer (Qt under Xvfb)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from napari_medidenoise._layers import META_KEY

import medidenoise as md

pytestmark = pytest.mark.gui

PLUGIN = "napari-medidenoise"
WAIT_MS = 30_000


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


@pytest.fixture
def ct_layer(viewer, dicom_folder):
    [layer] = viewer.open(dicom_folder, plugin=PLUGIN)
    return layer


def _denoise_widget(viewer, checkpoint: Path | None = None):
    from napari_medidenoise._denoise_widget import DenoiseWidget

    widget = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(widget)
    if checkpoint is not None:
        widget._model.value = "checkpoint"
        widget._checkpoint.value = checkpoint
    return widget


def _wait_idle(qtbot, widget) -> None:
    qtbot.waitUntil(lambda: widget.worker is None, timeout=WAIT_MS)


def test_reader_opens_dicom_folder_and_nifti(viewer, ct_layer, nifti_file):
    assert ct_layer.data.shape == (6, 64, 64)
    np.testing.assert_allclose(ct_layer.scale, (2.5, 1.0, 1.0))
    assert ct_layer.metadata[META_KEY]["volume"].source is not None
    [mr] = viewer.open(nifti_file, plugin=PLUGIN)
    np.testing.assert_allclose(mr.scale, md.read_volume(nifti_file).spacing)


def test_preview_denoises_the_slice_on_screen(qtbot, viewer, ct_layer, tiny_checkpoint):
    widget = _denoise_widget(viewer, tiny_checkpoint)
    viewer.dims.set_current_step(0, 3)
    widget.preview_slice()
    _wait_idle(qtbot, widget)
    preview = viewer.layers[f"{ct_layer.name} preview"]
    assert preview.data.shape == (1, 64, 64)
    # the one-slice layer sits exactly on slice 3
    assert preview.translate[0] == pytest.approx(ct_layer.translate[0] + 3 * 2.5)
    level = preview.metadata[META_KEY]["noise_level"]
    assert level == pytest.approx(md.estimate_noise(np.asarray(ct_layer.data[3], np.float32)))
    assert widget._estimate.value.startswith(f"{level:.4g}")


def test_volume_run_adds_denoised_and_removed_noise_layers(
    qtbot, viewer, ct_layer, tiny_checkpoint
):
    widget = _denoise_widget(viewer, tiny_checkpoint)
    widget.denoise_volume()
    assert widget._cancel_button.enabled
    _wait_idle(qtbot, widget)
    denoised = viewer.layers[f"{ct_layer.name} denoised"]
    removed = viewer.layers[f"{ct_layer.name} removed noise"]
    np.testing.assert_allclose(denoised.data + removed.data, ct_layer.data, atol=1e-3)
    for layer in (denoised, removed):
        np.testing.assert_allclose(layer.scale, ct_layer.scale)
        np.testing.assert_allclose(layer.translate, ct_layer.translate)
    assert tuple(denoised.contrast_limits) == pytest.approx(tuple(ct_layer.contrast_limits))
    assert widget._progress.value == widget._progress.max == 6
    assert not widget._cancel_button.enabled


def test_cancel_stops_the_volume_run(qtbot, viewer, tiny_checkpoint):
    rng = np.random.default_rng(0)
    layer = viewer.add_image(rng.normal(100, 10, (48, 96, 96)).astype(np.float32), name="big")
    widget = _denoise_widget(viewer, tiny_checkpoint)
    widget.denoise_volume()
    widget.cancel()
    _wait_idle(qtbot, widget)
    assert widget._status.value == "cancelled"
    assert f"{layer.name} denoised" not in viewer.layers


def test_errors_become_notifications_not_exceptions(qtbot, viewer, ct_layer, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a checkpoint")
    widget = _denoise_widget(viewer, broken)
    widget.denoise_volume()
    _wait_idle(qtbot, widget)
    assert shown and "broken.safetensors" in shown[-1]
    assert widget._status.value.startswith("failed")
    assert f"{ct_layer.name} denoised" not in viewer.layers


def test_add_noise_widget_makes_a_seeded_noisy_layer(viewer, ct_layer):
    from napari_medidenoise._noise_widget import AddNoiseWidget

    widget = AddNoiseWidget(viewer)
    widget._kind.value, widget._level.value, widget._seed.value = "gaussian", 25.0, 7
    noisy = widget.add_noise()
    assert noisy.name == f"{ct_layer.name} + gaussian noise"
    expected = md.add_noise(np.asarray(ct_layer.data, np.float32), "gaussian", 25.0, rng=7)
    np.testing.assert_array_equal(noisy.data, expected)
    np.testing.assert_allclose(noisy.scale, ct_layer.scale)


def test_writers_round_trip_from_the_viewer(qtbot, viewer, ct_layer, tiny_checkpoint, tmp_path):
    from npe2 import PluginManager

    widget = _denoise_widget(viewer, tiny_checkpoint)
    widget.denoise_volume()
    _wait_idle(qtbot, widget)
    denoised = viewer.layers[f"{ct_layer.name} denoised"]
    [nifti] = denoised.save(str(tmp_path / "denoised.nii.gz"), plugin=PLUGIN)
    np.testing.assert_array_equal(md.read_volume(nifti).array, denoised.data)
    writers = PluginManager.instance().get_manifest(PLUGIN).contributions.writers
    [dicom_writer] = [w for w in writers if not w.filename_extensions]
    data, state, _ = denoised.as_layer_data_tuple()
    written = dicom_writer.exec(args=(str(tmp_path / "dicom"), data, state))
    assert len(written) == 6
    back = viewer.open(tmp_path / "dicom", plugin=PLUGIN)[0]
    np.testing.assert_allclose(back.data, np.round(denoised.data), atol=1.0)
    np.testing.assert_allclose(back.scale, ct_layer.scale)
