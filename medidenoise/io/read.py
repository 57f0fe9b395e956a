"""``read_volume``: one entry point for DICOM, NIfTI, PNG and TIFF."""

from __future__ import annotations

import os
from pathlib import Path

from medidenoise.errors import InvalidImageError, UnsupportedImageError
from medidenoise.io.dicom import read_dicom
from medidenoise.io.formats import file_kind, special_file_kind
from medidenoise.io.nifti import read_nifti
from medidenoise.io.raster import read_raster
from medidenoise.io.volume import Volume

__all__ = ["read_volume"]


def read_volume(
    path: str | os.PathLike,
    *,
    series_uid: str | None = None,
    volume_index: int | None = None,
    allow_irregular: bool = False,
) -> Volume:
    """Read an image volume in modality units.

    Parameters
    ----------
    path : str or os.PathLike
        A DICOM file (single- or multi-frame, enhanced CT/MR included), a
        folder of DICOM files (searched recursively; names with or without
        ``.dcm``; DICOMDIR, non-image objects and localizers are ignored), a
        NIfTI ``.nii``/``.nii.gz`` file, or a 2D grayscale PNG/TIFF.
    series_uid : str, optional
        For a folder with several series: the SeriesInstanceUID (or the
        ``key`` from :func:`find_dicom_series`) of the one to read.
    volume_index : int, optional
        For a 4D NIfTI: which volume to read.
    allow_irregular : bool
        DICOM only: read a series with missing slices or irregular spacing as
        a stack (warning, approximate affine) instead of raising; and a
        series some of whose files cannot be read (truncated or corrupt
        slices) from its readable files, with a warning naming the broken
        ones and ``metadata["incomplete"]`` listing them.

    Returns
    -------
    Volume
        float32 (D, H, W), D in increasing position along the slice normal;
        values in modality units (each DICOM slice's own rescale; HU for CT;
        MONOCHROME1 kept as stored); spacing (dz, dy, dx) mm; RAS affine.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    InvalidImageError
        ``path`` is empty (``""``; pass ``"."`` for the current folder).
    UnsupportedImageError
        ``path`` is a named pipe, device or socket (never opened: it could block).
    MultipleSeriesError
        A folder with several series and no ``series_uid``; lists them.
    DicomSeriesError
        Unknown ``series_uid``, or an inconsistent series (gaps, several
        images at one position, files of the series that cannot be read).
    UnsupportedImageError
        Colour/palette images or an unknown file type.
    MissingDecoderError
        Compressed DICOM without the decoder package; names the package.
    InvalidImageError
        Corrupt or truncated files, 4D NIfTI without ``volume_index``, NaNs.

    Notes
    -----
    DICOM decisions (details in :mod:`medidenoise.io.dicom._geometry`):
    MONOCHROME1 values are never inverted (``photometric`` says how to show
    them); missing slices / irregular spacing raise unless
    ``allow_irregular=True``; an exact duplicate file is ignored with a
    warning, different images at one position raise; gantry tilt only warns
    (the affine keeps the shear, nothing is resampled); without positions,
    slices are sorted by InstanceNumber with a :class:`DicomSeriesWarning`.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> vol = read_volume(get_testdata_file("CT_small.dcm", download=False))
    >>> vol.shape, vol.modality
    ((1, 128, 128), 'CT')
    """
    if not os.fspath(path).strip():  # Path("") is the current folder: never meant
        raise InvalidImageError(
            "read_volume: the path is empty; pass the DICOM file or folder, NIfTI, PNG or TIFF "
            "file to read (use '.' for the current folder)"
        )
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    special = special_file_kind(path)
    if special is not None:
        raise UnsupportedImageError(
            f"{path}: {special}, not an image file; reading it would block or never end. "
            "Pass a DICOM file or folder, NIfTI, PNG or TIFF file."
        )
    if path.is_dir():
        return read_dicom(path, series_uid=series_uid, allow_irregular=allow_irregular)
    kind = file_kind(path)
    if kind == "nifti":
        return read_nifti(path, volume_index=volume_index)
    if kind == "raster":
        return read_raster(path)
    try:
        return read_dicom(path, series_uid=series_uid, allow_irregular=allow_irregular)
    except InvalidImageError as exc:
        if "not a DICOM file" in str(exc):
            raise UnsupportedImageError(
                f"{path}: unknown file type; expected a DICOM file or folder, NIfTI "
                "(.nii/.nii.gz), PNG or TIFF."
            ) from exc
        raise
