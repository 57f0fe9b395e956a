"""Self-supervised adaptation (``medidenoise.adapt``) on noise the shipped model was not trained on.

For each case (hold-out image, noise, shape) the script adds synthetic noise to
the clean hold-out image, then measures PSNR (data range 1, images scaled to
[0, 1]) of: the noisy input; the shipped model with its level on auto; the
shipped model told the true level; BM3D told the true level (per slice); and
the model adapted with ``medidenoise.adapt`` for the given wall-clock budget
(then used with its level on auto, as ``denoise`` runs it). One JSON line per
case is appended to ``--out``, so a long run can be stopped and resumed; the
Markdown table is made from that file with ``--table``.

Noises (std on [0, 1] after shaping):

* ``streak``: white noise averaged over 5 pixels along the rows (correlated
  along one axis only, as streaks are);
* ``phase``: white noise smoothed by a Gaussian of 1.5 px along the columns
  only (correlated along the other axis, as phase-encode noise in MR);
* ``white``: white Gaussian noise (what the shipped model was trained on).

Shapes: ``slice`` is the 512x512 centre crop; ``volume`` is 10 slices of
128x128, the first 10 tiles of that crop, each with its own noise draw. The
whole field of view, background included (as a head scan is mostly dark): ``head``
is 10 slices of 128x128, the whole image shrunk and scaled down from 100 % to 75 %
toward the ends (as a head narrows); ``headslice`` is the whole image at 256x256.

Examples
--------
python benchmarks/bench_adapt.py --case MR2_UNCR:phase:0.04:slice --minutes 3
python benchmarks/bench_adapt.py --table
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from _common import REPORTS, command_line, machine
from scipy import ndimage

OUT = REPORTS / "adapt.jsonl"

#: the default matrix: every image, both correlated noises, both levels, both shapes
DEFAULT_CASES = (
    "RG3_UNCR:streak:0.04:slice",
    "RG3_UNCR:phase:0.08:volume",
    "MR2_UNCR:phase:0.04:slice",
    "MR2_UNCR:streak:0.08:volume",
    "693_UNCR:streak:0.08:slice",
    "693_UNCR:phase:0.04:volume",
    "RG3_UNCR:white:0.05:slice",
    "MR2_UNCR:white:0.05:volume",
)


def shaped_noise(kind: str, shape: tuple[int, ...], level: float, seed: int) -> np.ndarray:
    """Zero-mean noise of std ``level`` with the spatial correlation ``kind``."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(shape)
    if kind == "streak":
        noise = ndimage.uniform_filter1d(white, 5, axis=-1, mode="wrap")
    elif kind == "phase":
        noise = ndimage.gaussian_filter1d(white, 1.5, axis=-2, mode="wrap")
    elif kind == "white":
        noise = white
    else:
        raise SystemExit(f"unknown noise kind {kind!r}: streak, phase or white")
    return (noise * (level / noise.std())).astype(np.float32)


def _whole_field(img: np.ndarray, side: int, scale: float) -> np.ndarray:
    """The whole image shrunk to ``side`` x ``scale`` pixels, centred on a dark ``side``."""
    inner = max(8, round(side * scale))
    # smoothed before shrinking (no aliasing): the scan's own noise goes with it
    img = ndimage.gaussian_filter(img, 0.5 * img.shape[0] / inner)
    small = ndimage.zoom(img, (inner / img.shape[0], inner / img.shape[1]), order=1)
    out = np.full((side, side), float(np.percentile(img, 1)), dtype=np.float32)
    top = (side - small.shape[0]) // 2
    left = (side - small.shape[1]) // 2
    out[top : top + small.shape[0], left : left + small.shape[1]] = small
    return out


def clean_image(name: str, shape: str, reference: str = "image") -> np.ndarray:
    from medidenoise.evaluation.inputs import holdout_paths, load_images

    [path] = [p for p in holdout_paths() if p.stem == name]
    if shape in ("head", "headslice"):
        whole = load_images({name: path}, crop=0)[0].array
        if shape == "headslice":
            return _whole_field(whole, 256, 1.0)
        scales = 1.0 - 0.25 * np.abs(np.linspace(-1, 1, 10))
        return np.stack([_whole_field(whole, 128, float(s)) for s in scales])
    img = load_images({name: path}, crop=512)[0].array
    if reference == "smoothed":
        # the hold-out scans carry their own noise (MR2: std ~0.025 on [0, 1], correlated
        # along rows); a Gaussian of 1 px removes most of it, so the reference is clean
        img = ndimage.gaussian_filter(img, 1.0).astype(np.float32)
    if shape == "slice":
        return img
    tiles = [img[r : r + 128, c : c + 128] for r in range(0, 512, 128) for c in range(0, 512, 128)]
    return np.stack(tiles[:10])


def _psnr(clean: np.ndarray, test: np.ndarray) -> float:
    from medidenoise.evaluation import psnr

    return round(float(psnr(clean, np.asarray(test), data_range=1.0)), 3)


def run_case(
    case: str,
    minutes: float,
    seed: int,
    method: str = "auto",
    reference: str = "image",
    model: str = "auto",
) -> dict:
    import medidenoise as md
    from medidenoise.evaluation import denoise_bm3d

    name, kind, level_text, shape = case.split(":")
    level = float(level_text)
    clean = clean_image(name, shape, reference)
    noisy = clean + shaped_noise(kind, clean.shape, level, seed)
    row: dict = {"case": case, "minutes": minutes, "seed": seed, "reference": reference}
    row["model"] = model
    row["noisy"] = _psnr(clean, noisy)
    row["shipped_auto"] = _psnr(clean, md.denoise(noisy))
    row["shipped_true"] = _psnr(clean, md.denoise(noisy, noise_level=level))
    # the model adapt starts from, run as denoise runs it (level on auto)
    row["base"] = row["shipped_auto"] if model == "auto" else _psnr(clean, md.denoise(noisy, model))
    stack = noisy if noisy.ndim == 3 else noisy[None]
    bm3d = np.stack([denoise_bm3d(s, level) for s in stack]).reshape(noisy.shape)
    row["bm3d_true"] = _psnr(clean, bm3d)
    cpu0, t0 = time.process_time(), time.perf_counter()
    adapted = md.adapt(noisy, model, minutes=minutes, rng=seed, method=method)
    row["adapt_wall_s"] = round(time.perf_counter() - t0, 1)
    row["adapt_cpu_s"] = round(time.process_time() - cpu0, 1)
    row["adapted"] = _psnr(clean, md.denoise(noisy, adapted))
    info = adapted.metadata["adaptation"]
    for key in ("method", "steps", "best_step", "stopped", "kept"):
        row[key] = info.get(key)
    noise = info["images"][0]["noise"]
    row["measured_std"] = round(noise["std"], 4)
    row["measured_corr_length"] = noise["correlation_length"]
    row["load_avg"] = round(os.getloadavg()[0], 1)
    return row


def table(rows: list[dict]) -> str:
    head = (
        "| image | noise | shape | budget | noisy | shipped, auto | shipped, true level | "
        "BM3D, true level | base model | base | adapted | gain vs base | adapted - BM3D | "
        "method | steps (kept) | CPU s | load |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        name, kind, level, shape = r["case"].split(":")
        base = r.get("base", r["shipped_auto"])
        shape_text = {
            "slice": "512x512",
            "volume": "10x128x128",
            "head": "head 10x128x128",
            "headslice": "head 256x256",
        }[shape]
        lines.append(
            f"| {name.removesuffix('_UNCR')} | {kind} {level} | {shape_text} | "
            f"{r['minutes']:g} min | {r['noisy']:.2f} | {r['shipped_auto']:.2f} | "
            f"{r['shipped_true']:.2f} | {r['bm3d_true']:.2f} | {r.get('model', 'auto')} | "
            f"{base:.2f} | **{r['adapted']:.2f}** | "
            f"{r['adapted'] - base:+.2f} | {r['adapted'] - r['bm3d_true']:+.2f} | "
            f"{r['method']} | {r['steps']} ({r['best_step'] or 'base'}) | "
            f"{r.get('adapt_cpu_s', '-')} | {r.get('load_avg', '-')} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", action="append", default=None, help="IMAGE:NOISE:LEVEL:SHAPE")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", default="auto", help="auto, recorrupt or blindspot")
    parser.add_argument("--model", default="auto", help="the model adapt starts from")
    parser.add_argument(
        "--reference",
        choices=["image", "smoothed"],
        default="image",
        help="clean reference: the hold-out image as it is, or smoothed by a 1 px Gaussian "
        "(removes the scan's own noise, which adaptation learns to remove too)",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--table", action="store_true", help="print the table of --out")
    args = parser.parse_args()
    if args.table:
        rows = [json.loads(line) for line in args.out.read_text().splitlines() if line.strip()]
        print(table(rows))
        return
    import torch

    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(f"# {command_line()}\n# {machine(torch.get_num_threads())}", flush=True)
    for case in args.case or DEFAULT_CASES:
        row = run_case(case, args.minutes, args.seed, args.method, args.reference, args.model)
        print(json.dumps(row), flush=True)
        with args.out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
