"""Accuracy and cost of ``estimate_noise`` on added white and correlated noise and on real scans.

Added noise: the hold-out images (RG3_UNCR, MR2_UNCR, 693_UNCR, whole, scaled to
[0, 1]) get white Gaussian noise and correlated Gaussian noise (low-pass spectra of
width 0.25, 0.15 and 0.1 cycles/pixel, ramp-times-Hann band-pass spectra ending at
0.5 and 0.3 cycles/pixel) at per-pixel std 0.03, 0.05 and 0.08; the cells give the
estimate over the true std (the std of noisy - clean) for ``method="auto"`` and, for
comparison, the high-pass (MAD) estimate alone. RG3 and 693 carry noise of their own
below 0.003 of their range, which the added std dwarfs; MR2's own noise is 0.023 of
its range in flat tissue (correlated), as much as the smallest added level, so its
cells are given against the added std and against hypot(added, own).

Real scans: the estimate against the noise measured in flat tissue without it (the
median, over the flattest quarter of the 9x9 tissue patches, of the std left after
removing each patch's best-fit plane; tissue: the intensity window given, padding,
clipped values and edges left out; the same reference as tests/transforms/test_estimate.py).

Cost: ``measure_noise`` on a 200 x 512 x 512 volume (the 693 slice with fresh noise
on each slice; it reads 32 slices), median of 5, against the high-pass alone.

    python benchmarks/bench_noise_estimate.py [--no-write]
"""

from __future__ import annotations

import argparse
import sys
from typing import Literal

import _common
import numpy as np
from pydicom.data import get_testdata_file

from medidenoise import read_volume
from medidenoise.evaluation import tissue_noise_std
from medidenoise.evaluation.inputs import holdout_paths, load_images
from medidenoise.transforms import (
    add_correlated_noise,
    add_gaussian_noise,
    estimate_noise,
    measure_noise,
)

SPECTRA: list[tuple[str, Literal["lowpass", "bandpass"] | None, float | None]] = [
    ("white", None, None),
    ("low-pass 0.25", "lowpass", 0.25),
    ("low-pass 0.15", "lowpass", 0.15),
    ("low-pass 0.10", "lowpass", 0.10),
    ("band-pass 0.5", "bandpass", 0.5),
    ("band-pass 0.3", "bandpass", 0.3),
]
LEVELS = (0.03, 0.05, 0.08)
#: real scans and the intensities of their tissue (image units)
REAL = {
    "693_UNCR.dcm": (-200.0, 200.0),
    "CT_small.dcm": (-200.0, 200.0),
    "RG3_UNCR.dcm": (50.0, 950.0),
    "RG1_UNCR.dcm": (None, None),
    "MR2_UNCR.dcm": (150.0, None),
    "emri_small.dcm": (40.0, None),
    "MR_small.dcm": (None, None),
    "MR-SIEMENS-DICOM-WithOverlays.dcm": (100.0, None),
}
#: the hold-out images whose own noise is negligible against the added levels
CLEAN = ("RG3_UNCR", "693_UNCR")


def _path(name: str) -> str:
    """A pydicom-data or pydicom test file, never downloaded."""
    path = get_testdata_file(name, download=False)
    if not isinstance(path, str):
        raise FileNotFoundError(f"{name} is not installed (pip install pydicom-data)")
    return path


def _added_noise() -> tuple[list[str], float, float]:
    images = load_images(holdout_paths(), crop=0)
    own = {
        im.name: tissue_noise_std(im.array[None], *_scaled(REAL[im.name + ".dcm"], im))
        for im in images
    }
    rows, worst, worst_hp = [], 0.0, 0.0
    for label, spectrum, width in SPECTRA:
        clean_cells, mr_cells, mr_own_cells, hp_cells, right = [], [], [], [], 0
        for image in images:
            for i, level in enumerate(LEVELS):
                clean = image.array
                if spectrum is None:
                    noisy = add_gaussian_noise(clean, level, rng=i)
                else:
                    noisy = add_correlated_noise(
                        clean, level, rng=i, spectrum=spectrum, width=width
                    )
                true = float(np.std(noisy.astype(np.float64) - clean))
                found = measure_noise(noisy)
                right += found.correlated == (spectrum is not None)
                if image.name in CLEAN:
                    clean_cells.append(found.sigma / true)
                    hp_cells.append(found.highpass / true)
                else:
                    mr_cells.append(found.sigma / true)
                    mr_own_cells.append(found.sigma / float(np.hypot(true, own[image.name])))
        worst = max(worst, max(abs(c - 1) for c in clean_cells))
        worst_hp = max(worst_hp, max(abs(c - 1) for c in hp_cells))
        rows.append(
            f"| {label} | {min(clean_cells):.2f}-{max(clean_cells):.2f} "
            f"| {np.mean(clean_cells):.3f} | {min(mr_cells):.2f}-{max(mr_cells):.2f} "
            f"| {min(mr_own_cells):.2f}-{max(mr_own_cells):.2f} "
            f"| {min(hp_cells):.2f}-{max(hp_cells):.2f} | {right}/{3 * len(LEVELS)} |"
        )
    return rows, worst, worst_hp


def _scaled(window: tuple[float | None, float | None], image) -> tuple[float | None, float | None]:
    """A window in image units, in the [0, 1] scale of a hold-out image."""
    vol = read_volume(_path(image.name + ".dcm")).array
    lo, span = float(vol.min()), float(vol.max() - vol.min())
    return tuple(None if v is None else (v - lo) / span for v in window)  # type: ignore[return-value]


def _real_scans() -> list[str]:
    rows = []
    for name, window in REAL.items():
        try:
            volume = read_volume(_path(name)).array
        except FileNotFoundError:
            continue
        reference = tissue_noise_std(volume, *window)
        found = measure_noise(volume)
        rows.append(
            f"| {name.removesuffix('.dcm')} | {'x'.join(map(str, volume.shape))} "
            f"| {reference:.4g} | {found.highpass:.4g} ({found.highpass / reference:.2f}) "
            f"| {found.sigma:.4g} ({found.sigma / reference:.2f}) | {found.correlated} |"
        )
    return rows


def _cost() -> tuple[float, float]:
    sl = read_volume(_path("693_UNCR.dcm")).array[0]
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((200, *sl.shape), dtype=np.float32)
    volume = np.where(sl > sl.min(), sl + 3.0 * noise, sl).astype(np.float32)
    auto = _common.median_seconds(measure_noise, volume, repeats=5)
    highpass = _common.median_seconds(estimate_noise, volume, method="highpass", repeats=5)
    return auto, highpass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    rows, worst, worst_hp = _added_noise()
    real = _real_scans()
    auto, highpass = _cost()
    text = "\n".join(
        [
            "### Noise-level estimate on added and on real noise (bench_noise_estimate)",
            "",
            f"Command: `{_common.command_line()}`. Machine: {_common.machine()}.",
            f"Added noise: hold-out images whole, [0, 1]; levels {', '.join(map(str, LEVELS))}. "
            "Cells: estimate / true per-pixel std (range, mean) over levels; RG3 and 693 "
            "(own noise < 0.003 of the range) together, MR2 (own noise 0.023 in flat "
            "tissue, correlated) against the added std and against hypot(added, own).",
            "",
            "| noise spectrum | auto, RG3 + 693 (range) | (mean) | auto, MR2 vs added "
            "| MR2 vs hypot(added, own) | high-pass MAD, RG3 + 693 | correlated read right |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            f"Worst error on RG3 + 693: auto {100 * worst:.1f} %, "
            f"high-pass {100 * worst_hp:.1f} %.",
            "",
            "Real scans (pydicom-data, pydicom): the std of flat tissue (reference, image "
            "units), the high-pass estimate and `measure_noise` (over the reference).",
            "",
            "| scan | shape | flat-tissue std | high-pass | auto | correlated |",
            "| --- | --- | --- | --- | --- | --- |",
            *real,
            "",
            f"Cost on a 200 x 512 x 512 volume (32 slices read), median of 5: `measure_noise` "
            f"{auto:.2f} s, the high-pass estimate alone {highpass:.2f} s.",
        ]
    )
    print(text)
    if not args.no_write:
        _common.update_block("bench_noise_estimate", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
