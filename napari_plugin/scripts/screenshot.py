"""Take the README screenshot: the noisy MRI sample, its denoised volume and the widget.

Usage (headless: under ``xvfb-run -a``)::

    python napari_plugin/scripts/screenshot.py [--output docs/images/napari_denoise.png]

Uses the shipped default model when it exists, else non-local means ("nlm").
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import medidenoise as md

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("screenshot")


def _model() -> str:
    try:
        md.load_model("default")
    except (md.MedidenoiseError, OSError):
        return "nlm"
    return "default"


def _close_toasts(viewer) -> None:
    """Close notification pop-ups (napari's PyQt5 deprecation notice) before the shot."""
    from qtpy.QtWidgets import QWidget

    window = viewer.window._qt_window  # napari exposes no public handle on the main window
    for child in window.findChildren(QWidget):
        if type(child).__name__ == "NapariQtNotification":
            child.close()


def take(output: Path) -> Path:
    """Open the sample, denoise it in the widget, and save a window screenshot."""
    import napari
    from qtpy.QtWidgets import QApplication

    # napari's PyQt5 deprecation toast would cover the canvas
    warnings.filterwarnings("ignore", message=".*PyQt5 backend is deprecated.*")
    viewer = napari.Viewer(show=True, title="medidenoise")
    viewer.window.resize(1500, 900)
    viewer.open_sample("napari-medidenoise", "noisy_mri")
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-medidenoise", "Denoise")
    widget._layer.value = viewer.layers["MNI152 T1 noisy"]
    widget._model.value = _model()
    widget._device.value = "cpu"
    viewer.dims.set_current_step(0, 8)
    widget.denoise_volume()
    app = QApplication.instance()
    while widget.worker is not None:
        app.processEvents()
        time.sleep(0.01)
    widget.preview_slice()
    while widget.worker is not None:
        app.processEvents()
        time.sleep(0.01)
    viewer.layers.remove("MNI152 T1 noisy preview")
    viewer.layers.selection.active = viewer.layers["MNI152 T1 noisy denoised"]
    viewer.grid.enabled = True
    viewer.reset_view()
    _close_toasts(viewer)
    app.processEvents()
    output.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(output), canvas_only=False, flash=False)
    viewer.close()
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs/images/napari_denoise.png")
    logging.basicConfig(level=logging.INFO)
    log.info("saved %s", take(parser.parse_args().output))


if __name__ == "__main__":
    main()
