"""The Quality widget: figures of a before/after pair, ROI SNR/CNR, swipe view, model card."""

from __future__ import annotations

import numpy as np
import pytest
from napari_medidenoise._job import JobState
from napari_medidenoise._layers import META_KEY
from napari_medidenoise._quality_widget import SWIPE_NAME, QualityWidget, roi_masks

import medidenoise as md

pytestmark = pytest.mark.gui


@pytest.fixture
def pair(viewer):
    """A noisy and a less noisy copy of a square phantom, as two layers on 0.5 mm pixels."""
    rng = np.random.default_rng(0)
    clean = np.full((96, 96), 40.0, np.float32)
    clean[30:60, 30:60] = 120.0
    common = {"scale": (0.5, 0.5), "translate": (10.0, -4.0)}
    noisy = clean + rng.normal(0, 10, clean.shape).astype(np.float32)
    before = viewer.add_image(noisy, name="b", **common)
    smooth = clean + rng.normal(0, 1, clean.shape).astype(np.float32)
    after = viewer.add_image(smooth, name="a", **common)
    widget = QualityWidget(viewer)
    widget.before.value, widget.after.value = before, after
    return widget, before, after


def _world_box(layer, top_left, bottom_right) -> np.ndarray:
    """A rectangle in world coordinates around the given voxel corners of ``layer``."""
    (y0, x0), (y1, x1) = layer.data_to_world(top_left), layer.data_to_world(bottom_right)
    return np.array([[y0, x0], [y1, x1]])


def test_quality_figures_of_a_pair(pair, wait_idle) -> None:
    widget, _, _ = pair
    widget.measure()
    assert widget.status.busy and not widget["measure_button"].enabled
    wait_idle(widget)
    assert widget.status.state is JobState.DONE and widget["measure_button"].enabled
    assert widget.last_report is not None and widget.last_report.std_ratio < 0.3
    assert "flat-region noise" in widget.report.value
    widget.after.value = widget.before.value
    widget.measure()
    assert not widget.status.busy and "two different" in widget.report.value


def test_a_pair_that_cannot_be_measured_says_why(viewer, wait_idle, notes) -> None:
    rng = np.random.default_rng(2)
    viewer.add_image(rng.normal(0, 1, (4, 4)).astype(np.float32), name="small")
    viewer.add_image(rng.normal(0, 1, (4, 4)).astype(np.float32), name="small denoised")
    widget = QualityWidget(viewer, notifier=notes)
    widget.before.value, widget.after.value = viewer.layers["small"], viewer.layers[1]
    widget.measure()
    wait_idle(widget)
    assert widget.status.state is JobState.FAILED and widget.last_report is None
    assert widget.report.value.startswith("could not measure: ") and "8 pixels" in (
        widget.report.value
    )
    assert notes.errors == [f"medidenoise: {widget.status.error}"]


def test_rois_drawn_in_world_coordinates_measure_each_layer(viewer, pair) -> None:
    widget, before, _ = pair
    signal, background = (
        _world_box(before, (35, 35), (55, 55)),
        _world_box(before, (5, 5), (25, 25)),
    )
    shapes = viewer.add_shapes([signal, background], shape_type="rectangle")
    masks = roi_masks(shapes, before)
    inside = np.argwhere(masks[0])
    assert inside.min(axis=0).tolist() == [35, 35] and inside.max(axis=0).tolist() in (
        [54, 54],
        [55, 55],
    )  # on the voxels under the shape, not at its millimetre values
    widget.rois.value = shapes
    found = widget.measure_rois()
    assert set(found) == {"a", "b"}
    assert found["a"].cnr > 5 * found["b"].cnr  # less noise: the contrast stands out
    assert "a: SNR" in widget.roi_report.value
    shapes.data = shapes.data[:1]
    assert widget.measure_rois() == {} and "draw two shapes" in widget.roi_report.value


def test_a_2d_roi_over_a_volume_lies_on_the_slice_on_screen(viewer) -> None:
    volume = viewer.add_image(np.zeros((5, 32, 32), np.float32), scale=(3.0, 1.0, 1.0))
    shapes = viewer.add_shapes(
        [np.array([[4, 4], [12, 12]]), np.array([[20, 20], [28, 28]])], ndim=2
    )
    [signal, background] = roi_masks(shapes, volume, point=(6.0, 0.0, 0.0))
    assert signal.shape == (5, 32, 32)
    assert np.flatnonzero(signal.any(axis=(1, 2))).tolist() == [2]  # 6 mm / 3 mm slices
    assert background[2, 24, 24] and not background[2, 8, 8]


def test_swipe_view_follows_the_split(viewer, pair) -> None:
    widget, before, after = pair
    widget.split.value = 0.25
    layer = widget.swipe()
    assert layer.name == SWIPE_NAME and tuple(layer.scale) == tuple(before.scale)
    np.testing.assert_array_equal(layer.data[:, :24], before.data[:, :24])
    np.testing.assert_array_equal(layer.data[:, 24:], after.data[:, 24:])
    widget.split.value = 0.75  # moving the split updates the layer
    np.testing.assert_array_equal(viewer.layers[SWIPE_NAME].data[:, :72], before.data[:, :72])
    np.testing.assert_array_equal(viewer.layers[SWIPE_NAME].data[:, 72:], after.data[:, 72:])
    widget.split.value = 0.1  # and back
    np.testing.assert_array_equal(viewer.layers[SWIPE_NAME].data[:, 10:], after.data[:, 10:])
    assert SWIPE_NAME not in [layer.name for layer in widget.before.choices]


def test_model_cards(pair) -> None:
    widget, _, _ = pair
    for name in ("auto", "white", "correlated"):
        widget.card_model.value = name
        text = widget.show_card()
        assert "research use, not for diagnosis" in text and widget.card.value == text


def test_the_pair_is_guessed_from_a_result_and_its_record_is_shown(viewer, wait_idle) -> None:
    rng = np.random.default_rng(1)
    scan = viewer.add_image((100 + rng.normal(0, 8, (80, 80))).astype(np.float32), name="scan")
    widget = QualityWidget(viewer)
    record = md.Provenance("nlm", "nlm", noise_level=8.0, noise_level_source="given")
    meta = {META_KEY: {"role": "denoised", "derived_from": "scan", "provenance": record.to_dict()}}
    result = viewer.add_image(np.full((80, 80), 100.0, np.float32), name="result", metadata=meta)
    assert (widget.before.value, widget.after.value) == (scan, result)
    widget.measure()
    wait_idle(widget)
    assert "model nlm" in widget.report.value and "noise level 8 image units, given" in (
        widget.report.value
    )


def test_rois_on_a_ct_read_from_dicom_land_on_its_voxels(viewer, ct_layer) -> None:
    """Shapes drawn on slice 3 of a CT placed in patient millimetres (scale, flips, origin)."""
    corners = [((3, 10, 10), (3, 20, 20)), ((3, 30, 30), (3, 40, 40))]
    boxes = [
        np.array(
            [ct_layer.data_to_world((k, y, x)) for y, x in ((y0, x0), (y0, x1), (y1, x1), (y1, x0))]
        )
        for (k, y0, x0), (_, y1, x1) in corners
    ]
    shapes = viewer.add_shapes(boxes, shape_type="rectangle", ndim=3)
    signal, background = roi_masks(shapes, ct_layer)
    for mask, ((k, y0, x0), (_, y1, x1)) in zip((signal, background), corners, strict=True):
        rows = np.argwhere(mask)
        assert set(rows[:, 0]) == {k}
        assert rows[:, 1:].min(axis=0).tolist() == [y0, x0]
        assert rows[:, 1:].max(axis=0).tolist() in ([y1 - 1, x1 - 1], [y1, x1])
    widget = QualityWidget(viewer)
    widget.rois.value = shapes
    assert set(widget.measure_rois()) == {ct_layer.name}
