"""Per-slice facts pulled from a DICOM header (no pixel data).

A single-frame file gives one :class:`SliceRecord`; a multi-frame file gives
one record per frame, with the frame's own position, orientation and rescale
taken from the (enhanced) functional groups when they are present.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from medidenoise.errors import InvalidImageError

__all__ = [
    "MAX_DECODED_BYTES",
    "SliceRecord",
    "expected_pixel_bytes",
    "records_from_dataset",
    "transfer_syntax_of",
]

#: the most decoded pixel data medidenoise reads from one file (a larger claim is a corrupt
#: header or a decompression bomb; the largest real multi-frame objects are far below it)
MAX_DECODED_BYTES = 4 << 30

logger = logging.getLogger(__name__)

# header values copied into Volume.metadata (from the first slice of a series)
_META_KEYWORDS = (
    "SeriesDescription",
    "SeriesNumber",
    "StudyDescription",
    "Manufacturer",
    "BodyPartExamined",
    "SliceThickness",
    "KVP",
    "ConvolutionKernel",
    "RescaleType",
    "BitsStored",  # these three: what the out-of-distribution warnings look at
    "LossyImageCompression",
    "ConversionType",
)


@dataclass(frozen=True)
class SliceRecord:
    """Everything the series logic needs to know about one slice (file or frame).

    ``ipp``/``iop`` are ImagePositionPatient/ImageOrientationPatient in LPS mm;
    ``pixel_spacing`` is (row spacing, column spacing) = (dy, dx).
    """

    path: Path
    frame: int | None
    sop_instance_uid: str
    sop_class_uid: str
    series_uid: str
    study_uid: str
    modality: str
    rows: int
    columns: int
    ipp: tuple[float, ...] | None
    iop: tuple[float, ...] | None
    pixel_spacing: tuple[float, ...] | None
    slice_spacing: float | None
    instance_number: int | None
    slope: float
    intercept: float
    photometric: str
    samples_per_pixel: int
    transfer_syntax: str
    image_type: tuple[str, ...]
    echo: float | None = None
    n_frames: int = 1
    has_modality_lut: bool = False
    #: (low, high) stored values that are Pixel Padding, or None
    padding: tuple[float, float] | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_localizer(self) -> bool:
        """True for a scout/localizer image (ImageType contains LOCALIZER)."""
        return "LOCALIZER" in self.image_type


def _floats(value: Any, n: int) -> tuple[float, ...] | None:
    """``value`` as a tuple of ``n`` floats, or None when absent/malformed."""
    if value is None:
        return None
    try:
        items = [float(v) for v in (value if isinstance(value, Sequence) else [value])]
    except (TypeError, ValueError):
        return None
    if isinstance(value, str) or len(items) != n:
        return None
    return tuple(items)


def _positive(value: tuple[float, ...] | None) -> tuple[float, ...] | None:
    """``value`` when every item is > 0 (a spacing of 0 means "unknown")."""
    return value if value is not None and all(v > 0 for v in value) else None


def transfer_syntax_of(ds: Dataset) -> str:
    """The dataset's transfer syntax UID, inferred from its encoding when the meta lacks it."""
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "") or "") if meta is not None else ""
    if ts:
        return ts
    implicit, little = getattr(ds, "original_encoding", (True, True))
    if implicit is None or little is None:
        implicit, little = True, True
    if implicit:
        return "1.2.840.10008.1.2"
    return "1.2.840.10008.1.2.1" if little else "1.2.840.10008.1.2.2"


def expected_pixel_bytes(ds: Dataset) -> int:
    """Bytes of uncompressed pixel data that the header's Rows, Columns... claim.

    YBR_FULL_422 stores two samples per pixel uncompressed (chroma shared by
    two pixels), whatever SamplesPerPixel says.
    """
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    bits = int(ds.get("BitsAllocated", 16) or 16)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if str(ds.get("PhotometricInterpretation", "")).strip() == "YBR_FULL_422":
        samples = 2
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return (rows * cols * samples * frames * bits + 7) // 8


def _float(value: Any, default: float | None = None) -> float | None:
    if value is None or value == "":
        return default
    if isinstance(value, Sequence) and not isinstance(value, str):
        value = value[0] if len(value) else None
        if value is None:
            return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _where(path: Path, frame: int | None) -> str:
    return f"{path}" + (f" (frame {frame + 1})" if frame is not None else "")


def _rescale(path: Path, ds: Dataset, frame: int | None = None) -> tuple[float, float]:
    """RescaleSlope/Intercept (1, 0 when absent); a present but unusable value is an error.

    A slope of 0 or one that is not a finite number would silently turn every
    pixel into the intercept (or into nonsense); it is refused, naming the file.
    """
    values = []
    for keyword, default in (("RescaleSlope", 1.0), ("RescaleIntercept", 0.0)):
        raw = ds.get(keyword)
        if raw is None or raw == "":
            values.append(default)
            continue
        value = _float(raw)
        if value is None or not math.isfinite(value) or (keyword == "RescaleSlope" and not value):
            raise InvalidImageError(
                f"{_where(path, frame)}: {keyword} is {str(raw)!r}; expected a finite number"
                + (" other than 0" if keyword == "RescaleSlope" else "")
                + ". The modality values cannot be computed: fix the header (or re-export "
                "the file) before denoising."
            )
        values.append(value)
    return values[0], values[1]


def _position(path: Path, value: Any, frame: int | None = None) -> tuple[float, ...] | None:
    """ImagePositionPatient; None when absent, an error when not three finite numbers."""
    ipp = _floats(value, 3)
    if ipp is not None and not all(math.isfinite(v) for v in ipp):
        raise InvalidImageError(
            f"{_where(path, frame)}: ImagePositionPatient is {list(ipp)}; expected three "
            "finite numbers (mm). The slice cannot be placed: fix the header or re-export it."
        )
    return ipp


def _orientation(path: Path, value: Any, frame: int | None = None) -> tuple[float, ...] | None:
    """ImageOrientationPatient; None when absent, an error unless two orthogonal unit vectors."""
    iop = _floats(value, 6)
    if iop is None:
        return None
    row, col = iop[:3], iop[3:]
    norms = [math.sqrt(sum(v * v for v in vec)) for vec in (row, col)]
    dot = sum(a * b for a, b in zip(row, col, strict=True))
    finite = all(math.isfinite(v) for v in iop)
    if not finite or min(norms) < 0.5 or abs(dot) > 0.05 * max(norms[0] * norms[1], 1e-12):
        raise InvalidImageError(
            f"{_where(path, frame)}: ImageOrientationPatient is {list(iop)}; expected two "
            "orthogonal unit vectors (row and column directions). The slice orientation is "
            "undefined: fix the header or re-export the file."
        )
    return iop


def _padding(ds: Dataset) -> tuple[float, float] | None:
    """The stored values that PixelPaddingValue (and PixelPaddingRangeLimit) mark as padding."""
    value = _float(ds.get("PixelPaddingValue"))
    if value is None:
        return None
    limit = _float(ds.get("PixelPaddingRangeLimit"))
    lo, hi = sorted((value, value if limit is None else limit))
    return lo, hi


def _int(value: Any) -> int | None:
    f = _float(value)
    return None if f is None else round(f)


def _window(ds: Dataset) -> dict[str, Any]:
    """WindowCenter/WindowWidth as float, or lists of floats when multi-valued."""
    out: dict[str, Any] = {}
    for key in ("WindowCenter", "WindowWidth"):
        value = ds.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, Sequence) and not isinstance(value, str):
            vals = [float(v) for v in value]
            out[key] = vals[0] if len(vals) == 1 else vals
        else:
            out[key] = _float(value)
    return out


def _group_item(ds: Dataset, frame: int, sequence: str) -> Dataset | None:
    """The first item of a functional-group ``sequence`` for ``frame`` (per-frame, then shared)."""
    for groups_kw, index in (
        ("PerFrameFunctionalGroupsSequence", frame),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        groups = ds.get(groups_kw)
        if groups is None or len(groups) <= index:
            continue
        seq = groups[index].get(sequence)
        if seq is not None and len(seq) > 0:
            return seq[0]
    return None


def _base_meta(ds: Dataset) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key in _META_KEYWORDS:
        value = ds.get(key)
        if value is None or value == "":
            continue
        if key in ("SeriesNumber", "BitsStored"):
            meta[key] = _int(value)
        elif key in ("SliceThickness", "KVP"):
            meta[key] = _float(value)
        else:
            meta[key] = str(value)
    meta.update(_window(ds))
    return meta


def _image_type(ds: Dataset) -> tuple[str, ...]:
    """ImageType values upper-cased (a single string counts as one value)."""
    if isinstance(ds.get("ImageType"), str):
        return (str(ds.ImageType).upper(),)
    return tuple(str(v).upper() for v in (ds.get("ImageType") or ()))


def _file_fields(path: Path, ds: Dataset) -> dict[str, Any]:
    """The :class:`SliceRecord` fields that every frame of the file shares."""
    return {
        "path": path,
        "sop_instance_uid": str(ds.get("SOPInstanceUID", "")),
        "sop_class_uid": str(ds.get("SOPClassUID", "")),
        "series_uid": str(ds.get("SeriesInstanceUID", "")),
        "study_uid": str(ds.get("StudyInstanceUID", "")),
        "modality": str(ds.get("Modality", "") or "OT"),
        "rows": int(ds.get("Rows", 0) or 0),
        "columns": int(ds.get("Columns", 0) or 0),
        "photometric": str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip(),
        "samples_per_pixel": int(ds.get("SamplesPerPixel", 1) or 1),
        "transfer_syntax": transfer_syntax_of(ds),
        "image_type": _image_type(ds),
        "echo": _float(ds.get("EchoNumbers")),
        "n_frames": _int(ds.get("NumberOfFrames")) or 1,
        "has_modality_lut": "ModalityLUTSequence" in ds and "RescaleSlope" not in ds,
        "padding": _padding(ds),
    }


def _file_geometry(path: Path, ds: Dataset) -> dict[str, Any]:
    """Position, orientation, spacing, rescale and metadata from the file's top level."""
    return {
        "ipp": _position(path, ds.get("ImagePositionPatient")),
        "iop": _orientation(path, ds.get("ImageOrientationPatient")),
        "pixel_spacing": _positive(_floats(ds.get("PixelSpacing"), 2))
        or _positive(_floats(ds.get("ImagerPixelSpacing"), 2)),
        "slice_spacing": _float(ds.get("SpacingBetweenSlices")) or _float(ds.get("SliceThickness")),
        **dict(zip(("slope", "intercept"), _rescale(path, ds), strict=True)),
        "meta": _base_meta(ds),
    }


def _enhanced_frame(path: Path, ds: Dataset, k: int, top: dict[str, Any]) -> dict[str, Any]:
    """Frame ``k``'s geometry from its functional groups, the top level filling the gaps."""
    frame = {**top, "ipp": None}
    pos = _group_item(ds, k, "PlanePositionSequence")
    ori = _group_item(ds, k, "PlaneOrientationSequence")
    pm = _group_item(ds, k, "PixelMeasuresSequence")
    pvt = _group_item(ds, k, "PixelValueTransformationSequence")
    voi = _group_item(ds, k, "FrameVOILUTSequence")
    if pos is not None:
        frame["ipp"] = _position(path, pos.get("ImagePositionPatient"), frame=k)
    if ori is not None:
        frame["iop"] = _orientation(path, ori.get("ImageOrientationPatient"), frame=k) or top["iop"]
    if pm is not None:
        frame["pixel_spacing"] = (
            _positive(_floats(pm.get("PixelSpacing"), 2)) or top["pixel_spacing"]
        )
        frame["slice_spacing"] = (
            _float(pm.get("SpacingBetweenSlices"))
            or _float(pm.get("SliceThickness"))
            or top["slice_spacing"]
        )
    if pvt is not None:
        frame["slope"], frame["intercept"] = _rescale(path, pvt, frame=k)
    if voi is not None:
        frame["meta"] = {**top["meta"], **_window(voi)}
    return frame


def records_from_dataset(path: Path, ds: Dataset) -> list[SliceRecord]:
    """Build one :class:`SliceRecord` per frame of ``ds`` (read without pixels).

    Parameters
    ----------
    path : pathlib.Path
        The file ``ds`` was read from.
    ds : pydicom.dataset.Dataset
        The header, read with ``stop_before_pixels=True``.

    Returns
    -------
    list of SliceRecord
        One entry for a single-frame file, ``NumberOfFrames`` entries (``frame``
        0, 1, ...) for a multi-frame file.
    """
    common = _file_fields(path, ds)
    top = _file_geometry(path, ds)
    if common["n_frames"] == 1 and "PerFrameFunctionalGroupsSequence" not in ds:
        instance = _int(ds.get("InstanceNumber"))
        return [SliceRecord(frame=None, instance_number=instance, **top, **common)]

    enhanced = "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds
    records = []
    for k in range(common["n_frames"]):
        if enhanced:
            frame = _enhanced_frame(path, ds, k, top)
        else:  # legacy multi-frame: only the first frame's position is known
            frame = {**top, "ipp": top["ipp"] if k == 0 else None}
        records.append(SliceRecord(frame=k, instance_number=k + 1, **frame, **common))
    return records
