"""``evaluate``: score a model against classical baselines on the hold-out set.

This is the public face of :func:`medidenoise.evaluation.evaluate_denoisers`:
it binds the model (and the optional CAE baseline checkpoint) through
:class:`~medidenoise.inference.Denoiser`, one layer below.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from medidenoise.evaluation import DenoiseFn, EvaluationResult, NoiseSpec, evaluate_denoisers
from medidenoise.evaluation.inputs import ImageSource
from medidenoise.inference.denoiser import Denoiser, ModelLike
from medidenoise.models.checkpoint import model_label, shipped_weights_path

__all__ = ["evaluate"]

log = logging.getLogger(__name__)


class _Bound:
    """A :class:`Denoiser` as an evaluation callable ``fn(noisy, sigma)``."""

    def __init__(self, denoiser: Denoiser) -> None:
        self.denoiser = denoiser

    def __call__(self, noisy: np.ndarray, sigma: float) -> np.ndarray:
        return np.asarray(self.denoiser(noisy, noise_level=sigma), dtype=np.float32)


def evaluate(
    model: ModelLike = "auto",
    images: Sequence[ImageSource] | Mapping[str, ImageSource] | None = None,
    *,
    noises: Sequence[NoiseSpec | str | tuple[str, float]] | None = None,
    output_dir: str | os.PathLike = "reports/evaluation",
    methods: Sequence[str] | None = None,
    crop: int = 256,
    device: str | torch.device | None = None,
    baseline_cae: str | os.PathLike | None = None,
    seed: int = 0,
    max_grids: int = 12,
    figures: bool = True,
    progress: bool = True,
    self_ensemble: bool = False,
) -> EvaluationResult:
    """Compare a denoising model with classical baselines by PSNR and SSIM.

    Each image is reduced to a 2D slice, centre-cropped and scaled to [0, 1];
    each noise is added with a fixed seed; the model, the CAE baseline (when a
    checkpoint is given), non-local means, TV, wavelet and BM3D (when the
    ``bm3d`` package is installed) all denoise the same noisy image given the
    noise level (for Poisson/Rician noise: the measured std of noisy - clean,
    an oracle value). Scores use ``data_range=1``.

    Parameters
    ----------
    model : str, path or torch.nn.Module
        ``"auto"`` (what ``denoise`` uses by default), ``"default"``, a checkpoint file, a
        loaded network, ``"identity"`` or
        a classical method name; reported as method ``"model"``.
    images : sequence or mapping, optional
        Image files/folders, volumes or arrays; default the hold-out set
        RG3_UNCR (CR), MR2_UNCR (MR), 693_UNCR (CT) from ``pydicom-data``.
    noises : sequence, optional
        ``"kind:level"`` strings or ``(kind, level)`` pairs; default gaussian
        0.05, gaussian 0.10, poisson 200 photons, rician 0.05.
    output_dir : str or path
        The report folder: ``metrics.csv``, ``summary.json``, ``summary.md``
        and ``figures/`` (image grids, PSNR/SSIM histograms, comparison plot).
    methods : sequence of str, optional
        Subset of ``"noisy"``, ``"model"``, ``"cae"``, ``"nlm"``, ``"tv"``,
        ``"wavelet"``, ``"bm3d"``; default all that are available.
    crop : int
        Centre crop side in pixels (default 256); 0 for whole images (slow
        with BM3D on CPU).
    device : str, optional
        Where the networks run; default CUDA when present.
    baseline_cae : str or path, optional
        Checkpoint of the classic convolutional auto-encoder baseline; default
        the shipped ``"cae-baseline"`` model. The ``"cae"`` row is skipped,
        with a note, when neither is available.
    seed : int
        Seed of the noise draws.
    max_grids : int
        At most this many image grids.
    figures : bool
        Draw the figures (``False``: tables only).
    progress : bool
        Show a progress bar.
    self_ensemble : bool
        Run the model (not the CAE baseline) as a self-ensemble (see
        :class:`~medidenoise.Denoiser`).

    Returns
    -------
    EvaluationResult
        ``.rows`` per image x noise x method, ``.summary()`` the Markdown
        table, ``.output_dir``.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> clean = np.outer(np.linspace(0, 1, 64), np.ones(64)).astype(np.float32)
    >>> res = evaluate("identity", {"ramp": clean}, noises=["gaussian:0.1"],
    ...                methods=["noisy", "model", "tv"], output_dir=tempfile.mkdtemp(),
    ...                progress=False)
    >>> means = res.means()
    >>> means["model"] == means["noisy"]
    True
    """
    notes: list[str] = []
    wanted = None if methods is None else list(methods)
    denoisers: dict[str, DenoiseFn] = {}
    settings: dict[str, object] = {}
    if wanted is None or "model" in wanted:
        model_runner = Denoiser(model, device=device, self_ensemble=self_ensemble)
        denoisers["model"] = _Bound(model_runner)
        settings["model"] = {
            "name": model_runner.name,
            "source": model_label(model),
            "self_ensemble": bool(self_ensemble),
        }
        settings["device"] = str(model_runner.device)
    if baseline_cae is None and shipped_weights_path("cae-baseline").is_file():
        baseline_cae = shipped_weights_path("cae-baseline")
    if baseline_cae is not None:
        if wanted is None or "cae" in wanted:
            cae_path = Path(baseline_cae)
            denoisers["cae"] = _Bound(Denoiser(cae_path, device=device))
            settings["baseline_cae"] = str(cae_path)
    elif wanted is None or "cae" in wanted:
        notes.append("CAE baseline skipped: no checkpoint given (baseline_cae= / --baseline-cae).")
        if wanted is not None:
            wanted = [m for m in wanted if m != "cae"]
    return evaluate_denoisers(
        denoisers,
        images,
        noises=noises,
        output_dir=output_dir,
        methods=wanted,
        crop=crop,
        seed=seed,
        max_grids=max_grids,
        figures=figures,
        notes=notes,
        settings=settings,
        progress=progress,
    )
