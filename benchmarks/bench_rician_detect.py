"""Which images ``auto`` takes for magnitude images (``transforms.detect_rician``).

Every noise of ``add_noise`` at a few levels on the hold-out images (256 x 256 centre crops
and whole images, [0, 1]), as drawn and clipped at 0 (as unsigned storage keeps them), plus
correlated noise and the clean images; then the real images that ship (pydicom and
pydicom-data files, MNI152) as read. Prints one row per image with what was found: only the
Rician rows should say "yes".

    python benchmarks/bench_rician_detect.py [--no-whole]
"""

from __future__ import annotations

import argparse
import sys

import _common
import numpy as np

from medidenoise.evaluation.inputs import holdout_paths, load_images
from medidenoise.transforms import add_correlated_noise, add_noise, detect_rician

NOISES = [
    ("rician", 0.02), ("rician", 0.05), ("rician", 0.1),
    ("gaussian", 0.05), ("gaussian", 0.1), ("poisson", 200.0), ("poisson_gaussian", 0.05),
    ("speckle", 0.1), ("salt_and_pepper", 0.05),
]  # fmt: skip
REAL = ["MR_small.dcm", "emri_small.dcm", "CT_small.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm",
        "RG1_UNCR.dcm", "eCT_Supplemental.dcm", "examples_overlay.dcm", "JPEG2000.dcm"]  # fmt: skip


def _yes(found: bool) -> str:
    return "yes" if found else "no"


def _row(image: str, noise: str, raw: bool, clipped: bool) -> None:
    print(f"| {image} | {noise} | {_yes(raw)} | {_yes(clipped)} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-whole", dest="whole", action="store_false")
    args = parser.parse_args(argv)
    wrong = 0
    print("| image | noise | found as drawn | found clipped at 0 |")
    print("|---|---|---|---|")
    for crop in [256] + ([0] if args.whole else []):
        where = f"{crop}px crop" if crop else "whole"
        for i, image in enumerate(load_images(holdout_paths(), crop=crop)):
            clean = image.array
            print(f"| {image.name} {where} | none | {_yes(detect_rician(clean))} | - |")
            wrong += int(detect_rician(clean))
            for j, (kind, level) in enumerate(NOISES):
                noisy = add_noise(clean, kind, level, rng=np.random.default_rng([9, i, j]))  # type: ignore[arg-type]
                raw, clipped = detect_rician(noisy), detect_rician(np.clip(noisy, 0, None))
                if kind != "rician":
                    wrong += int(raw) + int(clipped)
                _row(f"{image.name} {where}", f"{kind} {level:g}", raw, clipped)
            for spectrum in ("lowpass", "bandpass"):
                noisy = add_correlated_noise(clean, 0.06, rng=i, spectrum=spectrum, width=0.3)
                raw, clipped = detect_rician(noisy), detect_rician(np.clip(noisy, 0, None))
                wrong += int(raw) + int(clipped)
                _row(f"{image.name} {where}", f"correlated {spectrum} 0.06", raw, clipped)
    from pydicom.data import get_testdata_file

    from medidenoise.io import load_mni152, read_volume

    for name in REAL:
        path = get_testdata_file(name, download=False)
        if path is None:
            continue
        found = detect_rician(np.asarray(read_volume(path).array, np.float32))
        wrong += int(found)
        print(f"| {name} (as read) | its own | {_yes(found)} | - |")
    found = detect_rician(np.asarray(load_mni152(orientation="axial").array, np.float32))
    wrong += int(found)
    print(f"| MNI152 T1 template | its own | {_yes(found)} | - |")
    print(
        f"\n{wrong} image(s) without Rician noise taken for magnitude images.\n"
        f"Command: `{_common.command_line()}`. Machine: {_common.machine()}."
    )
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
