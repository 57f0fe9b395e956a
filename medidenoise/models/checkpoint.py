"""Checkpoints: safetensors weights with JSON metadata, no pickle anywhere.

One ``.safetensors`` file holds the weights and, in its header metadata, a JSON
document under the key ``"medidenoise"``: the model config (enough to rebuild
the network), and whatever the trainer adds (normalisation, noise model,
training data, epochs, validation PSNR/SSIM, package version, seed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from medidenoise._model_names import AUTO_MODEL, MODELS, network_label
from medidenoise._version import __version__
from medidenoise.errors import CheckpointError, ConfigError
from medidenoise.models.factory import UPSAMPLE_ARCHS, build_model, model_config_of

__all__ = [
    "AUTO_MODEL",
    "AUTO_RICIAN",
    "AUTO_ROUTES",
    "FORMAT",
    "SHIPPED_MODELS",
    "auto_pick",
    "default_weights_path",
    "load_model",
    "model_label",
    "read_metadata",
    "save_checkpoint",
    "shipped_weights_path",
]

log = logging.getLogger(__name__)

#: value of the ``format`` metadata key in every medidenoise checkpoint
FORMAT = "medidenoise-checkpoint-v1"


#: models that ship inside the package: name -> (file in ``medidenoise/weights``, recipe),
#: from the one table of model names (``medidenoise._model_names.MODELS``)
SHIPPED_MODELS = {
    e.name: (str(e.weights), str(e.recipe)) for e in MODELS.values() if e.kind == "shipped"
}


#: the model users get unless they pick one: a shipped model chosen per image by its
#: measured noise (``transforms.measure_noise``): ``AUTO_ROUTES[False]`` for white noise,
#: ``AUTO_ROUTES[True]`` for spatially correlated noise; on white noise it also removes
#: the Rician bias of what ``transforms.detect_rician`` takes for a magnitude image
AUTO_ROUTES = {False: "white", True: "correlated"}
#: what a label of ``"auto"`` adds when it removed the Rician bias: ``"auto: white, ..."``
AUTO_RICIAN = ", Rician bias removed"
#: how the settings label of ``"auto"`` ends: its policy, not what any series had done to it
#: (that is each series' own record, :class:`~medidenoise.inference.provenance.Provenance`)
AUTO_BY = "picked per series by the measured noise"


def auto_pick(label: str) -> str | None:
    """What ``"auto"`` ran, from the label a result records (``"auto: correlated"`` ->
    ``"correlated"``); ``None`` for the label of any other model."""
    prefix = f"{AUTO_MODEL}: "
    return label[len(prefix) :] if label.startswith(prefix) else None


def shipped_weights_path(name: str) -> Path:
    """Where a shipped model (a key of :data:`SHIPPED_MODELS`) lives in the package."""
    filename, _ = SHIPPED_MODELS[name]
    return Path(__file__).resolve().parents[1] / "weights" / filename


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def model_label(model: Any, *, checksum: bool = False) -> str:
    """A short description of a model, for reports and DICOM provenance.

    A network (or anything that is not a name or path) is named by its
    metadata ``"name"``, else by its class; a name or path is given back as
    it is. With ``checksum=True`` a weights file (a shipped model's name, or
    a checkpoint path) also gets the first 16 hex digits of its SHA-256, so a
    retrained model is told apart: ``"default (sha256 ...)"``,
    ``"model.safetensors (sha256 ...)"``.

    Examples
    --------
    >>> model_label("nlm"), model_label("identity", checksum=True)
    ('nlm', 'identity')
    """
    if not isinstance(model, (str, os.PathLike)):
        return network_label(model)
    name = os.fspath(model)
    if not checksum:
        return name
    if name == AUTO_MODEL:  # both networks it may pick, each with its hash
        routes = ", ".join(model_label(r, checksum=True) for r in AUTO_ROUTES.values())
        return f"{name}: {routes}, {AUTO_BY}"
    shipped = name in SHIPPED_MODELS
    path = shipped_weights_path(name) if shipped else Path(name)
    if path.is_file():  # the weights' hash: a retrained model is another model
        label = name if shipped else path.name
        return f"{label} (sha256 {_sha256(path)})"
    return name


def default_weights_path() -> Path:
    """Where the weights of the shipped ``"default"`` model live (since issue 26 those of
    ``"correlated"``, ``medidenoise/weights/correlated.safetensors``)."""
    return shipped_weights_path("default")


def save_checkpoint(
    path: str | os.PathLike, model: nn.Module, *, metadata: dict[str, Any] | None = None
) -> Path:
    """Write a model's weights and metadata to one safetensors file.

    The file is written beside its target and renamed into place, so a crash
    never leaves a half-written checkpoint under the final name.

    Parameters
    ----------
    path : str or os.PathLike
        Target file (``.safetensors``).
    model : torch.nn.Module
        A network built by :func:`build_model` (DDP wrappers are unwrapped).
    metadata : dict, optional
        JSON-serialisable extras (normalisation, noise model, metrics...);
        default: the model's own ``.metadata`` (as ``load_model`` and
        ``adapt`` attach it), if any.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    net = getattr(model, "module", model)
    if metadata is None:
        metadata = getattr(net, "metadata", None)
    meta = dict(metadata or {})
    try:
        meta["model"] = model_config_of(net)
    except ConfigError as exc:
        raise CheckpointError(f"{path}: cannot save: {exc}") from None
    meta.setdefault("package_version", __version__)
    try:
        text = json.dumps(meta, sort_keys=True, allow_nan=True, default=str)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: metadata is not JSON-serialisable: {exc}") from None
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata={"format": FORMAT, "medidenoise": text})
    os.replace(tmp, path)
    return path


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata dict of a checkpoint, without loading the weights."""
    path = _resolve(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: not a readable safetensors checkpoint ({exc}); "
            "the file may be truncated or of another format"
        ) from None
    if raw.get("format") != FORMAT or "medidenoise" not in raw:
        raise CheckpointError(
            f"{path}: safetensors file without medidenoise metadata (format="
            f"{raw.get('format')!r}, expected {FORMAT!r}); save it with save_checkpoint"
        )
    try:
        meta = json.loads(raw["medidenoise"])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: checkpoint metadata is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("model"), dict):
        raise CheckpointError(f"{path}: checkpoint metadata has no 'model' section")
    return meta


def model_section(meta: dict[str, Any]) -> dict[str, Any]:
    """The ``model`` section of a checkpoint's metadata, completed for files of older
    versions: a U-Net or CAE saved before the ``upsample`` option existed used transposed
    convolutions."""
    section = dict(meta["model"])
    if section.get("arch", "unet") in UPSAMPLE_ARCHS:
        section.setdefault("upsample", "transpose")
    return section


def _resolve(name_or_path: str | os.PathLike) -> Path:
    name = os.fspath(name_or_path)
    if name == AUTO_MODEL:
        routes = " or ".join(repr(r) for r in AUTO_ROUTES.values())
        raise CheckpointError(
            f"{name!r} is not one network: it picks {routes} per image by the measured noise; "
            f"name one of them (or a checkpoint file) here"
        )
    if name in SHIPPED_MODELS:
        path = shipped_weights_path(name)
        if not path.is_file():
            recipe = SHIPPED_MODELS[name][1]
            raise CheckpointError(
                f"the shipped model {name!r} is not installed ({path} does not exist); train "
                f"one with `medidenoise train --config {recipe}` or pass a checkpoint path"
            )
        return path
    path = Path(name_or_path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    return path


def load_model(
    name_or_path: str | os.PathLike, *, device: str | torch.device | None = None
) -> nn.Module:
    """Rebuild a network from a checkpoint file alone.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        ``"default"`` (the shipped model), ``"correlated"`` (the shipped model
        fine-tuned for correlated noise), ``"cae-baseline"`` (the shipped
        classic autoencoder baseline) or a ``.safetensors`` checkpoint.
    device : str or torch.device, optional
        Where to put the model (default CPU).

    Returns
    -------
    torch.nn.Module
        The network in eval mode, with the checkpoint metadata as ``.metadata``.

    Raises
    ------
    CheckpointError
        Missing, corrupt or incompatible (unknown architecture, mismatching
        weights) checkpoint.
    """
    path = _resolve(name_or_path)
    meta = read_metadata(path)
    try:
        model = build_model(model_section(meta))
    except ConfigError as exc:
        raise CheckpointError(f"{path}: incompatible model config in checkpoint: {exc}") from None
    dev = torch.device(device) if device is not None else torch.device("cpu")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot read the weights ({exc})") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(
            f"{path}: weights do not match the model config {meta['model']}: {first}"
        ) from None
    model.metadata = meta  # type: ignore[assignment]
    return model.to(dev).eval()
