"""Batch conversion on a local Dask cluster against the ``--jobs`` process pool, same folder.

A folder of synthetic CT series (default 8 series of 48 slices of 256x256,
int16) is converted through the CLI in a fresh child process per run, by four
variants measured interleaved (each repeat runs all four, in a rotated order,
so a machine shared with other work slows them alike):

* ``--jobs 1`` (the reference), ``--jobs 2``;
* ``--scheduler local:1``, ``--scheduler local:2`` (a LocalCluster started for
  the run: 1 worker of 2 threads, or 2 workers of 1 thread, like the pool).

Each run's time covers the whole command: scan, worker start-up and model
load, conversion, report. Slices/s is the folder's slices over that time.

The overhead per series of going through the scheduler is measured apart, in
one child process: many one-slice 64x64 series with ``--model identity`` (so
the work per series is small), converted once in this process (``jobs=1``)
and once through an already started one-worker cluster (after a warm-up run
on each path), interleaved over the repeats; overhead = (Dask - local) / series.
Usage::

    python benchmarks/bench_convert_dask.py [--model default] [--series 8] [--slices 48]
        [--size 256] [--repeats 3] [--overhead-series 40]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine
from bench_convert import make_series

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "--jobs 1": ["--jobs", "1"],
    "--jobs 2": ["--jobs", "2"],
    "--scheduler local:1": ["--scheduler", "local:1"],
    "--scheduler local:2": ["--scheduler", "local:2"],
}


def child_convert(src: str, dst: str, model: str, extra: list[str]) -> None:
    """One timed CLI conversion in a fresh process; prints a JSON line."""
    from medidenoise.cli import main

    start = time.perf_counter()
    code = main(["denoise", src, dst, "--model", model, "--overwrite", *extra])
    seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"conversion failed with exit code {code}")
    print(json.dumps({"seconds": seconds}))


def child_overhead(src: str, tmp: str, repeats: int) -> None:
    """Local jobs=1 against a warm one-worker cluster on many tiny series; prints a JSON line."""
    import distributed

    from medidenoise.convert import convert_dicom_folder

    runs: dict[str, list[float]] = {"local": [], "dask": []}
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:  # fmt: skip
        paths = {"local": {}, "dask": {"scheduler": client}}
        for r in range(repeats + 1):  # run 0 warms both paths up (imports, worker start)
            for name, extra in paths.items():
                start = time.perf_counter()
                report = convert_dicom_folder(src, f"{tmp}/{name}{r}", model="identity", **extra)
                seconds = time.perf_counter() - start
                if not report.ok:
                    raise SystemExit(report.summary())
                if r:
                    runs[name].append(seconds)
    print(json.dumps(runs))


def _child(*args: str) -> dict:
    cmd = [sys.executable, __file__, "--child", *args]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="auto")
    parser.add_argument("--series", type=int, default=8)
    parser.add_argument("--slices", type=int, default=48)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--overhead-series", type=int, default=40)
    if sys.argv[1:2] == ["--child"]:  # a measurement: its own arguments, not the parser's
        mode, *rest = sys.argv[2:]
        if mode == "convert":
            child_convert(rest[0], rest[1], rest[2], rest[3:])
        else:
            child_overhead(rest[0], rest[1], int(rest[2]))
        return
    args = parser.parse_args()
    slices = args.series * args.slices
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        for k in range(args.series):
            make_series(src / f"S{k:03d}", args.slices, args.size)
        names = list(VARIANTS)
        for r in range(args.repeats):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                dst = Path(tmp) / f"out{r}-{len(times[name])}-{name.split()[-1]}"
                run = _child("convert", str(src), str(dst), args.model, *VARIANTS[name])
                times[name].append(run["seconds"])
                print(f"repeat {r + 1}: {name}: {run['seconds']:.2f} s", file=sys.stderr)
        tiny = Path(tmp) / "tiny"
        for k in range(args.overhead_series):
            make_series(tiny / f"T{k:03d}", 1, 64)
        overhead = _child("overhead", str(tiny), tmp, str(args.repeats))
    print(f"machine: {machine()}")
    shape = f"{args.slices} slices of {args.size}x{args.size}"
    print(f"folder: {args.series} series x {shape} int16 CT ({slices} slices); model {args.model}")
    print(f"median of {args.repeats} repeats, the four runs interleaved in each")
    print("| run | seconds | slices/s | vs --jobs 1 |")
    print("|---|---|---|---|")
    ref = statistics.median(times["--jobs 1"])
    for name, runs in times.items():
        sec = statistics.median(runs)
        print(f"| `{name}` | {sec:.2f} | {slices / sec:.1f} | {ref / sec:.2f}x |")
    local = statistics.median(overhead["local"])
    dask = statistics.median(overhead["dask"])
    n = args.overhead_series
    per = {name: value / n * 1000 for name, value in (("local", local), ("dask", dask))}
    print(f"overhead: {n} one-slice 64x64 series, identity model")
    print(f"  in process: {local:.2f} s ({per['local']:.1f} ms/series)")
    print(f"  through a warm 1-worker cluster: {dask:.2f} s ({per['dask']:.1f} ms/series)")
    print(f"  scheduler overhead: {per['dask'] - per['local']:.1f} ms per series")


if __name__ == "__main__":
    main()
