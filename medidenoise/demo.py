"""``medidenoise demo``: denoise bundled images with the shipped model and write a report."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medidenoise.errors import MissingPackageError, NoImageDataError
from medidenoise.evaluation import psnr, ssim
from medidenoise.inference import Denoiser
from medidenoise.io import Volume, read_volume
from medidenoise.io.templates import load_mni152
from medidenoise.transforms import NoiseKind, add_noise, normalize_intensity

__all__ = ["DemoResult", "run_demo"]

log = logging.getLogger(__name__)

_SEED = 2024


@dataclass
class DemoResult:
    """Where the demo wrote its report and the figures it measured."""

    output_dir: Path
    rows: list[dict]

    def __str__(self) -> str:
        lines = [f"demo report: {self.output_dir / 'report.md'}", ""]
        lines += [
            f"{r['image']:<28} {r['noise']:<16} noisy {r['psnr_noisy']:6.2f} dB -> "
            f"model {r['psnr_model']:6.2f} dB (nlm {r['psnr_nlm']:6.2f} dB)"
            for r in self.rows
        ]
        return "\n".join(lines)


def _pydicom_file(name: str, package: str) -> str:
    """The path of a pydicom test file, or an error naming the package that ships it."""
    from pydicom.data import get_testdata_file

    found = get_testdata_file(name, download=False)
    if not found:
        raise NoImageDataError(
            f"demo image {name} not found (it ships with the {package} package); "
            f"install it with: pip install 'medidenoise[data]' (or pip install {package})"
        )
    return str(found)


def _bundled_images() -> list[tuple[str, Volume]]:
    """The demo's CT, radiograph and MRI; any one missing is an error naming its package.

    A demo that silently leaves a modality out would promise more than it
    shows, so nothing is skipped.
    """
    images: list[tuple[str, Volume]] = []
    images.append(("CT_small (CT, pydicom)", read_volume(_pydicom_file("CT_small.dcm", "pydicom"))))
    rg1 = read_volume(_pydicom_file("RG1_UNCR.dcm", "pydicom-data"))
    arr = rg1.array[:, 600:1112, 600:1112]  # a 512x512 region of the chest radiograph
    images.append(("RG1 (CR radiograph)", Volume(arr, modality="CR", photometric=rg1.photometric)))
    try:
        t1 = load_mni152(orientation="axial")
    except MissingPackageError as exc:
        raise NoImageDataError(
            "demo image MNI152 T1 not found (it ships with the nilearn package); "
            "install it with: pip install 'medidenoise[data]' (or pip install nilearn)"
        ) from exc
    axial = np.ascontiguousarray(t1.array[90])  # axial slice 90, anterior up
    images.append(("MNI152 T1 (MR, nilearn)", Volume(axial, modality="MR")))
    return images


def _demo_images() -> list[tuple[str, np.ndarray]]:
    """The demo images as 2D arrays scaled to [0, 1] (dense = bright for radiographs)."""
    out: list[tuple[str, np.ndarray]] = []
    for name, vol in _bundled_images():
        scaled, _ = normalize_intensity(vol.array[0], modality=vol.modality, method="percentile")
        img = np.clip(np.asarray(scaled, dtype=np.float32), 0, 1)
        if vol.photometric == "MONOCHROME1":  # show dense = bright, as a radiologist expects
            img = 1.0 - img
        out.append((name, img))
    return out


def _save_grid(path: Path, panels: list[tuple[str, np.ndarray]], rows: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncol = len(panels) // len(rows)
    fig, axes = plt.subplots(len(rows), ncol, figsize=(3 * ncol, 3 * len(rows)), squeeze=False)
    for ax, (title, img) in zip(axes.flat, panels, strict=True):
        residual = title.startswith("removed")
        ax.imshow(
            img,
            cmap="coolwarm" if residual else "gray",
            vmin=-0.2 if residual else 0,
            vmax=0.2 if residual else 1,
        )
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    for ax, label in zip(axes[:, 0], rows, strict=True):
        ax.text(
            -0.05,
            0.5,
            label,
            transform=ax.transAxes,
            rotation=90,
            ha="right",
            va="center",
            fontsize=8,
        )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_demo(
    output_dir: str | os.PathLike = "demo_output",
    *,
    model: str = "auto",
    device: str | None = None,
    noise: tuple[NoiseKind, float] = ("gaussian", 0.08),
) -> DemoResult:
    """Add noise to bundled CT, radiograph and MRI images, denoise, write a report.

    Writes ``grid.png`` (noisy / denoised / clean / removed noise per image),
    ``results.json`` and ``report.md`` into ``output_dir``.
    """
    images = _demo_images()  # first: a missing image fails before anything is written
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    den = Denoiser(model, device=device)
    nlm = Denoiser("nlm")
    kind, level = noise
    rows: list[dict] = []
    panels: list[tuple[str, np.ndarray]] = []
    labels: list[str] = []
    for i, (name, clean) in enumerate(images):
        noisy = add_noise(clean, kind, level, rng=_SEED + i)
        sigma = float(np.std(noisy - clean))
        result = den(noisy, noise_level=sigma)
        classical = nlm(noisy, noise_level=sigma)
        rows.append(
            {
                "image": name,
                "noise": f"{kind} {level}",
                "psnr_noisy": psnr(clean, noisy, data_range=1.0),
                "psnr_model": psnr(clean, result, data_range=1.0),
                "psnr_nlm": psnr(clean, classical, data_range=1.0),
                "ssim_noisy": ssim(clean, noisy, data_range=1.0),
                "ssim_model": ssim(clean, result, data_range=1.0),
                "ssim_nlm": ssim(clean, classical, data_range=1.0),
            }
        )
        r = rows[-1]
        panels += [
            (f"noisy {r['psnr_noisy']:.1f} dB", noisy),
            (f"{den.name} {r['psnr_model']:.1f} dB", result),
            (f"non-local means {r['psnr_nlm']:.1f} dB", classical),
            ("clean", clean),
            ("removed noise (noisy - denoised)", noisy - result),
        ]
        labels.append(name)
    _save_grid(out / "grid.png", panels, labels)
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    table = [
        "| image | noise | PSNR noisy | PSNR model | PSNR NLM | SSIM model |",
        "|---|---|---|---|---|---|",
    ]
    table += [
        f"| {r['image']} | {r['noise']} | {r['psnr_noisy']:.2f} | {r['psnr_model']:.2f} | "
        f"{r['psnr_nlm']:.2f} | {r['ssim_model']:.3f} |"
        for r in rows
    ]
    (out / "report.md").write_text(
        f"# medidenoise demo\n\nModel: `{den.name}` on {den.device}.\n\n"
        + "\n".join(table)
        + "\n\n![grid](grid.png)\n"
    )
    return DemoResult(out, rows)
