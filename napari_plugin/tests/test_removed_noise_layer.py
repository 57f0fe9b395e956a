"""The removed-noise layer of "Denoise volume" never passes for the scan (Qt under Xvfb).

It is a difference image (input - denoised) in a diverging colormap centred on 0, added
hidden on top of the layer list: never between the source and its denoised layer.
"""

from __future__ import annotations

import numpy as np
import pytest
from napari_medidenoise._layers import META_KEY, ROLE_REMOVED_NOISE

pytestmark = pytest.mark.gui


@pytest.fixture
def denoised_run(viewer, ct_layer, tiny_checkpoint, denoise_widget, wait_idle):
    """A "Denoise volume" run with the removed-noise layer ticked; returns the widget."""
    widget = denoise_widget(tiny_checkpoint)
    widget["removed_noise"].value = True
    widget.denoise_volume()
    wait_idle(widget)
    return widget


def _seen(viewer):
    """The visible layer drawn last: what the canvas shows, the layers being opaque."""
    return [layer for layer in viewer.layers if layer.visible][-1]


def _names(viewer) -> list[str]:
    return [layer.name for layer in viewer.layers]


def test_the_removed_noise_is_a_diverging_difference_image_centred_on_zero(
    viewer, ct_layer, denoised_run
):
    removed = viewer.layers[f"{ct_layer.name} removed noise"]
    low, mid, high = removed.colormap.map(np.array([0.0, 0.5, 1.0]))[:, :3]
    # near-white without hue at 0, two different saturated colours at the ends: not a grey scale
    assert np.ptp(mid) < 0.05 and mid.min() > 0.9
    for end in (low, high):
        assert np.ptp(end) > 0.2  # grey has none
    assert np.argmax(low) != np.argmax(high)
    bottom, top = removed.contrast_limits
    assert bottom == pytest.approx(-top) and top > 0
    # a robust bound: the 99.5th percentile of |input - denoised|, not the largest value
    assert top == pytest.approx(np.percentile(np.abs(removed.data), 99.5), rel=1e-4)
    assert top < np.abs(removed.data).max()
    entry = removed.metadata[META_KEY]
    assert entry["role"] == ROLE_REMOVED_NOISE and entry["difference"] == "input - denoised"
    assert entry["derived_from"] == ct_layer.name


def test_hiding_the_denoised_layer_shows_the_scan_not_the_removed_noise(
    viewer, ct_layer, denoised_run
):
    name = ct_layer.name
    # the result on screen and selected; the removed noise hidden on top, outside the
    # source / denoised pair
    assert _names(viewer) == [name, f"{name} denoised", f"{name} removed noise"]
    assert not viewer.layers[f"{name} removed noise"].visible
    assert _seen(viewer) is viewer.layers[f"{name} denoised"]
    assert viewer.layers.selection.active is viewer.layers[f"{name} denoised"]
    viewer.layers[f"{name} denoised"].visible = False
    assert _seen(viewer) is ct_layer
    assert ct_layer.opacity == 1.0  # opaque: nothing under it shows through


def test_ticking_the_removed_noise_shows_it_and_a_new_run_hides_it_again(
    viewer, ct_layer, denoised_run, wait_idle
):
    removed = viewer.layers[f"{ct_layer.name} removed noise"]
    removed.visible = True  # the user looks at it: shown at once, over everything
    assert _seen(viewer) is removed
    # moved between the scan and its result, then a new run: the new result is what is seen
    viewer.layers.move(viewer.layers.index(removed), 1)
    denoised_run.denoise_volume()
    wait_idle(denoised_run)
    name = ct_layer.name
    assert _names(viewer) == [name, f"{name} denoised", f"{name} removed noise"]
    assert viewer.layers[f"{name} removed noise"] is removed and not removed.visible
    assert _seen(viewer) is viewer.layers[f"{name} denoised"]


def test_no_removed_noise_layer_when_unticked(viewer, ct_layer, tiny_checkpoint, denoise_widget,
                                              wait_idle):  # fmt: skip
    widget = denoise_widget(tiny_checkpoint)
    widget["removed_noise"].value = False
    widget.denoise_volume()
    wait_idle(widget)
    assert _names(viewer) == [ct_layer.name, f"{ct_layer.name} denoised"]
