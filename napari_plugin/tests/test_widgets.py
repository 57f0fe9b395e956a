"""The reader and both widgets inside a real viewer (Qt under Xvfb)."""

from __future__ import annotations

import numpy as np
import pytest
from napari_medidenoise._layers import META_KEY

import medidenoise as md

pytestmark = pytest.mark.gui

PLUGIN = "napari-medidenoise"


def test_reader_opens_dicom_folder_and_nifti(viewer, ct_layer, nifti_file):
    assert ct_layer.data.shape == (6, 64, 64)
    np.testing.assert_allclose(ct_layer.scale, (2.5, 1.0, 1.0))
    assert ct_layer.metadata[META_KEY]["volume"].source is not None
    [mr] = viewer.open(nifti_file, plugin=PLUGIN)
    np.testing.assert_allclose(mr.scale, md.read_volume(nifti_file).spacing)


def test_preview_denoises_the_slice_on_screen(
    viewer, ct_layer, tiny_checkpoint, denoise_widget, wait_idle
):
    widget = denoise_widget(tiny_checkpoint)
    viewer.dims.set_current_step(0, 3)
    widget.preview_slice()
    wait_idle(widget)
    preview = viewer.layers[f"{ct_layer.name} preview"]
    assert preview.data.shape == (1, 64, 64)
    # the one-slice layer sits exactly on slice 3, in world (patient) coordinates
    np.testing.assert_allclose(preview.data_to_world((0, 5, 7)), ct_layer.data_to_world((3, 5, 7)))
    level = preview.metadata[META_KEY]["noise_level"]
    # the level the Denoiser used, estimated on the whole volume as a volume run would
    used = md.Denoiser(str(tiny_checkpoint), device="cpu").run(np.asarray(ct_layer.data))
    assert level == pytest.approx(used.noise_level)
    assert widget._estimate.value.startswith(f"{level:.4g}")


def test_volume_run_adds_denoised_and_removed_noise_layers(
    viewer, ct_layer, tiny_checkpoint, denoise_widget, wait_idle
):
    widget = denoise_widget(tiny_checkpoint)
    widget.denoise_volume()
    assert widget._cancel_button.enabled
    wait_idle(widget)
    denoised = viewer.layers[f"{ct_layer.name} denoised"]
    removed = viewer.layers[f"{ct_layer.name} removed noise"]
    np.testing.assert_allclose(denoised.data + removed.data, ct_layer.data, atol=1e-3)
    # both sit on the source voxels: 2.5 x 1 x 1 mm from (0, -32, -32) mm in patient space
    for layer in (denoised, removed):
        np.testing.assert_allclose(layer.scale, ct_layer.scale)
        np.testing.assert_allclose(layer.affine.affine_matrix, ct_layer.affine.affine_matrix)
        np.testing.assert_allclose(layer.extent.world, ct_layer.extent.world)
        np.testing.assert_allclose(layer.data_to_world((0, 0, 0)), (0.0, -32.0, -32.0))
    assert tuple(denoised.contrast_limits) == pytest.approx(tuple(ct_layer.contrast_limits))
    # the difference image is shown symmetric around 0 (the colormap's middle = unchanged);
    # test_removed_noise_layer.py checks how it is shown
    low, high = removed.contrast_limits
    assert low == pytest.approx(-high) and high > 0
    assert widget._progress.value == widget._progress.max == 6
    assert not widget._cancel_button.enabled


def test_the_default_choice_is_auto_and_the_layers_name_the_network_it_ran(
    viewer, ct_layer, wait_idle
):
    from napari_medidenoise._denoise_widget import DenoiseWidget

    widget = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(widget)
    assert widget._model.value == "auto"  # what a user gets without choosing
    widget.preview_slice()
    wait_idle(widget)
    widget.denoise_volume()
    wait_idle(widget)
    ran = md.Denoiser(device="cpu").run(np.asarray(ct_layer.data)).model
    assert ran in ("auto: white", "auto: correlated")
    for suffix in ("preview", "denoised", "removed noise"):
        assert viewer.layers[f"{ct_layer.name} {suffix}"].metadata[META_KEY]["model"] == ran
    assert widget._status.value.endswith(f"; {ran})")  # the user sees which network ran


def test_cancel_before_the_first_slice_adds_nothing(
    viewer, tiny_checkpoint, denoise_widget, wait_idle
):
    rng = np.random.default_rng(0)
    layer = viewer.add_image(rng.normal(100, 10, (48, 96, 96)).astype(np.float32), name="big")
    widget = denoise_widget(tiny_checkpoint)
    widget.denoise_volume()
    widget.cancel()
    wait_idle(widget)
    assert widget._status.value == "cancelled"
    assert f"{layer.name} denoised" not in viewer.layers


def test_errors_become_notifications_not_exceptions(
    viewer, ct_layer, tmp_path, monkeypatch, denoise_widget, wait_idle
):
    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a checkpoint")
    widget = denoise_widget(broken)
    widget.denoise_volume()
    wait_idle(widget)
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


def test_a_long_error_does_not_widen_the_dock_or_the_window(
    viewer, ct_layer, qtbot, monkeypatch, denoise_widget
):
    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    widget = denoise_widget("nlm")
    window = viewer.window._qt_window
    window.resize(1200, 800)
    qtbot.wait(50)
    before = window.width(), widget.native.width()
    message = "/a/very/long/path/" * 60 + "checkpoint.safetensors: not a checkpoint"
    widget._on_error(RuntimeError(message))
    qtbot.wait(50)
    assert (window.width(), widget.native.width()) == before
    assert widget._status.native.sizeHint().width() < 500
    # the whole message stays available: status value and tooltip, and the notification
    assert widget._status.value == f"failed: {message}"
    assert widget._status.tooltip == f"failed: {message}"
    assert shown[-1].endswith(message)


def test_a_preview_after_a_volume_run_shows_no_stale_progress(
    viewer, ct_layer, denoise_widget, wait_idle
):
    widget = denoise_widget("nlm")
    widget.denoise_volume()
    wait_idle(widget)
    assert widget._progress.value == widget._progress.max
    widget.preview_slice()
    wait_idle(widget)
    assert widget._status.value == "preview ready"
    assert widget._progress.value == 0


def test_gui_tests_run_on_the_qt_binding_napari_recommends(viewer):
    """napari 0.9 deprecates PyQt5: with PyQt6 installed (the testing extra), it is used."""
    import importlib.util

    import qtpy

    if importlib.util.find_spec("PyQt6") is None:
        pytest.skip("PyQt6 is not installed: pip install 'napari-medidenoise[testing]'")
    assert qtpy.API_NAME == "PyQt6"
    assert viewer.window._qt_window.isWindow()
