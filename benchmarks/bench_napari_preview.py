"""napari preview latency: "Preview slice" end to end, and viewer responsiveness.

Measures, in a real napari viewer (run under ``xvfb-run`` on a headless machine):

1. "Preview slice" on a 512x512 slice on CPU, from the button's handler to the
   preview layer being in the viewer (worker start, denoising, layer update),
   median of several runs after one warm-up; reference: the bare library call
   ``medidenoise.denoise`` on the same slice, measured in the same run.
2. Event-loop latency while "Denoise volume" runs in the background: a 10 ms
   QTimer records how late each tick fires; reference: the same timer with
   the viewer idle.

Usage::

    xvfb-run -a python benchmarks/bench_napari_preview.py [--runs 7] [--update-benchmarks-md]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import medidenoise as md

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## napari preview latency"


def _model(tmp: Path) -> tuple[str, str]:
    """The shipped default model, or an untrained network of configs/unet.yaml's architecture."""
    try:
        md.load_model("default")
        return "default", "shipped default model"
    except (md.MedidenoiseError, OSError) as exc:
        import yaml

        arch = yaml.safe_load((ROOT / "configs" / "unet.yaml").read_text())["model"]
        path = md.save_checkpoint(tmp / "stand_in.safetensors", md.build_model(arch))
        note = (
            f"default model not shipped yet ({type(exc).__name__}); untrained network of "
            f"configs/unet.yaml's architecture ({arch['arch']}, features {arch['features']})"
        )
        return str(path), note


def _volume() -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:512, :512]
    head = (((yy - 256) / 220) ** 2 + ((xx - 256) / 180) ** 2 < 1) * 800.0
    return np.stack([head + rng.normal(0, 40, head.shape) for _ in range(24)]).astype(np.float32)


def _wait(app, widget, timeout: float = 600.0) -> None:
    end = time.perf_counter() + timeout
    while widget.status.busy:
        app.processEvents()
        time.sleep(0.001)
        if time.perf_counter() > end:
            raise TimeoutError("worker did not finish")


class _TickRecorder:
    """A 10 ms QTimer that records how late each tick fires (event-loop latency)."""

    def __init__(self, interval_ms: int = 10) -> None:
        from qtpy.QtCore import QTimer

        self.interval, self.lateness, self.last = interval_ms / 1000, [], None
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.tick)

    def tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.lateness.append(max(0.0, now - self.last - self.interval) * 1000)
        self.last = now

    def record(self, app, until) -> list[float]:
        self.lateness, self.last = [], None
        self.timer.start()
        while not until():
            app.processEvents()
            time.sleep(0.0005)
        self.timer.stop()
        return self.lateness


def run(runs: int) -> dict[str, object]:
    import napari
    from napari_medidenoise._denoise_widget import DenoiseWidget
    from qtpy.QtWidgets import QApplication

    tmp = Path(tempfile.mkdtemp())
    model, model_note = _model(tmp)
    volume = _volume()
    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    layer = viewer.add_image(volume, name="noisy")
    widget = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(widget)
    if model == "default":
        widget["model"].value = "default"
    else:
        widget.select_checkpoint(model)
    widget["device"].value = "cpu"
    viewer.dims.set_current_step(0, 12)
    widget.preview_slice()  # warm-up: loads the model
    _wait(app, widget)
    preview, reference = [], []
    for _ in range(runs):
        start = time.perf_counter()
        widget.preview_slice()
        _wait(app, widget)
        app.processEvents()
        preview.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        md.denoise(volume[12], model, noise_level=40.0, device="cpu")
        reference.append((time.perf_counter() - start) * 1000)
    recorder = _TickRecorder()
    idle_end = time.perf_counter() + 2.0
    idle = recorder.record(app, lambda: time.perf_counter() > idle_end)
    start = time.perf_counter()
    widget.denoise_volume()
    busy = recorder.record(app, lambda: widget.worker is None)
    volume_s = time.perf_counter() - start
    assert f"{layer.name} denoised" in viewer.layers
    viewer.close()
    return {
        "model": model_note,
        "preview_ms": statistics.median(preview),
        "preview_all": preview,
        "library_ms": statistics.median(reference),
        "idle_p50": float(np.percentile(idle, 50)),
        "idle_p95": float(np.percentile(idle, 95)),
        "busy_p50": float(np.percentile(busy, 50)),
        "busy_p95": float(np.percentile(busy, 95)),
        "busy_max": float(max(busy)),
        "ticks": len(busy),
        "volume_s": volume_s,
        "runs": runs,
    }


def report(r: dict) -> str:
    import torch

    machine = (f"{platform.machine()}, {os.cpu_count()} CPU cores visible, torch "
               f"{torch.__version__}, {torch.get_num_threads()} threads, Xvfb")  # fmt: skip
    return "\n".join([
        SECTION, "",
        "Command: `xvfb-run -a .venv/bin/python benchmarks/bench_napari_preview.py "
        "--update-benchmarks-md`", "",
        f"Machine: {machine}. Model: {r['model']}.", "",
        "| measure | median | reference (same run) | ratio |",
        "|---|---|---|---|",
        f"| Preview slice, 512x512, CPU, click -> layer shown ({r['runs']} runs) | "
        f"{r['preview_ms']:.0f} ms | bare `medidenoise.denoise` on the slice: "
        f"{r['library_ms']:.0f} ms | {r['preview_ms'] / r['library_ms']:.2f} |",
        f"| event-loop lateness of a 10 ms QTimer during Denoise volume (24x512x512, "
        f"{r['volume_s']:.1f} s, {r['ticks']} ticks) | {r['busy_p50']:.1f} ms "
        f"(p95 {r['busy_p95']:.1f}, max {r['busy_max']:.0f}) | viewer idle: "
        f"{r['idle_p50']:.1f} ms (p95 {r['idle_p95']:.1f}) | - |",
        "",
        "Target: preview <= 300 ms. Preview runs of this measurement (ms): "
        + ", ".join(f"{t:.0f}" for t in r["preview_all"]) + ".",
        "",
    ])  # fmt: skip


def _update(text: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    content = path.read_text()
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    path.write_text(pattern.sub(lambda _m: text + "\n", content, count=1).rstrip("\n") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--update-benchmarks-md", action="store_true")
    args = parser.parse_args()
    text = report(run(args.runs))
    print(text)
    if args.update_benchmarks_md:
        _update(text)


if __name__ == "__main__":
    main()
