"""Provenance of a denoising run: one record of what was done to an image, written everywhere.

:class:`Provenance` is what :meth:`Denoiser.run <medidenoise.Denoiser.run>` returns beside
the image (``DenoiseResult.provenance``). The conversion report, the per-series state file,
the DICOM Derivation Description, the NIfTI sidecar and napari saves all write this one
record, so they cannot disagree.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

from medidenoise._version import __version__
from medidenoise.models.checkpoint import (
    AUTO_MODEL,
    SHIPPED_MODELS,
    read_metadata,
    shipped_weights_path,
)

__all__ = ["INTENDED_USE", "Provenance", "model_source"]

#: what the outputs of medidenoise are for, stated in every derived header and report
INTENDED_USE = "research use, not for diagnosis"

NoiseSource = Literal["given", "estimated", "none"]


@functools.lru_cache(maxsize=16)
def _sha256(path: str, mtime: float) -> str:
    del mtime  # part of the cache key: a rewritten file is hashed again
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def model_source(model: Any) -> tuple[str | None, str | None, str | None]:
    """``(file name, sha256 prefix, adapted from)`` for a model as a caller passes it.

    A shipped model's name or a checkpoint path gives its weights file and the first 16 hex
    digits of its SHA-256; a loaded network gives neither (its metadata may say what it was
    adapted from). Classical methods, ``"identity"`` and ``"auto"`` give ``None``.

    Examples
    --------
    >>> model_source("nlm")
    (None, None, None)
    >>> model_source("white")[0]
    'white.safetensors'
    """
    if not isinstance(model, (str, os.PathLike)):
        meta = getattr(model, "metadata", None) or {}
        adaptation = meta.get("adaptation") if isinstance(meta, dict) else None
        base = adaptation.get("base_model") if isinstance(adaptation, dict) else None
        return None, None, None if base is None else str(base)
    name = os.fspath(model)
    if name == AUTO_MODEL:
        return None, None, None
    path = shipped_weights_path(name) if name in SHIPPED_MODELS else Path(name)
    if not path.is_file():
        return None, None, None
    adapted = None
    if path.suffix == ".safetensors":
        try:
            adaptation = read_metadata(path).get("adaptation")
        except (OSError, ValueError):
            adaptation = None
        if isinstance(adaptation, dict) and adaptation.get("base_model"):
            adapted = str(adaptation["base_model"])
    return path.name, _sha256(str(path), path.stat().st_mtime), adapted


def _units(modality: str) -> str:
    return "HU" if modality.upper() == "CT" else "image units"


@dataclass(frozen=True)
class Provenance:
    """What one denoising run did to one image or series.

    Attributes
    ----------
    model : str
        The model that ran: ``"white"``, ``"correlated"`` (what ``"auto"`` picked), a
        checkpoint's file name, a network's name, a classical method or ``"identity"``.
    requested : str
        The model the caller asked for (``"auto"``, a name, a path).
    route : str or None
        Why ``"auto"`` ran :attr:`model`: ``"white noise"``, ``"correlated noise"``
        (``None`` for any other model).
    model_file, model_sha256 : str or None
        The weights file and the first 16 hex digits of its SHA-256 (``None`` for a loaded
        network, a classical method or ``"identity"``).
    adapted_from : str or None
        The base model of an adapted model (:func:`~medidenoise.adapt`).
    noise_level : float or None
        The noise std the model was given, in the image's own units (HU for CT).
    noise_level_source : {"given", "estimated", "none"}
        The caller's level, the Denoiser's estimate, or none used (``"identity"``).
    noise_level_network : float or None
        The same level in the network's units (a share of its [0, 1] range): what the
        trained range of levels is compared with.
    noise_correlated : bool or None
        Whether the measured noise was spatially correlated (``None``: not measured).
    rician_bias_removed : bool
        The Rician bias of a magnitude image was removed (only where it was).
    self_ensemble : bool
        The eight flips/rotations were averaged.
    tile_size : int or None
        Slices larger than this were denoised in overlapping tiles; ``None``: whole slices.
    modality : str
        The image's modality (``""`` when unknown).
    medidenoise : str
        The package version.
    """

    model: str
    requested: str
    route: str | None = None
    model_file: str | None = None
    model_sha256: str | None = None
    adapted_from: str | None = None
    noise_level: float | None = None
    noise_level_source: NoiseSource = "none"
    noise_level_network: float | None = None
    noise_correlated: bool | None = None
    rician_bias_removed: bool = False
    self_ensemble: bool = False
    tile_size: int | None = None
    modality: str = ""
    medidenoise: str = __version__

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON (:meth:`from_dict` rebuilds the record)."""
        return {**asdict(self), "intended_use": INTENDED_USE}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Provenance:
        """The record :meth:`to_dict` wrote (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def model_text(self) -> str:
        """The model part: ``"white (white.safetensors sha256 ...), picked by auto for white
        noise"``."""
        text = self.model
        if self.model_sha256:
            shown = "" if self.model_file in (None, self.model) else f"{self.model_file} "
            text += f" ({shown}sha256 {self.model_sha256})"
        if self.route:
            text += f", picked by auto for {self.route}"
        if self.adapted_from:
            text += f", adapted from {self.adapted_from}"
        return text

    def noise_text(self) -> str:
        """The noise part: ``"noise level 3.12 HU, estimated (0.0008 of the normalised range)"``."""
        if self.noise_level is None:
            return "no noise level used"
        text = f"noise level {self.noise_level:.4g} {_units(self.modality)}, "
        text += self.noise_level_source
        if self.noise_level_network is not None:
            text += f" ({self.noise_level_network:.3g} of the normalised range)"
        return text

    def parts(self) -> list[str]:
        """The record as short phrases, in the order :meth:`describe` joins them."""
        out = [
            f"Denoised by medidenoise {self.medidenoise}, {INTENDED_USE}",
            f"model {self.model_text()}",
            self.noise_text(),
        ]
        if self.noise_correlated is not None:
            out.append("noise correlated" if self.noise_correlated else "noise white")
        if self.rician_bias_removed:
            out.append("Rician bias removed")
        if self.self_ensemble:
            out.append("self-ensemble of 8 flips/rotations")
        if self.tile_size is not None:
            out.append(f"tiles of {self.tile_size} px")
        return out

    def describe(self) -> str:
        """One line, as a DICOM Derivation Description (at most 1024 characters).

        Examples
        --------
        >>> p = Provenance("nlm", "nlm", noise_level=3.0, noise_level_source="given",
        ...                modality="CT", medidenoise="0.1.0")
        >>> p.describe().split("; ")[1:]
        ['model nlm', 'noise level 3 HU, given']
        """
        return "; ".join(self.parts())[:1024]
