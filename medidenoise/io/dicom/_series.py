"""The results of scanning a folder: :class:`SeriesInfo` and :class:`DicomScan`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from medidenoise.io.dicom._header import SliceRecord

__all__ = ["DicomScan", "SeriesInfo"]


@dataclass(frozen=True)
class SeriesInfo:
    """One image series found by :func:`scan_dicom`.

    Attributes
    ----------
    series_uid : str
        SeriesInstanceUID.
    key : str
        Unique name of this series in the scan: the UID, or ``UID#k`` when one
        UID holds several stacks (different size, orientation or echo).
        ``read_volume(folder, series_uid=key)`` picks it.
    description : str
        SeriesDescription ("" when absent).
    modality : str
        Modality ("OT" when absent).
    n_files : int
        Number of files in the series.
    shape : tuple of int
        (D, H, W) of the volume it reads into.
    series_number : int or None
        SeriesNumber.
    files : tuple of pathlib.Path
        The files, sorted by name.
    study_uid : str
        StudyInstanceUID.
    records : tuple of SliceRecord
        Per-slice header facts used by :func:`read_dicom_series` (not sorted).
    broken_files : tuple of (pathlib.Path, str)
        Files that carry this series' SeriesInstanceUID but cannot be read
        (truncated, corrupt), with the reason: the series is incomplete.
        :func:`read_dicom_series` refuses such a series unless told to read
        the readable slices anyway.
    """

    series_uid: str
    key: str
    description: str
    modality: str
    n_files: int
    shape: tuple[int, int, int]
    series_number: int | None
    files: tuple[Path, ...]
    study_uid: str = ""
    records: tuple[SliceRecord, ...] = field(default=(), repr=False, compare=False)
    broken_files: tuple[tuple[Path, str], ...] = field(default=(), repr=False, compare=False)

    @property
    def uid(self) -> str:
        """Alias of :attr:`series_uid`."""
        return self.series_uid

    @property
    def is_complete(self) -> bool:
        """False when files of this series could not be read (see :attr:`broken_files`)."""
        return not self.broken_files

    @property
    def is_multiframe(self) -> bool:
        """True when the series is stored as multi-frame file(s)."""
        return any(r.frame is not None for r in self.records)

    def __str__(self) -> str:
        d, h, w = self.shape
        number = "-" if self.series_number is None else str(self.series_number)
        broken = len(self.broken_files)
        return (
            f"{self.key}  #{number}  {self.modality}  {self.description!r}  "
            f"{self.n_files} file(s)  {d}x{h}x{w}"
            + (f"  INCOMPLETE: {broken} unreadable file(s)" if broken else "")
        )


@dataclass
class DicomScan:
    """What :func:`scan_dicom` found in a folder.

    Attributes
    ----------
    folder : pathlib.Path
        The scanned folder (or file).
    series : list of SeriesInfo
        Image series, sorted by study, series number, description and key.
    skipped : list of (pathlib.Path, str)
        Files that are valid but not images to denoise, with the reason
        (non-DICOM, DICOMDIR, SR, RT objects, presentation states,
        segmentations, localizers, colour images).
    errors : list of (pathlib.Path, str)
        Files that could not be read: empty, corrupt or truncated.
    """

    folder: Path
    series: list[SeriesInfo] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    errors: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line: counts of series, skipped and unreadable files."""
        return (
            f"{self.folder}: {len(self.series)} image series, {len(self.skipped)} file(s) "
            f"skipped, {len(self.errors)} unreadable"
        )
