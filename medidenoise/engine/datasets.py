"""Torch datasets: random noisy training patches and a fixed validation set."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy import ndimage
from torch.utils.data import Dataset

from medidenoise._network_window import NORM_SMOOTHING, WINDOW_CLIP
from medidenoise.config import NoiseConfig
from medidenoise.engine.data import SliceSet
from medidenoise.engine.procedural import PROCEDURAL_KINDS, procedural_image
from medidenoise.transforms import normalization_params
from medidenoise.transforms._checks import even_slices

__all__ = [
    "PatchDataset",
    "ValidationDataset",
    "make_noise_transform",
    "make_stretch_noise_transform",
    "normalisation_shift",
]


def make_noise_transform(noise: NoiseConfig):  # -> RandNoisyPaird
    """The ``RandNoisyPaird`` transform for a config's noise mixture."""
    from medidenoise.transforms import RandNoisyPaird

    kinds = tuple(c.kind for c in noise.mixture)
    levels = {c.kind: c.level_range for c in noise.mixture}
    weights = {c.kind: c.weight for c in noise.mixture}
    log_levels = [c.kind for c in noise.mixture if c.draw == "log"]
    return RandNoisyPaird(
        keys="image", kinds=kinds, levels=levels, weights=weights, log_levels=log_levels
    )


def make_stretch_noise_transform(noise: NoiseConfig):  # -> RandNoisyPaird
    """The noise of stretched patches (``noise.stretch_prob``): the mixture's kinds, by
    weight, each at a std from ``noise.stretch_level``; Poisson noise (whose level is a
    photon count) and Rician noise (a magnitude: it would fold the negative values a stretch
    makes) as Gaussian, salt-and-pepper left out."""
    from medidenoise.transforms import RandNoisyPaird

    weights: dict[str, float] = {}
    for c in noise.mixture:
        if c.kind == "salt_and_pepper":
            continue
        kind = "gaussian" if c.kind in ("poisson", "rician") else c.kind
        weights[kind] = weights.get(kind, 0.0) + c.weight
    low, high = noise.stretch_level
    levels = {kind: (low, high) for kind in weights}
    return RandNoisyPaird(keys="image", kinds=tuple(weights), levels=levels, weights=weights)


#: items per procedural canvas, on average (a canvas has twice the patch side)
_PATCHES_PER_CANVAS = 4


def _grey_levels(slices: list[SliceSet], count: int = 4096) -> np.ndarray:
    """A fixed sample of the slices' intensities (background included): the grey levels
    procedural images are painted with, so they look like real scans' histograms."""
    rng = np.random.default_rng(0)
    per = max(1, count // len(slices))
    picks = []
    for s in slices:
        sl = s.volume[s.indices[len(s.indices) // 2], s.rows[0] : s.rows[1]]
        picks.append(rng.choice(sl.ravel(), size=per))
    return np.concatenate(picks).astype(np.float32)


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


def _low_percentile(plane: np.ndarray) -> float:
    smooth = ndimage.gaussian_filter(plane.astype(np.float32), NORM_SMOOTHING, mode="reflect")
    return normalization_params(smooth, method="percentile").low


def normalisation_shift(noisy: np.ndarray, clean: np.ndarray) -> float:
    """How far the Denoiser's normalisation would move ``noisy`` (2-D) from where ``clean``
    sits: the low percentile of the smoothed noisy plane minus that of the smoothed clean
    one (``noise.normalisation_shift``). About 1.1 sigma for Rician noise over a dark
    background, about -0.25 sigma for Gaussian noise there, ~0 without a dark area."""
    return _low_percentile(noisy) - _low_percentile(clean)


def _sample(
    clean: np.ndarray,
    noise,
    seed: int,
    *,
    context: int,
    noise_level_input: bool,
    shift: bool = False,
) -> dict[str, torch.Tensor]:
    noise.set_random_state(seed=seed)
    d = noise({"image": np.ascontiguousarray(clean, dtype=np.float32)})
    noisy = np.asarray(d["image"], dtype=np.float32)
    c = context // 2
    label = np.asarray(d["label"], dtype=np.float32)[c : c + 1]
    if shift:
        by = np.float32(normalisation_shift(noisy[c], label[0]))
        noisy = noisy - by
        label = label - by
    if noise_level_input:
        level = np.full_like(noisy[:1], float(d["noise_level"]))
        noisy = np.concatenate([noisy, level], axis=0)
    return {
        "image": torch.from_numpy(np.ascontiguousarray(noisy)),
        "label": torch.from_numpy(np.ascontiguousarray(label)),
    }


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, ...]) -> float:
    return float(np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]))))


def _stretched(
    patch: np.ndarray, factor: float, noise, seed: int, *, context: int, noise_level_input: bool
) -> dict[str, torch.Tensor]:
    """``patch`` as the Denoiser shows a low-noise scan in its narrowed window: stretched
    ``factor`` times about its median, ``noise`` (at the window's floor) added, values
    clipped as it clips them (``noise.stretch_prob``)."""
    centre = float(np.median(patch[context // 2]))
    stretched = (patch.astype(np.float32) - centre) * factor + centre
    item = _sample(stretched, noise, seed, context=context, noise_level_input=noise_level_input)
    item["image"][:context].clamp_(*WINDOW_CLIP)  # the level channel stays as it is
    item["label"].clamp_(*WINDOW_CLIP)
    return item


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
    procedural : float, optional
        Fraction of items drawn from the procedural generators
        (:mod:`medidenoise.engine.procedural`) instead of ``slices``; their grey levels
        come from the intensities of ``slices``. Each epoch has its own canvases of twice the
        patch side (about one per four procedural items), each a pure function of
        ``(seed, epoch, canvas)``, generated when first needed and cropped at random by the
        items that draw it: reproducible per item like the rest, at a quarter of the cost.
    procedural_kinds : tuple of str, optional
        Which generators, drawn with equal probability.
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
        procedural: float = 0.0,
        procedural_kinds: tuple[str, ...] = PROCEDURAL_KINDS,
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
        self.level_region = float(noise.level_region)
        self.level_region_prob = float(noise.level_region_prob) if self.level_region > 1 else 0.0
        self.stretch_prob = float(noise.stretch_prob)
        self.stretch_factor = tuple(float(v) for v in noise.stretch_factor)
        self.stretch_noise = make_stretch_noise_transform(noise) if self.stretch_prob else None
        self.shift = bool(noise.normalisation_shift)
        counts = np.array([len(s.indices) for s in slices], dtype=np.float64)
        self.weights = counts / counts.sum()
        if not 0.0 <= procedural <= 1.0:
            raise ValueError(f"procedural must be a fraction in [0, 1], got {procedural}")
        for kind in procedural_kinds:
            if kind not in PROCEDURAL_KINDS:
                raise ValueError(f"procedural_kinds: {kind!r} is not one of {PROCEDURAL_KINDS}")
        self.procedural = float(procedural)
        self.procedural_kinds = tuple(procedural_kinds)
        self.grey_levels = _grey_levels(slices) if self.procedural > 0 else None
        # procedural canvases of twice the patch side, each cropped by about four items
        self._bank_size = max(1, round(self.procedural * self.length / _PATCHES_PER_CANVAS))
        self._bank_seed = (
            seed if seed is not None else int(np.random.SeedSequence().entropy % 2**31)  # type: ignore[operator]
        )
        self._bank: dict[tuple[int, int], np.ndarray] = {}

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

    def _canvas(self, k: int) -> np.ndarray:
        """Procedural canvas ``k`` of this epoch: a pure function of (seed, epoch, k),
        generated once per epoch and process and cropped by several items."""
        key = (self.epoch, k)
        if key not in self._bank:
            if any(e != self.epoch for e, _ in self._bank):
                self._bank.clear()
            gen = np.random.default_rng(np.random.SeedSequence([self._bank_seed, self.epoch, 7, k]))
            kind = self.procedural_kinds[int(gen.integers(len(self.procedural_kinds)))]
            self._bank[key] = procedural_image(kind, 2 * self.patch, gen, levels=self.grey_levels)
        return self._bank[key]

    def _random_patch(
        self, rng: np.random.Generator, side: int | None = None
    ) -> tuple[int, np.ndarray]:
        """(volume number, (context, side, side) stack) drawn with ``rng``; ``side`` is the
        patch side unless given, and a larger one shrinks to the slice (never below the
        patch side)."""
        which = int(rng.choice(len(self.slices), p=self.weights))
        s = self.slices[which]
        stack = s.stack(int(rng.choice(s.indices)), self.context)
        h, w = stack.shape[-2:]
        side = self.patch if side is None else max(self.patch, min(side, h, w))
        top = int(rng.integers(0, max(1, h - side + 1)))
        left = int(rng.integers(0, max(1, w - side + 1)))
        return which, _crop(stack, top, left, (side, side))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        seed = self._item_seed(index)
        rng = np.random.default_rng(seed)
        # a wide region only drawn when the config asks (older recipes keep their draws)
        wide = self.level_region_prob > 0 and rng.random() < self.level_region_prob
        side = round(self.patch * self.level_region) if wide else self.patch
        if self.procedural and rng.random() < self.procedural:
            image = self._canvas(int(rng.integers(self._bank_size)))
            side = min(side, image.shape[0])
            top, left = (int(v) for v in rng.integers(0, image.shape[0] - side + 1, 2))
            crop = image[top : top + side, left : left + side]
            patch = np.repeat(crop[np.newaxis], self.context, axis=0)
        else:
            _, patch = self._random_patch(rng, side)
        if self.augment:
            if rng.random() < 0.5:
                patch = patch[:, :, ::-1]
            if rng.random() < 0.5:
                patch = patch[:, ::-1, :]
            patch = np.rot90(patch, k=int(rng.integers(0, 4)), axes=(1, 2))
        # a stretched patch only drawn when the config asks (older recipes keep their draws)
        if self.stretch_noise is not None and rng.random() < self.stretch_prob:
            factor = _log_uniform(rng, self.stretch_factor)
            item = _stretched(
                patch, factor, self.stretch_noise, seed, context=self.context,
                noise_level_input=self.noise_level_input,
            )  # fmt: skip
        else:
            item = _sample(
                patch,
                self.noise,
                seed,
                context=self.context,
                noise_level_input=self.noise_level_input,
                shift=self.shift,
            )
        if patch.shape[-1] > self.patch or patch.shape[-2] > self.patch:
            # noise and level of the whole region; the network trains on one patch of it
            top = int(rng.integers(0, patch.shape[-2] - self.patch + 1))
            left = int(rng.integers(0, patch.shape[-1] - self.patch + 1))
            item = {
                k: v[:, top : top + self.patch, left : left + self.patch].contiguous()
                for k, v in item.items()
            }
        return item


class ValidationDataset(Dataset):
    """Fixed noisy/clean validation pairs: the same noise every epoch.

    Up to ``max_items`` slices spread evenly over the validation volumes, each
    centre-cropped to ``crop`` (a multiple of ``size_multiple``; 0 = whole
    slice padded to a multiple) and noised once with a seed derived from
    ``seed``, so validation PSNR is comparable between epochs and runs. With
    ``noise.stretch_prob``, that share of the items (evenly spread) is stretched
    and clipped as :class:`PatchDataset` stretches patches, so that the best
    epoch is judged on what the Denoiser shows a network too.
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
        stretch = make_stretch_noise_transform(noise) if noise.stretch_prob else None
        picks = [(s, int(i)) for s in slices for i in s.indices]
        picks = [picks[int(j)] for j in even_slices(len(picks), max_items)]
        # the stretched items: every (1 / stretch_prob)-th, none when it is 0
        every = 1.0 / noise.stretch_prob if stretch is not None else 0.0
        stretched = {int(k) for k in np.arange(0.0, len(picks), every)} if every else set()
        kw: dict[str, Any] = {"context": context_slices, "noise_level_input": noise_level_input}
        self.items: list[dict[str, torch.Tensor]] = []
        for n, (s, index) in enumerate(picks):
            patch = centre_crop(s.stack(index, context_slices), crop, size_multiple)
            if n in stretched:
                factor = _log_uniform(np.random.default_rng([seed, n]), noise.stretch_factor)
                self.items.append(_stretched(patch, factor, stretch, seed + n, **kw))
            else:
                shift = noise.normalisation_shift
                self.items.append(_sample(patch, transform, seed + n, shift=shift, **kw))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.items[index]
