"""Exported models against torch: onnxruntime and TorchScript on one 512 x 512 slice.

Input: the hold-out CT slice 693_UNCR (512 x 512, scaled to [0, 1]) with Gaussian noise (sigma
0.05), or a synthetic 512 x 512 phantom when pydicom-data is not installed. Rows:

- ``torch``: ``Denoiser(model)``, the reference (what ``denoise`` runs);
- ``onnxruntime``: ``Denoiser("model.onnx")``, the same work (normalisation and noise level
  computed by medidenoise, the graph run by onnxruntime);
- ``TorchScript pipeline``: ``torch.jit.load("model.ts")(image, noise_level)``, normalisation
  inside the module;
- ``onnxruntime pipeline``: the ``.onnx`` graph alone, normalisation and noise estimate inside.

The noise level is given (so every row does the same work) except where the row says
otherwise. The machine is shared (a training run may be going on), so the rows are
measured interleaved: each repeat times every row once, in turn, and the figure is the median
over ``--repeats`` repeats after a warm-up. ``--threads`` sets torch's and onnxruntime's intra-op
threads (default 2; several values give one table each).

    python benchmarks/bench_export.py [--model default] [--repeats 15] [--threads 2 1] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import _common

SIZE = 512
SIGMA = 0.05
SECTION = "## Exported models: onnxruntime and TorchScript against torch"
START, END = "<!-- bench_export:start -->", "<!-- bench_export:end -->"


def _image():
    import numpy as np

    try:
        from bench_speed import _image as holdout_image

        return holdout_image(SIZE), "693_UNCR (hold-out CT slice, 512 x 512), Gaussian sigma 0.05"
    except Exception:  # pydicom-data missing: a synthetic slice of the same size
        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
        clean = 0.5 + 0.3 * np.sin(9 * xx) * np.cos(7 * yy)
        noisy = (clean + rng.normal(0, SIGMA, clean.shape)).astype(np.float32)
        return noisy, "synthetic 512 x 512 phantom, Gaussian sigma 0.05"


def _rows(model: str, folder: Path, image) -> dict[str, Callable[[], object]]:
    import numpy as np
    import onnxruntime as ort
    import torch

    from medidenoise.export import export_model
    from medidenoise.inference import Denoiser

    onnx_path, ts_path = folder / "model.onnx", folder / "model.ts"
    if not onnx_path.exists():
        export_model(model, onnx_path)
        export_model(model, ts_path)
    reference = Denoiser(model, device="cpu")
    via_ort = Denoiser(onnx_path)
    scripted = torch.jit.load(str(ts_path))
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    feeds = {"image": image[None], "intensity_range": np.zeros(2, np.float32)}
    if "noise_level" in names:
        feeds["noise_level"] = np.array([SIGMA], np.float32)
    tensor = torch.from_numpy(image)

    def ts_pipeline() -> object:
        with torch.inference_mode():
            return scripted(tensor, SIGMA)

    return {
        "torch (Denoiser, checkpoint)": lambda: reference(image, noise_level=SIGMA),
        "onnxruntime (Denoiser, .onnx)": lambda: via_ort(image, noise_level=SIGMA),
        "TorchScript pipeline (.ts alone)": ts_pipeline,
        "onnxruntime pipeline (.onnx graph alone)": lambda: session.run(None, feeds),
    }


def measure(model: str, repeats: int, folder: Path) -> tuple[dict[str, float], str]:
    """Median seconds per row, rows interleaved in every repeat."""
    image, label = _image()
    rows = _rows(model, folder, image)
    for fn in rows.values():  # warm-up: lazy initialisation, kernel choice
        fn()
        fn()
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(repeats):
        for name, fn in rows.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}, label


def _table(
    medians: dict[str, float], label: str, threads: int, repeats: int, load: tuple[float, float]
) -> str:
    ref = next(iter(medians.values()))
    lines = [
        f"Command: `{_common.command_line()}`  ",
        f"Machine: {_common.machine(threads)}; shared with other jobs (1-minute load average "
        f"{load[0]:.1f} before, {load[1]:.1f} after), so the rows were timed interleaved, "
        f"median of {repeats} repeats after a warm-up.  ",
        f"Input: {label}; noise level given.",
        "",
        "| runtime | ms per 512 x 512 slice | time / torch |",
        "|---|---:|---:|",
    ]
    for name, sec in medians.items():
        lines.append(f"| {name} | {sec * 1000:.1f} | {sec / ref:.2f} |")
    return "\n".join(lines)


def _write(text: str) -> Path:
    return _common.write_section_block(SECTION, START, END, text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="'default' or a checkpoint")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[2], help="one table per thread count"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    import torch

    _common.load_bench_model(args.model)  # a clear exit when the default model is missing
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        for threads in args.threads:
            torch.set_num_threads(threads)
            before = os.getloadavg()[0]
            medians, label = measure(args.model, args.repeats, Path(tmp))
            load = (before, os.getloadavg()[0])
            tables.append(_table(medians, label, threads, args.repeats, load))
    text = "\n\n".join(tables)
    print(text)
    if not args.no_write:
        print(f"written to {_write(text)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
