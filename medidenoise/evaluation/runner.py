"""Run denoisers and classical baselines over images x noises and write a report.

:func:`evaluate_denoisers` takes the learned denoisers as plain callables
``fn(noisy, sigma) -> denoised``; the public :func:`medidenoise.evaluate`
(:mod:`.evaluate_model`) binds the model (and the CAE baseline) through
``medidenoise.Denoiser`` and calls it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medidenoise.evaluation.inputs import (
    EvalImage,
    ImageSource,
    NoiseSpec,
    load_images,
    parse_noises,
)
from medidenoise.evaluation.metrics import SSIM_SETTINGS, psnr, ssim
from medidenoise.evaluation.report import EvaluationResult
from medidenoise.models import classical as baselines
from medidenoise.transforms import add_noise

__all__ = ["DenoiseFn", "evaluate_denoisers"]

log = logging.getLogger(__name__)

#: a denoiser under test: ``fn(noisy, sigma) -> denoised``, 2D float32 in [0, 1]
#: in and out, ``sigma`` the noise std in the same units
DenoiseFn = Callable[[np.ndarray, float], np.ndarray]

ORACLE_NOTE = (
    "For non-Gaussian noise every method (model and baselines) is given sigma = std(noisy - "
    "clean) measured on each image: the oracle noise level, fair to optimistic for the "
    "classical baselines. Gaussian noise: sigma = the nominal level."
)


def _method_list(
    methods: Sequence[str] | None, learned: Sequence[str], notes: list[str]
) -> list[str]:
    known = ["noisy", *learned, *baselines.CLASSICAL]
    if methods is None:
        chosen = list(known)
        if not baselines.bm3d_available():
            chosen.remove("bm3d")
            notes.append("BM3D skipped: the 'bm3d' package is not installed (pip install bm3d).")
        return chosen
    unknown = [m for m in methods if m not in known]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {known}")
    chosen = [m for m in known if m in methods]  # table order, no duplicates
    if "bm3d" in chosen and not baselines.bm3d_available():
        chosen.remove("bm3d")
        notes.append("BM3D skipped: the 'bm3d' package is not installed (pip install bm3d).")
    if not chosen:
        raise ValueError("methods is empty: name at least one method, e.g. ['noisy', 'nlm']")
    return chosen


def _sigma_for(spec: NoiseSpec, clean: np.ndarray, noisy: np.ndarray) -> float:
    if spec.kind == "gaussian":
        return float(spec.level)
    return float(np.std(noisy.astype(np.float64) - clean))


def _run_method(
    method: str, noisy: np.ndarray, sigma: float, learned: Mapping[str, DenoiseFn]
) -> np.ndarray:
    if method == "noisy":
        return noisy
    fn = learned[method] if method in learned else baselines.CLASSICAL_METHODS[method]
    out = np.asarray(fn(noisy.copy(), sigma), dtype=np.float32)
    if out.shape != noisy.shape:
        raise ValueError(
            f"method {method!r} returned shape {out.shape} for an input of shape {noisy.shape}"
        )
    return out


def _score(
    method: str,
    img: EvalImage,
    spec: NoiseSpec,
    noisy: np.ndarray,
    sigma: float,
    learned: Mapping[str, DenoiseFn],
) -> tuple[np.ndarray, dict[str, Any]]:
    t0 = time.perf_counter()
    out = _run_method(method, noisy, sigma, learned)
    seconds = time.perf_counter() - t0
    row = {
        "image": img.name,
        "modality": img.modality,
        "noise": spec.label,
        "kind": spec.kind,
        "level": spec.level,
        "sigma": sigma,
        "method": method,
        "psnr": psnr(img.array, out, data_range=1.0),
        "ssim": ssim(img.array, out, data_range=1.0),
        "seconds": seconds,
    }
    return out, row


def _featured(methods: list[str], learned: Sequence[str]) -> list[str]:
    """Methods shown in the image grids: the learned ones and the strongest classical one."""
    shown = [m for m in methods if m in learned]
    classical = [m for m in baselines.CLASSICAL if m in methods]
    return shown + classical[:1]


def evaluate_denoisers(
    denoisers: Mapping[str, DenoiseFn],
    images: Sequence[ImageSource] | Mapping[str, ImageSource] | None = None,
    *,
    noises: Sequence[NoiseSpec | str | tuple[str, float]] | None = None,
    output_dir: str | os.PathLike = "reports/evaluation",
    methods: Sequence[str] | None = None,
    crop: int = 256,
    seed: int = 0,
    max_grids: int = 12,
    figures: bool = True,
    notes: Sequence[str] = (),
    settings: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> EvaluationResult:
    """Score denoisers and classical baselines by PSNR/SSIM and write a report folder.

    For each image (scaled to [0, 1]) and noise, noise is added with a fixed
    seed (``[seed, image index, noise index]``), every method denoises the
    same noisy image given the noise level, and PSNR/SSIM against the clean
    image are recorded with ``data_range=1``.

    Parameters
    ----------
    denoisers : mapping of str to callable
        Learned (or any other) denoisers under test, ``fn(noisy, sigma)``;
        e.g. ``{"model": fn}``. May be empty.
    images : sequence or mapping, optional
        Paths, volumes or arrays (see :func:`load_images`); ``None``: the
        hold-out set RG3_UNCR (CR), MR2_UNCR (MR), 693_UNCR (CT).
    noises : sequence, optional
        ``"kind:level"`` strings, ``(kind, level)`` pairs or
        :class:`NoiseSpec`; default :data:`DEFAULT_NOISES`.
    output_dir : str or path
        Report folder, created if needed; existing report files are replaced.
    methods : sequence of str, optional
        Subset of ``"noisy"``, the keys of ``denoisers``, ``"nlm"``, ``"tv"``,
        ``"wavelet"``, ``"bm3d"``; default all (BM3D if installed).
    crop : int
        Centre crop side in pixels; 0 for whole images.
    seed : int
        Seed of the noise draws.
    max_grids : int
        At most this many image grids (``figures/grid_*.png``).
    figures : bool
        Draw the figures; ``False`` writes only the CSV, JSON and Markdown
        files (faster, for metric-only runs such as benchmarks).
    notes : sequence of str
        Extra notes for the report (e.g. a skipped baseline).
    settings : mapping, optional
        Extra settings recorded in ``summary.json``.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    EvaluationResult

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> clean = np.outer(np.linspace(0, 1, 64), np.ones(64))
    >>> res = evaluate_denoisers({"model": lambda x, s: x}, {"ramp": clean},
    ...     noises=["gaussian:0.1"], methods=["noisy", "model"],
    ...     output_dir=tempfile.mkdtemp(), progress=False)
    >>> sorted({r["method"] for r in res.rows})
    ['model', 'noisy']
    """
    from tqdm.auto import tqdm

    from medidenoise.evaluation.plots import save_grid

    note_list = list(notes)
    specs = parse_noises(noises)
    chosen = _method_list(methods, list(denoisers), note_list)
    if any(s.kind != "gaussian" for s in specs):
        note_list.append(ORACLE_NOTE)
    imgs = load_images(images, crop=crop)
    out_dir = Path(output_dir)
    fig_dir = out_dir / "figures"
    if figures:
        fig_dir.mkdir(parents=True, exist_ok=True)
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
    shown = _featured(chosen, list(denoisers))
    rows: list[dict[str, Any]] = []
    files: list[Path] = []
    total = len(imgs) * len(specs) * len(chosen)
    with tqdm(total=total, desc="evaluate", unit="run", disable=not progress) as bar:
        for i, img in enumerate(imgs):
            for j, spec in enumerate(specs):
                rng = np.random.default_rng([seed, i, j])
                noisy = add_noise(img.array, spec.kind, spec.level, rng=rng)  # type: ignore[arg-type]
                sigma = _sigma_for(spec, img.array, noisy)
                kept: dict[str, np.ndarray] = {}
                scores: dict[str, tuple[float, float]] = {}
                for method in chosen:
                    bar.set_postfix_str(f"{img.name} {spec.label} {method}")
                    out, row = _score(method, img, spec, noisy, sigma, denoisers)
                    rows.append(row)
                    scores[method] = (row["psnr"], row["ssim"])
                    if method in shown:
                        kept[method] = out
                    bar.update(1)
                if figures and len(files) < max_grids:
                    path = fig_dir / f"grid_{img.name}_{spec.slug}.png"
                    title = f"{img.name} ({img.modality}), {spec.label}, sigma {sigma:.4f}"
                    files.append(
                        save_grid(path, img.array, noisy, kept, title=title, scores=scores)
                    )
    result = EvaluationResult(
        rows=rows,
        output_dir=out_dir,
        noises=[s.label for s in specs],
        methods=chosen,
        notes=note_list,
        settings=_settings(imgs, specs, crop, seed, settings),
    )
    if figures:
        files += _summary_figures(result, fig_dir)
    result.files = files
    result.write()
    log.info("evaluation report written to %s\n%s", out_dir, result.summary())
    return result


def _summary_figures(result: EvaluationResult, fig_dir: Path) -> list[Path]:
    from medidenoise.evaluation.plots import save_comparison, save_histogram

    per_method: dict[str, dict[str, list[float]]] = {
        m: {"psnr": [], "ssim": []} for m in result.methods
    }
    for r in result.rows:
        per_method[r["method"]]["psnr"].append(r["psnr"])
        per_method[r["method"]]["ssim"].append(r["ssim"])
    n = len({r["image"] for r in result.rows})
    return [
        save_histogram(
            fig_dir / "psnr_hist.png",
            {m: v["psnr"] for m, v in per_method.items()},
            xlabel="PSNR (dB)",
            title=f"PSNR per image and noise ({n} images)",
        ),
        save_histogram(
            fig_dir / "ssim_hist.png",
            {m: v["ssim"] for m, v in per_method.items()},
            xlabel="SSIM",
            title=f"SSIM per image and noise ({n} images)",
        ),
        save_comparison(
            fig_dir / "method_comparison.png",
            result.means(),
            noises=result.noises,
            title=f"Mean over {n} images (data range 1)",
        ),
    ]


def _settings(
    imgs: Sequence[Any],
    specs: Sequence[NoiseSpec],
    crop: int,
    seed: int,
    extra: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "data_range": 1.0,
        "scaling": "per image: (x - min) / (max - min) of the clean (cropped) slice",
        "crop": crop,
        "seed": seed,
        "noise_seed": "numpy default_rng([seed, image_index, noise_index])",
        "images": [
            {
                "name": im.name,
                "modality": im.modality,
                "source": im.source,
                "shape": list(im.array.shape),
            }
            for im in imgs
        ],
        "noises": [{"label": s.label, "kind": s.kind, "level": s.level} for s in specs],
        "sigma": "nominal level for gaussian; measured std(noisy - clean) otherwise",
        "ssim": {k: v for k, v in SSIM_SETTINGS.items()},
        **baselines.baseline_settings(),
        **(dict(extra) if extra else {}),
    }
