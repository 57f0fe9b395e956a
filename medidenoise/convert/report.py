"""The report of a batch conversion: one entry per series, one per skipped or broken file."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from medidenoise.inference.provenance import INTENDED_USE, Provenance

__all__ = [
    "REPORT_JSON",
    "REPORT_TEXT",
    "ConversionReport",
    "FileEntry",
    "SeriesEntry",
    "SeriesStatus",
]

#: report file names written into the output folder
REPORT_JSON = "medidenoise-report.json"
REPORT_TEXT = "medidenoise-report.txt"

SeriesStatus = Literal["converted", "complete", "planned", "failed", "incomplete"]
FileStatus = Literal["skipped", "unreadable"]


@dataclass
class SeriesEntry:
    """What happened to one source series (or NIfTI file).

    Attributes
    ----------
    source : str
        The series folder (or file) it was read from.
    output : str or None
        The derived series folder or NIfTI file.
    slices : int
        Slices in the series (0 if it could not be read).
    status : str
        ``"converted"``; ``"complete"`` (already converted by an earlier
        run, left as is); ``"planned"`` (dry run); ``"failed"`` (nothing
        written: a series with unreadable files fails, see ``reason``);
        ``"incomplete"`` (written without its unreadable files, flagged
        INCOMPLETE, only with ``allow_incomplete``).
    reason : str
        Why it failed or was left alone; empty when converted.
    series_uid, description, modality : str
        Identify the source series.
    seconds : float
        Wall time spent on it.
    notes : list of str
        Warnings from reading it (missing slices, irregular spacing...).
    worker : str
        With ``scheduler=``: the Dask worker that converted it (address and
        host name); empty for a local run.
    provenance : dict
        What was done to it (:class:`~medidenoise.inference.provenance.Provenance`):
        the model that ran, the noise level in image units and whether it was estimated,
        the Rician step where applied, self-ensemble, tiling, version.
    quality : dict
        Its quality figures (:class:`~medidenoise.evaluation.quality_report.QualityReport`).
    warnings : list of str
        Where the series is unlike anything the model learned, and what that means.
    figure : str
        Its quality figure (PNG), under ``OUTPUT/medidenoise-quality/``.
    """

    source: str
    output: str | None
    slices: int = 0
    status: SeriesStatus = "planned"
    reason: str = ""
    series_uid: str = ""
    description: str = ""
    modality: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    worker: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    figure: str = ""


def quality_lines(entry: SeriesEntry) -> list[str]:
    """The text report's lines for one series: what was done, how well, and its warnings."""
    lines = []
    if entry.provenance:
        parts = Provenance.from_dict(entry.provenance).parts()[1:]  # the version is said once
        lines.append("done: " + "; ".join(parts))
    q = entry.quality or {}
    if q.get("flat_std_before") is not None:
        u = q.get("units", "")
        nps = ""
        if q.get("mean_frequency_shift") is not None:
            nps = f"; NPS mean frequency shift {q['mean_frequency_shift']:+.3f} cycles/pixel"
        lines.append(
            f"quality: flat-region noise {q['flat_std_before']:.3g} -> {q['flat_std_after']:.3g}"
            f" {u} (ratio {q['std_ratio']:.2f}), mean shift {q['mean_shift']:+.3g} {u}{nps}; "
            f"removed-noise structure {q['structure']:+.2f}; 2-pixel pattern "
            f"{q['pattern_amplitude']:.3f} x the input noise"
        )
    elif q:
        lines.append("quality: no flat region to measure the noise in")
    if entry.figure:
        lines.append(f"figure: {entry.figure}")
    lines.extend(f"WARNING: {w}" for w in entry.warnings)
    return lines


@dataclass
class FileEntry:
    """A file that is not part of any converted series, and why."""

    path: str
    status: FileStatus
    reason: str


@dataclass
class ConversionReport:
    """The outcome of :func:`~medidenoise.convert.convert_dicom_folder`.

    Attributes
    ----------
    source, output : str
        The input and output given.
    series : list of SeriesEntry
        One entry per image series (or NIfTI file) found.
    files : list of FileEntry
        Non-image objects and localizers skipped (``"skipped"``), and files
        that could not be read (``"unreadable"``).
    dry_run : bool
        True when nothing was written.
    settings : dict
        Model, noise level, format, version.
    part : str
        Under torchrun, on ranks other than 0: which share of the run this
        report covers (rank 0 holds and writes the merged report).
    """

    source: str
    output: str
    series: list[SeriesEntry] = field(default_factory=list)
    files: list[FileEntry] = field(default_factory=list)
    dry_run: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    part: str = ""

    @property
    def ok(self) -> bool:
        """True when at least one series was found, every one converted whole and every file
        was readable (exit code 0 of ``medidenoise denoise``)."""
        return (
            (bool(self.series) or bool(self.part))
            and not any(e.status in ("failed", "incomplete") for e in self.series)
            and not any(f.status == "unreadable" for f in self.files)
        )

    @property
    def failed(self) -> list[SeriesEntry]:
        """The series that failed."""
        return [e for e in self.series if e.status == "failed"]

    def summary(self) -> str:
        """A readable summary: counts, then every failure and skipped file with its reason."""
        counts = Counter(e.status for e in self.series)
        files = Counter(f.status for f in self.files)
        head = "dry run: nothing written" if self.dry_run else f"output: {self.output}"
        lines = [
            f"medidenoise conversion of {self.source}",
            *([self.part] if self.part else []),
            head,
            f"series: {len(self.series)} found, {counts['converted']} converted, "
            f"{counts['complete']} already complete, {counts['planned']} planned, "
            f"{counts['failed']} failed"
            + (f", {counts['incomplete']} written INCOMPLETE" if counts["incomplete"] else ""),
            f"other files: {files['skipped']} skipped (not images), "
            f"{files['unreadable']} unreadable",
        ]
        for e in self.series:
            slices = f"{e.slices} slices" if e.slices else "? slices"
            line = f"  [{e.status}] {e.source} ({slices}) -> {e.output or '-'}"
            lines.append(line + (f": {e.reason}" if e.reason else ""))
            lines.extend([f"      on Dask worker {e.worker}"] if e.worker else [])
            lines.extend(f"      {n}" for n in quality_lines(e))
            lines.extend(f"      note: {n}" for n in e.notes)
        for f in self.files:
            lines.append(f"  [{f.status}] {f.path}: {f.reason}")
        if not self.series and not self.part:
            lines.append("  no image series found: is INPUT the right folder?")
        if self.dry_run:  # nothing ran, so nothing failed: say what a real run would meet
            lines.append(
                "result: DRY RUN, nothing written"
                + ("" if self.ok else "; a real run would not complete (see the reasons above)")
            )
        else:
            lines.append("result: OK" if self.ok else "result: FAILED (see the reasons above)")
        if any(e.status in ("converted", "incomplete") for e in self.series):
            lines.append(f"medidenoise output is for {INTENDED_USE}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON."""
        return {**asdict(self), "ok": self.ok}

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConversionReport:
        """Rebuild a report from :meth:`to_dict` output."""
        data = {k: v for k, v in data.items() if k != "ok"}
        data["series"] = [SeriesEntry(**e) for e in data.get("series", [])]
        data["files"] = [FileEntry(**f) for f in data.get("files", [])]
        return cls(**data)

    def write(self, folder: str | os.PathLike) -> tuple[Path, Path]:
        """Write the JSON report and the readable summary into ``folder``.

        Each file is written beside its final name and renamed into place, so
        a reader never sees half a report.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = folder / REPORT_JSON, folder / REPORT_TEXT
        for path, text in zip(paths, (self.to_json(), self.summary() + "\n"), strict=True):
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        return paths
