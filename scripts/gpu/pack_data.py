"""Pack the clean training and validation slices for scripts/gpu/train_gpu.py.

The GPU machine has torch, numpy, scipy and scikit-image but neither pydicom,
pydicom-data, nilearn nor MONAI, and cannot download anything. This script reads the
allowed medical sources here, with the library's own loaders (and its hold-out
check: RG3_*, MR2_*, 693_* are refused), normalises each volume as training does,
and writes the slices as 16-bit images into one ``.npz`` that travels with the
working tree. scikit-image's photographs and the procedural images are made on the
GPU machine itself (its CPUs), so they need no room here.

Usage::

    .venv/bin/python scripts/gpu/pack_data.py --output .gpu/data.npz

Keys of the file: ``train_<i>`` / ``val_<i>`` (uint16 (H, W), 0..65535 = [0, 1]),
``train_names`` / ``val_names`` (the source of each), ``clean_<i>`` flags (1: no
visible noise of its own: the averaged MNI152 template; used for the lowest training
noise levels, where a scan's own noise would be learnt as signal).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from medidenoise.config import DataConfig
from medidenoise.engine.data import check_not_holdout, load_sources

#: medical training sources: the shipped models' list and more of pydicom-data (never
#: the hold-out families)
TRAIN = [
    "mni152",
    "pydicom-data:RG1_UNCR.dcm",
    "pydicom-data:eCT_Supplemental.dcm",
    "pydicom-data:explicit_VR-UN.dcm",
    "pydicom:J2K_pixelrep_mismatch.dcm",
    "pydicom-data:MR-SIEMENS-DICOM-WithOverlays.dcm",
    "pydicom:examples_overlay.dcm",
    "pydicom-data:bad_sequence.dcm",
    "pydicom-data:liver.dcm",
    "pydicom-data:JPEG2000_UNC.dcm",
    "pydicom-data:vlut_04.dcm",
    "pydicom-data:mlut_18.dcm",
    "pydicom-data:OBXXXX1A.dcm",
]
#: validation volumes (model selection), as the CPU configs use
VAL = ["pydicom:CT_small.dcm", "pydicom:MR_small.dcm", "pydicom-data:emri_small.dcm"]
#: a slice's longer side is reduced (area averaging) to at most this
MAX_SIDE = 640
#: slices kept per volume at most (evenly spaced among those with enough foreground)
MAX_SLICES = 12

log = logging.getLogger("pack_data")


def _shrink(img: np.ndarray) -> np.ndarray:
    """Area-average by an integer factor until the longer side is at most MAX_SIDE."""
    factor = int(np.ceil(max(img.shape) / MAX_SIDE))
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


def _slices(sources: list[str], max_slices: int) -> list[tuple[str, np.ndarray]]:
    cfg = DataConfig(train=sources, max_slices_per_volume=max_slices, patch_size=64)
    out = []
    rng = np.random.default_rng(11)
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
                out += [(f"{s.name} (full resolution)", c) for c in _native(full, rng)]
                img = _shrink(full)
                if min(img.shape) < 48 or float(np.ptp(img)) < 0.05:
                    continue
                out.append((s.name, img))
    return out


#: pydicom test files that are the validation images again (other encodings), or colour
_NOT_TRAINING = ("ct_small", "mr_small", "emri_small", "sc_rgb", "color", "rgb", "ybr", "palette")


def _more_pydicom() -> list[str]:
    """Every other grey pydicom / pydicom-data test file that reads as an image."""
    from pydicom.data import get_testdata_files

    known = {s.split(":", 1)[1] for s in TRAIN + VAL if ":" in s}
    names = sorted({Path(f).name for f in get_testdata_files("*.dcm")})
    keep = []
    for name in names:
        low = name.lower()
        if name in known or any(t in low for t in _NOT_TRAINING):
            continue
        try:
            check_not_holdout(name)
        except Exception:
            continue
        keep.append(f"pydicom:{name}")
    return keep


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
    train = _slices(TRAIN, MAX_SLICES) + _slices(["mni152"], 48) + _nilearn_templates()
    train += _slices(_more_pydicom(), MAX_SLICES)
    val = _slices(VAL, 96)
    arrays: dict[str, np.ndarray] = {}
    for i, (name, img) in enumerate(train):
        arrays[f"train_{i}"] = np.round(np.clip(img, 0, 1) * 65535).astype(np.uint16)
        arrays[f"clean_{i}"] = np.array(int(name.startswith("mni152")))
    for i, (_, img) in enumerate(val):
        arrays[f"val_{i}"] = np.round(np.clip(img, 0, 1) * 65535).astype(np.uint16)
    arrays["train_names"] = np.array([n for n, _ in train])
    arrays["val_names"] = np.array([n for n, _ in val])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.output, **arrays)
    pixels = sum(img.size for _, img in train)
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
