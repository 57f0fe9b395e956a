"""The reader and both widgets inside a real viewer (Qt under Xvfb)."""

from __future__ import annotations

import numpy as np
import pytest
from napari_medidenoise._job import JobState
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
    assert widget["estimated"].value.startswith(f"{level:.4g}")
    assert widget.status.message == widget["status_line"].value == "preview ready"


def test_volume_run_adds_denoised_and_removed_noise_layers(
    viewer, ct_layer, tiny_checkpoint, denoise_widget, wait_idle
):
    widget = denoise_widget(tiny_checkpoint)
    widget.denoise_volume()
    assert widget["cancel_button"].enabled
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
    assert widget.status.done == widget.status.total == 6
    assert widget["progress"].value == widget["progress"].max == 6
    assert not widget["cancel_button"].enabled


def test_the_default_choice_is_auto_and_the_layers_name_the_network_it_ran(
    viewer, ct_layer, wait_idle, notes
):
    from napari_medidenoise._denoise_widget import DenoiseWidget

    widget = DenoiseWidget(viewer, notifier=notes)
    viewer.window.add_dock_widget(widget)
    assert widget["model"].value == "auto"  # what a user gets without choosing
    assert widget.status.state is JobState.IDLE
    widget.preview_slice()
    wait_idle(widget)
    widget.denoise_volume()
    wait_idle(widget)
    ran = md.Denoiser(device="cpu").run(np.asarray(ct_layer.data)).model
    assert ran in ("auto: white", "auto: correlated")
    for suffix in ("preview", "denoised", "removed noise"):
        assert viewer.layers[f"{ct_layer.name} {suffix}"].metadata[META_KEY]["model"] == ran
    assert widget.status.message.endswith(f"; {ran})")  # the user sees which network ran
    assert widget["status_line"].value == widget.status.message


def test_cancel_before_the_first_slice_adds_nothing(
    viewer, tiny_checkpoint, denoise_widget, wait_idle
):
    rng = np.random.default_rng(0)
    layer = viewer.add_image(rng.normal(100, 10, (48, 96, 96)).astype(np.float32), name="big")
    widget = denoise_widget(tiny_checkpoint)
    widget.denoise_volume()
    widget.cancel()
    wait_idle(widget)
    assert widget.status.state is JobState.CANCELLED and widget.status.message == "cancelled"
    assert f"{layer.name} denoised" not in viewer.layers


@pytest.mark.parametrize("run", ["preview_slice", "denoise_volume"])
def test_errors_become_one_notification_not_an_exception(
    viewer, ct_layer, tmp_path, denoise_widget, wait_idle, notes, napari_notes, run
):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a checkpoint")
    widget = denoise_widget(broken)
    getattr(widget, run)()
    wait_idle(widget)
    assert len(notes.errors) == 1 and "broken.safetensors" in notes.errors[0]
    assert napari_notes.errors == []  # napari does not show the worker's error a second time
    assert widget.status.state is JobState.FAILED
    assert widget.status.message == f"failed: {widget.status.error}"
    assert "broken.safetensors" in widget.status.error
    assert widget["run_button"].enabled and widget["preview_button"].enabled  # ready to try again
    assert [layer.name for layer in viewer.layers] == [ct_layer.name]  # no result layer


def test_add_noise_widget_makes_a_seeded_noisy_layer(viewer, ct_layer, notes):
    from napari_medidenoise._noise_widget import AddNoiseWidget

    widget = AddNoiseWidget(viewer, notifier=notes)
    widget["kind"].value, widget["level"].value, widget["seed"].value = "gaussian", 25.0, 7
    noisy = widget.add_noise()
    assert noisy.name == f"{ct_layer.name} + gaussian noise"
    expected = md.add_noise(np.asarray(ct_layer.data, np.float32), "gaussian", 25.0, rng=7)
    np.testing.assert_array_equal(noisy.data, expected)
    np.testing.assert_allclose(noisy.scale, ct_layer.scale)
    assert notes.errors == []


def test_a_long_error_does_not_widen_the_dock_or_the_window(
    viewer, ct_layer, qtbot, tmp_path, denoise_widget, wait_idle, notes
):
    folder = tmp_path / ("a-very-long-folder-name-" * 8) / ("and-another-one-" * 10)
    folder.mkdir(parents=True)
    broken = folder / "checkpoint.safetensors"
    broken.write_bytes(b"not a checkpoint")
    widget = denoise_widget(broken)
    window = widget.native.window()  # the viewer's main window, where the widget is docked
    window.resize(1200, 800)
    qtbot.wait(50)
    before = window.width(), widget.native.width()
    widget.denoise_volume()
    wait_idle(widget)
    qtbot.wait(50)
    message = widget.status.message
    assert message.startswith("failed: ") and str(broken) in message and len(message) > 400
    assert (window.width(), widget.native.width()) == before
    line = widget["status_line"]
    assert line.native.sizeHint().width() < 500
    # the whole message stays available: status value and tooltip, and the notification
    assert line.value == line.tooltip == message
    assert notes.errors == [f"medidenoise: {widget.status.error}"]


def test_a_preview_after_a_volume_run_shows_no_stale_progress(
    viewer, ct_layer, denoise_widget, wait_idle
):
    widget = denoise_widget("nlm")
    widget.denoise_volume()
    wait_idle(widget)
    assert widget["progress"].value == widget["progress"].max == widget.status.total
    widget.preview_slice()
    wait_idle(widget)
    assert widget.status.message == "preview ready"
    assert widget["progress"].value == 0


def test_gui_tests_run_on_the_qt_binding_napari_recommends(viewer):
    """napari 0.9 deprecates PyQt5: with PyQt6 installed (the testing extra), it is used."""
    import importlib.util

    import qtpy

    if importlib.util.find_spec("PyQt6") is None:
        pytest.skip("PyQt6 is not installed: pip install 'napari-medidenoise[testing]'")
    from qtpy.QtWidgets import QApplication

    assert qtpy.API_NAME == "PyQt6"
    assert type(QApplication.instance()).__module__.startswith("PyQt6")
