"""``train``: a config in, checkpoints, metrics and figures out (MONAI engines + handlers)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from monai.utils import set_determinism
from torch.utils.data import DataLoader, DistributedSampler

from medidenoise._version import __version__
from medidenoise.config import ExperimentConfig, apply_overrides, load_config, validate_config
from medidenoise.engine import distributed
from medidenoise.engine.data import training_and_validation
from medidenoise.engine.datasets import PatchDataset, ValidationDataset
from medidenoise.engine.engines import build_engines
from medidenoise.engine.result import TrainingResult
from medidenoise.engine.ss_datasets import (
    SelfSupervisedPatchDataset,
    SelfSupervisedValidationDataset,
)
from medidenoise.engine.state import load_state
from medidenoise.errors import ConfigError
from medidenoise.models import build_model, model_config_of

__all__ = ["resolve_config", "train"]

log = logging.getLogger(__name__)

ConfigLike = str | os.PathLike | ExperimentConfig | dict


def resolve_config(
    config: ConfigLike, overrides: list[str] | tuple[str, ...] = ()
) -> ExperimentConfig:
    """An :class:`ExperimentConfig` from a YAML path, a config object or a plain dict."""
    if isinstance(config, (str, os.PathLike)):
        return load_config(config, tuple(overrides))
    if isinstance(config, ExperimentConfig):
        base = config.base_dir
        data = config.model_dump(mode="json", exclude={"base_dir"})
    elif isinstance(config, dict):
        base, data = None, config
    else:
        raise ConfigError(f"config must be a YAML path, ExperimentConfig or dict, not {config!r}")
    cfg = validate_config(apply_overrides(data, tuple(overrides)))
    cfg.base_dir = base
    return cfg


def _datasets(
    cfg: ExperimentConfig,
    model: Any,
    train_sets: list[Any],
    val_sets: list[Any],
    common: dict[str, Any],
) -> tuple[Any, Any]:
    """Training and validation datasets: synthetic noise, or self-supervised pairs."""
    data, objective = cfg.data, cfg.train.objective
    if objective == "supervised":
        train_ds: Any = PatchDataset(
            train_sets,
            cfg.noise,
            length=cfg.train.patches_per_epoch,
            patch_size=data.patch_size,
            augment=data.augment,
            seed=cfg.seed,
            procedural=data.procedural,
            procedural_kinds=tuple(data.procedural_kinds),
            **common,
        )
        val_ds: Any = ValidationDataset(
            val_sets,
            cfg.noise,
            crop=data.val_crop,
            size_multiple=model.size_multiple,
            max_items=data.val_max_slices,
            seed=cfg.seed + 10_000,
            **common,
        )
        return train_ds, val_ds
    train_ds = SelfSupervisedPatchDataset(
        train_sets,
        objective,
        length=cfg.train.patches_per_epoch,
        patch_size=data.patch_size,
        seed=cfg.seed,
        **common,
    )
    val_ds = SelfSupervisedValidationDataset(
        val_sets,
        objective,
        crop=data.val_crop,
        size_multiple=model.size_multiple,
        max_items=data.val_max_slices,
        seed=cfg.seed + 10_000,
        **common,
    )
    return train_ds, val_ds


def _loaders(cfg: ExperimentConfig, model: Any, dist_info: distributed.DistInfo) -> tuple[Any, ...]:
    data = cfg.data
    train_sets, val_sets, split = training_and_validation(
        data, seed=cfg.seed, size_multiple=model.size_multiple, base_dir=cfg.base_dir
    )
    common = {"context_slices": model.context_slices, "noise_level_input": model.noise_level_input}
    train_ds, val_ds = _datasets(cfg, model, train_sets, val_sets, common)
    cuda = dist_info.device.type == "cuda"
    sampler: DistributedSampler | None = (
        DistributedSampler(train_ds, seed=cfg.seed) if dist_info.distributed else None
    )
    train_loader = DataLoader(
        train_ds,
        batch_size=cfg.train.batch_size,
        shuffle=False,
        sampler=sampler,
        num_workers=data.num_workers,
        pin_memory=cuda,
    )
    val_loader = DataLoader(
        val_ds,
        batch_size=cfg.train.batch_size if data.val_crop else 1,
        num_workers=0,
        pin_memory=cuda,
    )
    described = {
        "train": list(data.train),
        "val": list(data.val),
        "split": split,
        "train_volumes": [s.name for s in train_sets],
        "val_volumes": [s.name for s in val_sets],
        "train_slices": int(sum(len(s.indices) for s in train_sets)),
        "val_items": len(val_ds),
        "patch_size": data.patch_size,
        "procedural": data.procedural,
        "procedural_kinds": list(data.procedural_kinds) if data.procedural else [],
    }
    norm = {
        "method": data.normalization,
        "network_range": [0.0, 1.0],
        "volumes": {s.name: s.normalization for s in [*train_sets, *val_sets][:8]},
    }
    return train_loader, val_loader, sampler, described, norm


def _output_dir(cfg: ExperimentConfig, output_dir: Any, resume_path: str | None) -> Path:
    if output_dir is not None:
        return Path(output_dir)
    if resume_path is not None:
        return Path(resume_path).parent
    return Path("runs") / cfg.name


def _init_from(model: torch.nn.Module, source: str, base_dir: str | None) -> None:
    """Load a checkpoint's weights into ``model`` (fine-tuning), checking the architecture."""
    from medidenoise.models._blocks import equalise_transposed
    from medidenoise.models.cae import resize_from_transposed as cae_resize_from_transposed
    from medidenoise.models.checkpoint import AUTO_MODEL, SHIPPED_MODELS, load_model

    where: str | Path = source
    if source not in SHIPPED_MODELS and source != AUTO_MODEL:  # load_model explains "auto"
        path = Path(source).expanduser()
        if not path.is_absolute() and base_dir and not path.is_file():
            path = Path(base_dir) / path
        where = path
    try:
        start = load_model(where)
    except Exception as exc:  # CheckpointError, with the file and the reason
        raise ConfigError(f"train.init_weights={source!r}: {exc}") from None
    old, new = model_config_of(start), model_config_of(model)
    state = start.state_dict()
    if old.get("upsample") == "transpose" and new.get("upsample") == "resize":
        # a network of before 0.9: its transposed upsampling becomes the resize form (a
        # U-Net's four 2x2 sub-pixel kernels averaged into a 1x1, a CAE's 3x3 kernels
        # flipped into the 3x3 after the interpolation), the rest is loaded as it is
        cae = old["arch"] == "cae"
        old = {**old, "upsample": "resize"}
        state = cae_resize_from_transposed(state) if cae else equalise_transposed(state)
        log.info("%s: transposed upsampling turned into the resize form", where)
    if old != new:
        raise ConfigError(
            f"train.init_weights={source!r}: its model {model_config_of(start)} differs from "
            f"the config's model {model_config_of(model)}; fine-tune with the same model section"
        )
    model.load_state_dict(state)
    log.info("starting from the weights of %s", where)


def train(
    config: ConfigLike,
    *,
    output_dir: str | os.PathLike | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    device: str | torch.device | None = None,
    resume: str | os.PathLike | None = None,
    progress: bool = True,
) -> TrainingResult:
    """Train a denoising network from an experiment config.

    Parameters
    ----------
    config : path, ExperimentConfig or dict
        A ``configs/*.yaml`` file or an already built config.
    output_dir : path, optional
        Run folder (default ``runs/<name>``; the resumed run's folder with ``resume``).
    overrides : sequence of str
        ``"train.epochs=5"``-style overrides.
    device : str or torch.device, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``; default CUDA when available.
    resume : path, optional
        A run folder or a checkpoint in it: continue that run (epoch count,
        optimizer and scheduler state, metrics history).
    progress : bool
        Show a tqdm progress bar (rank 0 only).

    Returns
    -------
    TrainingResult
        Paths of the best/last checkpoints, the per-epoch metrics and a summary.

    Notes
    -----
    Under ``torchrun --nproc_per_node=N -m medidenoise train ...`` each
    process trains on its share of patches (DistributedSampler, gloo on CPU,
    NCCL on CUDA); rank 0 alone logs and writes files.
    """
    cfg = resolve_config(config, overrides)
    state = load_state(resume) if resume is not None else None
    dist_info = distributed.setup(device)
    try:
        return _train(cfg, dist_info, output_dir, state, progress)
    finally:
        distributed.cleanup()


def _train(
    cfg: ExperimentConfig,
    dist_info: distributed.DistInfo,
    output_dir: Any,
    state: dict[str, Any] | None,
    progress: bool,
) -> TrainingResult:
    started = time.perf_counter()
    set_determinism(seed=cfg.seed + dist_info.rank)
    model = build_model(cfg.model)
    if state is not None:
        saved = state["info"].get("model")
        if saved != model_config_of(model):
            raise ConfigError(
                f"--resume {state['path']}: the run's model {saved} differs from the config's "
                f"model {model_config_of(model)}; resume with the run's own config"
            )
        model.load_state_dict(state["model"])
    elif cfg.train.init_weights is not None:
        _init_from(model, cfg.train.init_weights, cfg.base_dir)
    model = model.to(dist_info.device)
    if cfg.train.channels_last:  # the layout the convolution kernels are fastest in
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    out = _output_dir(cfg, output_dir, state["path"] if state else None)
    if dist_info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        resolved = cfg.model_dump(mode="json", exclude={"base_dir"})
        (out / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False), "utf-8")
    train_loader, val_loader, sampler, data_desc, norm = _loaders(cfg, model, dist_info)

    def metadata() -> dict[str, Any]:
        return {
            "config_name": cfg.name,
            "description": cfg.description,
            "normalization": norm,
            "noise": cfg.noise.model_dump(mode="json")
            if cfg.train.objective == "supervised"
            else {"self_supervised": cfg.train.objective, "data": "noisy scans as they are"},
            "data": data_desc,
            "train": cfg.train.model_dump(mode="json"),
            "seed": cfg.seed,
            "package_version": __version__,
            "world_size": dist_info.world_size,
        }

    trainer, _evaluator, saver, recorder = build_engines(
        cfg,
        model,
        train_loader,
        val_loader,
        sampler=sampler,
        dist_info=dist_info,
        out_dir=out if dist_info.is_main else None,
        metadata=metadata,
        state=state,
        progress=progress,
    )
    log.info(
        "training %s '%s' on %s: %s; %d iterations/epoch, up to %d epochs%s",
        cfg.model.arch,
        cfg.name,
        dist_info.device,
        data_desc["split"],
        len(train_loader),
        cfg.train.last_epoch,
        f" of a schedule over {cfg.train.epochs}" if cfg.train.stop_epoch else "",
    )
    trainer.run()
    distributed.barrier()
    return TrainingResult(
        output_dir=out,
        best_checkpoint=saver.best_path if saver and saver.best_path.is_file() else None,
        last_checkpoint=saver.last_path if saver and saver.last_path.is_file() else None,
        metrics=recorder.history,
        config=cfg,
        stopped_early=bool(trainer.state.epoch < cfg.train.last_epoch),
        seconds=time.perf_counter() - started,
    )
