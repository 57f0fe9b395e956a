"""Reading and writing image volumes: DICOM series, NIfTI, PNG/TIFF.

``DicomSeriesReader`` is imported on first use so that ``medidenoise.io`` does
not load MONAI/torch.
"""

from typing import TYPE_CHECKING

from medidenoise._exports import lazy_attributes as _lazy_attributes
from medidenoise._exports import public_names as _public_names
from medidenoise.io.dicom import (
    DicomScan,
    DicomSeriesWarning,
    SeriesInfo,
    find_dicom_series,
    read_dicom_series,
    scan_dicom,
    write_dicom_series,
)
from medidenoise.io.formats import image_stem, is_dicom_file, is_nifti_path
from medidenoise.io.nifti import write_nifti, write_volume
from medidenoise.io.read import read_volume
from medidenoise.io.templates import load_mni152
from medidenoise.io.volume import DicomSource, SliceSource, Volume

# names loaded on first use (MONAI, torch), beside the ones imported above
_LAZY = {"DicomSeriesReader": "medidenoise.io.monai_reader"}
__all__ = sorted([*_public_names(globals()), *_LAZY])
__getattr__, _ = _lazy_attributes("medidenoise.io", _LAZY, globals())

if TYPE_CHECKING:  # pragma: no cover
    from medidenoise.io.monai_reader import DicomSeriesReader
