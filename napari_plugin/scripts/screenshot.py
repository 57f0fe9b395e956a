"""Take the README screenshot: the noisy MRI sample, its denoised volume and the widget.

Usage (headless: under ``xvfb-run -a``)::

    python napari_plugin/scripts/screenshot.py [--output docs/images/napari_denoise.png]
    python napari_plugin/scripts/screenshot.py --dry-run   # check the inputs, no viewer

Always uses the shipped default model (the one the widget offers first); when
it cannot be loaded the script stops with the reason instead of showing
another model.
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


MODEL = "default"
SAMPLE = "noisy_mri"


def check_inputs() -> None:
    """Load the shipped default model and build the MRI sample, as the screenshot will.

    Raises
    ------
    SystemExit
        When the default model or the sample images are missing, with the fix.
    """
    from napari_medidenoise._sample_data import noisy_mri

    try:
        md.load_model(MODEL)
    except (md.MedidenoiseError, OSError) as exc:
        raise SystemExit(f"the shipped {MODEL!r} model cannot be loaded: {exc}") from exc
    try:
        layers = noisy_mri()
    except ImportError as exc:
        raise SystemExit(str(exc)) from exc
    log.info("model %r loads; sample %r has %d layers, shape %s",
             MODEL, SAMPLE, len(layers), layers[-1][0].shape)  # fmt: skip


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
    viewer.open_sample("napari-medidenoise", SAMPLE)
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-medidenoise", "Denoise")
    widget["image"].value = viewer.layers["MNI152 T1 noisy"]
    widget["model"].value = MODEL
    widget["device"].value = "cpu"
    viewer.dims.set_current_step(0, 8)
    widget.denoise_volume()
    app = QApplication.instance()
    while widget.status.busy:
        app.processEvents()
        time.sleep(0.01)
    if not widget.status.message.startswith("denoised"):
        viewer.close()
        raise SystemExit(f"the {MODEL!r} model run did not finish: {widget.status.message}")
    widget.preview_slice()
    while widget.status.busy:
        app.processEvents()
        time.sleep(0.01)
    viewer.layers.remove("MNI152 T1 noisy preview")
    viewer.layers.selection.active = viewer.layers["MNI152 T1 noisy denoised"]
    viewer.layers["MNI152 T1 noisy removed noise"].visible = True  # added hidden; shown in the grid
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
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="only check that the default model and the sample load (no viewer)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    check_inputs()
    if args.dry_run:
        log.info("dry run: would save %s", args.output)
        return
    log.info("saved %s", take(args.output))


if __name__ == "__main__":
    main()
