"""Throughput from and to a PACS: DICOMweb and C-STORE against folder conversion, same data.

A real Orthanc (the Debian ``orthanc`` + ``orthanc-dicomweb`` packages, started here on
loopback ports with a temporary configuration, as the tests do) holds one synthetic CT study of
``--series`` series. In one process, with imports done and one warm-up run, each repeat times
the three paths one after another, in a rotated order:

* ``folder``: :func:`convert_dicom_folder` from a local copy of the study into a new folder
  (the reference);
* ``dicomweb``: :func:`convert_dicomweb` from the study's URL to the Orthanc DICOMweb root
  (WADO-RS retrieve, conversion, STOW-RS store and QIDO-RS check);
* ``cstore``: a :class:`DicomNode` (``medidenoise serve``) started once, with Orthanc as its
  destination: the whole study pushed to it by C-STORE, timed until the node has sent every
  derived series to Orthanc (so it includes the push, the ``--settle`` wait and the C-STORE
  send).

Before each networked run the derived series of the previous one are deleted from Orthanc, so
every run stores every instance. Figures: median seconds and series per minute per path, and
the median over repeats of each path's throughput relative to ``folder`` in the same repeat
(target: >= 0.80). Usage::

    python benchmarks/bench_pacs.py [--series 4] [--slices 24] [--size 256] [--repeats 3]
        [--models identity,auto] [--settle 0.5] [--update-benchmarks-md]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "pacs"))  # the tests' Orthanc launcher

PATHS = ("folder", "dicomweb", "cstore")
SECTION = "## From and to a PACS: DICOMweb and C-STORE throughput (bench_pacs)"
START, END = "<!-- bench_pacs:start -->", "<!-- bench_pacs:end -->"


def _drop_derived(orthanc: Any, sources: set[str]) -> None:
    """Delete from Orthanc every series that is not one of ``sources``."""
    url = orthanc.url
    for oid in requests.get(f"{url}/series", timeout=30).json():
        tags = requests.get(f"{url}/series/{oid}", timeout=30).json()["MainDicomTags"]
        if tags["SeriesInstanceUID"] not in sources:
            requests.delete(f"{url}/series/{oid}", timeout=30).raise_for_status()


def _wait(check: Callable[[], bool], timeout: float = 600.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise SystemExit("timed out waiting for the node to deliver")
        time.sleep(0.02)


def _measure(model: str, args: argparse.Namespace, orthanc: Any, src: Path, tmp: Path) -> dict:
    """Seconds per path over the repeats (after one warm-up round) for one model."""
    from dicom_peer import push
    from orthanc_server import free_port
    from pydicom import dcmread

    from medidenoise.convert import convert_dicom_folder
    from medidenoise.pacs import DicomNode, NodeOptions, convert_dicomweb
    from medidenoise.pacs.send import parse_destination

    files = sorted(src.rglob("*.dcm"))
    sources = {str(dcmread(p, stop_before_pixels=True).SeriesInstanceUID) for p in files}
    study = str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
    options = NodeOptions(
        port=free_port(),
        ae_title="DENOISE",
        work=tmp / f"node-{model}",
        destination=parse_destination(f"{orthanc.aet}@127.0.0.1:{orthanc.dicom_port}"),
        settle=args.settle,
        convert={"model": model},
    )
    node = DicomNode(options)
    runs = [0]

    def folder() -> None:
        runs[0] += 1
        report = convert_dicom_folder(src, tmp / f"out-{model}-{runs[0]}", model=model)
        assert report.ok and len(report.series) == args.series, report.summary()

    def dicomweb() -> None:
        report = convert_dicomweb(
            f"{orthanc.dicomweb}/studies/{study}", orthanc.dicomweb, model=model
        )
        converted = [e for e in report.series if e.status == "converted"]
        assert report.ok and len(converted) == args.series, report.summary()

    def cstore() -> None:
        before = node.delivered
        assert push(files, options.port) == [0] * len(files)
        _wait(lambda: node.delivered >= before + args.series)

    paths = {"folder": folder, "dicomweb": dicomweb, "cstore": cstore}
    times: dict[str, list[float]] = {p: [] for p in PATHS}
    node.start()
    stop = threading.Event()
    worker = threading.Thread(target=node.run, args=(stop,), kwargs={"poll": 0.02})
    worker.start()
    try:
        for repeat in range(-1, args.repeats):  # -1: the warm-up, not recorded
            order = PATHS[repeat % 3 :] + PATHS[: repeat % 3]
            for path in order:
                _drop_derived(orthanc, sources)
                t0 = time.perf_counter()
                paths[path]()
                seconds = time.perf_counter() - t0
                print(f"{model} repeat {repeat} {path}: {seconds:.2f} s", flush=True)
                if repeat >= 0:
                    times[path].append(seconds)
    finally:
        stop.set()
        worker.join()
        node.shutdown()
    return times


def run(args: argparse.Namespace) -> str:
    from bench_convert import make_series  # benchmarks/ is on sys.path when run as a script
    from orthanc_server import Orthanc, missing

    why = missing()
    if why:
        raise SystemExit(why)
    tmp = Path(tempfile.mkdtemp(prefix="bench-pacs-"))
    src = tmp / "src"
    for k in range(args.series):
        make_series(src / f"series{k}", args.slices, args.size)
    orthanc = Orthanc(tmp / "orthanc").start()
    try:
        orthanc.upload(sorted(src.rglob("*.dcm")))
        rows = {m: _measure(m, args, orthanc, src, tmp) for m in args.models.split(",")}
    finally:
        orthanc.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return _table(args, rows)


def _table(args: argparse.Namespace, rows: dict[str, dict[str, list[float]]]) -> str:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _common import command_line, machine

    lines = [
        f"- Command: `{command_line()}`",
        f"- Data: one synthetic CT study, {args.series} series x {args.slices} slices of "
        f"{args.size}x{args.size} int16; Orthanc 1.10 on loopback (SQLite, storage on local disk); "
        f"`serve` with `--settle {args.settle:g}`",
        f"- Machine: {machine()}; other work was running on it (shared)",
        f"- Date: {date.today().isoformat()}; median of {args.repeats} repeats, paths in a "
        "rotated order within each repeat",
        "",
        "| model | path | median s | series/min | vs folder (median of per-repeat ratios) |",
        "|---|---|---|---|---|",
    ]
    for model, times in rows.items():
        for path in PATHS:
            med = statistics.median(times[path])
            ratios = [f / t for f, t in zip(times["folder"], times[path], strict=True)]
            lines.append(
                f"| {model} | {path} | {med:.2f} | {60 * args.series / med:.1f} | "
                f"{statistics.median(ratios):.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=4)
    parser.add_argument("--slices", type=int, default=24)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="identity,auto")
    parser.add_argument("--settle", type=float, default=0.5)
    parser.add_argument("--update-benchmarks-md", action="store_true")
    args = parser.parse_args()
    text = run(args)
    print(text)
    if args.update_benchmarks_md:
        from _common import write_section_block

        write_section_block(SECTION, START, END, text)


if __name__ == "__main__":
    main()
