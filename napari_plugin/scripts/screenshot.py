"""Take the screenshots of the README and the napari walkthrough of the docs site.

The noisy MRI sample with the Denoise widget before the run (``napari_open.png``), then its
denoised volume and the removed noise in a grid (``napari_denoise.png``, the README's
picture). tests/docs/test_napari_screenshots.py runs this, so the pictures are retaken by
every test run.

Usage (headless: under ``xvfb-run -a``)::

    python napari_plugin/scripts/screenshot.py [--output-dir docs/images]
    python napari_plugin/scripts/screenshot.py --dry-run   # check the inputs, no viewer

Always uses the model the widget starts with, ``auto``; when the shipped networks cannot be
loaded the script stops with the reason instead of showing another model.
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


MODEL = "auto"
#: the networks "auto" picks from
NETWORKS = ("white", "correlated")
SAMPLE = "noisy_mri"


def check_inputs() -> None:
    """Load the networks "auto" picks from and build the MRI sample, as the screenshot will.

    Raises
    ------
    SystemExit
        When a shipped network or the sample images are missing, with the fix.
    """
    from napari_medidenoise._sample_data import noisy_mri

    for network in NETWORKS:
        try:
            md.load_model(network)
        except (md.MedidenoiseError, OSError) as exc:
            raise SystemExit(f"the shipped {network!r} model cannot be loaded: {exc}") from exc
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


def take(folder: Path) -> list[Path]:
    """Open the sample, save a screenshot, denoise it in the widget, save another."""
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
    folder.mkdir(parents=True, exist_ok=True)
    _close_toasts(viewer)
    QApplication.instance().processEvents()
    opened = folder / "napari_open.png"
    viewer.screenshot(str(opened), canvas_only=False, flash=False)
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
    denoised = folder / "napari_denoise.png"
    viewer.screenshot(str(denoised), canvas_only=False, flash=False)
    viewer.close()
    return [opened, denoised]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "docs/images")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="only check that the shipped networks and the sample load (no viewer)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    check_inputs()
    if args.dry_run:
        log.info("dry run: would save into %s", args.output_dir)
        return
    for path in take(args.output_dir):
        log.info("saved %s", path)


if __name__ == "__main__":
    main()
