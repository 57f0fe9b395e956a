"""Pack the clean training and validation slices for scripts/gpu/train_gpu.py.

The GPU machine has torch, numpy, scipy and scikit-image but neither pydicom,
pydicom-data, nilearn nor MONAI, and cannot download anything. This script reads the
allowed medical sources here, with the library's own loaders (and its hold-out
check: RG3_*, MR2_*, 693_* are refused), normalises each volume as training does,
and writes the slices as 16-bit images into one ``.npz`` that travels with the
working tree, with mvtb-data's photographs (the ``train`` extra; issue 29), reduced to
at most PHOTO_SIDE pixels. scikit-image's photographs and the procedural images are made
on the GPU machine itself (its CPUs), so they need no room here. The file stays under the
64 MiB a device call carries.

Usage::

    .venv/bin/python scripts/gpu/pack_data.py --output .gpu/data.npz

Keys of the file: ``train_<i>`` / ``val_<i>`` (uint16 (H, W), 0..65535 = [0, 1]),
``train_names`` / ``val_names`` (the source of each), ``clean_<i>`` flags (1: no
visible noise of its own: the averaged MNI152 template; used for the lowest training
noise levels, where a scan's own noise would be learnt as signal), ``counts`` (JSON:
slices per source family, for the model card).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from medidenoise.config import DataConfig
from medidenoise.engine.data import check_not_holdout, load_sources

#: medical training sources: the MNI152 template and every grey pydicom / pydicom-data test
#: file (all frames; never the hold-out families nor the validation images)
TRAIN = ["pydicom:*"]
#: validation volumes (model selection), as the CPU configs use
VAL = ["pydicom:CT_small.dcm", "pydicom:MR_small.dcm", "pydicom-data:emri_small.dcm"]
#: a slice's longer side is reduced (area averaging) to at most this
MAX_SIDE = 640
#: slices kept per volume at most (evenly spaced among those with enough foreground)
MAX_SLICES = 32
#: mvtb-data photographs: longer side at most this (area averaging: less sensor noise)
PHOTO_SIDE = 512

log = logging.getLogger("pack_data")


def _shrink(img: np.ndarray, side: int = MAX_SIDE) -> np.ndarray:
    """Area-average by an integer factor until the longer side is at most ``side``."""
    factor = int(np.ceil(max(img.shape) / side))
    if factor <= 1:
        return img
    h, w = (img.shape[0] // factor) * factor, (img.shape[1] // factor) * factor
    return img[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


#: crops kept at full resolution from each slice larger than MAX_SIDE (the smooth anatomy a
#: large radiograph or CT shows at its own pixel scale, which shrinking loses)
NATIVE_CROPS = 6
NATIVE_SIZE = 320


def _native(img: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    if max(img.shape) <= MAX_SIDE or min(img.shape) < NATIVE_SIZE:
        return []
    out = []
    for _ in range(NATIVE_CROPS):
        y = int(rng.integers(0, img.shape[0] - NATIVE_SIZE + 1))
        x = int(rng.integers(0, img.shape[1] - NATIVE_SIZE + 1))
        out.append(img[y : y + NATIVE_SIZE, x : x + NATIVE_SIZE].copy())
    return out


def _seen_before(img: np.ndarray, seen: list[np.ndarray]) -> bool:
    """Whether ``img`` repeats a slice already kept (pydicom ships one radiograph in four
    encodings, lossy ones included): its 8x-subsampled copy within 0.01 (mean) of an earlier one.
    Appends the copy when it is new."""
    coarse = img[::8, ::8]
    for other in seen:
        if other.shape == coarse.shape and float(np.abs(other - coarse).mean()) < 0.01:
            return True
    seen.append(coarse)
    return False


def _slices(
    sources: list[str], max_slices: int, *, side: int = MAX_SIDE, native: bool = True
) -> list[tuple[str, np.ndarray]]:
    cfg = DataConfig(train=sources, max_slices_per_volume=max_slices, patch_size=64)
    out = []
    rng = np.random.default_rng(11)
    seen: list[np.ndarray] = []  # coarse copies of the slices kept
    for source in sources:
        check_not_holdout(source)
        try:
            sets = load_sources([source], cfg)
        except Exception as exc:  # a source this machine cannot read: said, and skipped
            log.warning("%s skipped: %s", source, exc)
            continue
        for s in sets:
            for k in s.indices:
                full = np.asarray(s.volume[k], np.float32)
                if _seen_before(full, seen):  # the same picture in another encoding
                    log.info("%s slice %d: a copy of a slice kept already; left out", s.name, k)
                    continue
                if native:
                    out += [(f"{s.name} (full resolution)", c) for c in _native(full, rng)]
                img = _shrink(full, side)
                if min(img.shape) < 48 or float(np.ptp(img)) < 0.05:
                    continue
                out.append((s.name, img))
    return out


def _nilearn_templates() -> list[tuple[str, np.ndarray]]:
    """Axial slices of nilearn's bundled grey- and white-matter templates (1 mm)."""
    from nilearn import datasets

    out = []
    for name in ("load_mni152_gm_template", "load_mni152_wm_template"):
        try:
            vol = np.asarray(getattr(datasets, name)(resolution=1).get_fdata(), np.float32)
        except Exception as exc:
            log.warning("%s skipped: %s", name, exc)
            continue
        vol = np.transpose(vol, (2, 1, 0))[:, ::-1]  # axial slices, anterior up
        hi = float(np.percentile(vol, 99.5)) or 1.0
        fg = (vol > 0.05 * hi).mean(axis=(1, 2))
        for k in np.flatnonzero(fg > 0.15)[::4]:
            out.append((name.removeprefix("load_"), np.clip(vol[k] / hi, 0, 1)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path(".gpu/data.npz"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    medical = _slices(TRAIN, MAX_SLICES) + _slices(["mni152"], 48)
    templates = _nilearn_templates()
    photos = _slices(["mvtb"], 1, side=PHOTO_SIDE, native=False)
    train = medical + templates + photos
    val = _slices(VAL, 96)
    counts = {"pydicom": 0, "mni152": 0, "nilearn_templates": len(templates), "mvtb": len(photos)}
    for name, _ in medical:
        counts["mni152" if name.startswith("mni152") else "pydicom"] += 1
    arrays: dict[str, np.ndarray] = {}
    for i, (name, img) in enumerate(train):
        arrays[f"train_{i}"] = np.round(np.clip(img, 0, 1) * 65535).astype(np.uint16)
        arrays[f"clean_{i}"] = np.array(int(name.startswith("mni152")))
    for i, (_, img) in enumerate(val):
        arrays[f"val_{i}"] = np.round(np.clip(img, 0, 1) * 65535).astype(np.uint16)
    arrays["train_names"] = np.array([n for n, _ in train])
    arrays["val_names"] = np.array([n for n, _ in val])
    arrays["counts"] = np.array(json.dumps(counts))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.output, **arrays)
    pixels = sum(img.size for _, img in train)
    log.info("slices per source family: %s", json.dumps(counts))
    log.info(
        "%s: %d training slices (%.1f Mpx) from %d sources, %d validation slices, %.1f MB",
        args.output,
        len(train),
        pixels / 1e6,
        len({n for n, _ in train}),
        len(val),
        args.output.stat().st_size / 1e6,
    )


if __name__ == "__main__":
    main()
