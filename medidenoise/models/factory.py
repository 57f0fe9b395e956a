"""``build_model``: a network from the ``model:`` config section."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from torch import nn

from medidenoise.config import ModelConfig
from medidenoise.errors import ConfigError
from medidenoise.models.cae import DenoisingCAE
from medidenoise.models.fast_unet import FastUNet
from medidenoise.models.network import DenoisingNetwork
from medidenoise.models.unet import UNet
from medidenoise.models.unshuffle_unet import UnshuffleUNet

__all__ = ["ARCHITECTURES", "UPSAMPLE_ARCHS", "build_model", "model_config_of"]

#: architecture name -> network class
ARCHITECTURES: dict[str, type[DenoisingNetwork]] = {
    "cae": DenoisingCAE,
    "unet": UNet,
    "unshuffle_unet": UnshuffleUNet,
    "fast_unet": FastUNet,
}
#: the architectures built with a choice of upsampling (``ModelConfig.upsample``)
UPSAMPLE_ARCHS = ("unet", "unshuffle_unet", "cae")


def _as_config(cfg: ModelConfig | dict[str, Any]) -> ModelConfig:
    if isinstance(cfg, ModelConfig):
        return cfg
    if not isinstance(cfg, dict):
        raise ConfigError(f"model config must be a ModelConfig or dict, got {type(cfg).__name__}")
    try:
        return ModelConfig.model_validate(cfg)
    except ValidationError as exc:
        details = "; ".join(
            f"model.{'.'.join(map(str, e['loc']))} = {e.get('input')!r}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"invalid model config: {details}") from None


def build_model(cfg: ModelConfig | dict[str, Any]) -> nn.Module:
    """Build the network described by a model config.

    Parameters
    ----------
    cfg : ModelConfig or dict
        The ``model:`` section, e.g. ``{"arch": "unet", "features": [16, 32, 64]}``.

    Returns
    -------
    torch.nn.Module
        A network obeying the contract in ``docs/internals.md``: attributes
        ``context_slices``, ``noise_level_input``, ``size_multiple``, ``arch``
        and ``hparams``.

    Raises
    ------
    ConfigError
        When the config is invalid.

    Examples
    --------
    >>> net = build_model({"arch": "cae"})
    >>> net.size_multiple
    8
    """
    mc = _as_config(cfg)
    kwargs: dict[str, Any] = {
        "features": list(mc.features or []),
        "context_slices": mc.context_slices,
        "noise_level_input": mc.noise_level_input,
        "norm": mc.norm,
    }
    if mc.arch == "unet":
        kwargs["residual"] = mc.residual
    if mc.arch in UPSAMPLE_ARCHS:
        kwargs["upsample"] = mc.upsample
    if mc.arch == "fast_unet":
        kwargs["head_channels"] = mc.head_channels
    return ARCHITECTURES[mc.arch](**kwargs)


def model_config_of(model: nn.Module) -> dict[str, Any]:
    """The model-config dict that rebuilds ``model`` with :func:`build_model`."""
    model = getattr(model, "module", model)  # DistributedDataParallel / DataParallel
    if not isinstance(model, DenoisingNetwork) or model.arch not in ARCHITECTURES:
        raise ConfigError(
            f"{type(model).__name__} is not a medidenoise network (no arch/hparams); "
            "build it with medidenoise.build_model"
        )
    return {"arch": model.arch, **model.hparams}
