"""The training loop behind ``adapt``: patches, held-out tiles, steps, validation (private)."""

from __future__ import annotations

import contextlib
import copy
import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from medidenoise.adaptation._holdout import TILE, HeldOut, choose_tiles
from medidenoise.engine.handlers import WeightAverage
from medidenoise.engine.selfsupervised import (
    SelfSupervisedLoss,
    make_objective,
    measured_noise,
    stein_excess,
)
from medidenoise.models.network import contract_of
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
#: the weights validated and kept are a moving average of the trained ones (decay ramped up
#: from 0.1 so the first states are not held back by the base): with batches of 4 a single
#: state swung by up to 2.7 dB between validations (693 streak head, from default)
_EMA = 0.95
_EMA_WARMUP = 10
#: validations per budget, and how many without improvement end the run early
_VALIDATIONS = 16
_PATIENCE = 6
#: how far off the noise variance may be (a share of it) at the least: the noise measurement
#: errs by up to 10-20 % in std on textured images (MR2); more when the level estimate and the
#: noise model's own measurement differ by more (``Image.variance_error``)
_VARIANCE_ERROR = 0.15
#: adapted weights replace the base model's only when, with the variance off by that much in
#: the worse direction, they still remove this share of the mean noise variance more error
#: (about 0.25 dB at the base model's usual error of a tenth of the noise variance)
_MIN_GAIN = 0.005
#: the same when every image's noise measures white and signal-independent, the base model's
#: own training regime: there a fine-tune has least to gain, and the estimate is most easily
#: fooled by what the white model leaves out (MR2 with its own row-correlated noise under
#: added white noise, 1 minute: a state estimated 0.17 dB better in the worse direction was
#: 0.77 dB worse against the clean image)
_MIN_GAIN_WHITE = 0.02
#: size of the Monte-Carlo probe of the network's divergence, in noise standard deviations
_PROBE_EPS = 0.02
#: probes per held-out tile set: the divergence term is the noisiest part of the estimate, and
#: on a small image (a 160x160 slice leaves a strip of 5 k pixels) one probe let a state
#: that was worse pass as better
_PROBES = 4
#: an estimated error below this share of the noise variance (20 dB below the noisy image on
#: tiles that hold anatomy) is not believed: the noise model does not fit the image
_IMPLAUSIBLE = 0.01
#: held-out windows run through the network at once
_VAL_BATCH = 16
#: on the background tiles adapted weights may be worse than the base model's by at most this
#: share of the background's noise variance (with the variance off in the worse direction):
#: a fine-tune that sharpened the anatomy of a signal-dependent phantom in 15 steps stained its
#: background by 3.9 dB, -0.3 dB for the whole image, unseen by tiles inside the object
_BACKGROUND_LOSS = 0.005


@dataclass(frozen=True)
class Score:
    """A network's estimated error on the held-out tiles (per pixel, network units)."""

    mse: float  # Stein's unbiased estimate of the mean squared error against the clean image
    divergence: float  # estimated tr(C J_f) per pixel: how much of the noise it passes

    @property
    def psnr(self) -> float:
        """The estimate as a PSNR (dB, data range 1)."""
        return -10.0 * math.log10(max(self.mse, 1e-10))

    def worst_gain(self, base: Score, variance_error: float = _VARIANCE_ERROR) -> float:
        """The smallest MSE reduction against ``base`` that a noise variance measured up to
        ``variance_error`` too high or too low allows (negative: possibly worse)."""
        spread = 2.0 * variance_error * abs(self.divergence - base.divergence)
        return (base.mse - self.mse) - spread

    def plausible(self, noise_variance: float) -> bool:
        """False for an error estimate no denoiser can have: negative, not finite, or below
        :data:`_IMPLAUSIBLE` of the noise variance (the noise model is wrong there)."""
        return math.isfinite(self.mse) and self.mse > _IMPLAUSIBLE * noise_variance


@dataclass
class Image:
    norm: np.ndarray  # (D, H, W) network units
    sigma: float  # the noise level denoise() will feed, network units
    noise: NoiseModel  # measured shape, variance rescaled to ``sigma``
    describe: dict[str, Any]
    variance_error: float = _VARIANCE_ERROR  # how far off the variance may be (a share)
    disagreement: str | None = None  # why the noise measurements cannot be trusted, if so


def _stack(vol: np.ndarray, index: int, context: int) -> np.ndarray:
    half = context // 2
    idx = np.clip(np.arange(index - half, index + half + 1), 0, vol.shape[0] - 1)
    return vol[idx]


class _Sampler:
    """Training patches from every slice, with the loss kept off the held-out tiles."""

    def __init__(
        self, images: list[Image], held: list[HeldOut], context: int, multiple: int, seed: int
    ) -> None:
        self.images, self.held, self.context = images, held, context
        self.rng = np.random.default_rng(seed)
        min_h = min(im.norm.shape[1] for im in images)
        min_w = min(im.norm.shape[2] for im in images)
        side = min(_PATCH, min_h, min_w)
        self.patch = max(multiple, side - side % multiple)
        weights = np.array([im.norm.shape[0] for im in images], dtype=np.float64)
        self.weights = weights / weights.sum()

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """``(patches, loss weights, owners)``: the weights are 0 on held-out pixels."""
        out, keep, owners = [], [], []
        p = self.patch
        for _ in range(size):
            i = int(self.rng.choice(len(self.images), p=self.weights))
            vol = self.images[i].norm
            d, h, w = vol.shape
            top = int(self.rng.integers(0, h - p + 1))
            left = int(self.rng.integers(0, w - p + 1))
            k = int(self.rng.integers(0, d))
            stack = _stack(vol, k, self.context)
            out.append(stack[:, top : top + p, left : left + p])
            held = self.held[i].excluded[k, top : top + p, left : left + p]
            keep.append((~held)[None].astype(np.float32))
            owners.append(i)
        patches = torch.from_numpy(np.ascontiguousarray(np.stack(out)))
        return patches, torch.from_numpy(np.stack(keep)), owners

    def validation(self) -> list[tuple[torch.Tensor, int, HeldOut]]:
        """Every image's scored windows as one (N, C, h, w) batch."""
        items = []
        for i, (im, held) in enumerate(zip(self.images, self.held, strict=True)):
            wh, ww = held.window
            windows = [
                _stack(im.norm, t.slice, self.context)[:, t.top : t.top + wh, t.left : t.left + ww]
                for t in held.tiles
            ]
            items.append((torch.from_numpy(np.ascontiguousarray(np.stack(windows))), i, held))
        return items


def _gap(noise: NoiseModel) -> int:
    """Pixels around a held-out tile kept out of the loss: past the noise's correlation."""
    return int(min(8, 2 + max(noise.correlation_length(threshold=0.05))))


def _freeze_norm_statistics(net: torch.nn.Module) -> None:
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()


def _with_level(net: torch.nn.Module, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    if contract_of(net).noise_level_input:
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
        self.held = [choose_tiles(im.norm, gap=_gap(im.noise), multiple=multiple) for im in images]
        self.sampler = _Sampler(images, self.held, context, multiple, seed)
        self.gen = torch.Generator().manual_seed(int(seed))
        self.loss = SelfSupervisedLoss()
        self.anchor = [p.detach().clone() for p in self.net.parameters()]
        white = all(
            im.noise.correlation_length() == (0, 0) and not im.noise.signal_dependent
            for im in images
        )
        self.l2sp = _L2SP_WHITE if white else _L2SP
        self.min_gain = _MIN_GAIN_WHITE if white else _MIN_GAIN
        self.variance_error = max(im.variance_error for im in images)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=_LR)
        self.average = WeightAverage(self.net, _EMA, warmup=_EMA_WARMUP)
        self.val = self._validation_set(seed)
        #: mean noise variance of the held-out object and background tiles (network units)
        self.noise_variance = self._mean_variance(background=False)
        self.noise_variance_bg = self._mean_variance(background=True)

    def _mean_variance(self, *, background: bool) -> float:
        """Mean noise variance over the object (or background) tiles of every image."""
        pairs = [(var, w_bg if background else w) for *_, var, w, w_bg in self.val]
        total = sum(float(w.sum()) for _, w in pairs)
        return float(sum(float((v * w).sum()) for v, w in pairs) / max(1.0, total))

    def _level(self, owners: list[int], jitter: bool, factor: float | None = None) -> torch.Tensor:
        levels = []
        for i in owners:
            s = self.images[i].sigma * (factor or self.objectives[i].input_noise_factor)
            if jitter:
                s *= float(np.exp(self.sampler.rng.uniform(-0.2, 0.2)))
            levels.append(s)
        return torch.tensor(levels, dtype=torch.float32)

    def _validation_set(self, seed: int) -> list[tuple[torch.Tensor, ...]]:
        """The held-out tiles as ``denoise`` sees them, each with fixed noise probes.

        The network is scored on the tiles' own noise, told the level ``denoise``
        feeds it, by Stein's unbiased risk estimate (:func:`stein_excess`): the
        operating point the adapted model will be used at. (Recorrupted pairs would
        score it on noisier inputs, where an over-smoothing network wins; with a
        noise measurement that errs high, as on textured images, they accepted a
        fine-tune that lost several dB on white noise.) Each tile is run with the
        context around it and scored on its own pixels; the probes are drawn once, so
        every validation compares the weights on the same draws.
        """
        gen = torch.Generator().manual_seed(int(seed) + 1)
        items: list[tuple[torch.Tensor, ...]] = []
        for y, i, held in self.sampler.validation():
            mid = y.shape[1] // 2
            centre = y[:, mid : mid + 1]
            weight, weight_bg = torch.zeros_like(centre), torch.zeros_like(centre)
            for n, t in enumerate(held.tiles):
                w = weight_bg if t.background else weight
                w[n, 0, t.tile_top : t.tile_top + TILE, t.tile_left : t.tile_left + TILE] = 1
            level = self._level([i], False, 1.0)
            x = _with_level(self.net, y, level)
            probes, probed = [], []
            var = torch.zeros_like(centre)
            for _ in range(_PROBES):
                z, var = measured_noise(self.images[i].noise, centre, gen)
                shifted = y.clone()
                shifted[:, mid : mid + 1] = centre + _PROBE_EPS * z
                probes.append(z)
                probed.append(_with_level(self.net, shifted, level))
            items.append(
                (
                    x,
                    torch.stack(probed),
                    centre,
                    torch.stack(probes),
                    var,
                    weight,
                    weight_bg,
                )
            )
        return items

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """The network on a batch of windows, :data:`_VAL_BATCH` at a time."""
        outs = [
            self.net(x[k : k + _VAL_BATCH].to(self.device)).cpu()
            for k in range(0, x.shape[0], _VAL_BATCH)
        ]
        return torch.cat(outs)

    def validate(self) -> tuple[Score, Score | None]:
        """Stein's estimate of the denoised held-out tiles' error against the clean image,
        its divergence term averaged over :data:`_PROBES` probes: on the object tiles, and on
        the background tiles (None when no image has any)."""
        self.net.eval()
        sums = np.zeros((2, 3))  # (object, background) x (excess, divergence, pixels)
        with torch.inference_mode():
            for x, xp, centre, z, var, weight, weight_bg in self.val:
                denoised = self._forward(x)
                for k in range(z.shape[0]):
                    probed = self._forward(xp[k])
                    for r, w in enumerate((weight, weight_bg)):
                        if float(w.sum()) > 0:
                            sums[r] += stein_excess(
                                denoised, probed, centre, z[k], var, _PROBE_EPS, w
                            )
        obj, bg = (Score(e / max(n, 1.0), dv / max(n, 1.0)) for e, dv, n in sums)
        return obj, (bg if sums[1, 2] > 0 else None)

    def _background_ok(self, score: Score | None, base: Score | None) -> bool:
        """True unless the background tiles got worse than :data:`_BACKGROUND_LOSS` allows."""
        if score is None or base is None:
            return True
        allowed = _BACKGROUND_LOSS * self.noise_variance_bg
        return score.worst_gain(base, self.variance_error) >= -allowed

    def step(self) -> float:
        self.net.train()
        _freeze_norm_statistics(self.net)
        y, keep, owners = self.sampler.batch(_BATCH)
        xs, ts = [], []
        for j, i in enumerate(owners):
            x, t = self.objectives[i](y[j : j + 1], self.gen)
            xs.append(x)
            ts.append(t)
        x = _with_level(self.net, torch.cat(xs), self._level(owners, jitter=True))
        target = torch.cat(ts)
        target[:, 1:2] *= keep  # no loss on the held-out tiles and the gap around them
        target = target.to(self.device)
        pred = self.net(x.to(self.device))
        loss = self.loss(pred, target)
        params = zip(self.net.parameters(), self.anchor, strict=True)
        pull = sum(((p - a) ** 2).sum() for p, a in params)
        total = loss + self.l2sp * pull
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        self.average.update()
        return float(loss.detach())

    @contextlib.contextmanager
    def averaged(self) -> Iterator[None]:
        """The network holds the moving average of its weights inside the block."""
        params = list(self.net.parameters())
        trained = [p.detach().clone() for p in params]
        with torch.no_grad():
            for p, a in zip(params, self.average.module.parameters(), strict=True):
                p.copy_(a)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, t in zip(params, trained, strict=True):
                    p.copy_(t)

    def _refusal(self, base: Score) -> str | None:
        """Why adapted weights cannot be judged here (so the base model's are kept), if so."""
        for im in self.images:
            if im.disagreement:
                return im.disagreement
        if not base.plausible(self.noise_variance):
            return (
                f"the error estimate for the base model on the held-out tiles is impossible "
                f"({base.mse:.3g} for a noise variance of {self.noise_variance:.3g}): the "
                "measured noise does not describe these images, so no fine-tune can be judged; "
                "pass noise_level if you know it"
            )
        return None

    def fit(
        self,
        deadline: float,
        started: float,
        report: Callable[[int, int], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> dict[str, Any]:
        total = max(1, round(deadline - started))
        base, base_bg = self.validate()
        best, best_bg = base, base_bg
        best_gain = self.min_gain * self.noise_variance  # what a fine-tune must beat
        best_state = copy.deepcopy(self.net.state_dict())
        interval = max(2.0, (deadline - started) / _VALIDATIONS)
        next_val = time.monotonic() + interval
        steps, best_step, since_best, history = 0, 0, 0, [(0, round(base.psnr, 3))]
        implausible, background_worse = 0, 0
        refusal = self._refusal(base)
        stopped = "refused" if refusal else "budget"
        while refusal is None:
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
                with self.averaged():
                    score, score_bg = self.validate()
                    state = copy.deepcopy(self.net.state_dict())
                history.append((steps, round(score.psnr, 3)))
                next_val = time.monotonic() + interval
                gain = score.worst_gain(base, self.variance_error)
                # a background estimate <= 0 is impossible too (MR2 head, white noise, from
                # default: a state with one was kept and was 1.29 dB worse than the base)
                impossible_bg = score_bg is not None and not score_bg.plausible(0.0)
                if not score.plausible(self.noise_variance) or impossible_bg:
                    implausible += 1  # never taken, however good it looks
                    since_best += 1
                elif gain > best_gain and not self._background_ok(score_bg, base_bg):
                    background_worse += 1  # better in the object, worse around it: not taken
                    since_best += 1
                elif gain > best_gain:
                    best, best_bg, best_gain = score, score_bg, gain
                    best_step, since_best = steps, 0
                    best_state = state
                else:
                    since_best += 1
                if since_best >= _PATIENCE:
                    stopped = "no improvement"
                    break
        if report is not None:
            report(total, total)
        if steps == 0 and refusal is None:
            warnings.warn(
                f"adapt: the budget of {total} s ended before the first training step "
                "(measuring the noise and validating took it all); the base model is returned "
                "unchanged: give more minutes",
                RuntimeWarning,
                stacklevel=3,
            )
        self.net.load_state_dict(best_state)
        kept = "adapted" if best_step > 0 else "base"
        sure_db = 0.0
        if kept == "adapted":
            sure_db = 10.0 * math.log10(base.mse / max(base.mse - best_gain, 1e-12))
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
            # the base weights when no validation beat them surely enough (self.min_gain)
            "kept": kept,
            "reason": self._reason(kept, refusal, steps, sure_db, background_worse),
            "guard": {
                "variance_error": round(self.variance_error, 3),
                "noise_variance": self.noise_variance,
                "estimated_mse_base": base.mse,
                "estimated_mse_adapted": best.mse,
                "sure_gain_db": round(sure_db, 3),
                "implausible_validations": implausible,
                "background_worse_validations": background_worse,
                "noise_variance_background": self.noise_variance_bg,
                "estimated_mse_background_base": None if base_bg is None else base_bg.mse,
                "estimated_mse_background_adapted": None if best_bg is None else best_bg.mse,
                "held_out": [h.describe() for h in self.held],
            },
        }

    def _reason(
        self, kept: str, refusal: str | None, steps: int, sure_db: float, background_worse: int
    ) -> str:
        """The guard's decision in a sentence, for the metadata, the CLI and napari."""
        if refusal is not None:
            return f"base model kept without training: {refusal}"
        if steps == 0:
            return "base model kept: the budget ended before the first training step"
        if kept == "base":
            also = (
                f"; {background_worse} that did made the background tiles worse"
                if background_worse
                else ""
            )
            return (
                "base model kept: no adapted state beat it surely enough on the held-out tiles "
                f"(with the noise variance up to {self.variance_error:.0%} off){also}"
            )
        return (
            f"adapted weights kept: at least {sure_db:.2f} dB better than the base model on the "
            f"held-out tiles (estimated, with the noise variance up to "
            f"{self.variance_error:.0%} off in the worse direction)"
        )
