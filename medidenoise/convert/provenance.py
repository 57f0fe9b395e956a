"""Provenance of a conversion: which model made a derived series, as its header records it."""

from __future__ import annotations

from typing import Any

from medidenoise._version import __version__
from medidenoise.inference.options import DenoiseOptions
from medidenoise.models.checkpoint import model_label

__all__ = ["derivation", "derivation_description", "model_id"]


def model_id(model: Any) -> str:
    """The model's label with its weights' checksum, for provenance and UID seeds."""
    return model_label(model, checksum=True)


def derivation(label: str, options: DenoiseOptions) -> str:
    """The Derivation Description for a model already described by :func:`model_id`."""
    level = options.noise_level
    noise = "estimated per series" if level is None else f"{level:g}"
    ensemble = "; averaged over 8 flips/rotations" if options.self_ensemble else ""
    bias = "; Rician bias removed" if options.rician else ""
    return (
        f"Denoised by medidenoise {__version__}; model {label}; noise level {noise}{ensemble}{bias}"
    )


def derivation_description(
    model: Any = "auto",
    noise_level: float | None = None,
    *,
    self_ensemble: bool = False,
    rician: bool = False,
    options: DenoiseOptions | None = None,
) -> str:
    """The Derivation Description a denoised DICOM series gets, as ``convert`` writes it.

    Parameters
    ----------
    model : str, os.PathLike or torch.nn.Module
        The model as passed to :func:`denoise`: ``"auto"``, ``"default"``, a checkpoint
        path (its SHA-256 is recorded, so a retrained model is told apart), a
        loaded network or a classical method name.
    noise_level : float, optional
        The noise level used, in image units; ``None`` records "estimated per
        series".
    self_ensemble : bool
        Whether the 8 flips/rotations were averaged.
    rician : bool
        Whether the Rician bias of magnitude images was removed.
    options : DenoiseOptions, optional
        ``noise_level``, ``self_ensemble`` and ``rician`` as one object, instead.

    Returns
    -------
    str
        For example ``"Denoised by medidenoise 0.1.0; model default (sha256 ...);
        noise level 12.5"``.

    Examples
    --------
    >>> derivation_description("nlm", 12.5)[:28]
    'Denoised by medidenoise 0.1.'
    """
    opts = DenoiseOptions.of(
        options, noise_level=noise_level, self_ensemble=self_ensemble, rician=rician
    )
    return derivation(model_id(model), opts)
