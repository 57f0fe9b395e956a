"""Finding the DICOM image series in a folder, without reading pixel data."""

from __future__ import annotations

import logging
import os
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID

from medidenoise.errors import NoImageDataError
from medidenoise.io.dicom_header import SliceRecord, records_from_dataset, transfer_syntax_of
from medidenoise.io.dicom_series import DicomScan, SeriesInfo

__all__ = ["DicomScan", "SeriesInfo", "find_dicom_series", "scan_dicom", "scan_files"]

logger = logging.getLogger(__name__)

_DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
_NON_IMAGE_MODALITIES = {"SR", "KO", "PR", "RTPLAN", "RTSTRUCT", "RTRECORD", "RTDOSE", "SEG", "REG"}
_IOP_ATOL = 1e-3
# files with these suffixes are never parsed as DICOM unless they carry the DICM prefix
_OTHER_SUFFIXES = {
    ".txt",
    ".json",
    ".xml",
    ".html",
    ".pdf",
    ".csv",
    ".md",
    ".zip",
    ".gz",
    ".nii",
    ".png",
    ".jpg",
    ".jpeg",
    ".tif",
    ".tiff",
    ".bmp",
    ".exe",
    ".py",
    ".log",
}


def _iter_files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found.extend(Path(root) / name for name in sorted(files))
    return found


def _expected_pixel_bytes(ds: Dataset) -> int:
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    bits = int(ds.get("BitsAllocated", 16) or 16)
    n = rows * cols * int(ds.get("SamplesPerPixel", 1) or 1) * int(ds.get("NumberOfFrames", 1) or 1)
    return (n * bits + 7) // 8


def _read_header(path: Path) -> tuple[Dataset | None, str | None, str | None]:
    """Return (dataset, skip reason, error reason); exactly one is not None."""
    is_dicm = False
    try:
        size = path.stat().st_size
        if size == 0:
            return None, None, "empty file (0 bytes)"
        with open(path, "rb") as fp:
            is_dicm = fp.read(132)[128:132] == b"DICM"
            if not is_dicm and path.suffix.lower() in _OTHER_SUFFIXES:
                return None, "not a DICOM file", None
            fp.seek(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(fp, stop_before_pixels=True, force=not is_dicm)
            end_of_header = fp.tell()
    except Exception as exc:  # corrupt input raises many types, RecursionError included
        if not is_dicm:
            return None, "not a DICOM file", None
        return None, None, f"corrupt DICOM header ({type(exc).__name__}: {exc})"
    if not is_dicm and "SOPClassUID" not in ds and "Rows" not in ds:
        return None, "not a DICOM file", None
    ts = UID(transfer_syntax_of(ds))
    if "Rows" in ds and ts.is_transfer_syntax and not ts.is_compressed and not ts.is_deflated:
        available = size - end_of_header - 8
        expected = _expected_pixel_bytes(ds)
        if available <= 0:
            return None, None, "no Pixel Data element (file ends after the header)"
        if available < expected:
            return (
                None,
                None,
                (f"truncated: pixel data needs {expected} bytes, the file holds only {available}"),
            )
    return ds, None, None


def _skip_reason(ds: Dataset, rec: SliceRecord | None = None) -> str | None:
    meta = getattr(ds, "file_meta", None)
    classes = (
        {str(ds.get("SOPClassUID", "")), str(meta.get("MediaStorageSOPClassUID", ""))}
        if (meta is not None)
        else {str(ds.get("SOPClassUID", ""))}
    )
    if _DICOMDIR_CLASS in classes or "DirectoryRecordSequence" in ds:
        return "DICOMDIR (directory index, not an image)"
    sop = UID(str(ds.get("SOPClassUID", "")))
    kind = sop.name if sop else str(ds.get("Modality", "unknown SOP class"))
    modality = str(ds.get("Modality", "")).upper()
    if "Rows" not in ds or "Columns" not in ds:
        return f"not an image ({kind})"
    if modality in _NON_IMAGE_MODALITIES or "Presentation State" in kind or "Segmentation" in kind:
        return f"not an image to denoise ({kind})"
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        return f"colour image ({photometric}), not supported"
    if rec is not None and rec.is_localizer:
        return "localizer (ImageType " + "\\".join(rec.image_type) + ")"
    return None


def _cluster(records: list[SliceRecord]) -> list[list[SliceRecord]]:
    """Split one series by (Rows, Columns, echo, orientation within tolerance)."""
    groups: list[tuple[tuple, np.ndarray | None, list[SliceRecord]]] = []
    for rec in records:
        key = (rec.rows, rec.columns, rec.echo, rec.iop is None)
        iop = None if rec.iop is None else np.asarray(rec.iop)
        for gkey, giop, members in groups:
            if gkey == key and (
                iop is None or giop is None or np.allclose(giop, iop, atol=_IOP_ATOL)
            ):
                members.append(rec)
                break
        else:
            groups.append((key, iop, [rec]))
    groups.sort(key=lambda g: (g[0][2] or 0, -len(g[2]), str(g[2][0].path)))
    return [members for _, _, members in groups]


def _series_infos(records: list[SliceRecord]) -> list[SeriesInfo]:
    by_uid: dict[str, list[SliceRecord]] = defaultdict(list)
    for rec in records:
        by_uid[rec.series_uid].append(rec)
    infos: list[SeriesInfo] = []
    for uid, members in by_uid.items():
        clusters = _cluster(members)
        for k, group in enumerate(clusters, start=1):
            first = group[0]
            base = uid or f"no-series-uid:{first.path.parent}"
            key = base if len(clusters) == 1 else f"{base}#{k}"
            files = tuple(sorted({r.path for r in group}))
            infos.append(
                SeriesInfo(
                    series_uid=uid,
                    key=key,
                    description=str(first.meta.get("SeriesDescription", "")),
                    modality=first.modality,
                    n_files=len(files),
                    shape=(
                        len({(r.sop_instance_uid or r.path, r.frame) for r in group}),
                        first.rows,
                        first.columns,
                    ),
                    series_number=first.meta.get("SeriesNumber"),
                    files=files,
                    study_uid=first.study_uid,
                    records=tuple(group),
                )
            )
    infos.sort(key=lambda s: (s.study_uid, s.series_number or 0, s.description, s.key))
    return infos


def scan_files(paths: list[Path], folder: Path, *, keep_localizers: bool = False) -> DicomScan:
    """Scan the given files (headers only) into a :class:`DicomScan`."""
    scan = DicomScan(folder=folder)
    records: list[SliceRecord] = []
    for path in paths:
        ds, skip, error = _read_header(path)
        if error is not None:
            logger.warning("%s: %s", path, error)
            scan.errors.append((path, error))
            continue
        if ds is None:
            scan.skipped.append((path, skip or "not a DICOM file"))
            continue
        reason = _skip_reason(ds)
        if reason is not None:
            scan.skipped.append((path, reason))
            continue
        try:
            recs = records_from_dataset(path, ds)
        except Exception as exc:  # malformed values deep in the header
            scan.errors.append((path, f"malformed header ({type(exc).__name__}: {exc})"))
            continue
        if not keep_localizers and recs and recs[0].is_localizer:
            scan.skipped.append((path, _skip_reason(ds, recs[0]) or "localizer"))
            continue
        records.extend(recs)
    scan.series = _series_infos(records)
    logger.info(scan.summary())
    return scan


def scan_dicom(folder: str | os.PathLike) -> DicomScan:
    """Scan a folder (recursively) for DICOM image series, reading headers only.

    Files are recognised by content, not by name (with or without ``.dcm``).
    Slices are grouped by SeriesInstanceUID, then by size, orientation and
    echo; localizers are left out.

    Parameters
    ----------
    folder : str or os.PathLike
        A folder, e.g. a PACS export; a single file is scanned on its own.

    Returns
    -------
    DicomScan
        ``.series`` (with ``.files``), ``.skipped`` and ``.errors``.

    Raises
    ------
    FileNotFoundError
        ``folder`` does not exist.

    Examples
    --------
    >>> scan = scan_dicom("export/")  # doctest: +SKIP
    >>> for info in scan.series:  # doctest: +SKIP
    ...     print(info)
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: no such file or folder")
    paths = [folder] if folder.is_file() else _iter_files(folder)
    return scan_files(paths, folder)


def find_dicom_series(folder: str | os.PathLike) -> list[SeriesInfo]:
    """List the DICOM image series in ``folder`` (see :func:`scan_dicom`)."""
    return scan_dicom(folder).series


def require_series(scan: DicomScan) -> list[SeriesInfo]:
    """``scan.series``, or :class:`NoImageDataError` explaining what was found instead."""
    if scan.series:
        return scan.series
    found = scan.errors[:3] + scan.skipped[:3]
    detail = "; ".join(f"{p.name}: {r}" for p, r in found) or "the folder is empty"
    raise NoImageDataError(
        f"{scan.folder}: no readable DICOM image series; expected grayscale image files "
        f"(CT, MR, CR, DX...). Found {len(scan.skipped)} skipped and {len(scan.errors)} "
        f"unreadable file(s) ({detail}). Point to the folder that holds the images."
    )
