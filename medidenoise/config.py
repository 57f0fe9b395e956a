"""Experiment configuration: pydantic schemas for ``configs/*.yaml``.

This is the only module that reads YAML. A config is plain data (numbers,
strings, lists): nothing in it is ever imported, evaluated or called, so a
config from a colleague cannot run code.

Examples
--------
>>> from medidenoise.config import ExperimentConfig
>>> cfg = ExperimentConfig.model_validate({"data": {"train": ["mni152"]}})
>>> cfg.model.arch, cfg.train.loss
('unet', 'mse')
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from medidenoise._network_window import NOISE_FLOOR
from medidenoise._noise_kinds import NOISE_LEVELS, NoiseKind
from medidenoise.errors import ConfigError

__all__ = [
    "DataConfig",
    "ExperimentConfig",
    "ModelConfig",
    "NoiseComponent",
    "NoiseConfig",
    "TrainConfig",
    "apply_overrides",
    "load_config",
    "validate_config",
]

LossName = Literal["mse", "l1", "bce", "ssim", "edge_l1"]
ProceduralKind = Literal["dead_leaves", "phantom", "vibrant_leaves"]
_LEGACY_PROCEDURAL: tuple[ProceduralKind, ...] = ("dead_leaves", "phantom")
_DEFAULT_FEATURES = {
    "cae": [32, 64, 128],
    "unet": [32, 64, 128, 256],
    "unshuffle_unet": [48, 96, 192],
    "fast_unet": [64, 96, 128, 192],
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=True)


class ModelConfig(_Strict):
    """The network: architecture and its options (the ``model:`` section)."""

    #: ``unshuffle_unet``: a residual U-Net at half resolution on the 2x2
    #: pixel-unshuffled input (always residual), wider at the same speed; ``fast_unet``:
    #: the same idea sized for a 2-thread CPU, with a full-resolution bilinear head
    arch: Literal["cae", "unet", "unshuffle_unet", "fast_unet"] = "unet"
    #: channels per resolution level; ``None`` picks the architecture's default
    features: list[Annotated[int, Field(ge=1, le=1024)]] | None = Field(
        default=None, min_length=1, max_length=7
    )
    #: U-Net only: predict the noise, output = centre slice - network(x)
    residual: bool = False
    #: add a constant channel holding the noise std (network units), last
    noise_level_input: bool = False
    norm: Literal["batch", "instance", "none"] = "batch"
    #: 2.5D input: this many neighbouring slices (odd) as channels
    context_slices: int = Field(default=1, ge=1, le=15)
    #: the decoder's upsampling; "resize" (bilinear, then a 1x1 conv in the U-Nets, a 3x3
    #: conv in the CAE) adds no pattern, "transpose" (stride-2 transposed conv: 2x2 in the
    #: U-Nets, 3x3 in the CAE) is how networks before 0.9 were built
    upsample: Literal["resize", "transpose"] = "resize"
    #: fast_unet only: full-resolution feature maps of its head
    head_channels: int = Field(default=16, ge=1, le=256)

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if self.context_slices % 2 == 0:
            raise ValueError(f"context_slices must be odd (1, 3, 5...), got {self.context_slices}")
        if self.features is None:
            self.features = list(_DEFAULT_FEATURES[self.arch])
        if self.arch == "cae" and self.residual:
            raise ValueError("residual=True is a U-Net option; the CAE ends in a sigmoid")
        if self.arch != "cae" and len(self.features) < 2:
            raise ValueError(f"a U-Net needs at least 2 levels in features, got {self.features}")
        if self.arch == "fast_unet" and self.upsample != "resize":
            raise ValueError("fast_unet upsamples by resizing only; drop upsample")
        if self.arch in ("unshuffle_unet", "fast_unet") and not self.residual:
            self.residual = True  # it always predicts the noise
        return self


class NoiseComponent(_Strict):
    """One kind of noise; ``level`` is a value or a ``[low, high]`` range drawn uniformly.

    Levels are in network units ([0, 1] intensities): Gaussian/Rician/speckle
    sigma, salt-and-pepper amount, Poisson photon count at the image maximum.
    """

    kind: NoiseKind
    level: float | tuple[float, float] = Field(...)
    weight: float = Field(default=1.0, gt=0, le=1e6)
    #: how the level is drawn from its range: ``uniform``, or ``log`` (log-uniform: as many
    #: patches in each decade, so the low levels of real scans are trained as often as the
    #: benchmark's; needs low > 0)
    draw: Literal["uniform", "log"] = "uniform"

    @model_validator(mode="after")
    def _check(self) -> NoiseComponent:
        low, high = self.level_range
        if low < 0 or high < low:
            raise ValueError(f"level must be >= 0 and given as low <= high, got {self.level}")
        if self.draw == "log" and low <= 0:
            raise ValueError(f"draw: log needs a level range with low > 0, got {self.level}")
        rule = NOISE_LEVELS[self.kind]
        if (rule.high is not None and high > rule.high) or (rule.low_open and low <= 0):
            raise ValueError(f"{self.kind} level is {rule.meaning}, got {self.level}")
        return self

    @property
    def level_range(self) -> tuple[float, float]:
        """``(low, high)``; equal for a fixed level."""
        if isinstance(self.level, tuple):
            return float(self.level[0]), float(self.level[1])
        return float(self.level), float(self.level)


class NoiseConfig(_Strict):
    """The synthetic noise model: one component drawn per patch, by weight."""

    mixture: list[NoiseComponent] = Field(
        default_factory=lambda: [NoiseComponent(kind="gaussian", level=0.1)],
        min_length=1,
        max_length=16,
    )
    #: with probability ``level_region_prob``, a patch's noise is drawn over a region
    #: ``level_region`` times its side (cut from the same slice, at most the slice) and the
    #: level it is given is the noise std over that whole region, as a level measured on a
    #: whole image is at inference: where the patch is brighter or darker than the region,
    #: signal-dependent noise is stronger or weaker than the level says (issue 29)
    level_region: float = Field(default=1.0, ge=1.0, le=16.0)
    level_region_prob: float = Field(default=0.0, ge=0.0, le=1.0)
    #: the share of patches shown as the Denoiser shows a scan whose noise is small for its
    #: range (a CT's ~0.1 % of -1000..3000 HU): it narrows its window about the tissue until
    #: the noise is ``NOISE_FLOOR`` (0.004) of it and passes whatever lies beyond [-0.25,
    #: 1.25] of that window around the network, so the network sees noise at the floor and
    #: flat clipped plateaus (skull, air) meeting tissue at steep edges. Such a patch is
    #: stretched about its median by a factor drawn log-uniformly from ``stretch_factor``,
    #: given the mixture's noise (Poisson, Rician as Gaussian; salt-and-pepper not) at a std drawn
    #: from ``stretch_level`` and clipped, noisy and clean, to [-0.25, 1.25] (issue 26)
    stretch_prob: float = Field(default=0.0, ge=0.0, le=1.0)
    stretch_factor: tuple[float, float] = (1.0, 16.0)
    stretch_level: tuple[float, float] = (NOISE_FLOOR, 2 * NOISE_FLOOR)
    #: move each (unstretched) patch, noisy and clean alike, as the Denoiser's normalisation
    #: moves an image: it maps the low percentile of the *smoothed noisy* image to 0, where
    #: training put the clean one. Noise that is not zero-mean where the signal is dark moves
    #: it: a Rician background (mean ~1.25 sigma above its clean zero) reaches a network at
    #: 0, not 1.25 sigma up, so without this a network learns a bias correction it never
    #: gets to apply (issue 26). The shift is the smoothed noisy patch's low percentile
    #: minus the smoothed clean patch's.
    normalisation_shift: bool = False

    @model_validator(mode="after")
    def _check(self) -> NoiseConfig:
        kinds = [c.kind for c in self.mixture]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"each noise kind may appear once in mixture, got {kinds}")
        for name in ("stretch_factor", "stretch_level"):
            low, high = getattr(self, name)
            if not 0 < low <= high < 1000:
                raise ValueError(
                    f"{name} must be [low, high] with 0 < low <= high, got {[low, high]}"
                )
        if self.stretch_factor[0] < 1:
            raise ValueError(
                "stretch_factor must be >= 1 (a stretch, not a squeeze), "
                f"got {list(self.stretch_factor)}"
            )
        if self.stretch_prob > 0 and not any(c.kind != "salt_and_pepper" for c in self.mixture):
            raise ValueError(
                "stretch_prob needs a noise kind other than salt_and_pepper in mixture"
            )
        return self


def _source_key(source: str) -> str:
    """A data source spelled one way: ``./a//b.nii`` and ``a/b.nii`` are the same file."""
    if ":" in source and not Path(source).expanduser().exists():
        return source  # a named source such as pydicom:CT_small.dcm
    return os.path.normpath(os.path.expanduser(source))


class DataConfig(_Strict):
    """Training data: files, folders or named sources (``mni152``, ``pydicom:<file>``,
    ``skimage:<file>``, ``mvtb`` / ``mvtb:<path>``)."""

    train: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1, max_length=10000)
    #: validation volumes; empty -> a ``val_fraction`` of the training volumes
    val: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    val_fraction: float = Field(default=0.2, gt=0, lt=1)
    patch_size: int = Field(default=64, ge=16, le=2048)
    #: normalisation method handed to ``normalize_intensity``
    normalization: Literal["auto", "window", "percentile", "minmax", "none"] = "auto"
    #: drop slices where fewer than this fraction of pixels exceed 5 % of the range
    min_foreground: float = Field(default=0.05, ge=0, le=1)
    max_slices_per_volume: int | None = Field(default=None, ge=1, le=100000)
    augment: bool = True
    #: side of the fixed centre crop used for validation (0: whole slices)
    val_crop: int = Field(default=128, ge=0, le=4096)
    val_max_slices: int = Field(default=32, ge=1, le=100000)
    #: also validate on the middle ``val_band`` of every training slice's rows (those rows
    #: are never trained on: patches come from the rows above and below); 0: off
    val_band: float = Field(default=0.0, ge=0, le=0.5)
    #: fraction of training patches drawn from procedural generators instead of the
    #: sources (dead leaves, smooth phantoms, vibrant leaves; medidenoise.engine.procedural)
    procedural: float = Field(default=0.0, ge=0, le=1)
    #: which generators (default: the two the recipes before issue 29 used)
    procedural_kinds: list[ProceduralKind] = Field(
        default_factory=lambda: list(_LEGACY_PROCEDURAL),
        min_length=1,
        max_length=len(get_args(ProceduralKind)),
    )
    #: folder for an npz cache of the extracted slices (none: memory only)
    cache_dir: str | None = None
    num_workers: int = Field(default=0, ge=0, le=64)

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        train = {_source_key(s) for s in self.train}
        shared = [s for s in self.val if _source_key(s) in train]
        if shared:
            raise ValueError(
                f"data.val names {shared[0]!r}, which data.train names too: a validation "
                "volume must never be trained on; remove it from one of the two lists"
            )
        return self


class TrainConfig(_Strict):
    """Optimisation: Adam, loss, schedule, early stopping (the ``train:`` section)."""

    epochs: int = Field(default=50, ge=1, le=100000)
    batch_size: int = Field(default=16, ge=1, le=4096)
    patches_per_epoch: int = Field(default=2048, ge=1, le=100_000_000)
    lr: float = Field(default=1e-3, gt=0, le=1)
    weight_decay: float = Field(default=0.0, ge=0, le=1)
    #: a loss name or a weighted mix such as ``{mse: 0.5, ssim: 0.5}``
    loss: LossName | dict[LossName, Annotated[float, Field(gt=0, le=1000)]] = "mse"
    schedule: Literal["none", "cosine", "step", "plateau"] = "none"
    lr_step: int = Field(default=10, ge=1, le=100000)
    lr_gamma: float = Field(default=0.5, gt=0, le=1)
    lr_min: float = Field(default=0.0, ge=0, le=1)
    #: epochs without a better validation PSNR before stopping (0: never stop early)
    early_stopping_patience: int = Field(default=10, ge=0, le=100000)
    #: smallest PSNR gain (dB) that counts as an improvement for early stopping
    early_stopping_min_delta: float = Field(default=0.0, ge=0, le=100)
    #: end the run after this epoch although the learning-rate schedule spans ``epochs``
    #: (a shipped model taken from part of a longer run; a job that must fit a time slot);
    #: resuming with a later one, or none, goes on where it stopped
    stop_epoch: int | None = Field(default=None, ge=1, le=100000)
    val_interval: int = Field(default=1, ge=1, le=100000)
    #: fine-tune: start from this checkpoint's weights (a ``.safetensors`` file, relative
    #: to the config's folder, or a shipped model name such as ``default``); the run
    #: itself starts fresh (epoch 1, new optimizer), unlike ``--resume``
    init_weights: str | None = Field(default=None, min_length=1, max_length=4096)
    #: ``supervised``: synthetic noise (the ``noise:`` section) on clean data; ``recorrupt`` or
    #: ``blindspot``: self-supervised, the data are noisy scans used as they are (the
    #: ``noise:`` section is not used) and ``val_psnr`` is a PSNR estimated without clean images
    objective: Literal["supervised", "recorrupt", "blindspot"] = "supervised"
    #: mixed precision; used on CUDA only
    amp: bool = True
    #: bfloat16 autocast of the forward pass on CPU (losses stay float32); about twice
    #: as fast on CPUs with avx512_bf16 (BENCHMARKS.md); ignored on CUDA, where ``amp`` acts
    cpu_bf16: bool = False
    #: keep the network's weights (hence its activations) in channels_last memory layout:
    #: 0.79x the time of a bfloat16 CPU training step of the shipped U-Net
    #: (benchmarks/bench_cpu_options.py); the numbers are the same but for rounding
    channels_last: bool = True
    #: exponential moving average of the weights, its decay per training step (0: off; e.g.
    #: 0.999, about the last 1000 steps): validation, early stopping and the best and last
    #: checkpoints use the averaged weights, the optimizer goes on with the raw ones. It
    #: smooths the step-to-step wander of a fine-tune, which moves the hold-out by tenths
    #: of a dB between neighbouring epochs (BENCHMARKS.md, round 9)
    ema: float = Field(default=0.0, ge=0, lt=1)
    tensorboard: bool = True

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if isinstance(self.loss, dict) and not self.loss:
            raise ValueError("loss mix is empty; give e.g. {mse: 1.0}")
        if self.objective != "supervised" and self.loss != "mse":
            raise ValueError(
                f"objective {self.objective!r} trains on its own squared error (the only loss "
                f"for which its noisy targets are unbiased), not loss={self.loss!r}; "
                "remove train.loss or set it to mse"
            )
        if self.stop_epoch is not None and self.stop_epoch > self.epochs:
            raise ValueError(
                f"stop_epoch {self.stop_epoch} is after the last epoch ({self.epochs}); "
                "raise train.epochs or lower train.stop_epoch"
            )
        return self

    @property
    def last_epoch(self) -> int:
        """The epoch this run ends after: ``stop_epoch`` if set, else ``epochs``."""
        return self.stop_epoch or self.epochs


class ExperimentConfig(_Strict):
    """A whole experiment: ``name``, ``seed`` and the model/data/noise/train sections."""

    name: str = Field(default="experiment", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    description: str = Field(default="", max_length=2000)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig
    noise: NoiseConfig = Field(default_factory=NoiseConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    #: folder that relative data paths are resolved against (set by load_config)
    base_dir: str | None = Field(default=None, exclude=True)


def _section_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``NoiseComponent`` in ``list[NoiseComponent]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _section_model(arg)
        if found is not None:
            return found
    return None


def _model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    """The section model an error location points into (list indices skipped), if any."""
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        model = _section_model(model.model_fields[part].annotation)
    return model


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return [name for name, field in model.model_fields.items() if not field.exclude]


def _format_errors(
    exc: ValidationError, source: str, *, root: type[BaseModel] | None = None
) -> str:
    """One line per error: the key, the value given and what is allowed."""
    root = root or ExperimentConfig
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        section = _model_at(loc[:-1], root) if loc else None
        if err["type"] == "extra_forbidden" and section is not None:
            allowed = _allowed_keys(section)
            where = ".".join(str(p) for p in loc[:-1]) or "the top level"
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            msg = f"unknown key; {hint}allowed keys in {where}: {', '.join(allowed)}"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see medidenoise.config for the schema)"
        value = err.get("input")
        # a whole section's check (a model validator) names its values in the message
        whole_section = _model_at(loc, root) is not None and isinstance(value, dict)
        shown = "" if err["type"] == "missing" or whole_section else f" = {value!r}"
        lines.append(f"  {key}{shown}: {msg}")
    return f"{source}: invalid config\n" + "\n".join(lines)


def _reject_code(node: Any, source: str, key: str = "") -> None:
    """Configs are data: refuse MONAI-bundle style ``_target_`` keys and ``$``/``@`` expressions."""
    if isinstance(node, dict):
        for k, v in node.items():
            where = f"{key}.{k}" if key else str(k)
            if str(k).startswith(("_", "$", "@", "%")):
                raise ConfigError(f"{source}: {where}: keys like {k!r} are code, configs are data")
            _reject_code(v, source, where)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _reject_code(v, source, f"{key}[{i}]")
    elif isinstance(node, str) and node.startswith(("$", "@", "%")):
        raise ConfigError(
            f"{source}: {key} = {node!r}: expressions are not evaluated; configs are plain values"
        )


def validate_config(data: Any, *, source: str = "config") -> ExperimentConfig:
    """Validate a plain dict as an :class:`ExperimentConfig`, raising :class:`ConfigError`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, found {type(data).__name__}")
    _reject_code(data, source)
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None


def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings to a config dict (values parsed as YAML scalars/lists).

    Returns a new dict; ``data`` is not modified.
    """
    import copy

    out = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. train.epochs=5")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: value is not valid YAML ({exc})") from None
        node = out
        parts = key.strip().split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(parts[: i + 1])
                raise ConfigError(f"override {item!r}: {where} is {child!r}, not a section")
            node = child
        node[parts[-1]] = value
    return out


def load_config(
    path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()
) -> ExperimentConfig:
    """Read and validate a YAML experiment config.

    Parameters
    ----------
    path : str or os.PathLike
        A ``configs/*.yaml`` file.
    overrides : sequence of str
        ``"train.epochs=5"``-style overrides applied before validation.

    Returns
    -------
    ExperimentConfig

    Raises
    ------
    ConfigError
        Missing file, YAML syntax error, unknown key or out-of-range value; the
        message names the key, the value and what is allowed.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found (see configs/ for examples)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, found {type(data).__name__}")
    data = apply_overrides(data, tuple(overrides))
    if "base_dir" in data:
        raise ConfigError(f"{path}: base_dir is set by the loader, not in the file")
    cfg = validate_config(data, source=str(path))
    cfg.base_dir = str(path.resolve().parent)
    return cfg
