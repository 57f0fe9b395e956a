"""``adapt``: fine-tune a copy of a model on the user's own noisy scans, without clean images."""

from __future__ import annotations

import copy
import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medidenoise.engine.selfsupervised import (
    OBJECTIVES,
    Recorrupt,
    SelfSupervisedLoss,
    estimated_psnr,
    make_objective,
)
from medidenoise.errors import CheckpointError, InvalidImageError
from medidenoise.inference._network import pick_device
from medidenoise.inference.denoiser import _noise_robust_normalization
from medidenoise.io import Volume
from medidenoise.models import load_model
from medidenoise.transforms import estimate_noise
from medidenoise.transforms.noise_covariance import NoiseModel, measure_noise_model

__all__ = ["METHODS", "adapt", "choose_method"]

log = logging.getLogger(__name__)

METHODS = ("auto", *OBJECTIVES)
ImageLike = np.ndarray | Volume
Progress = bool | Callable[[int, int], None]

#: smallest slice side that adaptation trains on (pixels)
MIN_SIDE = 48
#: a noise std below this (network units: share of the intensity range; 0.4 HU in the CT
#: window) is "no noise". A real head CT (693) measures 0.0014.
MIN_NOISE = 2e-4
#: fine-tuning learning rate (Adam) and pull toward the base weights (L2-SP)
_LR = 3e-4
_L2SP = 1e-3
_BATCH = 4
_PATCH = 64
#: validation strip on the right of every slice: this share of the width (at least 32 px)
_VAL_SHARE = 0.125
_VAL_GAP = 8
#: validations per budget, and how many without improvement end the run early
_VALIDATIONS = 16
_PATIENCE = 6
#: adapted weights replace the base model's only when their estimated PSNR is at least this
#: much higher: the estimate inherits the noise measurement's error (+-10-20 % in std), and on
#: white noise, which the base was trained on, a fine-tune that "won" by less cost 0.6 dB
_MIN_GAIN_DB = 0.25


@dataclass
class _Image:
    norm: np.ndarray  # (D, H, W) network units
    sigma: float  # the noise level denoise() will feed, network units
    noise: NoiseModel
    describe: dict[str, Any]


def _as_list(images: ImageLike | Sequence[ImageLike]) -> list[ImageLike]:
    if isinstance(images, (np.ndarray, Volume)):
        return [images]
    if isinstance(images, (list, tuple)):
        if not images:
            raise InvalidImageError("images: an empty list; pass at least one image or volume")
        return list(images)
    raise InvalidImageError(
        f"images must be an ndarray, a Volume or a list of them, not {type(images).__name__}"
    )


def _prepare(image: ImageLike, index: int, noise_level: float | None, multiple: int) -> _Image:
    name = f"images[{index}]"
    modality = image.modality if isinstance(image, Volume) else None
    arr = np.asarray(image.array if isinstance(image, Volume) else image)
    if arr.dtype.kind not in "fiub":
        raise InvalidImageError(f"{name}: expected a real-valued image, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise InvalidImageError(
            f"{name}: expected 2D (H, W) or 3D (D, H, W), got shape {arr.shape}"
        )
    vol = np.array(arr, dtype=np.float32, copy=True).reshape((-1, *arr.shape[-2:]))
    if not np.isfinite(vol).all():
        raise InvalidImageError(
            f"{name}: contains NaN or infinite values; replace them (np.nan_to_num) first"
        )
    h, w = vol.shape[-2:]
    if min(h, w) < max(MIN_SIDE, 2 * multiple):
        raise InvalidImageError(
            f"{name}: slices of {h}x{w} are too small to adapt on; at least "
            f"{max(MIN_SIDE, 2 * multiple)}x{max(MIN_SIDE, 2 * multiple)} pixels are needed"
        )
    if np.ptp(vol) == 0:
        raise InvalidImageError(f"{name}: the image is constant; there is nothing to adapt to")
    params = _noise_robust_normalization(vol, modality)
    norm = params.apply(vol).astype(np.float32, copy=False)
    if noise_level is None:
        sigma = float(params.scale_sigma(estimate_noise(vol)))
    else:
        sigma = float(params.scale_sigma(noise_level))
    noise = measure_noise_model(norm)
    if noise_level is not None and noise.std > 0:
        # the caller knows the level: keep the measured shape, take their size
        factor = (sigma / noise.std) ** 2
        noise = NoiseModel(
            noise.autocorrelation,
            noise.offset * factor,
            noise.gain * factor,
            sigma,
            noise.flat_blocks,
            noise.blocks,
            noise.floor * factor,
        )
    if noise.std < MIN_NOISE:
        raise InvalidImageError(
            f"{name}: no measurable noise (std {noise.std:.2g} of the intensity range); "
            "the image looks noise-free, so there is nothing to adapt to"
        )
    describe = {
        "shape": list(arr.shape),
        "modality": modality,
        "spacing": [float(s) for s in image.spacing] if isinstance(image, Volume) else None,
        "normalization": params.to_dict(),
        "noise_level_fed": sigma,
        "noise": noise.describe(),
    }
    return _Image(norm, sigma, noise, describe)


def choose_method(noise: NoiseModel) -> str:
    """The objective ``method="auto"`` uses for a measured noise model.

    Recorruption is unbiased for correlated and white noise alike when the
    noise model is measured on enough flat image blocks (BENCHMARKS.md: it beat
    the shaped blind-spot mask on every noise tried, as all its pixels carry
    loss); with fewer than 8 flat blocks the measured covariance is too
    uncertain to draw noise from, and the blind-spot objective, which only needs
    the correlation's extent, is used instead.
    """
    return "recorrupt" if noise.flat_blocks >= 8 else "blindspot"


def _stack(vol: np.ndarray, index: int, context: int) -> np.ndarray:
    half = context // 2
    idx = np.clip(np.arange(index - half, index + half + 1), 0, vol.shape[0] - 1)
    return vol[idx]


class _Sampler:
    """Training patches from the left part of every slice, validation strips from the right."""

    def __init__(self, images: list[_Image], context: int, multiple: int, seed: int) -> None:
        self.images, self.context = images, context
        self.rng = np.random.default_rng(seed)
        min_w = min(im.norm.shape[2] for im in images)
        min_h = min(im.norm.shape[1] for im in images)
        self.val_w = max(32, int(min_w * _VAL_SHARE))
        self.val_w += (-self.val_w) % multiple
        train_w = min_w - self.val_w - _VAL_GAP
        side = min(_PATCH, min_h, train_w)
        self.patch = max(multiple, side - side % multiple)
        weights = np.array([im.norm.shape[0] for im in images], dtype=np.float64)
        self.weights = weights / weights.sum()

    def batch(self, size: int) -> tuple[torch.Tensor, list[int]]:
        out, owners = [], []
        p = self.patch
        for _ in range(size):
            i = int(self.rng.choice(len(self.images), p=self.weights))
            vol = self.images[i].norm
            d, h, w = vol.shape
            right = w - self.val_w - _VAL_GAP
            top = int(self.rng.integers(0, h - p + 1))
            left = int(self.rng.integers(0, max(1, right - p + 1)))
            stack = _stack(vol, int(self.rng.integers(0, d)), self.context)
            out.append(stack[:, top : top + p, left : left + p])
            owners.append(i)
        return torch.from_numpy(np.ascontiguousarray(np.stack(out))), owners

    def validation(self) -> list[tuple[torch.Tensor, int]]:
        items = []
        for i, im in enumerate(self.images):
            d, h, w = im.norm.shape
            hh = h - h % 8
            for k in np.unique(np.linspace(0, d - 1, min(d, 8)).round().astype(int)):
                strip = _stack(im.norm, int(k), self.context)[:, :hh, w - self.val_w :]
                items.append((torch.from_numpy(np.ascontiguousarray(strip[None])), i))
        return items


def _freeze_norm_statistics(net: torch.nn.Module) -> None:
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()


def _with_level(net: torch.nn.Module, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    if bool(getattr(net, "noise_level_input", False)):
        lv = level.view(-1, 1, 1, 1).expand(x.shape[0], 1, *x.shape[-2:])
        x = torch.cat([x, lv.to(x)], dim=1)
    return x


def _progress(progress: Progress, total: int) -> tuple[Callable[[int, int], None] | None, Any]:
    if callable(progress):
        return progress, None
    if not progress:
        return None, None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="s", desc="adapt")

    def update(done: int, _total: int) -> None:
        bar.update(max(0, done - bar.n))

    return update, bar


def _base_name(model: str | os.PathLike | torch.nn.Module) -> str:
    if isinstance(model, torch.nn.Module):
        meta = getattr(model, "metadata", {}) or {}
        return str(meta.get("name") or meta.get("config_name") or type(model).__name__)
    return Path(os.fspath(model)).name  # the file name only: folders may name patients


def adapt(
    images: ImageLike | Sequence[ImageLike],
    model: str | os.PathLike | torch.nn.Module = "default",
    *,
    minutes: float = 3.0,
    method: str = "auto",
    noise_level: float | None = None,
    device: str | torch.device | None = None,
    progress: Progress = False,
    rng: int = 0,
    should_stop: Callable[[], bool] | None = None,
) -> torch.nn.Module:
    """Fine-tune a copy of a model on noisy images alone (self-supervised).

    The noise of the given images is measured (its spatial correlation and its
    dependence on the signal: ``transforms.noise_covariance.measure_noise_model``),
    and a copy of ``model`` is trained for at most ``minutes`` of wall-clock
    time on pairs made from the images themselves (``method``). A strip on
    the right of every slice is held out: an estimate of the PSNR against the
    unseen clean image (from recorrupted pairs drawn from the measured noise,
    whichever the method) is measured there at regular intervals, the weights
    with the best estimate are kept (the base model's own weights if nothing
    beats them), and training stops early once the estimate stops improving.
    The weights are also pulled toward the base model's (L2-SP), so that a
    short, noisy run cannot drift far from what the model already does well.

    Parameters
    ----------
    images : ndarray, Volume or list of them
        Noisy 2D (H, W) or 3D (D, H, W) images in their own units; slices of at
        least 48x48 pixels. Never modified.
    model : str, path or torch.nn.Module
        The starting point: ``"default"``, a checkpoint or a loaded network.
    minutes : float
        Wall-clock budget, measuring and validating included.
    method : {"auto", "recorrupt", "blindspot"}
        The self-supervised objective; ``"auto"`` picks one from the measured
        noise (:func:`choose_method`). See ``docs/internals.md``.
    noise_level : float, optional
        Noise std in the images' units, if known; pass the same value to
        :func:`~medidenoise.denoise` with the adapted model. Estimated when
        omitted (and ``denoise`` estimates it the same way).
    device : str, optional
        ``"cpu"``, ``"cuda"``...; default CUDA when present.
    progress : bool or callable
        ``True`` shows a progress bar; a callable gets ``(seconds done, budget seconds)``.
    rng : int
        Seed: the same inputs and seed draw the same patches.
    should_stop : callable, optional
        Polled between steps; when it returns True the run ends with
        ``InterruptedError`` and nothing is returned.

    Returns
    -------
    torch.nn.Module
        The adapted network in eval mode, with ``.metadata`` (the base model's,
        plus an ``"adaptation"`` section: method, budget, base model, measured
        noise, a description of the data without identifiers). ``denoise``
        accepts it and ``save_checkpoint(path, model)`` saves it.

    Raises
    ------
    InvalidImageError
        NaN/Inf, constant or noise-free images, slices too small to train on.
    ValueError
        A budget that is not a positive number of minutes, an unknown method.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noisy = np.clip(0.5 + rng.normal(0, 0.05, (64, 64)), 0, 1).astype(np.float32)
    >>> adapted = adapt(noisy, minutes=0.05)
    >>> adapted.metadata["adaptation"]["method"]
    'recorrupt'
    """
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)):
        raise ValueError(f"minutes must be a number, got {minutes!r}")
    if not (math.isfinite(minutes) and minutes > 0):
        raise ValueError(f"minutes must be a positive, finite budget, got {minutes}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if noise_level is not None and not (math.isfinite(noise_level) and noise_level > 0):
        raise ValueError(f"noise_level must be a positive number or None, got {noise_level}")
    started = time.monotonic()
    deadline = started + 60.0 * float(minutes)
    dev = pick_device(device)
    base = _load(model)
    multiple = int(getattr(base, "size_multiple", 1))
    context = int(getattr(base, "context_slices", 1))
    prepared = [_prepare(im, i, noise_level, multiple) for i, im in enumerate(_as_list(images))]
    chosen = method if method != "auto" else choose_method(prepared[0].noise)
    log.info("adapting with %s (measured noise: %s)", chosen, prepared[0].noise.describe())
    run = _Run(base, prepared, chosen, context, multiple, dev, rng)
    report, bar = _progress(progress, round(60 * minutes))
    try:
        result = run.fit(deadline, started, report, should_stop)
    finally:
        if bar is not None:
            bar.close()
    meta = dict(getattr(base, "metadata", {}) or {})
    meta["name"] = f"{meta.get('name') or meta.get('config_name') or 'model'}-adapted"
    meta["adaptation"] = {
        "method": chosen,
        "method_asked": method,
        "budget_minutes": float(minutes),
        "seconds": round(time.monotonic() - started, 1),
        "base_model": _base_name(model),
        "base_description": (getattr(base, "metadata", {}) or {}).get("description"),
        "images": [p.describe for p in prepared],
        "noise_level_given": noise_level,
        "seed": int(rng),
        **result,
    }
    adapted = run.net.eval()
    adapted.metadata = meta  # type: ignore[assignment]
    return adapted


def _load(model: str | os.PathLike | torch.nn.Module) -> torch.nn.Module:
    if isinstance(model, torch.nn.Module):
        net = copy.deepcopy(model)
        net.metadata = copy.deepcopy(getattr(model, "metadata", {}) or {})  # type: ignore[assignment]
        return net
    name = os.fspath(model)
    try:
        return load_model(name)
    except CheckpointError:
        raise
    except OSError as exc:
        raise CheckpointError(f"{name}: cannot load the model to adapt: {exc}") from None


class _Run:
    """One adaptation: the network copy, its optimiser, the data and the objective."""

    def __init__(
        self,
        base: torch.nn.Module,
        images: list[_Image],
        method: str,
        context: int,
        multiple: int,
        device: torch.device,
        seed: int,
    ) -> None:
        self.net = copy.deepcopy(base).to(device)
        self.device = device
        self.images = images
        self.objectives = [make_objective(method, im.noise) for im in images]
        self.sampler = _Sampler(images, context, multiple, seed)
        self.gen = torch.Generator().manual_seed(int(seed))
        self.loss = SelfSupervisedLoss()
        self.anchor = [p.detach().clone() for p in self.net.parameters()]
        self.opt = torch.optim.Adam(self.net.parameters(), lr=_LR)
        self.val = self._validation_set(seed)

    def _level(self, owners: list[int], jitter: bool, factor: float | None = None) -> torch.Tensor:
        levels = []
        for i in owners:
            s = self.images[i].sigma * (factor or self.objectives[i].input_noise_factor)
            if jitter:
                s *= float(np.exp(self.sampler.rng.uniform(-0.2, 0.2)))
            levels.append(s)
        return torch.tensor(levels, dtype=torch.float32)

    def _validation_set(self, seed: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Fixed recorrupted pairs from the held-out strips, whatever the training objective.

        Recorrupted inputs are whole images, as at inference; a blind-spot
        validation would score predictions into holes the network never meets
        when it denoises, and could prefer weights that denoise worse.
        """
        gen = torch.Generator().manual_seed(int(seed) + 1)
        checks = [Recorrupt(im.noise) for im in self.images]
        items = []
        for y, i in self.sampler.validation():
            x, target = checks[i](y, gen)
            x = _with_level(self.net, x, self._level([i], False, checks[i].input_noise_factor))
            items.append((x.to(self.device), target.to(self.device), torch.tensor(0)))
        return items

    def validate(self) -> float:
        """Estimated PSNR (dB, data range 1) on the held-out strips."""
        self.net.eval()
        excess, weight = 0.0, 0.0
        with torch.inference_mode():
            for x, target, _ in self.val:
                pred = self.net(x)
                e, w = estimated_psnr(pred, target)
                excess, weight = excess + e, weight + w
        mse = max(excess / max(weight, 1.0), 1e-10)
        return -10.0 * math.log10(mse)

    def step(self) -> float:
        self.net.train()
        _freeze_norm_statistics(self.net)
        y, owners = self.sampler.batch(_BATCH)
        xs, ts = [], []
        for j, i in enumerate(owners):
            x, t = self.objectives[i](y[j : j + 1], self.gen)
            xs.append(x)
            ts.append(t)
        x = _with_level(self.net, torch.cat(xs), self._level(owners, jitter=True))
        target = torch.cat(ts).to(self.device)
        pred = self.net(x.to(self.device))
        loss = self.loss(pred, target)
        params = zip(self.net.parameters(), self.anchor, strict=True)
        pull = sum(((p - a) ** 2).sum() for p, a in params)
        total = loss + _L2SP * pull
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        return float(loss.detach())

    def fit(
        self,
        deadline: float,
        started: float,
        report: Callable[[int, int], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> dict[str, Any]:
        total = max(1, round(deadline - started))
        base_psnr = best_psnr = self.validate()
        best_state = copy.deepcopy(self.net.state_dict())
        interval = max(2.0, (deadline - started) / _VALIDATIONS)
        next_val = time.monotonic() + interval
        steps, best_step, since_best, history = 0, 0, 0, [(0, round(base_psnr, 3))]
        stopped = "budget"
        while True:
            now = time.monotonic()
            if should_stop is not None and should_stop():
                raise InterruptedError("adaptation was cancelled")
            if report is not None:
                report(min(total, int(now - started)), total)
            if now >= deadline:
                break
            self.step()
            steps += 1
            if time.monotonic() >= next_val or time.monotonic() >= deadline:
                score = self.validate()
                history.append((steps, round(score, 3)))
                next_val = time.monotonic() + interval
                if score > max(best_psnr, base_psnr + _MIN_GAIN_DB):
                    best_psnr, best_step, since_best = score, steps, 0
                    best_state = copy.deepcopy(self.net.state_dict())
                else:
                    since_best += 1
                    if since_best >= _PATIENCE:
                        stopped = "no improvement"
                        break
        if report is not None:
            report(total, total)
        if steps == 0:
            warnings.warn(
                f"adapt: the budget of {total} s ended before the first training step "
                "(measuring the noise and validating took it all); the base model is returned "
                "unchanged: give more minutes",
                RuntimeWarning,
                stacklevel=3,
            )
        self.net.load_state_dict(best_state)
        return {
            "steps": steps,
            "best_step": best_step,
            "batch_size": _BATCH,
            "patch_size": self.sampler.patch,
            "estimated_psnr_base": round(base_psnr, 3),
            "estimated_psnr_adapted": round(best_psnr, 3),
            "validation_history": history,
            "stopped": stopped,
            # the base model's weights when no validation beat them by _MIN_GAIN_DB
            "kept": "adapted" if best_step > 0 else "base",
        }
