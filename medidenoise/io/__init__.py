"""Reading and writing image volumes: DICOM series, NIfTI, PNG/TIFF.

``DicomSeriesReader`` is imported on first use so that ``medidenoise.io`` does
not load MONAI/torch.
"""

from typing import TYPE_CHECKING, Any

from medidenoise.io.dicom_geometry import DicomSeriesWarning
from medidenoise.io.dicom_reader import read_dicom_series
from medidenoise.io.dicom_scan import DicomScan, SeriesInfo, find_dicom_series, scan_dicom
from medidenoise.io.dicom_writer import write_dicom_series
from medidenoise.io.formats import image_stem, is_dicom_file, is_nifti_path
from medidenoise.io.nifti import write_nifti, write_volume
from medidenoise.io.read import read_volume
from medidenoise.io.templates import load_mni152
from medidenoise.io.volume import DicomSource, SliceSource, Volume

__all__ = [
    "DicomScan",
    "DicomSeriesReader",
    "DicomSeriesWarning",
    "DicomSource",
    "SeriesInfo",
    "SliceSource",
    "Volume",
    "find_dicom_series",
    "image_stem",
    "is_dicom_file",
    "is_nifti_path",
    "load_mni152",
    "read_dicom_series",
    "read_volume",
    "scan_dicom",
    "write_dicom_series",
    "write_nifti",
    "write_volume",
]


def __getattr__(name: str) -> Any:
    if name == "DicomSeriesReader":
        from medidenoise.io.monai_reader import DicomSeriesReader

        return DicomSeriesReader
    raise AttributeError(f"module 'medidenoise.io' has no attribute {name!r}")


if TYPE_CHECKING:  # pragma: no cover
    from medidenoise.io.monai_reader import DicomSeriesReader
