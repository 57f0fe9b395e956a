"""The one table of model names: what each ``model=`` name is and what can be done with it.

Standard library only (like ``_noise_kinds``), so the command line builds its help
from it without loading torch.

Every place that needs to know the names derives from :data:`MODELS`: the shipped
weights files (``checkpoint.SHIPPED_MODELS``), the command line's ``--model`` help,
the refusal of unknown names before a conversion, what a Dask worker may load by
name, what ``export`` refuses, the label of a network and an adapted model's base
name, and the napari plugin's choices. A model given as a path is a ``"file"``, a
loaded network a ``"network"`` (``"adapted"`` when ``adapt`` made it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "AUTO_MODEL",
    "MODELS",
    "ModelEntry",
    "ModelKind",
    "base_name",
    "model_kind",
    "model_names",
    "models_help",
    "network_label",
]

#: ``routed``: picks a shipped network per image; ``shipped``: weights inside the package;
#: ``identity``: the input unchanged; ``classical``: a non-learned method; ``file``: a
#: checkpoint or ``.onnx`` path; ``network``: a loaded ``torch.nn.Module``; ``adapted``:
#: one that ``adapt`` fine-tuned
ModelKind = Literal["routed", "shipped", "identity", "classical", "file", "network", "adapted"]

#: the model users get unless they pick one
AUTO_MODEL = "auto"


@dataclass(frozen=True)
class ModelEntry:
    """One named model.

    Attributes
    ----------
    name : str
        What ``model=`` and ``--model`` take.
    kind : ModelKind
        What it is (see :data:`ModelKind`).
    summary : str
        A phrase for help texts.
    weights : str or None
        Its file in ``medidenoise/weights`` (shipped models).
    recipe : str or None
        The config that trained it (shipped models).
    rician_step : bool
        Whether, run by this name, it looks for a magnitude image's background
        (``transforms.detect_rician``) and removes the Rician bias after the network
        (``transforms.rician_unbias_denoised``), as ``"auto"`` does: a network trained on
        zero-mean noise only, offered by a name that promises magnitude images too.
    """

    name: str
    kind: ModelKind
    summary: str
    weights: str | None = None
    recipe: str | None = None
    rician_step: bool = False

    @property
    def exportable(self) -> bool:
        """``export_model`` can write it (a network with its own weights)."""
        return self.kind == "shipped"

    @property
    def adaptable(self) -> bool:
        """``adapt`` can fine-tune it (a network, or ``"auto"``'s pick)."""
        return self.kind in ("shipped", "routed")


def _entries(*entries: ModelEntry) -> dict[str, ModelEntry]:
    return {e.name: e for e in entries}


#: every named model, in the order help texts list them (the shipped ones in the order they
#: shipped: model cards and messages list them so)
MODELS: dict[str, ModelEntry] = _entries(
    ModelEntry(
        AUTO_MODEL,
        "routed",
        "the default: 'white' for white noise, 'correlated' when the measured noise is "
        "spatially correlated, per image, and the Rician bias removed where the dark "
        "background holds magnitude-image noise",
    ),
    # since issue 26 the network of `correlated` (no transposed convolutions) with auto's
    # Rician step: the first default (a U-Net with transposed upsampling, configs/default.yaml)
    # drew a 2-pixel grid on real CTs, and a blind network trained on Rician noise as well
    # could not tell it from Gaussian noise on a dark background (BENCHMARKS.md, "The default
    # without transposed convolutions")
    ModelEntry(
        "default",
        "shipped",
        "one network for every noise: the 'correlated' network (white and correlated noise, "
        "Poisson), with the Rician bias removed where the background shows a magnitude image",
        "correlated.safetensors",
        "configs/correlated_cpu.yaml",
        rician_step=True,
    ),
    # since issue 26 a CAE that upsamples by resizing (no 2-pixel grid), trained in three stages
    # (configs/cae_baseline.yaml, _stage2, _stage3) from the transposed-convolution CAE of
    # configs/cae_seed.yaml, which it beats on every hold-out cell but two (-0.10 dB at most)
    ModelEntry(
        "cae-baseline",
        "shipped",
        "the shipped CAE baseline",
        "cae_baseline.safetensors",
        "configs/cae_baseline_stage3.yaml",
    ),
    # auto's correlated route: since issues 26 and 29 the shipped `white` (fast_unet) fine-tuned
    # under spatially correlated, white and Poisson-Gaussian noise with stretched low-noise
    # patches (configs/correlated_cpu.yaml); before, the default fine-tuned on correlated noise
    # (issue 11, configs/correlated.yaml) and on a GPU (issue 26)
    ModelEntry(
        "correlated",
        "shipped",
        "the shipped model fine-tuned for spatially correlated noise: CT kernels, interpolated MR",
        "correlated.safetensors",
        "configs/correlated_cpu.yaml",
    ),
    # auto's white route: since issue 29 the CPU network (fast_unet, half resolution, 1.3 M
    # parameters) trained from scratch on every allowed source (configs/white_cpu.yaml), then
    # with levels measured over wide regions (configs/white_cpu_level.yaml), low levels drawn
    # log-uniformly (configs/white_cpu_low.yaml) and patches stretched and clipped as the
    # Denoiser's narrowed window shows low-noise scans (configs/white_cpu_stretch.yaml);
    # zero-mean noise only, the Rician bias left to rician_unbias_denoised
    ModelEntry(
        "white",
        "shipped",
        "the shipped model for white noise",
        "white.safetensors",
        "configs/white_cpu_stretch.yaml",
    ),
    ModelEntry(
        "identity", "identity", "writes every source value back exactly: checks the I/O path"
    ),
    ModelEntry("nlm", "classical", "non-local means (classical)"),
    ModelEntry("tv", "classical", "total variation (classical)"),
    ModelEntry("wavelet", "classical", "wavelet shrinkage (classical)"),
    ModelEntry("bm3d", "classical", "BM3D (classical; pip install bm3d)"),
)


def model_names(*kinds: ModelKind) -> tuple[str, ...]:
    """The names of the given kinds (all names without ``kinds``), in table order.

    Examples
    --------
    >>> model_names("classical")
    ('nlm', 'tv', 'wavelet', 'bm3d')
    """
    return tuple(n for n, e in MODELS.items() if not kinds or e.kind in kinds)


def model_kind(model: Any) -> ModelKind:
    """What ``model`` (a name, a path or a network) is.

    Examples
    --------
    >>> model_kind("auto"), model_kind("nlm"), model_kind("my.safetensors")
    ('routed', 'classical', 'file')
    """
    if isinstance(model, (str, os.PathLike)):
        entry = MODELS.get(os.fspath(model))
        return entry.kind if entry is not None else "file"
    meta = getattr(model, "metadata", None) or {}
    return "adapted" if "adaptation" in meta else "network"


def models_help() -> str:
    """The ``--model`` help of the command line, from the table."""
    named = [f"'{n}' ({e.summary})" for n, e in MODELS.items() if e.kind != "classical"]
    return (
        ", ".join(named) + ", a checkpoint file (.safetensors), an .onnx file from "
        "`medidenoise export` (run by onnxruntime; pip install 'medidenoise[onnx]'), or a "
        f"classical method: {', '.join(model_names('classical'))}"
    )


def network_label(network: Any) -> str:
    """A loaded network's name: its metadata ``"name"``, else its class."""
    meta = getattr(network, "metadata", None) or {}
    return str(meta.get("name", type(network).__name__))


def base_name(model: Any) -> str:
    """What an adapted model records as its base: a network's name (or its config's), a
    name as given, a file by its name only (folders may name patients)."""
    if not isinstance(model, (str, os.PathLike)):
        meta = getattr(model, "metadata", {}) or {}
        return str(meta.get("name") or meta.get("config_name") or type(model).__name__)
    return Path(os.fspath(model)).name
