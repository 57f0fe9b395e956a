"""Ignite handlers: epoch metrics, safetensors checkpoints, resume, rank agreement."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from ignite.engine import Engine, Events
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from medidenoise.engine.report import plot_curves, write_metrics
from medidenoise.engine.state import RESUME_FILE, save_state
from medidenoise.models import save_checkpoint

__all__ = [
    "EpochRecorder",
    "SafetensorsCheckpointer",
    "StartFromEpoch",
    "WeightAverage",
    "sync_terminate",
]

log = logging.getLogger(__name__)


def _dist_tensor(value: float) -> torch.Tensor:
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    return torch.tensor([value], dtype=torch.float64, device=device)


def _mean_across_ranks(value: float) -> float:
    if dist.is_available() and dist.is_initialized():
        t = _dist_tensor(value)
        dist.all_reduce(t)
        return float(t.item()) / dist.get_world_size()
    return value


class EpochRecorder:
    """Collects per-epoch train loss, validation metrics, lr and time; writes them on rank 0.

    Attach *after* the ValidationHandler so the epoch's validation has run.
    """

    def __init__(
        self,
        evaluator: Engine,
        optimizer: torch.optim.Optimizer,
        out_dir: Path | None,
        *,
        history: list[dict[str, Any]] | None = None,
        title: str = "",
    ) -> None:
        self.evaluator = evaluator
        self.optimizer = optimizer
        self.out_dir = out_dir
        self.history: list[dict[str, Any]] = list(history or [])
        self.title = title
        self._losses: list[float] = []
        self._start = 0.0
        self._validated = False

    def attach(self, trainer: Engine) -> None:
        """Register on the trainer (and the evaluator for the validated flag)."""
        trainer.add_event_handler(Events.EPOCH_STARTED, self._epoch_started)
        trainer.add_event_handler(Events.ITERATION_COMPLETED, self._iteration)
        trainer.add_event_handler(Events.EPOCH_COMPLETED, self._epoch_completed)
        self.evaluator.add_event_handler(Events.COMPLETED, self._evaluated)

    def _epoch_started(self, engine: Engine) -> None:
        self._losses.clear()
        self._start = time.perf_counter()
        self._validated = False

    def _iteration(self, engine: Engine) -> None:
        output: Any = engine.state.output
        self._losses.append(float(output["loss"].detach()))

    def _evaluated(self, engine: Engine) -> None:
        self._validated = True

    def _epoch_completed(self, engine: Engine) -> None:
        loss = sum(self._losses) / max(1, len(self._losses))
        metrics = self.evaluator.state.metrics if self._validated else {}
        row = {
            "epoch": int(engine.state.epoch),
            "train_loss": _mean_across_ranks(loss),
            "val_loss": _num(metrics.get("val_loss")),
            "val_psnr": _num(metrics.get("val_psnr")),
            "val_ssim": _num(metrics.get("val_ssim")),
            "lr": float(self.optimizer.param_groups[0]["lr"]),
            "time_s": round(time.perf_counter() - self._start, 3),
        }
        self.history.append(row)
        if self.out_dir is not None:
            write_metrics(self.history, self.out_dir)
            plot_curves(self.history, self.out_dir / "loss_curve.png", title=self.title)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


_Tensors = tuple[torch.Tensor, ...] | list[torch.Tensor]


def _average_or_follow(
    decay: float, warmup: int = 0
) -> Callable[[_Tensors, _Tensors, torch.Tensor | int], None]:
    """The per-group update of :class:`WeightAverage`: torch's exponential moving average for
    floating-point tensors (decay ``min(decay, (1 + n) / (warmup + n))`` at the n-th update
    with ``warmup``); integer buffers (batch-norm's batch count) copy the model's."""
    moving_average = get_ema_multi_avg_fn(decay)

    def update(averages: _Tensors, current: _Tensors, n: torch.Tensor | int) -> None:
        if averages[0].is_floating_point():
            k = int(n)
            if warmup > 0 and (1 + k) / (warmup + k) < decay:
                get_ema_multi_avg_fn((1 + k) / (warmup + k))(averages, current, n)
            else:
                moving_average(averages, current, n)
        else:
            for average, value in zip(averages, current, strict=True):
                average.copy_(value)

    return update


class WeightAverage:
    """An exponential moving average of a model's weights, updated after every step.

    ``module`` is a copy of the model whose floating-point parameters and buffers
    (batch-norm statistics included) follow the trained ones as
    ``avg += (1 - decay) * (raw - avg)``, an average over about the last
    ``1 / (1 - decay)`` steps; integer buffers are copied. The copy starts from the
    model's weights (a fine-tune's initial weights: no warm-up, they are good
    weights; a network trained from scratch leaves its random start behind within
    a few times ``1 / (1 - decay)`` steps) or, on resume, from the saved average.
    The averaging is torch's ``AveragedModel`` with its EMA update (buffers included).
    With ``warmup`` the n-th update uses ``min(decay, (1 + n) / (warmup + n))``, so the
    first steps move the average away from the starting weights quickly.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        decay: float,
        *,
        saved: dict[str, torch.Tensor] | None = None,
        updates: int = 0,
        warmup: int = 0,
    ) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.source = model
        self.decay = float(decay)
        self.updates = int(updates)
        self._averaged = AveragedModel(
            model, multi_avg_fn=_average_or_follow(self.decay, warmup), use_buffers=True
        )
        # the copy already holds the starting weights, so the first update averages (an
        # AveragedModel that has averaged nothing yet would copy the model instead)
        self._averaged.n_averaged.fill_(1)
        self.module = self._averaged.module
        for p in self.module.parameters():
            p.requires_grad_(False)
        if saved is not None:
            self.module.load_state_dict(saved)

    def attach(self, trainer: Engine) -> None:
        """Update after every training iteration."""
        trainer.add_event_handler(Events.ITERATION_COMPLETED, self.update)

    @torch.no_grad()
    def update(self, _engine: Engine | None = None) -> None:
        """Move the average one step toward the model's current weights."""
        self.updates += 1
        self._averaged.update_parameters(self.source)


class SafetensorsCheckpointer:
    """Saves ``best.safetensors`` (highest validation PSNR), ``last.safetensors`` and
    the resume state after every epoch, in the project's pickle-free format.

    It stands in for MONAI's ``CheckpointSaver`` (and ``CheckpointLoader`` on
    resume) on purpose: those go through ignite's ``Checkpoint``/``DiskSaver``,
    which write with ``torch.save`` -- a pickle, which runs code when loaded with
    ``torch.load`` -- and carry no metadata to rebuild the model. Checkpoints here
    are safetensors with JSON metadata (see :mod:`medidenoise.models.checkpoint`
    and :mod:`medidenoise.engine.state`), so a checkpoint from a colleague is
    safe to open and rebuilds its model alone.

    ``metadata()`` is called at save time and returns the checkpoint metadata.
    With ``average`` (the weights' moving average, ``train.ema``) the best and last
    checkpoints hold the averaged weights and the resume state holds both.
    """

    def __init__(
        self,
        out_dir: Path,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        evaluator: Engine,
        *,
        metadata: Callable[[], dict[str, Any]],
        resume_info: Callable[[Engine], dict[str, Any]],
        best_psnr: float = -math.inf,
        average: WeightAverage | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.model = model
        self.average = average
        #: the weights the best and last checkpoints hold
        self.saved_model = average.module if average is not None else model
        self.optimizer = optimizer
        self.evaluator = evaluator
        self.metadata = metadata
        self.resume_info = resume_info
        self.best_psnr = best_psnr
        self.best_epoch: int | None = None
        self.trainer: Engine | None = None

    @property
    def best_path(self) -> Path:
        """Path of the best checkpoint."""
        return self.out_dir / "best.safetensors"

    @property
    def last_path(self) -> Path:
        """Path of the last checkpoint."""
        return self.out_dir / "last.safetensors"

    def attach(self, trainer: Engine) -> None:
        """Best on each validation, last + resume state at each epoch end."""
        self.trainer = trainer
        self.evaluator.add_event_handler(Events.COMPLETED, self._validated)
        trainer.add_event_handler(Events.EPOCH_COMPLETED, self._epoch_completed)

    def _meta(self, epoch: int) -> dict[str, Any]:
        meta = self.metadata()
        meta["epochs"] = epoch
        meta["metrics"] = {k: _num(v) for k, v in self.evaluator.state.metrics.items()}
        return meta

    def _validated(self, evaluator: Engine) -> None:
        psnr = _num(evaluator.state.metrics.get("val_psnr"))
        if psnr is None or psnr <= self.best_psnr or self.trainer is None:
            return
        self.best_psnr = psnr
        self.best_epoch = int(self.trainer.state.epoch)
        save_checkpoint(self.best_path, self.saved_model, metadata=self._meta(self.best_epoch))
        log.info("epoch %d: new best validation PSNR %.2f dB", self.best_epoch, psnr)

    def _epoch_completed(self, trainer: Engine) -> None:
        epoch = int(trainer.state.epoch)
        save_checkpoint(self.last_path, self.saved_model, metadata=self._meta(epoch))
        info = self.resume_info(trainer)
        info["best_psnr"] = self.best_psnr if math.isfinite(self.best_psnr) else None
        average = None
        if self.average is not None:
            info["average_updates"] = self.average.updates
            average = self.average.module
        save_state(
            self.out_dir / RESUME_FILE,
            model=self.model,
            optimizer=self.optimizer,
            info=info,
            average=average,
        )


class StartFromEpoch:
    """Makes a resumed trainer continue after ``epoch`` (as MONAI's CheckpointLoader does)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def attach(self, trainer: Engine) -> None:
        """Register on STARTED, before the first epoch begins."""
        trainer.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Engine) -> None:
        if self.epoch >= int(engine.state.max_epochs or 0):
            log.warning(
                "resume: the run already has %d of %d epochs; raise train.epochs (or "
                "train.stop_epoch) to go on",
                self.epoch,
                engine.state.max_epochs,
            )
        engine.state.epoch = self.epoch
        engine.state.iteration = self.epoch * int(engine.state.epoch_length or 0)


def sync_terminate(engine: Engine) -> None:
    """Agree across DDP ranks on stopping: if any rank decided to stop, all stop."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    flag = _dist_tensor(1.0 if engine.should_terminate else 0.0)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    if flag.item() > 0 and not engine.should_terminate:
        engine.terminate()
