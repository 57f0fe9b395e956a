"""DICOM: series discovery, sorting and validation, pixels, and derived-series writing.

The modules of this package are private; the names below are what the rest of medidenoise
(``io.read``, the MONAI reader, raster geometry, batch conversion) and users take from it.
"""

from medidenoise._exports import public_names as _public_names
from medidenoise.io.dicom._geometry import DicomSeriesWarning, default_affine
from medidenoise.io.dicom._reader import read_dicom, read_dicom_series
from medidenoise.io.dicom._scan import DicomScan, SeriesInfo, find_dicom_series, scan_dicom
from medidenoise.io.dicom._write_compress import Compression, compression_syntax
from medidenoise.io.dicom._writer import write_dicom_series

__all__ = _public_names(globals())  # the names imported above
