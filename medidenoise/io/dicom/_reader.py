"""Reading a DICOM series (or file) into a :class:`Volume`.

This is the one implementation of the series logic: :func:`read_volume` and
the MONAI :class:`DicomSeriesReader` both call :func:`read_dicom`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

from medidenoise.errors import (
    DicomSeriesError,
    InvalidImageError,
    MultipleSeriesError,
    NoImageDataError,
    UnsupportedImageError,
)
from medidenoise.io.dicom._geometry import DicomSeriesWarning, sort_slices
from medidenoise.io.dicom._pixels import check_decodable, check_grayscale, read_frames
from medidenoise.io.dicom._scan import SeriesInfo, require_series, scan_dicom, scan_files
from medidenoise.io.volume import DicomSource, SliceSource, Volume

__all__ = ["read_dicom", "read_dicom_series", "select_series"]

logger = logging.getLogger(__name__)


def _series_table(series: list[SeriesInfo]) -> str:
    return "\n".join(
        f"  series_uid={s.key!r}: {s.description or '(no description)'}, {s.modality}, "
        f"{s.n_files} file(s), {s.shape[0]}x{s.shape[1]}x{s.shape[2]}"
        for s in series
    )


def select_series(
    series: list[SeriesInfo], series_uid: str | None, where: str | os.PathLike
) -> SeriesInfo:
    """Pick one series by UID or key.

    Raises
    ------
    MultipleSeriesError
        Several series and no (or an ambiguous) ``series_uid``.
    DicomSeriesError
        ``series_uid`` matches none of the series.
    """
    if series_uid is None:
        if len(series) == 1:
            return series[0]
        raise MultipleSeriesError(
            f"{where}: {len(series)} image series found; expected one. Pick one with "
            f"read_volume(path, series_uid=...):\n{_series_table(series)}"
        )
    exact = [s for s in series if s.key == series_uid]
    matches = exact or [s for s in series if s.series_uid == series_uid]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise MultipleSeriesError(
            f"{where}: series {series_uid} holds {len(matches)} stacks (different size, "
            f"orientation or echo); pick one by its key with series_uid=...:\n"
            f"{_series_table(matches)}"
        )
    raise DicomSeriesError(
        f"{where}: no series with SeriesInstanceUID {series_uid!r}; the series found are:\n"
        f"{_series_table(series)}"
    )


def _broken_list(info: SeriesInfo, limit: int = 3) -> str:
    shown = "; ".join(f"{p} ({why})" for p, why in info.broken_files[:limit])
    more = len(info.broken_files) - limit
    return shown + (f"; and {more} more" if more > 0 else "")


def read_dicom_series(
    info: SeriesInfo, *, allow_irregular: bool = False, allow_incomplete: bool = False
) -> Volume:
    """Read one series found by :func:`scan_dicom` (no rescanning).

    Slices are sorted along the slice normal and validated (see
    :func:`medidenoise.io.dicom._geometry.sort_slices`); each slice (or frame)
    gets its own RescaleSlope/Intercept, so values are in modality units (HU
    for CT). MONOCHROME1 values are kept as stored (never inverted) and
    ``photometric="MONOCHROME1"`` is recorded.

    Parameters
    ----------
    info : SeriesInfo
        A series from :func:`scan_dicom` / :func:`find_dicom_series`.
    allow_irregular : bool
        Read series with missing slices or irregular spacing as a stack (with a
        warning and an approximate affine) instead of raising.
    allow_incomplete : bool
        Read a series some of whose files cannot be read
        (``info.broken_files``: truncated or corrupt slices) from its readable
        files, with a :class:`DicomSeriesWarning` naming the broken ones and
        ``metadata["incomplete"]`` listing them; by default such a series
        raises :class:`DicomSeriesError`.

    Returns
    -------
    Volume
        float32 (D, H, W) with spacing, RAS affine and ``source`` for write-back.

    Raises
    ------
    DicomSeriesError
        Inconsistent series: several images at one position, or (without
        ``allow_irregular``) missing slices / irregular spacing.
    UnsupportedImageError
        Colour, palette or Modality-LUT images.
    MissingDecoderError
        Compressed pixel data without an installed decoder.
    InvalidImageError
        Truncated or corrupt pixel data.
    """
    if not info.records:
        raise DicomSeriesError(f"series {info.key}: no slices recorded; scan the folder again")
    if info.broken_files and not allow_incomplete:
        raise DicomSeriesError(
            f"series {info.key} ({info.description or 'no description'}) is incomplete: "
            f"{len(info.broken_files)} of its file(s) cannot be read: {_broken_list(info)}. "
            "Re-export those files from the source, or remove them to read the rest "
            "(read_volume(..., allow_irregular=True) or read_dicom_series(..., "
            "allow_incomplete=True) reads the readable slices anyway, with a warning)."
        )
    checked: set[tuple] = set()
    for rec in info.records:  # one check per distinct kind of file, not per slice
        kind = (rec.photometric, rec.samples_per_pixel, rec.has_modality_lut, rec.transfer_syntax)
        if kind not in checked:
            checked.add(kind)
            check_grayscale(rec.path, rec.photometric, rec.samples_per_pixel, rec.has_modality_lut)
            check_decodable(rec.path, rec.transfer_syntax)
    geometry = sort_slices(info.records, allow_irregular=allow_irregular)
    ordered = geometry.records

    wanted: dict[Path, list[int | None]] = defaultdict(list)
    for rec in ordered:
        wanted[rec.path].append(rec.frame)
    arrays: dict[tuple[Path, int | None], np.ndarray] = {}
    for path, frames in wanted.items():
        for frame, arr in read_frames(path, frames).items():
            arrays[(path, frame)] = arr

    first = ordered[0]
    out = np.empty((len(ordered), first.rows, first.columns), dtype=np.float32)
    padding: np.ndarray | None = None
    for k, rec in enumerate(ordered):
        raw = arrays[(rec.path, rec.frame)]
        if raw.shape != (first.rows, first.columns):
            raise DicomSeriesError(
                f"{rec.path}: pixel data has shape {raw.shape}, expected "
                f"{(first.rows, first.columns)} from Rows/Columns; the file is inconsistent."
            )
        out[k] = raw.astype(np.float64) * rec.slope + rec.intercept
        if rec.padding is not None:
            mask = (raw >= rec.padding[0]) & (raw <= rec.padding[1])
            if mask.any():
                if padding is None:
                    padding = np.zeros(out.shape, dtype=bool)
                padding[k] = mask

    photometrics = {r.photometric for r in ordered}
    if len(photometrics) > 1:
        by_kind = {
            kind: next(r.path for r in ordered if r.photometric == kind)
            for kind in sorted(photometrics)
        }
        examples = ", ".join(f"{kind} e.g. {path}" for kind, path in by_kind.items())
        folder = os.path.commonpath([str(p) for p in info.files]) if info.files else "?"
        raise DicomSeriesError(
            f"{folder}: series {info.key} mixes PhotometricInterpretation values ({examples}); "
            "expected one per series. Move the files of each kind into their own folder (or "
            "fix the headers) before reading."
        )
    multiframe = any(r.frame is not None for r in ordered)
    source = DicomSource(
        series_uid=info.series_uid,
        study_uid=first.study_uid,
        slices=tuple(
            SliceSource(r.path, r.frame, r.sop_instance_uid, r.sop_class_uid, r.slope, r.intercept)
            for r in ordered
        ),
        multiframe=multiframe,
    )
    metadata = dict(first.meta)
    metadata.update(
        {
            "SeriesInstanceUID": info.series_uid,
            "StudyInstanceUID": first.study_uid,
            "series_key": info.key,
            "TransferSyntaxUID": first.transfer_syntax,
            "notes": list(geometry.notes),
        }
    )
    if info.broken_files:
        message = (
            f"series {info.key}: read without {len(info.broken_files)} unreadable file(s) of "
            f"the series: {_broken_list(info)}; the volume is incomplete"
        )
        warnings.warn(message, DicomSeriesWarning, stacklevel=2)
        metadata["notes"].append(message)
        metadata["incomplete"] = [str(p) for p, _ in info.broken_files]
    if geometry.positions is not None:
        metadata["slice_positions"] = [float(p) for p in geometry.positions]
    if geometry.tilt_deg:
        metadata["gantry_tilt_deg"] = geometry.tilt_deg
    common = os.path.commonpath([str(p) for p in info.files]) if info.files else None
    return Volume(
        array=out,
        spacing=geometry.spacing,
        affine=geometry.affine,
        modality=first.modality,
        photometric=photometrics.pop(),
        source=source,
        path=Path(common) if common else None,
        metadata=metadata,
        padding=padding,
    )


def read_dicom(
    path: str | os.PathLike, *, series_uid: str | None = None, allow_irregular: bool = False
) -> Volume:
    """Read a DICOM file or folder (the series logic behind :func:`read_volume`).

    A single file is read on its own (even a localizer); a folder is scanned
    recursively and must hold one image series unless ``series_uid`` picks one.

    Raises
    ------
    MultipleSeriesError
        Several series and no ``series_uid``; the message lists them.
    NoImageDataError
        No readable image series (the message says what was found instead).
    """
    path = Path(path)
    if path.is_file():
        scan = scan_files([path], path, keep_localizers=True)
        if scan.errors:
            raise InvalidImageError(
                f"{path}: cannot read this DICOM file: {scan.errors[0][1]}. Re-export it from "
                "the source."
            )
        if not scan.series and scan.skipped:
            _raise_skipped(path, scan.skipped[0][1])
    else:
        scan = scan_dicom(path)
    info = select_series(require_series(scan), series_uid, path)
    try:
        volume = read_dicom_series(
            info, allow_irregular=allow_irregular, allow_incomplete=allow_irregular
        )
    except DicomSeriesError as exc:
        if not scan.errors or info.broken_files:
            raise
        # a gap in the slices is often a file that failed to read: say which
        unreadable = "; ".join(f"{p} ({why})" for p, why in scan.errors[:3])
        more = f" and {len(scan.errors) - 3} more" if len(scan.errors) > 3 else ""
        raise DicomSeriesError(
            f"{exc} The folder also holds {len(scan.errors)} unreadable file(s), possibly the "
            f"missing slice(s): {unreadable}{more}."
        ) from exc
    return volume if path.is_dir() else _with_path(volume, path)


def _with_path(volume: Volume, path: Path) -> Volume:
    return dataclasses.replace(volume, path=path)


def _raise_skipped(path: Path, reason: str) -> None:
    if reason.startswith("colour"):
        raise UnsupportedImageError(
            f"{path}: {reason}; expected a grayscale image (MONOCHROME1/MONOCHROME2). Colour "
            "and palette images cannot be denoised: export a grayscale version."
        )
    raise NoImageDataError(
        f"{path}: {reason}; expected a DICOM image (CT, MR, CR, DX...). Pass an image file or "
        "the folder of a series."
    )
