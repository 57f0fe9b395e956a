"""What kind of image file a path is: the one home of the NIfTI suffix rule and the DICOM probe.

Every reader, the batch conversion, the training data loader and the napari
plugin decide "is this NIfTI / DICOM?" with these functions, so the rules
cannot drift apart.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "DICOM_SUFFIXES",
    "NIFTI_SUFFIXES",
    "has_dicom_preamble",
    "image_stem",
    "is_dicom_file",
    "is_nifti_path",
]

#: file names ending so (any case) are NIfTI
NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: file names ending so (any case) are taken as DICOM without looking inside
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
#: a DICOM Part 10 file holds b"DICM" right after its 128-byte preamble
_DICM_AT = 128


def is_nifti_path(path: str | os.PathLike) -> bool:
    """True for a name ending in ``.nii`` or ``.nii.gz`` (any case); the file need not exist.

    Examples
    --------
    >>> is_nifti_path("scan.NII.GZ"), is_nifti_path("scan.gz")
    (True, False)
    """
    return Path(path).name.lower().endswith(NIFTI_SUFFIXES)


def image_stem(path: str | os.PathLike) -> str:
    """The file name without its last suffix, ``.nii.gz`` counted as one.

    Examples
    --------
    >>> image_stem("a/brain.nii.gz"), image_stem("ct.dcm")
    ('brain', 'ct')
    """
    p = Path(path)
    return p.name[: -len(".nii.gz")] if p.name.lower().endswith(".nii.gz") else p.stem


def has_dicom_preamble(source: str | os.PathLike | BinaryIO) -> bool:
    """True when ``b"DICM"`` stands at byte 128, the mark of a DICOM Part 10 file.

    ``source`` is a path (an unreadable file gives False) or a binary file
    object read from its current position (errors propagate; the position is
    left after the bytes read).
    """
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as fp:
                return has_dicom_preamble(fp)
        except OSError:
            return False
    return source.read(_DICM_AT + 4)[_DICM_AT:] == b"DICM"


def is_dicom_file(path: str | os.PathLike) -> bool:
    """True for an existing file with a DICOM suffix or the DICOM preamble.

    A DICOM file without the preamble and without a DICOM suffix (some old
    exports) is not recognised here; :func:`~medidenoise.io.scan_dicom` still
    finds it by parsing.
    """
    p = Path(path)
    if not p.is_file():
        return False
    return p.name.lower().endswith(DICOM_SUFFIXES) or has_dicom_preamble(p)
