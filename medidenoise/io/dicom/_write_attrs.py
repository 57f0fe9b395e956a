"""Header side of the derived-series writer (rules: docs/internals.md, ``write_dicom_series``).

Turns a copy of a source instance's header into the header of a *derived*
instance: new UIDs, DERIVED image type, derivation description and code,
references back to the source, contributing equipment, fresh dates, stale
pixel statistics and icons removed, lossy-compression history kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    JPEG2000MC,
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLSNearLossless,
)

from medidenoise._version import __version__

__all__ = [
    "DERIVATION_CODE",
    "ENHANCED_SOP_CLASSES",
    "MR_ACQUISITION_ONLY",
    "DerivedSeries",
    "SourceRef",
    "code_item",
    "derive_instance",
    "derived_description",
    "is_enhanced",
    "needs_lossy_ratio",
]

#: CID 7203 "Smoothing": the closest standard code for a denoising operation
DERIVATION_CODE = ("113087", "DCM", "Smoothing")
#: CID 7202 "Source image for image processing operation"
SOURCE_PURPOSE = ("121322", "DCM", "Source image for image processing operation")
#: CID 7005 "Processing Equipment"
EQUIPMENT_PURPOSE = ("109102", "DCM", "Processing Equipment")

#: attributes whose values described the old pixels and would now be wrong
STALE_KEYWORDS = (
    "SmallestImagePixelValue",
    "LargestImagePixelValue",
    "SmallestPixelValueInSeries",
    "LargestPixelValueInSeries",
    "SmallestImagePixelValueInPlane",
    "LargestImagePixelValueInPlane",
    "IconImageSequence",
    "DataSetTrailingPadding",
    "ExtendedOffsetTable",
    "ExtendedOffsetTableLengths",
    "PixelDataProviderURL",
)

#: multi-frame "enhanced" IODs: derivation lives in the per-frame Derivation Image functional
#: group, sources are listed in Source Image Evidence, Image Type value 2 keeps its enumerated
#: value (PRIMARY) instead of SECONDARY
ENHANCED_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT Image Storage
        "1.2.840.10008.5.1.4.1.1.2.2",  # Legacy Converted Enhanced CT Image Storage
        "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR Image Storage
        "1.2.840.10008.5.1.4.1.1.4.3",  # Enhanced MR Color Image Storage
        "1.2.840.10008.5.1.4.1.1.4.4",  # Legacy Converted Enhanced MR Image Storage
        "1.2.840.10008.5.1.4.1.1.128.1",  # Legacy Converted Enhanced PET Image Storage
        "1.2.840.10008.5.1.4.1.1.130",  # Enhanced PET Image Storage
        "1.2.840.10008.5.1.4.1.1.12.1.1",  # Enhanced XA Image Storage
        "1.2.840.10008.5.1.4.1.1.12.2.1",  # Enhanced XRF Image Storage
    }
)

#: the top-level derivation attributes of classic IODs, which enhanced IODs keep per frame
_CLASSIC_DERIVATION = ("DerivationDescription", "DerivationCodeSequence", "SourceImageSequence")

#: attributes that describe the acquisition of ORIGINAL (or MIXED) enhanced MR images: the MR
#: Pulse Sequence and Bulk Motion Synchronization modules, Type 1C "required if Image Type
#: value 1 is ORIGINAL or MIXED" and flagged by dciodvfy when present on a DERIVED image
MR_ACQUISITION_ONLY = (
    "PulseSequenceName",
    "MRAcquisitionType",
    "EchoPulseSequence",
    "MultipleSpinEcho",
    "MultiPlanarExcitation",
    "PhaseContrast",
    "VelocityEncodingAcquisitionSequence",
    "TimeOfFlightContrast",
    "ArterialSpinLabelingContrast",
    "SteadyStatePulseSequence",
    "EchoPlanarPulseSequence",
    "SaturationRecovery",
    "SpectrallySelectedSuppression",
    "OversamplingPhase",
    "GeometryOfKSpaceTraversal",
    "RectilinearPhaseEncodeReordering",
    "SegmentedKSpaceTraversal",
    "CoverageOfKSpace",
    "NumberOfKSpaceTrajectories",
    "BulkMotionCompensationTechnique",
    "BulkMotionSignalSource",
)

#: lossy transfer syntaxes and the Lossy Image Compression Method they imply
_LOSSY_METHODS = {
    JPEGBaseline8Bit: "ISO_10918_1",
    JPEGExtended12Bit: "ISO_10918_1",
    JPEG2000: "ISO_15444_1",
    JPEG2000MC: "ISO_15444_1",
    JPEGLSNearLossless: "ISO_14495_1",
    HTJ2K: "ISO_15444_15",
}


@dataclass(frozen=True)
class SourceRef:
    """One source image (or frame) a derived instance was computed from."""

    sop_class_uid: str
    sop_instance_uid: str
    frame: int | None = None  # zero-based frame index in a multi-frame source


@dataclass(frozen=True)
class DerivedSeries:
    """What every instance of one derived series shares."""

    series_uid: str
    series_number: int
    series_description: str
    derivation_description: str
    now: datetime


def code_item(value: str, scheme: str, meaning: str) -> Dataset:
    """A Code Sequence item (Code Value, Coding Scheme Designator, Code Meaning)."""
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def derived_description(source: str | None, suffix: str) -> str:
    """Source description + ``suffix``, truncated so the whole fits the 64-char LO."""
    source = (source or "").strip()
    room = 64 - len(suffix)
    if room <= 0:
        return suffix.strip()[:64]
    return (source[:room].rstrip() + suffix).strip()[:64]


def _source_item(ref: SourceRef) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = ref.sop_class_uid
    item.ReferencedSOPInstanceUID = ref.sop_instance_uid
    if ref.frame is not None:
        item.ReferencedFrameNumber = ref.frame + 1
    item.PurposeOfReferenceCodeSequence = DicomSequence([code_item(*SOURCE_PURPOSE)])
    return item


def _equipment_item(series: DerivedSeries) -> Dataset:
    item = Dataset()
    item.Manufacturer = "medidenoise"
    item.ManufacturerModelName = "medidenoise"
    item.SoftwareVersions = __version__
    item.PurposeOfReferenceCodeSequence = DicomSequence([code_item(*EQUIPMENT_PURPOSE)])
    item.ContributionDateTime = series.now.strftime("%Y%m%d%H%M%S.%f")
    item.ContributionDescription = series.derivation_description[:64]
    return item


def _image_type(ds: Dataset, *, enhanced: bool) -> list[str]:
    old = ds.get("ImageType") or []
    old = [old] if isinstance(old, str) else list(old)
    # enhanced CT/MR IODs allow only PRIMARY as value 2; classic IODs take SECONDARY
    second = (old[1] if len(old) > 1 and old[1] else "PRIMARY") if enhanced else "SECONDARY"
    return ["DERIVED", second, *old[2:]]


def _mark_frame_types(group: Dataset) -> None:
    """Set value 1 of every Frame Type in a functional-group item to DERIVED."""
    for elem in group:
        if elem.VR != "SQ" or not elem.keyword.endswith("FrameTypeSequence"):
            continue
        for item in elem.value:
            if "FrameType" in item:
                ft = item.FrameType
                ft = [ft] if isinstance(ft, str) else list(ft)
                item.FrameType = ["DERIVED", *ft[1:]]


def _source_syntax(ds: Dataset) -> UID | None:
    meta = getattr(ds, "file_meta", None)
    return meta.get("TransferSyntaxUID") if meta is not None else None


def needs_lossy_ratio(ds: Dataset) -> bool:
    """True when ``ds`` came lossy-compressed but does not record it yet (a ratio is wanted)."""
    return _source_syntax(ds) in _LOSSY_METHODS and ds.get("LossyImageCompression") != "01"


def _values(ds: Dataset, keyword: str) -> list:
    value = ds.get(keyword)
    if value is None or value == "":
        return []
    return [value] if isinstance(value, (str, float, int)) else list(value)


def _lossy_history(ds: Dataset, transfer_syntax: UID | None, ratio: float | None) -> None:
    """Keep "01" forever; record a lossy source transfer syntax as lossy history.

    A lossy source that does not say so gets Lossy Image Compression "01",
    its method appended to Lossy Image Compression Method and, when known and
    the two lists stay aligned, its ratio appended to the Ratio.
    """
    method = _LOSSY_METHODS.get(transfer_syntax) if transfer_syntax else None
    if method is None or ds.get("LossyImageCompression") == "01":
        return
    ds.LossyImageCompression = "01"
    methods = _values(ds, "LossyImageCompressionMethod")
    ratios = _values(ds, "LossyImageCompressionRatio")
    if ratio is not None and len(ratios) == len(methods):
        ds.LossyImageCompressionRatio = [*ratios, f"{ratio:.2f}"]
    ds.LossyImageCompressionMethod = [*methods, method]


def _file_meta(ds: Dataset, sop_uid: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"MEDIDENOISE_{__version__}"[:16]
    return meta


def derive_instance(
    ds: Dataset,
    series: DerivedSeries,
    *,
    sop_uid: str,
    refs: Sequence[SourceRef],
    instance_number: int | None = None,
    lossy_ratio: float | None = None,
) -> None:
    """Rewrite ``ds`` (a copy of a source header) in place as a derived instance.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The header to rewrite; Pixel Data is set separately.
    series : DerivedSeries
        Values shared by the whole output series.
    sop_uid : str
        The new SOP Instance UID (also written to the file meta).
    refs : sequence of SourceRef
        The source image (single-frame) or the source frame of each output
        frame, in output frame order (multi-frame).
    instance_number : int, optional
        A new Instance Number; the source's is kept when omitted.
    lossy_ratio : float, optional
        The compression ratio of a lossy source that does not record one
        (see :func:`needs_lossy_ratio`).
    """
    source_ts = _source_syntax(ds)
    enhanced = is_enhanced(ds)
    source_series = (str(ds.get("StudyInstanceUID", "")), str(ds.get("SeriesInstanceUID", "")))
    ds.file_meta = _file_meta(ds, sop_uid)
    ds.SOPInstanceUID = sop_uid
    ds.SeriesInstanceUID = series.series_uid
    ds.SeriesNumber = series.series_number
    ds.SeriesDescription = series.series_description
    if instance_number is not None:
        ds.InstanceNumber = instance_number
    ds.ImageType = _image_type(ds, enhanced=enhanced)
    ds.DerivationDescription = series.derivation_description[:1024]
    ds.DerivationCodeSequence = DicomSequence([code_item(*DERIVATION_CODE)])

    unique = list(dict.fromkeys((r.sop_class_uid, r.sop_instance_uid) for r in refs))
    ds.SourceImageSequence = DicomSequence([_source_item(SourceRef(*u)) for u in unique])
    equipment = list(ds.get("ContributingEquipmentSequence") or [])
    ds.ContributingEquipmentSequence = DicomSequence([*equipment, _equipment_item(series)])

    date = series.now.strftime("%Y%m%d")
    time = series.now.strftime("%H%M%S.%f")
    ds.SeriesDate = ds.ContentDate = ds.InstanceCreationDate = date
    ds.SeriesTime = ds.ContentTime = ds.InstanceCreationTime = time

    for keyword in STALE_KEYWORDS:
        if keyword in ds:
            del ds[keyword]
    _lossy_history(ds, source_ts, lossy_ratio)

    if enhanced:
        _derive_enhanced(ds, series, refs, source_series)


def is_enhanced(ds: Dataset) -> bool:
    """True for a multi-frame enhanced IOD (by SOP Class, or by its functional groups)."""
    return (
        "PerFrameFunctionalGroupsSequence" in ds
        or str(ds.get("SOPClassUID", "")) in ENHANCED_SOP_CLASSES
    )


def _evidence_item(study_uid: str, series_uid: str, refs: list[tuple[str, str]]) -> Dataset:
    """One study of a Hierarchical SOP Instance Reference (PS3.3 Table C.17-3)."""
    instances = []
    for sop_class_uid, sop_instance_uid in refs:
        instance = Dataset()
        instance.ReferencedSOPClassUID = sop_class_uid
        instance.ReferencedSOPInstanceUID = sop_instance_uid
        instances.append(instance)
    series = Dataset()
    series.SeriesInstanceUID = series_uid
    series.ReferencedSOPSequence = DicomSequence(instances)
    study = Dataset()
    study.StudyInstanceUID = study_uid
    study.ReferencedSeriesSequence = DicomSequence([series])
    return study


def _derive_enhanced(
    ds: Dataset,
    series: DerivedSeries,
    refs: Sequence[SourceRef],
    source: tuple[str, str],
) -> None:
    """The enhanced IODs' way of saying "derived" (PS3.3 C.7.6.16.2.6, C.8.13.1, C.8.15.2).

    Derivation description, code and source images go in each frame's Derivation
    Image functional group, not at the top level, where these IODs do not define
    them; the Source Image Evidence Sequence lists the source instances by study
    and series; Frame Type value 1 becomes DERIVED. An enhanced MR image drops
    the acquisition-only attributes whose condition (an ORIGINAL image) no longer
    holds. A source without functional groups (itself not conformant) gets none
    invented: it keeps the classic top-level derivation attributes, so the
    output still names its source.
    """
    if str(ds.get("Modality", "")).upper() == "MR":
        for keyword in MR_ACQUISITION_ONLY:
            if keyword in ds:
                del ds[keyword]
    if "PerFrameFunctionalGroupsSequence" not in ds:
        return
    for keyword in _CLASSIC_DERIVATION:
        if keyword in ds:
            del ds[keyword]
    unique = list(dict.fromkeys((r.sop_class_uid, r.sop_instance_uid) for r in refs))
    ds.SourceImageEvidenceSequence = DicomSequence([_evidence_item(*source, unique)])
    for shared in ds.get("SharedFunctionalGroupsSequence") or []:
        _mark_frame_types(shared)
    for frame_group, ref in zip(ds.PerFrameFunctionalGroupsSequence, refs, strict=True):
        _mark_frame_types(frame_group)
        derivation = Dataset()
        derivation.DerivationDescription = series.derivation_description[:1024]
        derivation.DerivationCodeSequence = DicomSequence([code_item(*DERIVATION_CODE)])
        derivation.SourceImageSequence = DicomSequence([_source_item(ref)])
        frame_group.DerivationImageSequence = DicomSequence([derivation])
