"""What kind of image file a path is: the one home of the NIfTI suffix rule and the DICOM probe.

Every reader, the batch conversion, the training data loader and the napari
plugin decide "is this NIfTI / DICOM?" with these functions, so the rules
cannot drift apart.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "DICOM_SUFFIXES",
    "NIFTI_SUFFIXES",
    "has_dicom_preamble",
    "image_stem",
    "is_dicom_file",
    "is_nifti_path",
    "special_file_kind",
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


def special_file_kind(path: str | os.PathLike) -> str | None:
    """What ``path`` is when it is neither a regular file nor a folder, else ``None``.

    A named pipe (FIFO), a device (``/dev/zero``) or a socket blocks or never ends when
    read, so readers skip or refuse it instead of opening it; ``os.stat`` itself never
    blocks on one. A link is followed; a broken link is reported as such.

    Examples
    --------
    >>> special_file_kind("/dev/zero")
    'a character device'
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a broken link" if os.path.islink(path) else None
    except OSError:
        return None  # the reader that opens it reports why
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
