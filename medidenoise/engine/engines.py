"""Wire MONAI's SupervisedTrainer / SupervisedEvaluator with the project's handlers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events
from ignite.metrics import Loss
from monai.engines import SupervisedEvaluator, SupervisedTrainer
from monai.handlers import (
    EarlyStopHandler,
    IgniteMetricHandler,
    LrScheduleHandler,
    PeakSignalToNoiseRatio,
    StatsHandler,
    TensorBoardStatsHandler,
    ValidationHandler,
    from_engine,
)
from monai.inferers import Inferer
from monai.metrics import SSIMMetric
from torch.nn.parallel import DistributedDataParallel

from medidenoise._optional import available
from medidenoise.config import ExperimentConfig
from medidenoise.engine.distributed import DistInfo
from medidenoise.engine.handlers import (
    EpochRecorder,
    SafetensorsCheckpointer,
    StartFromEpoch,
    WeightAverage,
    sync_terminate,
)
from medidenoise.engine.losses import build_loss
from medidenoise.engine.selfsupervised import SelfSupervisedLoss
from medidenoise.engine.ss_datasets import EstimatedPSNR
from medidenoise.models import model_config_of

__all__ = ["build_engines"]

log = logging.getLogger(__name__)
_PAIR = from_engine(["pred", "label"])


def _scheduler(cfg: ExperimentConfig, optimizer: torch.optim.Optimizer) -> Any:
    t = cfg.train
    if t.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=t.epochs, eta_min=t.lr_min
        )
    if t.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=t.lr_step, gamma=t.lr_gamma)
    if t.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=t.lr_gamma, patience=t.lr_step, min_lr=t.lr_min
        )
    return None


def _loss_value(output: dict[str, Any]) -> float:
    return float(output["loss"].detach())


class _SetEpoch:
    """Tell the sampler / dataset which epoch starts, so each epoch draws its own
    patches from the seed and the epoch number alone (a resumed run continues the
    patch sequence instead of redrawing epoch 1's). Runs before the DataLoader
    iterator (and its workers) of the epoch is created."""

    def __init__(self, *targets: Any) -> None:
        self.targets = [t for t in targets if hasattr(t, "set_epoch")]

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        for target in self.targets:
            target.set_epoch(engine.state.epoch)


class _Call:
    """Attach a plain function to one trainer event, in the handler list order."""

    def __init__(self, event: Events, fn: Callable[[Engine], None]) -> None:
        self.event, self.fn = event, fn

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(self.event, self.fn)


def _tensorboard(out_dir: Path, trainer_epoch: Callable[[Any], int]) -> tuple[Any, Any] | None:
    if not available("tensorboard"):
        log.info("tensorboard is not installed: no TensorBoard logs (pip install tensorboard)")
        return None
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(out_dir / "tensorboard"))
    train_tb = TensorBoardStatsHandler(
        summary_writer=writer, output_transform=_loss_value, tag_name="train_loss"
    )
    val_tb = TensorBoardStatsHandler(
        summary_writer=writer,
        iteration_log=False,
        output_transform=lambda _: None,
        global_epoch_transform=trainer_epoch,
    )
    return train_tb, val_tb


class CpuBf16Inferer(Inferer):
    """Runs the training forward pass under CPU bfloat16 autocast, returning float32.

    MONAI's ``amp`` autocasts on CUDA only; on CPUs with bf16 instructions this
    halves the time of a training step. The losses run in float32 (engine.losses).
    """

    def __call__(self, inputs: torch.Tensor, network: Any, *args: Any, **kwargs: Any) -> Any:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = network(inputs, *args, **kwargs)
        return out.float()


def _metrics(loss_fn: Any, self_supervised: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validation metrics: PSNR/SSIM against clean labels, or for self-supervised objectives
    (noisy labels only) the PSNR estimated from the pairs, under the same key ``val_psnr``
    so early stopping, best checkpoints and reports work unchanged."""
    loss = {"val_loss": Loss(loss_fn, output_transform=_PAIR)}
    if self_supervised:
        return {"val_psnr": EstimatedPSNR(output_transform=_PAIR)}, loss
    psnr = {"val_psnr": PeakSignalToNoiseRatio(max_val=1.0, output_transform=_PAIR)}
    ssim = IgniteMetricHandler(
        metric_fn=SSIMMetric(spatial_dims=2, data_range=1.0), output_transform=_PAIR
    )
    return psnr, {"val_ssim": ssim, **loss}


def build_engines(
    cfg: ExperimentConfig,
    model: torch.nn.Module,
    train_loader: Any,
    val_loader: Any,
    *,
    sampler: Any,
    dist_info: DistInfo,
    out_dir: Path | None,
    metadata: Callable[[], dict[str, Any]],
    state: dict[str, Any] | None,
    progress: bool,
) -> tuple[SupervisedTrainer, SupervisedEvaluator, SafetensorsCheckpointer | None, EpochRecorder]:
    """Trainer and evaluator with validation, checkpoints, early stopping, LR schedule, logs.

    ``out_dir`` is None on ranks other than 0: they train and validate but
    write nothing.
    """
    device = dist_info.device
    net = model
    if dist_info.distributed:
        cuda = device.type == "cuda"
        net = DistributedDataParallel(model, device_ids=[device.index] if cuda else None)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay
    )
    scheduler = _scheduler(cfg, optimizer)
    self_supervised = cfg.train.objective != "supervised"
    loss_fn = SelfSupervisedLoss() if self_supervised else build_loss(cfg.train.loss)
    info = state["info"] if state else {}
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and info.get("scheduler"):
            scheduler.load_state_dict(info["scheduler"])
    average = None
    if cfg.train.ema:  # validation and checkpoints see the averaged weights
        average = WeightAverage(
            model,
            cfg.train.ema,
            saved=state.get("average") if state is not None else None,
            updates=int(info.get("average_updates") or 0),
        )
    validated = average.module if average is not None else model
    trainer, evaluator = _trainer_and_evaluator(
        cfg, validated, net, device, train_loader, val_loader, optimizer, loss_fn, self_supervised
    )

    handlers: list[Any] = []
    if average is not None:
        handlers.append(average)
    if state is not None:
        handlers.append(StartFromEpoch(int(info.get("epoch", 0))))
    handlers.append(_SetEpoch(sampler, train_loader.dataset))
    handlers.append(ValidationHandler(interval=cfg.train.val_interval, validator=evaluator))
    recorder = EpochRecorder(
        evaluator,
        optimizer,
        out_dir,
        history=info.get("history"),
        title=f"{cfg.name} ({cfg.model.arch})",
    )
    handlers.append(recorder)
    early = _early_stopping(cfg, trainer, evaluator, info)
    handlers.extend(_lr_schedule(cfg, scheduler, evaluator))
    saver = None
    if out_dir is not None:
        saver = SafetensorsCheckpointer(
            out_dir,
            model,
            optimizer,
            evaluator,
            metadata=metadata,
            resume_info=_resume_info(cfg, model, scheduler, early, recorder),
            best_psnr=float(info.get("best_psnr") or float("-inf")),
            average=average,
        )
        handlers.append(saver)
        handlers.extend(_log_handlers(cfg, out_dir, trainer, evaluator, progress))
    handlers.append(_Call(Events.EPOCH_COMPLETED, sync_terminate))
    for h in handlers:
        h.attach(trainer)
    return trainer, evaluator, saver, recorder


def _trainer_and_evaluator(
    cfg: ExperimentConfig,
    model: torch.nn.Module,
    net: torch.nn.Module,
    device: torch.device,
    train_loader: Any,
    val_loader: Any,
    optimizer: torch.optim.Optimizer,
    loss_fn: torch.nn.Module,
    self_supervised: bool,
) -> tuple[SupervisedTrainer, SupervisedEvaluator]:
    """MONAI's engines: ``net`` (DDP-wrapped when distributed) trains, ``model`` validates."""
    cuda = device.type == "cuda"
    amp = cfg.train.amp and cuda
    key_metric, more_metrics = _metrics(loss_fn, self_supervised)
    evaluator = SupervisedEvaluator(
        device=device,
        val_data_loader=val_loader,
        network=model,
        key_val_metric=key_metric,
        additional_metrics=more_metrics,
        non_blocking=cuda,
        amp=amp,
        decollate=False,
    )
    trainer = SupervisedTrainer(
        device=device,
        max_epochs=cfg.train.last_epoch,
        train_data_loader=train_loader,
        network=net,
        optimizer=optimizer,
        loss_function=loss_fn,
        non_blocking=cuda,
        amp=amp,
        decollate=False,
        inferer=CpuBf16Inferer() if cfg.train.cpu_bf16 and not cuda else None,
    )
    return trainer, evaluator


def _early_stopping(
    cfg: ExperimentConfig,
    trainer: SupervisedTrainer,
    evaluator: SupervisedEvaluator,
    info: dict[str, Any],
) -> EarlyStopHandler | None:
    """Patience on validation PSNR (attached to the evaluator), its counter resumed."""
    if not cfg.train.early_stopping_patience:
        return None
    early = EarlyStopHandler(
        patience=cfg.train.early_stopping_patience,
        score_function=lambda e: e.state.metrics["val_psnr"],
        min_delta=cfg.train.early_stopping_min_delta,
        epoch_level=True,
    )
    early.attach(evaluator)
    early.set_trainer(trainer)
    saved = info.get("early_stop") or {}
    if saved and early._handler is not None:
        early._handler.counter = int(saved.get("counter", 0))
        early._handler.best_score = saved.get("best_score")
    return early


def _lr_schedule(
    cfg: ExperimentConfig, scheduler: Any, evaluator: SupervisedEvaluator
) -> list[Any]:
    """The LR schedule: stepped by validation PSNR (plateau, attached now) or per epoch."""
    if scheduler is None:
        return []
    if cfg.train.schedule == "plateau":
        LrScheduleHandler(
            scheduler, print_lr=False, step_transform=lambda e: e.state.metrics["val_psnr"]
        ).attach(evaluator)
        return []
    return [LrScheduleHandler(scheduler, print_lr=False)]


def _resume_info(
    cfg: ExperimentConfig,
    model: torch.nn.Module,
    scheduler: Any,
    early: EarlyStopHandler | None,
    recorder: EpochRecorder,
) -> Callable[[Engine], dict[str, Any]]:
    """What ``resume.safetensors`` records beside the tensors, read at each save."""

    def resume_info(engine: Engine) -> dict[str, Any]:
        es = early._handler if early is not None else None
        return {
            "epoch": int(engine.state.epoch),
            "iteration": int(engine.state.iteration),
            "model": model_config_of(model),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "early_stop": {"counter": es.counter, "best_score": es.best_score} if es else None,
            "history": recorder.history,
            "config_name": cfg.name,
        }

    return resume_info


def _log_handlers(
    cfg: ExperimentConfig,
    out_dir: Path,
    trainer: SupervisedTrainer,
    evaluator: SupervisedEvaluator,
    progress: bool,
) -> list[Any]:
    """Rank 0's logs: epoch stats, TensorBoard, progress bar (trainer handlers returned)."""

    def trainer_epoch(_: Any) -> int:
        return int(trainer.state.epoch)

    handlers: list[Any] = [
        StatsHandler(name="medidenoise.train", iteration_log=False, output_transform=_loss_value)
    ]
    StatsHandler(
        name="medidenoise.validation",
        iteration_log=False,
        output_transform=lambda _: None,
        global_epoch_transform=trainer_epoch,
    ).attach(evaluator)
    if cfg.train.tensorboard:
        tb = _tensorboard(out_dir, trainer_epoch)
        if tb is not None:
            handlers.append(tb[0])
            tb[1].attach(evaluator)
    if progress:
        from ignite.handlers import ProgressBar

        ProgressBar(persist=False, desc=cfg.name).attach(
            trainer, output_transform=lambda o: {"loss": _loss_value(o)}
        )
    return handlers
