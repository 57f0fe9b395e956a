"""The quality figures of each converted series, for the conversion report."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from medidenoise.evaluation.quality_figure import save_quality_figure
from medidenoise.evaluation.quality_report import QualityReport, quality_report
from medidenoise.inference.provenance import Provenance
from medidenoise.io import Volume

__all__ = ["QUALITY_DIR", "measure"]

log = logging.getLogger(__name__)

#: the folder of the report's per-series PNG figures, in OUTPUT
QUALITY_DIR = "medidenoise-quality"


def measure(
    source: Volume, denoised: Any, record: Provenance | None, figure: Path, title: str = ""
) -> tuple[dict[str, Any], list[str], list[str]]:
    """Quality figures, warnings and notes of one series; its PNG drawn to ``figure``.

    A measurement that fails costs the series nothing: the figures stay empty and a note
    says why (the denoised series is still written).
    """
    try:
        report: QualityReport = quality_report(source, denoised, provenance=record)
    except Exception as exc:  # a measurement must never fail a conversion
        log.warning("quality figures of %s: %s: %s", title, type(exc).__name__, exc)
        return {}, [], [f"quality figures not measured: {type(exc).__name__}: {exc}"]
    for warning in report.warnings:
        log.warning("%s: %s", title or "series", warning)
    try:
        save_quality_figure(source, denoised, figure, report=report, title=title)
    except Exception as exc:  # the figures stand without their picture
        log.warning("quality figure of %s: %s: %s", title, type(exc).__name__, exc)
    return report.to_dict(), list(report.warnings), []
