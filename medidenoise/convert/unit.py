"""Converting one planned unit (a DICOM series or a NIfTI file), all or nothing.

The unit is written into ``OUTPUT/.medidenoise-partial/<key>/``, checked, given
its manifest, and only then renamed into place. A run that is killed leaves at
most a work folder (removed and redone next time), never a half series that
looks complete.

The manifest records the settings the unit was made with. A later run asked
for different output (another model, noise level or compression) does not
report such a unit as done, nor replace it silently: it fails with a message
to pass ``--overwrite`` (``overwrite=True``), so an earlier result is only ever
replaced on request.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from medidenoise._version import __version__
from medidenoise.convert.lock import claim
from medidenoise.convert.plan import PARTIAL_DIR, Unit
from medidenoise.convert.quality import QUALITY_DIR, measure
from medidenoise.convert.report import SeriesEntry, SeriesStatus
from medidenoise.errors import ConversionError
from medidenoise.inference.options import DenoiseOptions
from medidenoise.inference.progress import LegacyProgress
from medidenoise.io import (
    Volume,
    read_dicom_series,
    read_volume,
    scan_dicom,
    write_dicom_series,
    write_nifti,
)
from medidenoise.models.checkpoint import AUTO_BY

__all__ = [
    "COMPARED_SETTINGS",
    "MANIFEST",
    "UnitOptions",
    "convert_unit",
    "decide",
    "earlier_run",
    "entry_for",
    "incomplete_reason",
    "planned_entry",
    "refusal",
]

log = logging.getLogger(__name__)

#: written last into a derived series folder: its presence means "complete"
MANIFEST = ".medidenoise-series.json"
#: beside a NIfTI output: its presence means "complete"
NIFTI_MANIFEST_SUFFIX = ".medidenoise.json"
#: settings that change the output: a complete unit made with others is not "done".
#: (The output format is part of the output's name, so it needs no check here.)
COMPARED_SETTINGS = (
    "model",
    *DenoiseOptions.compared_defaults(),  # noise_level, self_ensemble, rician, ...
    "compression",
    "volume_index",
)
#: how the settings label of "auto" ended before each series got its own record
_OLD_AUTO_BY = "by measured noise; Rician bias removed from magnitude images"
#: what manifests written before a setting existed mean by its absence
_SETTING_DEFAULTS: dict[str, Any] = {
    **DenoiseOptions.compared_defaults(),
    "compression": "none",
    "volume_index": None,
}


@dataclass(frozen=True)
class UnitOptions:
    """Settings shared by every unit of one conversion."""

    output_format: str  # "dicom" or "nifti" for DICOM input
    overwrite: bool
    derivation: str
    settings: dict[str, Any]
    #: how every unit is denoised (the Denoiser of the run is built with these)
    denoise: DenoiseOptions = field(default_factory=DenoiseOptions)
    progress: bool = False
    compression: str = "none"
    #: which volume of a 4D NIfTI input to denoise
    volume_index: int | None = None
    #: write a series some of whose files cannot be read, flagged INCOMPLETE
    allow_incomplete: bool = False


def _manifest_path(final: Path, kind: str) -> Path:
    if kind == "dicom-folder":
        return final / MANIFEST
    return final.with_name(final.name + NIFTI_MANIFEST_SUFFIX)


def _out_kind(unit: Unit, opts: UnitOptions) -> str:
    if unit.kind == "dicom" and opts.output_format == "dicom":
        return "dicom-folder"
    return "nifti-file"


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def earlier_run(unit: Unit, out_root: Path, opts: UnitOptions) -> tuple[bool, str]:
    """Whether an earlier run completed ``unit``, and how its settings differ.

    Returns
    -------
    complete : bool
        The output and its manifest exist (an unreadable manifest counts as
        incomplete: the unit is redone).
    conflict : str
        Empty when the earlier settings are those asked for now; otherwise
        the reason the unit is refused without ``overwrite``.
    """
    kind = _out_kind(unit, opts)
    final = out_root / unit.output
    marker = _manifest_path(final, kind)
    if not (marker.is_file() and final.exists()):
        return False, ""
    manifest = _read_manifest(marker)
    if manifest is None:
        return False, ""
    if manifest.get("incomplete") and not _broken(unit):
        return False, ""  # written without slices that can be read now: redo it whole
    before = dict(manifest.get("settings") or {})
    if isinstance(before.get("model"), str):  # the same model, labelled as before
        before["model"] = before["model"].replace(_OLD_AUTO_BY, AUTO_BY)
    diffs = [
        f"{key} {before.get(key, _SETTING_DEFAULTS.get(key))!r} -> {opts.settings.get(key)!r}"
        for key in COMPARED_SETTINGS
        if before.get(key, _SETTING_DEFAULTS.get(key)) != opts.settings.get(key)
    ]
    if not diffs:
        return True, ""
    return True, (
        f"{final} was converted by an earlier run with other settings ({'; '.join(diffs)}); "
        "left as it was. Pass --overwrite (overwrite=True) to redo it with the new settings, "
        "or choose another OUTPUT"
    )


def _broken(unit: Unit) -> tuple[tuple[Path, str], ...]:
    """Files of the unit's series that cannot be read."""
    return unit.info.broken_files if unit.info is not None else ()


def _broken_text(broken: tuple[tuple[Path, str], ...], limit: int = 3) -> str:
    shown = "; ".join(f"{p.name} ({why})" for p, why in broken[:limit])
    return shown + (f"; and {len(broken) - limit} more" if len(broken) > limit else "")


def incomplete_reason(unit: Unit, opts: UnitOptions) -> str:
    """Why a unit with unreadable files is not written (or how it was flagged); "" if whole."""
    broken = _broken(unit)
    if not broken:
        return ""
    head = (
        f"incomplete: {len(broken)} file(s) of this series cannot be read: {_broken_text(broken)}"
    )
    if opts.allow_incomplete:
        return (
            f"{head}; written from the {unit.slices} readable slice(s) and flagged INCOMPLETE "
            "(SeriesDescription, DerivationDescription, manifest)"
        )
    return (
        f"{head}; the series was not written. Re-export those files from the source and run "
        "again, or pass --allow-incomplete (allow_incomplete=True) to write the readable "
        "slices as a series flagged INCOMPLETE"
    )


def _earlier_incomplete(unit: Unit, out_root: Path, opts: UnitOptions) -> bool:
    manifest = _read_manifest(_manifest_path(out_root / unit.output, _out_kind(unit, opts)))
    return bool(manifest and manifest.get("incomplete"))


def refusal(unit: Unit, opts: UnitOptions) -> str:
    """Why ``unit`` is refused before anything is read or claimed; "" if it may go ahead.

    A series with unreadable files is refused unless ``allow_incomplete``.
    """
    if _broken(unit) and not opts.allow_incomplete:
        return incomplete_reason(unit, opts)
    return ""


def decide(unit: Unit, out_root: Path, opts: UnitOptions) -> tuple[SeriesStatus, str] | None:
    """What a run does with ``unit`` short of converting it: ``(status, reason)``.

    ``None`` when the unit is to be converted. The one decision both a dry run
    (:func:`planned_entry`) and a real run (:func:`convert_unit`, while it
    holds the unit's claim) act on: refused (``"failed"``: unreadable files
    without ``allow_incomplete``, or an earlier result made with other
    settings), or left alone as an earlier run completed it (``"complete"``,
    or ``"incomplete"`` when that run wrote it flagged INCOMPLETE). With
    ``overwrite`` only the refusal for unreadable files remains.
    """
    refused = refusal(unit, opts)
    if refused:
        return "failed", refused
    if opts.overwrite:
        return None
    complete, conflict = earlier_run(unit, out_root, opts)
    if conflict:
        return "failed", conflict
    if complete and _earlier_incomplete(unit, out_root, opts):
        return "incomplete", "left as an earlier run wrote it, " + incomplete_reason(unit, opts)
    if complete:
        return "complete", "already converted by an earlier run"
    return None


def planned_entry(unit: Unit, out_root: Path, opts: UnitOptions) -> SeriesEntry:
    """A dry run's entry for ``unit``: :func:`decide`'s outcome, else ``"planned"``."""
    decided = decide(unit, out_root, opts)
    if decided is not None:
        return entry_for(unit, out_root, *decided)
    return entry_for(unit, out_root, "planned", incomplete_reason(unit, opts))


def entry_for(
    unit: Unit, out_root: Path, status: SeriesStatus = "planned", reason: str = ""
) -> SeriesEntry:
    """A report entry describing ``unit``."""
    return SeriesEntry(
        source=str(unit.source),
        output=str(out_root / unit.output),
        slices=unit.slices,
        status=status,
        reason=reason,
        series_uid=unit.series_uid,
        description=unit.description,
        modality=unit.modality,
        notes=list(unit.notes),
    )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _read(unit: Unit, volume_index: int | None = None) -> tuple[Volume, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if unit.kind == "nifti":
            vol = read_volume(unit.source, volume_index=volume_index)
        else:
            assert unit.info is not None
            vol = read_dicom_series(unit.info, allow_irregular=True, allow_incomplete=True)
    notes = list(
        dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, UserWarning))
    )
    return vol, notes


def _validate(folder: Path, source: Volume, files: list[Path]) -> str:
    """Re-read the written series with medidenoise's reader; return its new UID."""
    scan = scan_dicom(folder)
    if scan.errors or len(scan.series) != 1:
        found = [str(i) for i in scan.series] + [f"{p.name}: {r}" for p, r in scan.errors]
        raise ConversionError(f"{folder}: the written series does not read back as one: {found}")
    info = scan.series[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = read_dicom_series(info, allow_irregular=True)
    if back.shape != source.shape or not np.allclose(back.affine, source.affine, atol=1e-3):
        raise ConversionError(
            f"{folder}: the written series reads back with shape {back.shape} and a different "
            f"geometry than the source {source.shape}; nothing was kept"
        )
    if info.n_files != len(files):
        raise ConversionError(
            f"{folder}: {len(files)} file(s) were written but {info.n_files} read back as the "
            "series; nothing was kept"
        )
    not_derived = [r.path.name for r in info.records if (r.image_type or ("",))[0] != "DERIVED"]
    if not_derived:
        raise ConversionError(
            f"{folder}: {len(not_derived)} written file(s) are not DERIVED "
            f"({', '.join(sorted(not_derived)[:5])})"
        )
    return info.series_uid


def _clip_note(clipped: int, total: int) -> str:
    return (
        f"{clipped} of {total} denoised pixel values ({100 * clipped / total:.3g} %) lay outside "
        "the range the source's Bits Stored can hold and were clipped to it"
    )


def _write_manifest(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def _place(tmp: Path, final: Path, parking: Path) -> None:
    """Rename ``tmp`` to ``final``, moving an old ``final`` aside first."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() or final.is_symlink():
        _remove(parking)
        os.rename(final, parking)
    os.rename(tmp, final)
    _remove(parking)


def convert_unit(unit: Unit, out_root: Path, denoiser: Any, opts: UnitOptions) -> SeriesEntry:
    """Read, denoise, write, check and publish one unit; never raises for bad data.

    The unit is claimed first (see :mod:`medidenoise.convert.lock`):
    a unit that another process is writing at this moment is left to it and
    reported failed, never touched.

    Returns
    -------
    SeriesEntry
        ``"converted"``, ``"complete"`` (left alone), ``"incomplete"`` (written
        flagged, ``allow_incomplete`` only) or ``"failed"`` with the reason.
    """
    refused = refusal(unit, opts)  # needs no claim: nothing is touched
    if refused:
        return entry_for(unit, out_root, "failed", refused)
    with claim(out_root / PARTIAL_DIR / f"{unit.key}.claim") as mine:
        if mine:
            return _convert_claimed(unit, out_root, denoiser, opts)
    reason = (
        f"{out_root / unit.output} is being written by another process at this moment (a "
        "second conversion into the same OUTPUT); left to it. Run again when it has finished"
    )
    return entry_for(unit, out_root, "failed", reason)


def _denoise(denoiser: Any, vol: Volume, opts: UnitOptions) -> Any:
    """``denoiser.run`` with a progress bar when asked: the image and its provenance.

    The denoiser was built with ``opts.denoise`` (its noise level included)."""
    relay = LegacyProgress(True) if opts.progress else None
    try:
        return denoiser.run(vol, progress=relay)
    finally:
        if relay is not None:
            relay.close()


def _convert_claimed(unit: Unit, out_root: Path, denoiser: Any, opts: UnitOptions) -> SeriesEntry:
    start = time.perf_counter()
    final = out_root / unit.output
    decided = decide(unit, out_root, opts)
    if decided is not None:
        return entry_for(unit, out_root, *decided)
    entry = entry_for(unit, out_root)
    kind = _out_kind(unit, opts)
    broken = _broken(unit)
    work = out_root / PARTIAL_DIR / unit.key
    try:
        _remove(work)
        work.mkdir(parents=True)
        vol, notes = _read(unit, opts.volume_index)
        entry.slices, entry.modality = vol.shape[0], entry.modality or vol.modality
        entry.notes.extend(notes)
        result = _denoise(denoiser, vol, opts)
        out, record = result.image, result.provenance
        provenance = record.to_dict() if record is not None else {}
        entry.provenance = provenance
        figure = work / "quality.png"
        entry.quality, entry.warnings, notes = measure(vol, out, record, figure, unit.description)
        entry.notes.extend(notes)
        manifest: dict[str, Any] = {
            "medidenoise": __version__,
            "source": str(unit.source),
            "source_series_uid": unit.series_uid,
            "slices": vol.shape[0],
            "settings": opts.settings,
            "provenance": provenance,
            "quality": entry.quality,
            "warnings": entry.warnings,
            "completed": datetime.now().isoformat(timespec="seconds"),
        }
        derivation, suffix = opts.derivation, " DENOISED"
        if record is not None:  # what was done to this series, with its numbers
            manifest["model_used"] = result.model
            derivation = record.describe()
        if broken:
            manifest["incomplete"] = [str(p) for p, _ in broken]
            derivation += f"; INCOMPLETE: {len(broken)} source file(s) unreadable"
            suffix = " DENOISED INCOMPLETE"
        if kind == "dicom-folder":
            tmp = work / "series"
            files = write_dicom_series(
                vol,
                out.array,
                tmp,
                description_suffix=suffix,
                derivation_description=derivation[:1024],
                uid_seed=opts.derivation,
                series_key=unit.series_key or None,
                compression=opts.compression,  # type: ignore[arg-type]
                on_clipped=lambda n, total: entry.notes.append(_clip_note(n, total)),
            )
            del out  # written: free it before the series is read back whole
            manifest["series_uid"] = _validate(tmp, vol, files)
            manifest["files"] = [f.name for f in files]
            _write_manifest(tmp / MANIFEST, manifest)
            _place(tmp, final, work / "previous")
        else:
            tmp = write_nifti(out, work / final.name)
            marker = _manifest_path(final, kind)
            _remove(marker)
            _place(tmp, final, work / "previous")
            _write_manifest(marker, manifest)
        if figure.is_file():  # the series is in place: its figure joins the report
            shown = out_root / QUALITY_DIR / f"{unit.key}.png"
            shown.parent.mkdir(parents=True, exist_ok=True)
            os.replace(figure, shown)
            entry.figure = str(shown)
        entry.status = "incomplete" if broken else "converted"
        entry.reason = incomplete_reason(unit, opts)
    except Exception as exc:  # one broken series must not stop the batch
        log.warning("%s: %s: %s", unit.source, type(exc).__name__, exc)
        entry.status, entry.reason = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        _remove(work)
        entry.seconds = round(time.perf_counter() - start, 3)
    return entry
