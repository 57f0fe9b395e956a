"""Fixtures (a synthetic DICOM series, a NIfTI file, a tiny checkpoint) and the GUI gate.

The series comes from tests/factories.py, shared with the package tests.

GUI tests carry ``pytest.mark.gui``. Without napari, Qt or a display they are
skipped locally, but with ``MEDIDENOISE_REQUIRE_GUI=1`` (CI, ``make test``)
they fail instead: a skipped GUI test must never pass CI unnoticed.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from factories import write_phantom_series

REQUIRE_GUI = os.environ.get("MEDIDENOISE_REQUIRE_GUI") == "1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gui: needs napari, Qt and an OpenGL display (Xvfb)")


def _gui_missing() -> str | None:
    for module in ("napari", "qtpy", "pytestqt"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed"
    if (
        os.name == "posix"
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        return "no display (run under xvfb-run)"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("gui") is None:
        return
    reason = _gui_missing()
    if reason is None:
        return
    if REQUIRE_GUI:
        pytest.fail(f"GUI test cannot run ({reason}) but MEDIDENOISE_REQUIRE_GUI=1", pytrace=False)
    pytest.skip(f"GUI unavailable: {reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_GUI and report.skipped and item.get_closest_marker("gui") is not None:
        report.outcome = "failed"
        report.longrepr = f"GUI test skipped although MEDIDENOISE_REQUIRE_GUI=1: {report.longrepr}"


@pytest.fixture
def series_writer():
    """The synthetic-series factory, for tests that need several series."""
    return write_phantom_series


@pytest.fixture
def dicom_folder(tmp_path: Path) -> Path:
    """A folder with one synthetic 6-slice CT series."""
    return write_phantom_series(tmp_path / "series")


@pytest.fixture
def nifti_file(tmp_path: Path) -> Path:
    """A 5x40x48 float32 NIfTI volume with 0.8 x 0.9 x 3 mm voxels."""
    import nibabel as nib

    rng = np.random.default_rng(1)
    data = (100 + rng.normal(0, 5, (48, 40, 5))).astype(np.float32)  # (x, y, z)
    affine = np.diag([0.8, 0.9, 3.0, 1.0])
    affine[:3, 3] = (10.0, -20.0, 30.0)
    path = tmp_path / "volume.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), path)
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained 2.5D residual U-Net checkpoint (3 context slices), fast on CPU."""
    import torch

    import medidenoise as md

    torch.manual_seed(0)  # the same untrained weights in every run
    net = md.build_model(
        {"arch": "unet", "features": [4, 8], "residual": True, "context_slices": 3,
         "noise_level_input": True}
    )  # fmt: skip
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return md.save_checkpoint(path, net, metadata={"name": "tiny test net"})


# -- viewer fixtures (GUI tests only: they need napari's make_napari_viewer) ---------------------

PLUGIN = "napari-medidenoise"
#: how long a GUI test waits for a worker before failing
WAIT_MS = 30_000


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


@pytest.fixture
def ct_layer(viewer, dicom_folder: Path):
    """The synthetic CT series opened in the viewer by this plugin's reader."""
    [layer] = viewer.open(dicom_folder, plugin=PLUGIN)
    return layer


class Notes:
    """A notifier for the widgets (``notifier=``): keeps what the user would be shown."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.infos: list[str] = []

    def error(self, message: str) -> None:
        self.errors.append(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def info(self, message: str) -> None:
        self.infos.append(message)


@pytest.fixture
def notes() -> Notes:
    """The messages the widgets made with this notifier show."""
    return Notes()


@pytest.fixture
def napari_notes() -> Iterator[Notes]:
    """The notifications napari shows during the test (the reader and writers use napari's
    own notifications: napari calls them, so no notifier can be passed in)."""
    from napari.utils.notifications import NotificationSeverity, notification_manager

    seen = Notes()
    kinds = {
        NotificationSeverity.ERROR: seen.errors,
        NotificationSeverity.WARNING: seen.warnings,
        NotificationSeverity.INFO: seen.infos,
    }

    def keep(event: Any) -> None:
        kinds.get(event.severity, seen.infos).append(str(event.message))

    notification_manager.notification_ready.connect(keep)
    yield seen
    notification_manager.notification_ready.disconnect(keep)


@pytest.fixture
def denoise_widget(viewer, notes):
    """Factory: a docked Denoise widget, set to ``model`` (a key or a checkpoint path), whose
    messages go to ``notes``."""

    def make(model: str | Path = "default"):
        from napari_medidenoise._denoise_widget import DenoiseWidget

        widget = DenoiseWidget(viewer, notifier=notes)
        viewer.window.add_dock_widget(widget)
        if isinstance(model, Path):
            widget.select_checkpoint(model)
        else:
            widget["model"].value = model
        return widget

    return make


@pytest.fixture
def wait_idle(qtbot):
    """Wait (processing Qt events) until a widget's (or panel's) job is over."""

    def wait(widget, timeout: int = WAIT_MS) -> None:
        qtbot.waitUntil(lambda: not widget.status.busy, timeout=timeout)

    return wait
