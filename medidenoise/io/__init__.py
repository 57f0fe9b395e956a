"""Reading and writing image volumes: DICOM series, NIfTI, PNG/TIFF."""

from medidenoise.io.dicom_writer import write_dicom_series
from medidenoise.io.volume import DicomSource, SliceSource, Volume

__all__ = ["DicomSource", "SliceSource", "Volume", "write_dicom_series"]
