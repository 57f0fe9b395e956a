"""Batch DICOM conversion speed: the CLI on a synthetic CT series against the model alone.

A synthetic axial CT series (default 200 slices of 512x512, int16, 1 mm apart)
is written to a temporary folder. Each repeat runs two fresh child processes:

* ``model``: reads the series, loads the model, then times ``Denoiser(volume)``
  alone (the reference);
* ``convert``: times ``medidenoise denoise IN OUT --model M --overwrite`` through
  the CLI entry point (scan, read, denoise, write, re-read check, manifest,
  report), after the same imports and model load.

The figures are medians over the repeats: slices/s for both, the ratio
convert/model (target: I/O and bookkeeping add at most 30 %) and each child's
peak resident memory. Usage::

    python benchmarks/bench_convert.py [--model default] [--slices 200] [--size 512] [--repeats 3]

``--model unet-untrained`` times configs/unet.yaml's network with random
weights (same compute as a trained one) while no default model ships.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def make_series(folder: Path, slices: int, size: int) -> None:
    """A synthetic CT series: smooth anatomy-like blobs plus Gaussian noise, in HU."""
    from pydicom.data import get_testdata_file
    from pydicom.dataset import FileDataset
    from pydicom.filereader import dcmread
    from pydicom.uid import generate_uid

    template = dcmread(get_testdata_file("CT_small.dcm"))
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size] / size - 0.5
    body = (xx**2 + yy**2 < 0.2).astype(np.float32)
    series_uid = generate_uid()
    for k in range(slices):
        hu = -1000 + body * (1040 + 60 * np.sin(6 * xx + k / 20)) + rng.normal(0, 25, body.shape)
        ds: FileDataset = template.copy()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = series_uid, 2, k + 1
        ds.SeriesDescription = "bench CT"
        ds.ImagePositionPatient = [-250.0, -250.0, float(k)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.Rows = ds.Columns = size
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.PixelData = np.clip(np.rint(hu + 1024), 0, 4095).astype(np.int16).tobytes()
        ds.save_as(folder / f"IM{k:04d}.dcm", enforce_file_format=True)


def untrained_unet(path: Path) -> Path:
    """configs/unet.yaml's network with random weights: the compute of a real model."""
    import yaml

    from medidenoise.models import build_model, save_checkpoint

    cfg = yaml.safe_load((ROOT / "configs/unet.yaml").read_text())["model"]
    return save_checkpoint(path, build_model(cfg), metadata={"name": "unet-untrained"})


def child(mode: str, src: str, dst: str, model: str) -> None:
    """One measurement in a fresh process; prints a JSON line."""
    from medidenoise.cli import main
    from medidenoise.inference import Denoiser
    from medidenoise.io import read_volume

    vol = read_volume(src)
    runner = Denoiser(model)  # model load is outside both timings
    if mode == "model":
        start = time.perf_counter()
        runner(vol)
        seconds = time.perf_counter() - start
    else:
        del vol
        start = time.perf_counter()
        code = main(["denoise", src, dst, "--model", model, "--overwrite"])
        seconds = time.perf_counter() - start
        if code != 0:
            raise SystemExit(f"conversion failed with exit code {code}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "seconds": seconds, "peak_mb": peak_mb}))


def _run_child(mode: str, src: Path, dst: Path, model: str) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, str(src), str(dst), model]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="auto")
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=4, metavar=("MODE", "SRC", "DST", "MODEL"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    model = args.model
    from medidenoise.models import default_weights_path

    if model == "default" and not default_weights_path().is_file():
        print("no shipped default model yet: measuring with --model identity", file=sys.stderr)
        model = "identity"
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in", Path(tmp) / "out"
        make_series(src, args.slices, args.size)
        if model == "unet-untrained":
            model = str(untrained_unet(Path(tmp) / "unet.safetensors"))
        runs = []
        for _ in range(args.repeats):
            reference = _run_child("model", src, dst, model)
            runs.append((reference, _run_child("convert", src, dst, model)))
    model_s = statistics.median(m["seconds"] for m, _ in runs)
    conv_s = statistics.median(c["seconds"] for _, c in runs)
    print(f"machine: {platform.processor() or platform.machine()}, {platform.platform()}")
    print(f"series: {args.slices} x {args.size}x{args.size} int16 CT; model {model}; "
          f"median of {args.repeats}")  # fmt: skip
    print(f"model only : {model_s:8.2f} s  {args.slices / model_s:8.1f} slices/s  "
          f"peak {statistics.median(m['peak_mb'] for m, _ in runs):.0f} MB")  # fmt: skip
    print(f"CLI convert: {conv_s:8.2f} s  {args.slices / conv_s:8.1f} slices/s  "
          f"peak {statistics.median(c['peak_mb'] for _, c in runs):.0f} MB")  # fmt: skip
    print(f"convert / model = {conv_s / model_s:.2f}  "
          f"(I/O and bookkeeping: {conv_s - model_s:.2f} s, "
          f"{(conv_s - model_s) / args.slices * 1000:.1f} ms/slice)")  # fmt: skip


if __name__ == "__main__":
    main()
