"""The napari walkthrough's screenshots (and the README's) are retaken by the test run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from docs_gate import require
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "napari_plugin/scripts/screenshot.py"
IMAGES = ROOT / "docs/images"


@pytest.mark.gui
@pytest.mark.slow
def test_the_screenshot_script_retakes_the_walkthrough_pictures() -> None:
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    require(None if display else "no display (run under xvfb-run)", "MEDIDENOISE_REQUIRE_GUI")
    env = {**os.environ, "QT_API": os.environ.get("QT_API", "pyqt6")}
    before = {p.name: p.stat().st_mtime for p in IMAGES.glob("napari_*.png")}
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--output-dir", str(IMAGES)],
        capture_output=True, text=True, timeout=600, env=env, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    for name in ("napari_open.png", "napari_denoise.png"):
        path = IMAGES / name
        assert path.stat().st_mtime > before.get(name, 0), f"{name} was not rewritten"
        pixels = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
        assert pixels.shape[0] >= 600 and pixels.shape[1] >= 1000, pixels.shape  # the window
        assert pixels.std() > 10, f"{name} is (nearly) uniform: nothing was drawn"
