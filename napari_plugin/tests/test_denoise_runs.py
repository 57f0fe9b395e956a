"""Whole-volume runs of the Denoise widget: the models it offers, devices, cancel mid-run,
and changes to the widget while a run is going (Qt under Xvfb)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from napari_medidenoise import _workers
from napari_medidenoise._job import JobState
from napari_medidenoise._layers import META_KEY

import medidenoise as md

pytestmark = pytest.mark.gui

DEPTH = 12


class _HeldIdentity(torch.nn.Module):
    """An identity network that holds its ``hold_at``-th slice until ``gate`` is set."""

    context_slices = 1
    noise_level_input = False

    def __init__(self, hold_at: int) -> None:
        super().__init__()
        self.hold_at, self.calls, self.gate = hold_at, 0, threading.Event()

    def __deepcopy__(self, memo: dict) -> _HeldIdentity:
        return self  # the library's inference copy must share the counter and the gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.hold_at:
            self.gate.wait(timeout=30)
        return x


@pytest.fixture
def held(monkeypatch):
    """Every run denoises one slice per batch with a network that stops at slice 3."""
    net = _HeldIdentity(hold_at=3)
    denoiser = md.Denoiser(net, device="cpu", batch_size=1)
    monkeypatch.setattr(_workers, "_denoiser", lambda job: denoiser)
    yield net
    net.gate.set()  # never leave the helper thread waiting


@pytest.fixture
def volume_layer(viewer):
    rng = np.random.default_rng(0)
    data = rng.normal(100, 10, (DEPTH, 32, 32)).astype(np.float32)
    return viewer.add_image(data, name="vol", scale=(2.0, 0.5, 0.5), translate=(5, -3, 7))


def _phantom(seed: int, sigma: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """A clean 3 x 64 x 64 phantom (ramp + two discs) and a copy with Gaussian noise."""
    yy, xx = np.mgrid[:64, :64].astype(np.float32)
    disc = ((yy - 32) ** 2 + (xx - 28) ** 2 < 18**2) * 120.0
    spot = ((yy - 20) ** 2 + (xx - 44) ** 2 < 6**2) * 80.0
    clean = np.stack([50 + xx + disc + spot * (k + 1) / 3 for k in range(3)]).astype(np.float32)
    noise = np.random.default_rng(seed).normal(0, sigma, clean.shape).astype(np.float32)
    return clean, clean + noise


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - b) ** 2)))


def test_cancel_mid_run_stops_early_and_the_widget_runs_again(
    qtbot, viewer, volume_layer, held, denoise_widget, wait_idle
):
    widget = denoise_widget()
    widget.denoise_volume()
    assert widget.status.state is JobState.RUNNING and widget["cancel_button"].enabled
    assert not widget["run_button"].enabled and not widget["preview_button"].enabled
    qtbot.waitUntil(lambda: widget.status.done >= 2, timeout=30_000)
    assert widget["progress"].value == widget.status.done  # the bar follows the status
    widget.cancel()
    assert widget.status.state is JobState.CANCELLING and not widget["cancel_button"].enabled
    assert widget["status_line"].value == "cancelling..."
    held.gate.set()
    wait_idle(widget)
    assert held.calls == 3  # slices 1-2 done, slice 3 held when Cancel came: no slice 4
    assert widget.status.state is JobState.CANCELLED
    assert widget["status_line"].value == "cancelled"
    assert widget.status.done < widget.status.total == DEPTH == widget["progress"].max
    assert "vol denoised" not in viewer.layers and "vol removed noise" not in viewer.layers
    assert widget["run_button"].enabled and widget["preview_button"].enabled
    assert not widget["cancel_button"].enabled
    # ready for another run, which goes to the end
    widget.denoise_volume()
    wait_idle(widget)
    assert held.calls == 3 + DEPTH
    np.testing.assert_allclose(viewer.layers["vol denoised"].data, volume_layer.data, atol=1e-3)


def test_result_uses_the_choices_made_at_start(
    qtbot, viewer, volume_layer, held, denoise_widget, wait_idle, notes
):
    widget = denoise_widget("default")
    widget.denoise_volume()
    qtbot.waitUntil(lambda: widget.status.done >= 2, timeout=30_000)
    # during the run: a checkpoint without a file (not a valid job) and no removed noise
    widget["model"].value = "checkpoint"
    widget["removed_noise"].value = False
    widget.denoise_volume()  # a second press while running starts nothing
    held.gate.set()
    wait_idle(widget)
    assert widget.status.state is JobState.DONE
    assert widget.status.message.startswith("denoised") and notes.errors == []
    denoised = viewer.layers["vol denoised"]
    assert denoised.metadata[META_KEY]["model"] == "default"
    assert "vol removed noise" in viewer.layers
    np.testing.assert_allclose(denoised.scale, volume_layer.scale)
    np.testing.assert_allclose(denoised.translate, volume_layer.translate)


@pytest.mark.parametrize("model", ["default", "nlm"])
def test_offered_models_reduce_noise(viewer, model, denoise_widget, wait_idle):
    clean, noisy = _phantom(seed=4)
    layer = viewer.add_image(noisy, name="phantom")
    widget = denoise_widget(model)
    widget["image"].value = layer
    widget.denoise_volume()
    wait_idle(widget)
    assert widget.status.message.startswith("denoised"), widget.status.message
    denoised = viewer.layers["phantom denoised"]
    assert denoised.metadata[META_KEY]["model"] == model
    assert not np.allclose(denoised.data, noisy, atol=1.0)
    before, after = _rmse(noisy, clean), _rmse(denoised.data, clean)
    assert after < 0.8 * before, (model, before, after)


def test_self_ensemble_box_runs_the_eight_way_average(viewer, denoise_widget, wait_idle):
    clean, noisy = _phantom(seed=5)
    layer = viewer.add_image(noisy, name="phantom")
    widget = denoise_widget("default")
    widget["image"].value = layer
    results = {}
    for ticked in (False, True):
        widget["self_ensemble"].value = ticked
        widget.denoise_volume()
        wait_idle(widget)
        denoised = viewer.layers["phantom denoised"]
        assert denoised.metadata[META_KEY]["self_ensemble"] is ticked
        results[ticked] = np.array(denoised.data)
    level = viewer.layers["phantom denoised"].metadata[META_KEY]["noise_level"]
    expected = md.denoise(noisy, "default", noise_level=level, self_ensemble=True)
    np.testing.assert_allclose(results[True], expected, rtol=1e-5, atol=1e-4)
    assert not np.allclose(results[True], results[False], atol=1e-3)
    assert _rmse(results[True], clean) < 0.8 * _rmse(noisy, clean)


def test_device_choice_offers_cuda_only_when_present(viewer, denoise_widget):
    widget = denoise_widget()
    expected = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
    assert tuple(widget["device"].choices) == expected
    assert widget["device"].value == expected[-1] == widget.settings.device
