"""Self-supervised training data: noisy scans made into (input, target) pairs on the fly.

``train.objective: recorrupt | blindspot`` trains on noisy scans as they are.
Each volume's noise is measured once (its autocorrelation and signal
dependence, :func:`~medidenoise.transforms.noise_covariance.measure_noise_model`),
and every patch is turned into a pair by that volume's objective
(:mod:`medidenoise.engine.selfsupervised`). Items are ``{"image": input with the
noise-level channel, "label": (3, H, W) target}``, so MONAI's
``SupervisedTrainer`` / ``SupervisedEvaluator`` run them unchanged with
:class:`~medidenoise.engine.selfsupervised.SelfSupervisedLoss` and the
:class:`EstimatedPSNR` metric.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from ignite.exceptions import NotComputableError
from ignite.metrics import Metric
from ignite.metrics.metric import reinit__is_reduced, sync_all_reduce
from torch.utils.data import Dataset

from medidenoise.config import NoiseConfig
from medidenoise.engine.data import SliceSet
from medidenoise.engine.datasets import PatchDataset, centre_crop
from medidenoise.engine.selfsupervised import estimated_psnr, make_objective
from medidenoise.transforms import estimate_noise
from medidenoise.transforms._checks import even_slices
from medidenoise.transforms.noise_covariance import measure_noise_model

__all__ = ["EstimatedPSNR", "SelfSupervisedPatchDataset", "SelfSupervisedValidationDataset"]


def _objectives(slices: list[SliceSet], name: str) -> list[tuple[Any, float]]:
    """(objective, noise level fed to the network) per volume, measured on its used slices."""
    out = []
    for s in slices:
        used = s.volume[np.asarray(s.indices), s.rows[0] : s.rows[1]]
        objective = make_objective(name, measure_noise_model(used))
        level = float(estimate_noise(used)) * objective.input_noise_factor
        out.append((objective, level))
    return out


def _pair(
    stack: np.ndarray, objective: Any, level: float, seed: int, noise_level_input: bool
) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(int(seed))
    y = torch.from_numpy(np.ascontiguousarray(stack, dtype=np.float32))[None]
    x, target = objective(y, gen)
    if noise_level_input:
        x = torch.cat([x, torch.full_like(x[:, :1], level)], dim=1)
    return {"image": x[0].contiguous(), "label": target[0].contiguous()}


class SelfSupervisedPatchDataset(PatchDataset):
    """Random patches of noisy volumes, each made into a self-supervised pair.

    Draws patches exactly as :class:`PatchDataset` does (item ``i`` of epoch
    ``e`` from ``(seed, e, i)``, so ``--resume`` continues the same sequence),
    without flips or rotations (they would turn anisotropic noise away from
    the measured correlation), and with no synthetic noise.

    Parameters
    ----------
    slices : list of SliceSet
        Noisy training volumes.
    objective : {"recorrupt", "blindspot"}
        How pairs are made.
    **kwargs
        ``length``, ``patch_size``, ``context_slices``, ``noise_level_input``,
        ``seed`` as for :class:`PatchDataset`.
    """

    def __init__(self, slices: list[SliceSet], objective: str, **kwargs: Any) -> None:
        kwargs["augment"] = False
        super().__init__(slices, NoiseConfig(), **kwargs)
        self.pairing = _objectives(slices, objective)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        seed = self._item_seed(index)
        which, patch = self._random_patch(np.random.default_rng(seed))
        objective, level = self.pairing[which]
        return _pair(patch, objective, level, seed, self.noise_level_input)


class SelfSupervisedValidationDataset(Dataset):
    """Fixed self-supervised pairs from centre crops of noisy validation slices.

    The same pairs every epoch (seeded), so the estimated PSNR is comparable
    between epochs and runs.
    """

    def __init__(
        self,
        slices: list[SliceSet],
        objective: str,
        *,
        crop: int,
        size_multiple: int,
        max_items: int,
        seed: int,
        context_slices: int = 1,
        noise_level_input: bool = False,
    ) -> None:
        pairing = _objectives(slices, objective)
        picks = [(k, int(i)) for k, s in enumerate(slices) for i in s.indices]
        picks = [picks[int(j)] for j in even_slices(len(picks), max_items)]
        self.items = []
        for n, (k, index) in enumerate(picks):
            stack = slices[k].stack(index, context_slices)
            side = min(crop or max(stack.shape[-2:]), *stack.shape[-2:])
            patch = centre_crop(stack, side, size_multiple)
            objective, level = pairing[k]
            self.items.append(_pair(patch, objective, level, seed + n, noise_level_input))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.items[index]


class EstimatedPSNR(Metric):
    """PSNR (data range 1) against the unseen clean image, estimated from self-supervised pairs.

    Accumulates ``sum(w * ((pred - t)^2 - v))`` and ``sum(w)`` over the
    validation set (see :func:`~medidenoise.engine.selfsupervised.estimated_psnr`);
    summed across DDP ranks.
    """

    _state_dict_all_req_keys = ("_excess", "_weight")

    @reinit__is_reduced
    def reset(self) -> None:
        self._excess = torch.tensor(0.0, dtype=torch.float64)
        self._weight = torch.tensor(0.0, dtype=torch.float64)

    @reinit__is_reduced
    def update(self, output: tuple[torch.Tensor, torch.Tensor]) -> None:
        pred, target = output
        excess, weight = estimated_psnr(pred.detach(), target.detach())
        self._excess += excess
        self._weight += weight

    @sync_all_reduce("_excess", "_weight")
    def compute(self) -> float:
        if float(self._weight) <= 0:
            raise NotComputableError("EstimatedPSNR needs at least one validation batch")
        mse = max(float(self._excess) / float(self._weight), 1e-10)
        return float(-10.0 * np.log10(mse))
