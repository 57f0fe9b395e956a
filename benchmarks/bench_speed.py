"""Inference speed and peak memory of a model against BM3D and NLM, timed in the same run.

Inputs are hold-out images scaled to [0, 1] with Gaussian noise (sigma 0.05):
the CT slice 693_UNCR (512 x 512, and its 256 x 256 centre crop) and the
radiograph RG3_UNCR resized from 1760 x 1760 to 2000 x 2000. Every method is
called the same way, through ``medidenoise.Denoiser`` with the noise level
given (so all pay the same normalisation), on one slice at a time; the figure
is the median of ``--repeats`` calls after a warm-up call. The model is also
timed on an 8-slice stack (its batched throughput). CPU runs use ``--threads``
torch/OpenMP threads (default 2). BM3D on the 2000 x 2000 image takes minutes
and runs only with ``--bm3d-large``.

Peak memory: each (method, size) runs once in a fresh child process, after a
warm-up on a small image; the figure is the peak growth of the resident set
during that call (sampled every 2 ms from /proc/self/statm), i.e. what the
call needs on top of the loaded model. GPU figures (time, peak
``torch.cuda.max_memory_allocated``) are added when CUDA is available.

    python benchmarks/bench_speed.py [--model default] [--repeats 5] [--threads 2]
                                     [--bm3d-large] [--no-memory] [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence

import _common

SIGMA = 0.05
SIZES = (256, 512, 2000)
STACK = 8


def _set_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    import torch

    torch.set_num_threads(n)


def _image(size: int):
    import numpy as np
    from skimage.transform import resize

    from medidenoise.evaluation import load_images

    if size <= 512:
        clean = load_images({"693_UNCR": _holdout("693_UNCR")}, crop=size)[0].array
    else:
        rg = load_images({"RG3_UNCR": _holdout("RG3_UNCR")}, crop=0)[0].array
        clean = resize(rg, (size, size), order=1, anti_aliasing=False).astype(np.float32)
    rng = np.random.default_rng(0)
    return (clean + rng.normal(0, SIGMA, clean.shape)).astype(np.float32)


def _holdout(name: str):
    from medidenoise.evaluation import holdout_paths

    return next(p for p in holdout_paths() if p.stem == name)


def _denoiser(method: str, model_spec: str, device: str, self_ensemble: bool = False):
    from medidenoise.inference import Denoiser

    model = _common.load_bench_model(model_spec, device=device) if method == "model" else method
    return Denoiser(model, device=device, self_ensemble=self_ensemble)


def _child_peak(method: str, size: int, model_spec: str) -> None:
    """In a fresh child process: print the peak RSS growth (MiB) of one call as JSON."""
    den = _denoiser(method, model_spec, "cpu")
    img = _image(size)
    den(img[:64, :64], noise_level=SIGMA)  # lazy initialisation, kernels
    print(json.dumps({"peak_mib": _common.peak_rss_growth(den, img, noise_level=SIGMA)}))


def _peaks(args: argparse.Namespace, plan: Sequence[tuple[str, int]]) -> dict:
    """Peak RSS growth per (method, size), each in a fresh process (no allocator reuse)."""
    out: dict = {}
    for method, size in plan:
        cmd = [sys.executable, __file__, "--child-peak", method, str(size)]
        cmd += ["--model", args.model, "--threads", str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(
                f"peak-memory run {method} {size} failed:\n{proc.stderr[-2000:]}", file=sys.stderr
            )
            continue
        out[(method, size)] = float(json.loads(proc.stdout.strip().splitlines()[-1])["peak_mib"])
        print(f"  peak RSS growth {method} {size}x{size}: {out[(method, size)]:.0f} MiB")
    return out


def _cpu_times(args: argparse.Namespace, sizes: Sequence[int]) -> dict:
    import numpy as np

    methods = ["model", "bm3d", "nlm"]
    dens = {m: _denoiser(m, args.model, "cpu") for m in methods}
    ensembled = _denoiser("model", args.model, "cpu", self_ensemble=True)
    times: dict = {}
    for size in sizes:
        img = _image(size)
        for m in methods:
            if m == "bm3d" and size > 512 and not args.bm3d_large:
                continue
            reps = args.repeats if m == "model" else max(1, min(args.repeats, 3))
            t = _common.median_seconds(dens[m], img, noise_level=SIGMA, repeats=reps)
            times[(m, size)] = t
            print(f"  {m:5s} {size}x{size}: {1000 * t:9.1f} ms/slice (median of {reps})")
        if size <= 512:
            stack = np.repeat(img[None], STACK, axis=0)
            t = _common.median_seconds(
                dens["model"], stack, noise_level=SIGMA, repeats=args.repeats
            )
            times[("model-stack", size)] = t / STACK
            print(f"  model {STACK}-slice stack {size}: {1000 * t / STACK:9.1f} ms/slice")
            reps = max(1, min(args.repeats, 3))
            t = _common.median_seconds(ensembled, img, noise_level=SIGMA, repeats=reps)
            times[("model-x8", size)] = t
            print(f"  model self-ensemble {size}: {1000 * t:9.1f} ms/slice (median of {reps})")
    return times


def _gpu_times(args: argparse.Namespace, sizes: Sequence[int]) -> dict:
    import numpy as np
    import torch

    den = _denoiser("model", args.model, "cuda")
    out = {}
    for size in sizes:
        img = _image(size)
        torch.cuda.reset_peak_memory_stats()
        t = _common.median_seconds(den, img, noise_level=SIGMA, repeats=args.repeats)
        stack = np.repeat(img[None], 32 if size <= 512 else 4, axis=0)
        ts = _common.median_seconds(den, stack, noise_level=SIGMA, repeats=args.repeats)
        peak = torch.cuda.max_memory_allocated() / 2**20
        out[size] = (t, ts / stack.shape[0], peak)
        print(f"  cuda {size}: {1000 * t:.1f} ms/slice, stack {1000 * ts / stack.shape[0]:.1f}")
    return out


def _fmt_ms(t: float | None) -> str:
    return "not run" if t is None else f"{1000 * t:.1f}"


def _block(args, times: dict, peaks: dict, gpu: dict, sizes: Sequence[int], label: str) -> str:
    lines = [
        f"### Speed: {label} vs BM3D and NLM",
        "",
        f"Command: `{_common.command_line()}`  ",
        f"Machine: {_common.machine(args.threads)}  ",
        f"Inputs in [0, 1] with Gaussian noise sigma {SIGMA}; one slice per call through "
        f"`Denoiser` (noise level given); median of {args.repeats} calls (BM3D/NLM: "
        f"{max(1, min(args.repeats, 3))}) after a warm-up, all in this run.",
        "",
        "| size | model ms/slice | model slices/s | model ms/slice in 8-stack "
        "| model self-ensemble ms/slice | BM3D ms/slice | NLM ms/slice | BM3D / model |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        tm, tb, tn = times.get(("model", size)), times.get(("bm3d", size)), times.get(("nlm", size))
        ratio = f"{tb / tm:.0f}x" if tm and tb else "-"
        lines.append(
            f"| {size}x{size} | {_fmt_ms(tm)} | {1 / tm:.1f} | "
            f"{_fmt_ms(times.get(('model-stack', size))) if size <= 512 else '-'} | "
            f"{_fmt_ms(times.get(('model-x8', size))) if size <= 512 else '-'} | "
            f"{_fmt_ms(tb)} | {_fmt_ms(tn)} | {ratio} |"
        )
    tm, tb = times.get(("model", 512)), times.get(("bm3d", 512))
    if tm is not None:
        lines += ["", "| target (512x512 slice, CPU) | measured | met |", "|---|---|---|"]
        lines.append(
            f"| model <= 150 ms | {1000 * tm:.1f} ms | {'yes' if tm <= 0.150 else '**no**'} |"
        )
        if tb is not None:
            ok = tb / tm >= 30
            lines.append(
                f"| model >= 30x faster than BM3D | {tb / tm:.1f}x | {'yes' if ok else '**no**'} |"
            )
    if peaks:
        lines += [
            "",
            "| peak memory (RSS growth of one call, MiB) | "
            + " | ".join(f"{s}x{s}" for s in sorted({s for _, s in peaks}))
            + " |",
        ]
        cols = sorted({s for _, s in peaks})
        lines.append("|---|" + "---|" * len(cols))
        for m in ("model", "bm3d", "nlm"):
            cells = [peaks.get((m, s)) for s in cols]
            if any(c is not None for c in cells):
                text = " | ".join("-" if c is None else f"{c:.0f}" for c in cells)
                lines.append(f"| {m} | {text} |")
    if gpu:
        lines += [
            "",
            "| GPU (model) | ms/slice | ms/slice in stack | peak CUDA memory (MiB) |",
            "|---|---|---|---|",
        ]
        for size, (t, ts, peak) in gpu.items():
            lines.append(f"| {size}x{size} | {1000 * t:.2f} | {1000 * ts:.2f} | {peak:.0f} |")
    else:
        lines += ["", "No CUDA device in this run: GPU figures not measured."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="auto", help=_common.MODEL_HELP)
    ap.add_argument("--repeats", type=int, default=5, help="timed calls per figure (median)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (torch, OpenMP)")
    ap.add_argument("--bm3d-large", action="store_true", help="time BM3D at 2000x2000 (minutes)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory children")
    ap.add_argument("--no-gpu", action="store_true", help="skip GPU figures")
    ap.add_argument("--quick", action="store_true", help="256x256 only, 2 repeats")
    ap.add_argument("--child-peak", nargs=2, metavar=("METHOD", "SIZE"), help=argparse.SUPPRESS)
    ap.add_argument("--write", action="store_true", help="record in BENCHMARKS.md even if --quick")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    _set_threads(args.threads)
    if args.child_peak:
        _child_peak(args.child_peak[0], int(args.child_peak[1]), args.model)
        return 0
    if args.quick:
        args.repeats = min(args.repeats, 2)
    sizes = (256,) if args.quick else SIZES
    label = _common.model_label(_common.load_bench_model(args.model))
    print(f"CPU timings ({args.threads} threads):")
    times = _cpu_times(args, sizes)
    peaks: dict = {}
    if not args.no_memory:
        plan = (
            [("model", 256), ("nlm", 256)]
            if args.quick
            else [("model", 512), ("model", 2000), ("bm3d", 512), ("nlm", 512), ("nlm", 2000)]
        )
        peaks = _peaks(args, plan)
    gpu: dict = {}
    import torch

    if torch.cuda.is_available() and not args.no_gpu:
        print("GPU timings:")
        gpu = _gpu_times(args, sizes)
    text = _block(args, times, peaks, gpu, sizes, label)
    print(text)
    if not args.no_write and (args.write or not args.quick):
        print(f"updated {_common.update_block('bench_speed', text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
