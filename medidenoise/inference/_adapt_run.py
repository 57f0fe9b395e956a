"""The training loop behind ``adapt``: patches, held-out strips, steps, validation (private)."""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from medidenoise.engine.selfsupervised import (
    SelfSupervisedLoss,
    make_objective,
    measured_noise,
    stein_excess,
)
from medidenoise.transforms._checks import even_slices
from medidenoise.transforms.noise_covariance import NoiseModel

#: fine-tuning learning rate (Adam) and pull toward the base weights (L2-SP)
_LR = 3e-4
_L2SP = 1e-3
#: the pull when every image's noise measures white and signal-independent: the noise the base
#: model was trained on, where it has least to learn and most to lose (MR2, white 0.05:
#: -0.35 dB with 1e-3, -0.14 dB with 1e-2)
_L2SP_WHITE = 1e-2
_BATCH = 4
_PATCH = 64
#: validation strip on the right of every slice: this share of the width (at least 32 px)
_VAL_SHARE = 0.125
_VAL_GAP = 8
#: validation strips come from at most this many evenly spaced slices of each volume
_VAL_SLICES = 8
#: validations per budget, and how many without improvement end the run early
_VALIDATIONS = 16
_PATIENCE = 6
#: how far off the measured noise variance may be (a share of it): the noise measurement errs
#: by up to 10-20 % in std on textured images (MR2)
_VARIANCE_ERROR = 0.15
#: adapted weights replace the base model's only when, with the variance off by that much in
#: the worse direction, they still remove this share of the mean noise variance more error
#: (about 0.25 dB at the base model's usual error of a tenth of the noise variance)
_MIN_GAIN = 0.005
#: size of the Monte-Carlo probe of the network's divergence, in noise standard deviations
_PROBE_EPS = 0.02
#: probes per held-out strip: the divergence term is the noisiest part of the estimate, and
#: on a small image (a 160x160 slice leaves a strip of 5 k pixels) one probe let a state
#: that was worse pass as better
_PROBES = 4


@dataclass(frozen=True)
class Score:
    """A network's estimated error on the held-out strips (per pixel, network units)."""

    mse: float  # Stein's unbiased estimate of the mean squared error against the clean image
    divergence: float  # estimated tr(C J_f) per pixel: how much of the noise it passes

    @property
    def psnr(self) -> float:
        """The estimate as a PSNR (dB, data range 1)."""
        return -10.0 * math.log10(max(self.mse, 1e-10))

    def worst_gain(self, base: Score) -> float:
        """The smallest MSE reduction against ``base`` that a noise variance measured up to
        :data:`_VARIANCE_ERROR` too high or too low allows (negative: possibly worse)."""
        spread = 2.0 * _VARIANCE_ERROR * abs(self.divergence - base.divergence)
        return (base.mse - self.mse) - spread


@dataclass
class Image:
    norm: np.ndarray  # (D, H, W) network units
    sigma: float  # the noise level denoise() will feed, network units
    noise: NoiseModel
    describe: dict[str, Any]


def _stack(vol: np.ndarray, index: int, context: int) -> np.ndarray:
    half = context // 2
    idx = np.clip(np.arange(index - half, index + half + 1), 0, vol.shape[0] - 1)
    return vol[idx]


class _Sampler:
    """Training patches from the left part of every slice, validation strips from the right."""

    def __init__(self, images: list[Image], context: int, multiple: int, seed: int) -> None:
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
            for k in even_slices(d, _VAL_SLICES):
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


class Run:
    """One adaptation: the network copy, its optimiser, the data and the objective."""

    def __init__(
        self,
        base: torch.nn.Module,
        images: list[Image],
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
        white = all(
            im.noise.correlation_length() == (0, 0) and not im.noise.signal_dependent
            for im in images
        )
        self.l2sp = _L2SP_WHITE if white else _L2SP
        self.opt = torch.optim.Adam(self.net.parameters(), lr=_LR)
        self.val = self._validation_set(seed)
        #: mean noise variance of the held-out strips (network units)
        self.noise_variance = float(np.mean([float(var.mean()) for *_, var in self.val]))

    def _level(self, owners: list[int], jitter: bool, factor: float | None = None) -> torch.Tensor:
        levels = []
        for i in owners:
            s = self.images[i].sigma * (factor or self.objectives[i].input_noise_factor)
            if jitter:
                s *= float(np.exp(self.sampler.rng.uniform(-0.2, 0.2)))
            levels.append(s)
        return torch.tensor(levels, dtype=torch.float32)

    def _validation_set(self, seed: int) -> list[tuple[torch.Tensor, ...]]:
        """The held-out strips as ``denoise`` sees them, each with fixed noise probes.

        The network is scored on the strips' own noise, told the level ``denoise``
        feeds it, by Stein's unbiased risk estimate (:func:`stein_excess`): the
        operating point the adapted model will be used at. (Recorrupted pairs would
        score it on noisier inputs, where an over-smoothing network wins; with a
        noise measurement that errs high, as on textured images, they accepted a
        fine-tune that lost several dB on white noise.) The probes are drawn once, so
        every validation compares the weights on the same draws.
        """
        gen = torch.Generator().manual_seed(int(seed) + 1)
        items: list[tuple[torch.Tensor, ...]] = []
        for y, i in self.sampler.validation():
            mid = y.shape[1] // 2
            centre = y[:, mid : mid + 1]
            level = self._level([i], False, 1.0)
            x = _with_level(self.net, y, level).to(self.device)
            probes, probed = [], []
            for _ in range(_PROBES):
                z, var = measured_noise(self.images[i].noise, centre, gen)
                shifted = y.clone()
                shifted[:, mid : mid + 1] = centre + _PROBE_EPS * z
                probes.append(z)
                probed.append(_with_level(self.net, shifted, level))
            xp = torch.cat(probed).to(self.device)
            z_all = torch.cat(probes).to(self.device)
            items.append((x, xp, centre.to(self.device), z_all, var.to(self.device)))
        return items

    def validate(self) -> Score:
        """Stein's estimate of the denoised held-out strips' error against the clean image,
        its divergence term averaged over :data:`_PROBES` probes."""
        self.net.eval()
        excess, divergence, count = 0.0, 0.0, 0.0
        with torch.inference_mode():
            for x, xp, centre, z, var in self.val:
                denoised = self.net(x)
                probed = self.net(xp)
                for k in range(z.shape[0]):
                    e, dv, n = stein_excess(
                        denoised, probed[k : k + 1], centre, z[k : k + 1], var, _PROBE_EPS
                    )
                    excess, divergence, count = excess + e, divergence + dv, count + n
        return Score(excess / max(count, 1.0), divergence / max(count, 1.0))

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
        total = loss + self.l2sp * pull
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
        base = best = self.validate()
        best_gain = _MIN_GAIN * self.noise_variance  # what a fine-tune must beat
        best_state = copy.deepcopy(self.net.state_dict())
        interval = max(2.0, (deadline - started) / _VALIDATIONS)
        next_val = time.monotonic() + interval
        steps, best_step, since_best, history = 0, 0, 0, [(0, round(base.psnr, 3))]
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
                history.append((steps, round(score.psnr, 3)))
                next_val = time.monotonic() + interval
                gain = score.worst_gain(base)
                if gain > best_gain:
                    best, best_gain, best_step, since_best = score, gain, steps, 0
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
            "l2sp": self.l2sp,
            "patch_size": self.sampler.patch,
            "estimated_psnr_base": round(base.psnr, 3),
            "estimated_psnr_adapted": round(best.psnr, 3),
            "validation_history": history,
            "stopped": stopped,
            # the base model's weights when no validation beat them surely enough (_MIN_GAIN)
            "kept": "adapted" if best_step > 0 else "base",
        }
