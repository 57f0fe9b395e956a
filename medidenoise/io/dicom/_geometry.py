"""Slice ordering, spacing validation and the affine of a DICOM stack.

Rules (see :func:`sort_slices`):

* slices are sorted by ImagePositionPatient projected on the slice normal
  ``cross(row, column)``; InstanceNumber is used only when positions are
  missing, with a :class:`DicomSeriesWarning`;
* an exact copy of a slice (same SOPInstanceUID and frame) is dropped with a
  warning; different slices at one position raise :class:`DicomSeriesError`
  (the series holds several volumes: echoes, time points...);
* consecutive spacing must agree within 1 %; missing slices or irregular
  spacing raise :class:`DicomSeriesError` unless ``allow_irregular=True``
  (then a warning, and the median step is used for the affine);
* gantry tilt (slice positions not along the normal) gives a warning: the
  volume is usable as is, the affine keeps the shear, nothing is resampled.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from medidenoise.errors import DicomSeriesError
from medidenoise.io.dicom._header import SliceRecord

__all__ = ["DicomSeriesWarning", "StackGeometry", "default_affine", "sort_slices"]

logger = logging.getLogger(__name__)

_RTOL = 0.01  # relative tolerance on the slice spacing
_POS_ATOL = 1e-3  # mm: positions closer than this are "the same"
_TILT_TOL = 1e-3  # 1 - |cos(angle)| between slice direction and normal
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


class DicomSeriesWarning(UserWarning):
    """A DICOM series was read, but with an assumption the user should know about."""


@dataclass
class StackGeometry:
    """Sorted slices of one series and the geometry derived from them."""

    records: list[SliceRecord]
    spacing: tuple[float, float, float]
    affine: np.ndarray
    positions: list[float] | None
    notes: list[str] = field(default_factory=list)
    tilt_deg: float = 0.0


def _warn(notes: list[str], message: str) -> None:
    notes.append(message)
    warnings.warn(message, DicomSeriesWarning, stacklevel=4)
    logger.warning(message)


def _orientation(rec: SliceRecord) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    iop = rec.iop or (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    row = np.asarray(iop[:3], dtype=np.float64)
    col = np.asarray(iop[3:], dtype=np.float64)
    row /= np.linalg.norm(row) or 1.0
    col /= np.linalg.norm(col) or 1.0
    normal = np.cross(row, col)
    normal /= np.linalg.norm(normal) or 1.0
    return row, col, normal


def _affine(
    rec: SliceRecord, origin: np.ndarray, slice_vec: np.ndarray, dy: float, dx: float
) -> np.ndarray:
    row, col, _ = _orientation(rec)
    lps = np.eye(4)
    lps[:3, 0] = slice_vec
    lps[:3, 1] = col * dy
    lps[:3, 2] = row * dx
    lps[:3, 3] = origin
    return _LPS_TO_RAS @ lps


def default_affine(spacing: Sequence[float]) -> np.ndarray:
    """RAS affine of an image without geometry: axial-like, rows top-to-bottom.

    Columns run to patient left, rows to posterior, slices to superior (the
    DICOM default orientation ``1\\0\\0\\0\\1\\0``), origin at 0.
    """
    dz, dy, dx = (float(s) for s in spacing)
    lps = np.eye(4)
    lps[:3, :3] = np.array([[0.0, 0.0, dx], [0.0, dy, 0.0], [dz, 0.0, 0.0]])
    return _LPS_TO_RAS @ lps


def _label(records: Sequence[SliceRecord]) -> str:
    r = records[0]
    return f"series {r.series_uid or '?'} ({r.path.parent})"


def _drop_copies(items: list[tuple[float, SliceRecord]], notes: list[str], label: str) -> list:
    kept: list[tuple[float, SliceRecord]] = []
    for pos, rec in items:
        if kept and abs(pos - kept[-1][0]) < _POS_ATOL:
            prev = kept[-1][1]
            if (prev.sop_instance_uid, prev.frame) == (rec.sop_instance_uid, rec.frame):
                _warn(
                    notes,
                    f"{label}: {rec.path} is a copy of {prev.path} (same "
                    f"SOPInstanceUID); the copy is ignored",
                )
                continue
            raise DicomSeriesError(
                f"{label}: {prev.path} and {rec.path} lie at the same position "
                f"({pos:.3f} mm along the slice normal) but are different images; expected one "
                "slice per position. The series holds several volumes (echoes, time points or "
                "repeated acquisitions): move each volume into its own folder, or pick the "
                "files of one volume and read them separately."
            )
        kept.append((pos, rec))
    return kept


def _check_steps(pos: np.ndarray, label: str, allow_irregular: bool, notes: list[str]) -> float:
    """Validate the spacing of sorted positions; return the slice step in mm."""
    steps = np.diff(pos)
    step = float(np.median(steps))
    if np.allclose(steps, step, rtol=_RTOL, atol=_POS_ATOL):
        return float((pos[-1] - pos[0]) / (len(pos) - 1))
    problems = []
    for i, s in enumerate(steps):
        if abs(s - step) <= _RTOL * step + _POS_ATOL:
            continue
        ratio = s / step
        if ratio > 1.5 and abs(ratio - round(ratio)) < 0.05:
            problems.append(
                f"{round(ratio) - 1} slice(s) missing between {pos[i]:.2f} and {pos[i + 1]:.2f} mm"
            )
        else:
            problems.append(f"step {s:.3f} mm between {pos[i]:.2f} and {pos[i + 1]:.2f} mm")
    summary = "; ".join(problems[:5]) + (
        f"; ... ({len(problems)} in all)" if len(problems) > 5 else ""
    )
    message = (
        f"{label}: slice spacing is not regular (expected every step to be {step:.3f} mm "
        f"within 1 %; found {summary})"
    )
    if not allow_irregular:
        raise DicomSeriesError(
            message + ". Missing files? Re-export the complete series, or pass "
            "allow_irregular=True to read the slices as a stack (the affine then uses the median "
            "step and is only approximate)."
        )
    _warn(notes, message + "; read as a stack with the median step (approximate affine)")
    return step


def sort_slices(records: Sequence[SliceRecord], *, allow_irregular: bool = False) -> StackGeometry:
    """Sort the slices of one series group and compute its geometry.

    Parameters
    ----------
    records : sequence of SliceRecord
        Slices of one series with equal size and orientation.
    allow_irregular : bool
        Accept missing slices / irregular spacing with a warning instead of
        raising :class:`DicomSeriesError`.

    Returns
    -------
    StackGeometry
        Records in increasing position along the slice normal, spacing
        (dz, dy, dx), RAS affine for the (d, h, w) index.

    Raises
    ------
    DicomSeriesError
        Different slices at one position, or irregular spacing without
        ``allow_irregular``.
    """
    if not records:
        raise DicomSeriesError("no slices to sort")
    label = _label(records)
    notes: list[str] = []
    first = records[0]
    dy, dx = first.pixel_spacing or (1.0, 1.0)
    if first.pixel_spacing is None:
        notes.append("PixelSpacing missing: 1 mm assumed")
    normal = _orientation(first)[2]
    single_dz = first.slice_spacing or 1.0
    if all(r.ipp is not None and r.iop is not None for r in records):
        return _stack_by_position(
            records, normal, single_dz, (dy, dx), label, allow_irregular, notes
        )
    return _stack_by_instance_number(records, normal, single_dz, (dy, dx), label, notes)


def _stack_by_position(
    records: Sequence[SliceRecord],
    normal: np.ndarray,
    single_dz: float,
    pixel: tuple[float, float],
    label: str,
    allow_irregular: bool,
    notes: list[str],
) -> StackGeometry:
    """Slices sorted by their position along the normal; the step checked, a tilt measured."""
    first, (dy, dx) = records[0], pixel
    items = sorted(
        ((float(np.dot(r.ipp, normal)), r) for r in records),  # type: ignore[arg-type]
        key=lambda t: (t[0], t[1].instance_number or 0, str(t[1].path), t[1].frame or 0),
    )
    items = _drop_copies(items, notes, label)
    ordered = [r for _, r in items]
    pos = np.array([p for p, _ in items])
    origin = np.asarray(ordered[0].ipp, dtype=np.float64)
    tilt = 0.0
    if len(ordered) == 1:
        dz, slice_vec = single_dz, normal * single_dz
    else:
        dz = _check_steps(pos, label, allow_irregular, notes)
        delta = np.asarray(ordered[-1].ipp) - origin
        slice_vec = delta / (pos[-1] - pos[0]) * dz
        tilt = _gantry_tilt(delta, normal, label, notes)
    affine = _affine(first, origin, slice_vec, dy, dx)
    return StackGeometry(ordered, (dz, dy, dx), affine, pos.tolist(), notes, tilt)


def _gantry_tilt(delta: np.ndarray, normal: np.ndarray, label: str, notes: list[str]) -> float:
    """Degrees between the stacking direction and the slice normal (0 below tolerance)."""
    cos = abs(float(np.dot(delta / np.linalg.norm(delta), normal)))
    if not cos < 1.0 - _TILT_TOL:  # (a NaN cosine counts as no tilt)
        return 0.0
    tilt = float(np.degrees(np.arccos(min(cos, 1.0))))
    _warn(
        notes,
        f"{label}: gantry tilt of {tilt:.2f} degrees (slices are sheared "
        "along the normal); the affine keeps the shear, the volume is not "
        "resampled",
    )
    return tilt


def _stack_by_instance_number(
    records: Sequence[SliceRecord],
    normal: np.ndarray,
    single_dz: float,
    pixel: tuple[float, float],
    label: str,
    notes: list[str],
) -> StackGeometry:
    """No usable positions: fall back on InstanceNumber (frame order in one file)."""
    first, (dy, dx) = records[0], pixel
    ordered = sorted(
        records,
        key=lambda r: (
            r.instance_number is None,
            r.instance_number or 0,
            str(r.path),
            r.frame or 0,
        ),
    )
    if len(ordered) > 1:
        multiframe_one_file = len({r.path for r in ordered}) == 1
        if multiframe_one_file:
            notes.append("no per-frame positions: frames kept in stored order")
            logger.info("%s: no per-frame positions, frames kept in stored order", label)
        elif all(r.instance_number is not None for r in ordered):
            _warn(
                notes,
                f"{label}: ImagePositionPatient/ImageOrientationPatient missing; "
                "slices sorted by InstanceNumber (check the order)",
            )
        else:
            _warn(
                notes,
                f"{label}: neither ImagePositionPatient nor InstanceNumber on every "
                "slice; slices kept in file-name order (check the order)",
            )
    origin = np.asarray(next((r.ipp for r in ordered if r.ipp is not None), (0.0, 0.0, 0.0)))
    affine = _affine(first, origin, normal * single_dz, dy, dx)
    return StackGeometry(ordered, (single_dz, dy, dx), affine, None, notes, 0.0)
