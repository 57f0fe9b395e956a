"""Torch datasets: random noisy training patches and a fixed validation set."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from medidenoise.config import NoiseConfig
from medidenoise.engine.data import SliceSet

__all__ = ["PatchDataset", "ValidationDataset", "make_noise_transform"]


def make_noise_transform(noise: NoiseConfig):  # -> RandNoisyPaird
    """The ``RandNoisyPaird`` transform for a config's noise mixture."""
    from medidenoise.transforms import RandNoisyPaird

    kinds = tuple(c.kind for c in noise.mixture)
    levels = {c.kind: c.level_range for c in noise.mixture}
    weights = {c.kind: c.weight for c in noise.mixture}
    return RandNoisyPaird(keys="image", kinds=kinds, levels=levels, weights=weights)


def _crop(img: np.ndarray, top: int, left: int, size: tuple[int, int]) -> np.ndarray:
    """Crop (C, H, W) to ``size`` at (top, left), zero-padding where the image is smaller."""
    out = img[:, top : top + size[0], left : left + size[1]]
    ph, pw = size[0] - out.shape[1], size[1] - out.shape[2]
    if ph > 0 or pw > 0:
        out = np.pad(out, ((0, 0), (0, max(ph, 0)), (0, max(pw, 0))))
    return out


def centre_crop(stack: np.ndarray, crop: int, size_multiple: int) -> np.ndarray:
    """The centred ``crop`` square (a multiple of ``size_multiple``; 0: the whole slice
    padded to a multiple) of a (C, H, W) stack, zero-padded where it is smaller."""
    h, w = stack.shape[-2:]
    if crop:
        side = max(size_multiple, crop - crop % size_multiple)
        size = (side, side)
    else:
        size = (-(-h // size_multiple) * size_multiple, -(-w // size_multiple) * size_multiple)
    top, left = max(0, (h - size[0]) // 2), max(0, (w - size[1]) // 2)
    return _crop(stack, top, left, size)


def _sample(
    clean: np.ndarray, noise, seed: int, *, context: int, noise_level_input: bool
) -> dict[str, torch.Tensor]:
    noise.set_random_state(seed=seed)
    d = noise({"image": np.ascontiguousarray(clean, dtype=np.float32)})
    noisy = np.asarray(d["image"], dtype=np.float32)
    c = context // 2
    label = np.asarray(d["label"], dtype=np.float32)[c : c + 1]
    if noise_level_input:
        level = np.full_like(noisy[:1], float(d["noise_level"]))
        noisy = np.concatenate([noisy, level], axis=0)
    return {
        "image": torch.from_numpy(np.ascontiguousarray(noisy)),
        "label": torch.from_numpy(np.ascontiguousarray(label)),
    }


class PatchDataset(Dataset):
    """Random noisy/clean patch pairs drawn on the fly from cached slices.

    Every item picks a slice (volumes weighted by their slice count), a random
    ``patch_size`` square, optional flips and 90-degree rotations, then adds
    noise with the config's mixture.

    With a ``seed``, item ``i`` of epoch ``e`` is drawn from the seed
    ``(seed, e, i)`` alone (the trainer calls :meth:`set_epoch` as each epoch
    starts): every epoch draws new patches, DataLoader workers need no seeding
    of their own, and a resumed run draws exactly the patches the uninterrupted
    run would have. Without one, randomness comes from torch's global generator
    (seeded by ``monai.utils.set_determinism`` and per DataLoader worker).

    Parameters
    ----------
    slices : list of SliceSet
        Training volumes.
    noise : NoiseConfig
        The noise mixture.
    length : int
        Items per epoch.
    patch_size : int
        Side of the square patches.
    context_slices : int
        Slices per input stack (odd).
    noise_level_input : bool
        Append the noise-level channel.
    augment : bool
        Random flips and 90-degree rotations.
    seed : int, optional
        Draw item ``i`` of epoch ``e`` from ``(seed, e, i)``; see above.
    """

    def __init__(
        self,
        slices: list[SliceSet],
        noise: NoiseConfig,
        *,
        length: int,
        patch_size: int,
        context_slices: int = 1,
        noise_level_input: bool = False,
        augment: bool = True,
        seed: int | None = None,
    ) -> None:
        if not slices:
            raise ValueError("slices must hold at least one training volume")
        if seed is not None and seed < 0:
            raise ValueError(f"seed must be >= 0 or None, got {seed}")
        self.seed = seed
        self.epoch = 0
        self.slices = slices
        self.length = int(length)
        self.patch = int(patch_size)
        self.context = int(context_slices)
        self.noise_level_input = bool(noise_level_input)
        self.augment = bool(augment)
        self.noise = make_noise_transform(noise)
        counts = np.array([len(s.indices) for s in slices], dtype=np.float64)
        self.weights = counts / counts.sum()

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        """Draw the patches of ``epoch`` (used with a ``seed``; like ``DistributedSampler``)."""
        self.epoch = int(epoch)

    def _item_seed(self, index: int) -> int:
        if self.seed is None:
            return int(torch.randint(0, 2**31 - 1, ()).item())
        entropy = [self.seed, self.epoch, int(index)]
        return int(np.random.SeedSequence(entropy).generate_state(1)[0]) % (2**31 - 1)

    def _random_patch(self, rng: np.random.Generator) -> tuple[int, np.ndarray]:
        """(volume number, (context, patch, patch) stack) drawn with ``rng``."""
        which = int(rng.choice(len(self.slices), p=self.weights))
        s = self.slices[which]
        stack = s.stack(int(rng.choice(s.indices)), self.context)
        h, w = stack.shape[-2:]
        top = int(rng.integers(0, max(1, h - self.patch + 1)))
        left = int(rng.integers(0, max(1, w - self.patch + 1)))
        return which, _crop(stack, top, left, (self.patch, self.patch))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        seed = self._item_seed(index)
        rng = np.random.default_rng(seed)
        _, patch = self._random_patch(rng)
        if self.augment:
            if rng.random() < 0.5:
                patch = patch[:, :, ::-1]
            if rng.random() < 0.5:
                patch = patch[:, ::-1, :]
            patch = np.rot90(patch, k=int(rng.integers(0, 4)), axes=(1, 2))
        return _sample(
            patch, self.noise, seed, context=self.context, noise_level_input=self.noise_level_input
        )


class ValidationDataset(Dataset):
    """Fixed noisy/clean validation pairs: the same noise every epoch.

    Up to ``max_items`` slices spread evenly over the validation volumes, each
    centre-cropped to ``crop`` (a multiple of ``size_multiple``; 0 = whole
    slice padded to a multiple) and noised once with a seed derived from
    ``seed``, so validation PSNR is comparable between epochs and runs.
    """

    def __init__(
        self,
        slices: list[SliceSet],
        noise: NoiseConfig,
        *,
        crop: int,
        size_multiple: int,
        max_items: int,
        seed: int,
        context_slices: int = 1,
        noise_level_input: bool = False,
    ) -> None:
        if not slices:
            raise ValueError("slices must hold at least one validation volume")
        transform = make_noise_transform(noise)
        picks = [(s, int(i)) for s in slices for i in s.indices]
        if len(picks) > max_items:
            picks = [picks[int(j)] for j in np.linspace(0, len(picks) - 1, max_items).round()]
        self.items: list[dict[str, torch.Tensor]] = []
        for n, (s, index) in enumerate(picks):
            patch = centre_crop(s.stack(index, context_slices), crop, size_multiple)
            self.items.append(
                _sample(
                    patch,
                    transform,
                    seed + n,
                    context=context_slices,
                    noise_level_input=noise_level_input,
                )
            )

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.items[index]
