"""Finding the DICOM image series in a folder, without reading pixel data."""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Literal

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import UID, RLELossless

from medidenoise.errors import MedidenoiseError, NoImageDataError
from medidenoise.io.dicom._header import (
    MAX_DECODED_BYTES,
    SliceRecord,
    expected_pixel_bytes,
    records_from_dataset,
    transfer_syntax_of,
)
from medidenoise.io.dicom._series import DicomScan, SeriesInfo
from medidenoise.io.formats import has_dicom_preamble, kind_from_name, special_file_kind

__all__ = [
    "DicomScan",
    "SeriesInfo",
    "find_dicom_series",
    "salvage_series_uid",
    "scan_dicom",
    "scan_files",
]

logger = logging.getLogger(__name__)

_DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
_NON_IMAGE_MODALITIES = {"SR", "KO", "PR", "RTPLAN", "RTSTRUCT", "RTRECORD", "RTDOSE", "SEG", "REG"}
_IOP_ATOL = 1e-3


def _iter_files(folder: Path, errors: list[tuple[Path, str]] | None = None) -> list[Path]:
    """The files under ``folder``, sorted; folders that cannot be listed go to ``errors``."""
    found: list[Path] = []

    def unlistable(exc: OSError) -> None:
        if errors is not None:
            where = Path(exc.filename) if exc.filename else folder
            errors.append((where, f"folder cannot be listed ({exc.strerror or exc})"))

    for root, dirs, files in os.walk(folder, onerror=unlistable):
        dirs.sort()
        found.extend(Path(root) / name for name in sorted(files))
    return found


_SERIES_UID = (b"\x20\x00\x0e\x00", "SeriesInstanceUID")  # (0020,000E), little endian
_SOP_UID = (b"\x08\x00\x18\x00", "SOPInstanceUID")  # (0008,0018)
_UID_VALUE = re.compile(rb"^[0-9][0-9.]{0,63}$")


def _salvage_uid(path: Path, ds: Dataset | None, which: tuple[bytes, str]) -> str:
    """A UID of a file that cannot be read as a whole, or "".

    Taken from the parsed (partial) header when there is one, else found in
    the raw bytes (explicit or implicit VR little endian), so that a broken
    slice can still be counted against its series.
    """
    tag, keyword = which
    if ds is not None:
        try:
            uid = str(ds.get(keyword, "") or "").strip()
        except Exception:  # a malformed element: fall back on the bytes
            uid = ""
        if uid and _UID_VALUE.match(uid.encode("ascii", "replace")):
            return uid
    try:
        with open(path, "rb") as fp:
            head = fp.read(1 << 16)
    except OSError:
        return ""
    start = head.find(tag)
    while start >= 0:
        if head[start + 4 : start + 6] == b"UI":
            length = int.from_bytes(head[start + 6 : start + 8], "little")
        else:
            length = int.from_bytes(head[start + 4 : start + 8], "little")
        value = head[start + 8 : start + 8 + length].rstrip(b"\0 ")
        if 0 < length <= 64 and len(value) > 0 and _UID_VALUE.match(value):
            return value.decode("ascii")
        start = head.find(tag, start + 1)
    return ""


def salvage_series_uid(path: Path, ds: Dataset | None = None) -> str:
    """The SeriesInstanceUID of a file that cannot be read as a whole, or ""."""
    return _salvage_uid(path, ds, _SERIES_UID)


def _cut_short(ds: Dataset) -> str | None:
    """The first element whose value ends before its declared length (a truncated file)."""
    meta = getattr(ds, "file_meta", None)
    for part in (meta, ds):
        if part is None:
            continue
        for tag, elem in part._dict.items():
            value = getattr(elem, "value", None)
            length = getattr(elem, "length", 0)
            if (
                isinstance(elem, RawDataElement)
                and isinstance(value, bytes)
                and length != 0xFFFFFFFF
                and len(value) < length
            ):
                return f"element {tag} declares {length} bytes, the file holds {len(value)}"
    return None


def _is_image_class(ds: Dataset) -> bool:
    meta = getattr(ds, "file_meta", None)
    uids = [str(ds.get("SOPClassUID", "") or "")]
    if meta is not None:
        uids.append(str(meta.get("MediaStorageSOPClassUID", "") or ""))
    return any("Image Storage" in UID(u).name for u in uids if u)


def _header_error(ds: Dataset, is_dicm: bool) -> str | None:
    """Why a header that pydicom parsed is still broken (cut short, or an image without one)."""
    short = _cut_short(ds)
    if short is not None:
        return f"truncated: the file ends inside its header ({short})"
    if is_dicm and len(ds) == 0:
        return "truncated: the file ends inside its file meta information (no data set)"
    return None


_PIXEL_TAGS = (b"\xe0\x7f\x10\x00", b"\xe0\x7f\x08\x00", b"\xe0\x7f\x09\x00")


def _pixel_bytes_held(path: Path, offset: int, size: int, ts: UID) -> int:
    """Bytes of pixel data the file really holds after the header ending at ``offset``.

    Parses the pixel data element's own header (so that elements stored after
    it, such as trailing padding, are not counted as pixels); the smaller of
    its declared length and what the file holds. Falls back on "the rest of the
    file" when the element cannot be parsed there.
    """
    try:
        with open(path, "rb") as fp:
            fp.seek(offset)
            head = fp.read(12)
    except OSError:
        return size - offset - 8
    little = ts != "1.2.840.10008.1.2.2"
    tag = head[:4] if little else head[1::-1] + head[3:1:-1]
    if len(head) < 8 or tag not in _PIXEL_TAGS:
        return size - offset - 8
    order: Literal["little", "big"] = "little" if little else "big"
    if head[4:6] in (b"OB", b"OW", b"OF", b"OD", b"UN"):
        length, start = int.from_bytes(head[8:12], order), offset + 12
    else:
        length, start = int.from_bytes(head[4:8], order), offset + 8
    held = size - start
    return held if length == 0xFFFFFFFF else min(length, held)


#: an RLE run of 2 bytes decodes to at most 128: no RLE segment expands more than 64 times
_RLE_MAX_RATIO = 64


def _too_large(ds: Dataset, expected: int) -> str:
    dims = f"{ds.get('Rows')} x {ds.get('Columns')}"
    frames = ds.get("NumberOfFrames")
    return (
        f"the header claims {expected / 2**30:.1f} GiB of pixel data ({dims} pixels"
        + (f", {frames} frames" if frames else "")
        + f"), more than the {MAX_DECODED_BYTES >> 30} GiB medidenoise decodes from one file; "
        "the header is probably corrupt"
    )


def _read_header(path: Path) -> tuple[Dataset | None, str | None, str | None]:
    """Return (dataset, skip reason, error reason).

    The dataset comes with a skip reason of None (an image candidate), or
    with an error reason when its pixel data is missing or cut short (so that
    the caller can still tell which series the broken file belongs to).
    """
    is_dicm = False
    try:
        size = path.stat().st_size
        fp_opened = open(path, "rb")  # closed by the with below
    except OSError as exc:  # permission denied, vanished, I/O error: unreadable, not "not DICOM"
        return None, None, f"cannot be opened ({exc.strerror or exc}); check its permissions"
    if size == 0:
        fp_opened.close()
        return None, None, "empty file (0 bytes)"
    try:
        with fp_opened as fp:
            is_dicm = has_dicom_preamble(fp)
            # io.formats' rule: without the preamble, only a DICOM or unknown name is parsed
            if not is_dicm and kind_from_name(path) not in ("dicom", "unknown"):
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
    broken = _header_error(ds, is_dicm)
    if broken is not None:
        return ds, None, broken
    ts = UID(transfer_syntax_of(ds))
    if "Rows" not in ds:
        return ds, None, None
    available = _pixel_bytes_held(path, end_of_header, size, ts)
    expected = expected_pixel_bytes(ds)
    if expected > MAX_DECODED_BYTES:
        return ds, None, _too_large(ds, expected)
    if ts == RLELossless and expected > _RLE_MAX_RATIO * max(available, 0) + 4096:
        return (
            ds,
            None,
            (
                f"truncated or corrupt: the header claims {expected} bytes of pixels but the RLE "
                f"data ({available} bytes) can hold at most {_RLE_MAX_RATIO} times its size"
            ),
        )
    if ts.is_transfer_syntax and not ts.is_compressed and not ts.is_deflated:
        if available <= 0:
            return ds, None, "no Pixel Data element (file ends after the header)"
        if available < expected:
            reason = f"truncated: pixel data needs {expected} bytes, the file holds {available}"
            return ds, None, reason
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


def _series_infos(
    records: list[SliceRecord], broken: dict[str, list[tuple[Path, str]]]
) -> list[SeriesInfo]:
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
                    broken_files=tuple(broken.get(uid, ())) if uid else (),
                )
            )
    infos.sort(key=lambda s: (s.study_uid, s.series_number or 0, s.description, s.key))
    return infos


def _salvage_both(path: Path, ds: Dataset | None) -> str:
    """``"<series UID>|<SOP instance UID>"`` of a broken file ("" when the series is unknown)."""
    series = salvage_series_uid(path, ds)
    return f"{series}|{_salvage_uid(path, ds, _SOP_UID)}" if series else ""


def _scan_one(
    path: Path, keep_localizers: bool
) -> tuple[list[SliceRecord], str | None, str | None, str]:
    """(records, skip reason, error reason, series UID of a broken file) for one file."""
    ds, skip, error = _read_header(path)
    if error is not None:
        return [], None, error, _salvage_both(path, ds)
    if ds is None:
        return [], skip or "not a DICOM file", None, ""
    reason = _skip_reason(ds)
    if reason is not None:
        # an image object without Rows/Columns: a header-only stub, or a slice cut short at
        # an element boundary; the caller decides once it knows the series with pixels
        headless = _is_image_class(ds) and ("Rows" not in ds or "Columns" not in ds)
        return [], reason, None, _salvage_both(path, ds) if headless else ""
    recs = records_from_dataset(path, ds)
    if not keep_localizers and recs and recs[0].is_localizer:
        return [], _skip_reason(ds, recs[0]) or "localizer", None, ""
    return recs, None, None, ""


def _attribute_broken(
    scan: DicomScan,
    records: list[SliceRecord],
    broken_uids: dict[Path, str],
    headless: dict[Path, str],
) -> dict[str, list[tuple[Path, str]]]:
    """Which image series each broken file belongs to: ``{series UID: [(path, reason)]}``.

    A broken file is a missing slice of its series unless the series already
    holds a readable copy of that instance (same SOPInstanceUID). An image
    object without Rows/Columns beside files of its series that do hold
    pixels was cut short at an element boundary: it becomes unreadable too.
    """
    with_pixels = {r.series_uid for r in records}
    have = {(r.series_uid, r.sop_instance_uid) for r in records}
    moved = {p for p, uid in headless.items() if uid.split("|")[0] in with_pixels}
    if moved:
        scan.skipped = [(p, r) for p, r in scan.skipped if p not in moved]
        for path in sorted(moved):
            error = (
                "truncated: an image of a series whose other files hold pixels, but this one "
                "has no Rows/Columns/Pixel Data (cut short inside its header?)"
            )
            logger.warning("%s: %s", path, error)
            scan.errors.append((path, error))
            broken_uids[path] = headless[path]
    reasons = dict(scan.errors)
    broken: dict[str, list[tuple[Path, str]]] = defaultdict(list)
    for path, uids in broken_uids.items():
        series, sop = uids.split("|")
        if sop and (series, sop) in have:
            logger.info("%s: a broken copy of an instance read from another file", path)
            continue
        broken[series].append((path, reasons[path]))
    return broken


def scan_files(paths: list[Path], folder: Path, *, keep_localizers: bool = False) -> DicomScan:
    """Scan the given files (headers only) into a :class:`DicomScan`.

    No file stops the scan: any exception while reading one file (pydicom's
    errors on malformed values, unknown VRs, bad numbers...) makes that file
    "unreadable" with the reason, and the scan goes on. A broken file whose
    SeriesInstanceUID can still be read is listed in that series'
    :attr:`SeriesInfo.broken_files`, so the series is known to be incomplete.
    """
    scan = DicomScan(folder=folder)
    records: list[SliceRecord] = []
    broken_uids: dict[Path, str] = {}
    headless: dict[Path, str] = {}
    for path in paths:
        special = special_file_kind(path)
        if special is not None:  # a FIFO or device would block or never end: never opened
            reason = f"not a regular file ({special}); skipped without reading it"
            logger.warning("%s: %s", path, reason)
            scan.skipped.append((path, reason))
            continue
        try:
            recs, skip, error, uid = _scan_one(path, keep_localizers)
        except MedidenoiseError as exc:  # a value the reader refuses, with its own reason
            recs, skip, uid = [], None, _salvage_both(path, None)
            error = str(exc).removeprefix(f"{path}: ")
        except Exception as exc:  # malformed values anywhere in the header
            recs, skip, uid = [], None, _salvage_both(path, None)
            error = f"malformed header ({type(exc).__name__}: {exc})"
        if error is not None:
            logger.warning("%s: %s", path, error)
            scan.errors.append((path, error))
            if uid:
                broken_uids[path] = uid
        elif skip is not None:
            scan.skipped.append((path, skip))
            if uid:
                headless[path] = uid
        else:
            records.extend(recs)
    broken = _attribute_broken(scan, records, broken_uids, headless)
    scan.series = _series_infos(records, broken)
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
    unlistable: list[tuple[Path, str]] = []
    paths = _iter_files(folder, unlistable) if folder.is_dir() else [folder]
    scan = scan_files(paths, folder)
    for path, why in unlistable:
        logger.warning("%s: %s", path, why)
    scan.errors[:0] = unlistable
    return scan


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
