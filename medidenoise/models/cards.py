"""Model cards: what each shipped model was trained on, how well it measured, and its limits.

A card is built from two sources only: the metadata its weights carry (training data, noise,
compute, validation figures) and the measured figures of BENCHMARKS.md, quoted below with
the command that measured them (``tests/models/test_cards.py`` checks that each quoted
figure still stands in BENCHMARKS.md). ``medidenoise info MODEL`` prints a card.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from medidenoise._model_names import MODELS
from medidenoise.models.checkpoint import (
    AUTO_MODEL,
    AUTO_ROUTES,
    SHIPPED_MODELS,
    model_section,
    read_metadata,
    shipped_weights_path,
)

__all__ = ["CARD_MODELS", "ModelCard", "model_card", "trained_noise_levels"]

#: the models a card exists for: "auto" and every shipped model
CARD_MODELS = (AUTO_MODEL, *SHIPPED_MODELS)

INTENDED_USE = (
    "research use, not for diagnosis: denoised series are derived images for research, "
    "teaching and method development; they are not cleared for clinical reading"
)

_QUALITY_COMMAND = "python benchmarks/bench_quality.py --model auto --no-progress"
_HOLDOUT = "hold-out 256 x 256 crops of RG3 (CR), MR2 (MR), 693 (CT), mean PSNR dB"
_CORRELATED_COMMAND = "python benchmarks/bench_correlated.py"

#: (what was measured, the figures as BENCHMARKS.md gives them, the command): by model
MEASURED: dict[str, list[tuple[str, str, str]]] = {
    AUTO_MODEL: [
        (
            f"{_HOLDOUT}: Gaussian 0.05 / Gaussian 0.1 / Poisson 200 / Rician 0.05",
            "auto 38.05 / 34.91 / 37.85 / 37.48; BM3D told the level 38.01 / 34.37 / 36.38 / "
            "35.59; NLM 35.79 / 32.03 / 34.92 / 34.08",
            _QUALITY_COMMAND,
        ),
        (
            "spatially correlated noise (low-pass and band-pass spectra, std 0.03-0.08), "
            "same crops, mean PSNR dB over 6 cells",
            "auto, level estimated 34.75; NLM told the level 32.68; BM3D told the level 29.14",
            _CORRELATED_COMMAND,
        ),
    ],
    "default": [
        (
            f"{_HOLDOUT}: Gaussian 0.05 / Gaussian 0.1 / Poisson 200 / Rician 0.05",
            "default 37.85 / 34.70 / 37.53 / 37.26; BM3D 38.01 / 34.37 / 36.38 / 35.59; "
            "NLM 35.79 / 32.03 / 34.92 / 34.08",
            "python benchmarks/bench_quality.py --no-write --model default --no-ensemble",
        ),
        (
            "spatially correlated noise, same crops, mean PSNR dB over 6 cells",
            "default, level estimated 34.75; BM3D told the level 29.14",
            _CORRELATED_COMMAND,
        ),
    ],
    "cae-baseline": [
        (
            f"{_HOLDOUT}: Gaussian 0.05 / Gaussian 0.1 / Poisson 200 / Rician 0.05",
            "cae 31.33 / 30.18 / 31.28 / 31.15; BM3D 38.01 / 34.37 / 36.38 / 35.59; "
            "NLM 35.79 / 32.03 / 34.92 / 34.08",
            _QUALITY_COMMAND,
        ),
    ],
}
for _route in AUTO_ROUTES.values():  # each route is measured as auto runs it
    MEASURED[_route] = [(f"through auto: {w}", f, c) for w, f, c in MEASURED[AUTO_MODEL]]

_COMMON_LIMITS = [
    "trained on at most ~130 images (pydicom and pydicom-data CT/MR/CR files, the MNI152 "
    "template, scikit-image and mvtb-data photographs, procedural images): PET, NM, ultrasound, "
    "mammography and 8-bit screenshots were never seen",
    "2D: each slice is denoised alone; neighbouring slices are not used",
    "the noise estimate reads the fine texture of the clean MNI152 template as noise and "
    "over-smooths such images (BENCHMARKS.md, 'Known limitation of the new noise estimate')",
]

LIMITS: dict[str, list[str]] = {
    AUTO_MODEL: [
        "picks its route per series by the measured noise: a series whose noise is wrongly "
        "read as white (or correlated) gets the other network",
        "on white Gaussian noise level with BM3D told the level on the hold-out crops at 0.05 "
        "of the range (+0.04 dB), +0.5 at 0.1, +0.1 to +2.5 on whole images (BENCHMARKS.md)",
        *_COMMON_LIMITS,
    ],
    "white": ["for white (uncorrelated) noise; on correlated CT noise use auto", *_COMMON_LIMITS],
    "correlated": [
        "for spatially correlated noise; worse than white on Rician MR noise",
        *_COMMON_LIMITS,
    ],
    "default": [
        "the network of 'correlated' whatever the noise (auto runs 'white' on white noise): "
        "0.2-0.3 dB below auto on white-noise crops; the Rician bias is removed only where "
        "the background shows a magnitude image (rician=True forces it)",
        "an exported 'default' is the network alone, without the Rician step",
        "before issue 26 'default' was another network (a U-Net with transposed-convolution "
        "upsampling, configs/default.yaml) that drew a 2-pixel grid on real CTs",
        *_COMMON_LIMITS,
    ],
    "cae-baseline": [
        "a baseline for comparisons: no skip connections and no noise-level input, trained "
        "under Gaussian, Poisson and Rician noise at 3-12 % of the range; not for real scans",
        "its 8x bottleneck loses fine detail and moves flat tissue: -0.85 flat-region std on "
        "the 693 CT, -2.52 on the CT phantom at 0.1 % noise, where its PSNR inside the brain "
        "window W80/L40 (21.88 dB) is below the noisy input's (32.63)",
        "before issue 26 'cae-baseline' was the tutorials' CAE with stride-2 transposed "
        "convolutions (configs/cae_seed.yaml), which drew a 2-pixel grid on low-noise scans "
        "(row alternation 0.758 of the flat-region std on the 693 CT; BENCHMARKS.md, 'The CAE "
        "baseline and its transposed convolutions')",
    ],
}


def trained_noise_levels(meta: dict[str, Any]) -> tuple[float, float] | None:
    """The range of noise std (share of the network's [0, 1] range) a model was trained at.

    Read from a checkpoint's ``noise`` metadata: ``levels`` (with ``low_levels``), or the
    additive families of a ``mixture`` (Gaussian, Rician, correlated; Poisson levels are
    photon counts and are left out). ``None`` when the metadata does not say.

    Examples
    --------
    >>> trained_noise_levels({"noise": {"levels": [0.005, 0.15], "low_levels": [0.0003, 0.004]}})
    (0.0003, 0.15)
    """
    noise = meta.get("noise") or {}
    spans: list[float] = []
    for key in ("levels", "low_levels"):
        if isinstance(noise.get(key), (list, tuple)):
            spans.extend(float(v) for v in noise[key])
    for part in noise.get("mixture") or []:
        if part.get("kind") == "poisson":
            continue
        level = part.get("level")
        spans.extend(float(v) for v in (level if isinstance(level, (list, tuple)) else [level]))
    return (min(spans), max(spans)) if spans else None


def _families(meta: dict[str, Any]) -> str:
    noise = meta.get("noise") or {}
    if noise.get("recipe"):
        kinds = ", ".join(f"{k} (weight {w:g})" for k, w in noise["recipe"])
    else:
        kinds = ", ".join(
            f"{p['kind']} {p['level']} (weight {p.get('weight', 1):g})"
            for p in noise.get("mixture") or []
        )
    levels = trained_noise_levels(meta)
    span = "" if levels is None else f"; std {levels[0]:g} to {levels[1]:g} of the range"
    return (kinds or "not recorded") + span


def _sources(meta: dict[str, Any]) -> str:
    data = meta.get("data") or {}
    # the images the sources expanded to (``pydicom:*``, ``mvtb``) when recorded; a volume
    # split into bands of rows is listed once per band
    volumes = dict.fromkeys(data.get("train_volumes") or data.get("train") or [])
    named = Counter(str(s).split(":")[0] for s in volumes)
    text = ", ".join(f"{src} {n}" for src, n in sorted(named.items())) or "not recorded"
    text += f" images ({data.get('train_slices', '?')} training slices)"
    if data.get("procedural"):
        kinds = ", ".join(data.get("procedural_kinds") or []) or "procedural"
        text += f"; {float(data['procedural']):.0%} of the patches procedural ({kinds})"
    tiles = data.get("gpu_tiles") or {}
    if tiles:
        by_source = Counter[str]()
        for src, n in tiles.items():
            by_source[str(src).split(":")[0].split("_template")[0]] += int(n)
        text += "; GPU rounds: tiles " + ", ".join(f"{s} {n}" for s, n in sorted(by_source.items()))
    return text


def _compute(meta: dict[str, Any]) -> str:
    train = meta.get("train") or {}
    if train.get("rounds"):
        minutes = sum(float(r.get("minutes", 0)) for r in train["rounds"])
        patches = sum(int(r.get("patches", 0)) for r in train["rounds"])
        return (
            f"{len(train['rounds'])} rounds on {train.get('device', '?')}, {minutes:g} min, "
            f"{patches:,} patches of {train.get('patch_size', '?')} px; started from "
            f"{train.get('init', '?')}"
        )
    per_epoch = train.get("patches_per_epoch", "?")
    text = (
        f"{meta.get('epochs', '?')} epochs x {per_epoch} patches, batch "
        f"{train.get('batch_size', '?')}, loss {train.get('loss', '?')}"
    )
    if train.get("cpu_bf16"):
        text += ", bfloat16 on the CPU"
    init = train.get("init_weights")
    if init:  # a fine-tune: name the run it started from (training_state/<run>/best...)
        path = Path(str(init))
        text += f"; started from {path.parent.name if path.suffix else path.name}"
    return text


@dataclass(frozen=True)
class ModelCard:
    """A model card (see :func:`model_card`); :meth:`text` is what ``medidenoise info`` prints."""

    name: str
    description: str
    architecture: str
    training_data: str
    noise: str
    compute: str
    validation: str
    measured: list[tuple[str, str, str]] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    intended_use: str = INTENDED_USE
    trained_levels: tuple[float, float] | None = None

    def text(self) -> str:
        """The card as readable text."""
        lines = [
            f"Model card: {self.name}",
            f"  {self.description}",
            f"Intended use: {self.intended_use}",
            f"Architecture: {self.architecture}",
            f"Training data: {self.training_data}",
            f"Noise: {self.noise}",
            f"Compute: {self.compute}",
            f"Validation: {self.validation}",
            "Measured (BENCHMARKS.md):",
        ]
        if not self.measured:
            lines.append("  no benchmark figures recorded for this model")
        for what, figures, command in self.measured:
            lines += [f"  {what}:", f"    {figures}", f"    command: {command}"]
        lines.append("Known limits:")
        lines += [f"  - {limit}" for limit in self.limits] or ["  - none recorded"]
        return "\n".join(lines)


def _architecture(meta: dict[str, Any]) -> str:
    model = model_section(meta) if isinstance(meta.get("model"), dict) else {}
    parts = [
        f"{model.get('arch', '?')} {model.get('features', '')}",
        "residual" if model.get("residual") else "",
        "noise-level input" if model.get("noise_level_input") else "no noise-level input",
        f"upsampling {model['upsample']}" if "upsample" in model else "",
    ]
    return ", ".join(p for p in parts if p)


def _card(name: str, meta: dict[str, Any], shown: str | None = None) -> ModelCard:
    metrics = meta.get("metrics") or {}
    validation = ", ".join(
        f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, (int, float))
    )
    gains = metrics.get("gpu_val_gain_db") or {}
    if gains:
        validation += "; GPU validation gain (dB) " + ", ".join(
            f"{k} {v:+.2f}" for k, v in gains.items()
        )
    return ModelCard(
        name=shown or name,
        description=str(meta.get("description", "")),
        architecture=_architecture(meta),
        training_data=_sources(meta),
        noise=_families(meta),
        compute=_compute(meta),
        validation=validation or "not recorded",
        measured=list(MEASURED.get(name, [])),
        limits=list(LIMITS.get(name, [])),
        trained_levels=trained_noise_levels(meta),
    )


def model_card(model: str | os.PathLike) -> ModelCard:
    """The card of ``"auto"``, a shipped model or a checkpoint file.

    Parameters
    ----------
    model : str or os.PathLike
        ``"auto"``, a shipped model (``"white"``, ``"correlated"``, ``"default"``,
        ``"cae-baseline"``) or a ``.safetensors`` checkpoint (its card has the metadata's
        figures only).

    Returns
    -------
    ModelCard

    Raises
    ------
    CheckpointError
        ``model`` is neither a shipped model nor a readable checkpoint.

    Examples
    --------
    >>> card = model_card("auto")
    >>> card.intended_use.startswith("research use, not for diagnosis")
    True
    """
    name = os.fspath(model)
    if name == AUTO_MODEL:
        routes = {k: read_metadata(shipped_weights_path(v)) for k, v in AUTO_ROUTES.items()}
        white, correlated = routes[False], routes[True]
        levels = [lv for lv in map(trained_noise_levels, routes.values()) if lv is not None]
        card = _card(AUTO_MODEL, white)
        both = f"white: {_families(white)} | correlated: {_families(correlated)}"
        return ModelCard(
            name="auto (white or correlated, picked per series by the measured noise)",
            description=(
                "the default of every entry point: the shipped `white` network for white "
                "noise, `correlated` where the measured noise is spatially correlated, and "
                "the Rician bias removed where the background shows a magnitude image"
            ),
            architecture=card.architecture,
            training_data=f"white: {_sources(white)} | correlated: {_sources(correlated)}",
            noise=both,
            compute=f"white: {_compute(white)} | correlated: {_compute(correlated)}",
            validation=f"white: {card.validation} | correlated: "
            f"{_card('correlated', correlated).validation}",
            measured=card.measured,
            limits=card.limits,
            trained_levels=(min(a for a, _ in levels), max(b for _, b in levels))
            if levels
            else None,
        )
    if name in SHIPPED_MODELS:
        card = _card(name, read_metadata(shipped_weights_path(name)))
        if MODELS[name].rician_step:  # another name's network, run with auto's Rician step
            described = f"{MODELS[name].summary}. The network: {card.description}"
            return replace(card, description=described)
        return card
    return _card(name, read_metadata(name), shown=Path(name).name)
