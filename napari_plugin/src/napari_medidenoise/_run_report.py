"""What a denoising run did and how well, as text for the widgets (no Qt).

The words come from the library (``Provenance.parts``, ``QualityReport.lines``,
``ood_warnings``, ``model_card``), so napari says what the command line's report says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import medidenoise as md

__all__ = ["card_text", "run_text", "warnings_text"]


def warnings_text(warnings: Iterable[str]) -> str:
    """One ``WARNING: ...`` line per out-of-distribution warning ('' when there is none)."""
    return "\n".join(f"WARNING: {w}" for w in warnings)


def run_text(
    provenance: md.Provenance | Mapping[str, Any] | None,
    quality: md.QualityReport | None = None,
    warnings: Iterable[str] = (),
) -> str:
    """The run's record, its quality figures and its warnings, one phrase per line.

    Parameters
    ----------
    provenance : medidenoise.Provenance or mapping, optional
        ``DenoiseResult.provenance`` (or its ``to_dict()``, as a layer's metadata keeps it).
    quality : medidenoise.QualityReport, optional
        The run's quality report; its warnings are shown unless ``warnings`` are given.
    warnings : iterable of str
        Out-of-distribution warnings (``medidenoise.ood_warnings``).

    Examples
    --------
    >>> rec = md.Provenance("nlm", "nlm", noise_level=3.0, noise_level_source="given",
    ...                     modality="CT", medidenoise="0.1.0")
    >>> print(run_text(rec, warnings=["odd scan"]))
    Denoised by medidenoise 0.1.0, research use, not for diagnosis
    model nlm
    noise level 3 HU, given
    WARNING: odd scan
    """
    record = (
        md.Provenance.from_dict(dict(provenance)) if isinstance(provenance, Mapping) else provenance
    )
    lines = record.parts() if record is not None else []
    warned = list(warnings)
    if quality is not None:
        lines += quality.lines()
        warned = warned or list(quality.warnings)
    text = warnings_text(warned)
    return "\n".join([*lines, text] if text else lines)


def card_text(model: str) -> str:
    """The model card of ``model`` (a shipped name, ``"auto"`` or a checkpoint path), or why
    there is none (a classical method has no trained weights)."""
    if model not in md.CARD_MODELS and not Path(model).is_file():
        return (
            f"no model card for {model!r}: it is not a trained model (cards exist for "
            f"{', '.join(md.CARD_MODELS)} and checkpoint files)"
        )
    try:
        return md.model_card(model).text()
    except (md.MedidenoiseError, ValueError, OSError) as exc:
        return f"no model card for {model!r}: {exc}"
