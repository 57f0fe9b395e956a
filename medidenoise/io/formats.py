"""What kind of image file a path is: the one "what file is this" rule.

Every reader (NIfTI, raster, DICOM and the MONAI reader), the DICOM scanner, the batch
conversion planner, the training data loader and the napari plugin (through
:func:`is_dicom_file` and :func:`is_nifti_path`, and its manifest's file patterns, which a test
holds to :data:`DICOM_SUFFIXES` and :data:`NIFTI_SUFFIXES`) decide "is this DICOM / NIfTI /
PNG-TIFF / something else?" with :func:`file_kind` or :func:`kind_from_name`, so the rules
cannot drift apart.

The rule, in order:

1. a name ending in a DICOM suffix (:data:`DICOM_SUFFIXES`, any case) is DICOM;
2. a file holding ``b"DICM"`` at byte 128 (a DICOM Part 10 file) is DICOM, whatever its name;
3. a NIfTI (:data:`NIFTI_SUFFIXES`) or raster (:data:`RASTER_SUFFIXES`) suffix names that kind;
4. a suffix of a known non-image file (:data:`OTHER_SUFFIXES`: text, archives, photos...) is
   ``"other"``, never parsed as DICOM;
5. anything else (no suffix, or an unknown one such as the ``.1`` of a UID-named file) is
   ``"unknown"``: only parsing the file can tell (:func:`~medidenoise.io.scan_dicom` tries it).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO, Literal

__all__ = [
    "DICOM_SUFFIXES",
    "NIFTI_SUFFIXES",
    "OTHER_SUFFIXES",
    "RASTER_SUFFIXES",
    "FileKind",
    "file_kind",
    "has_dicom_preamble",
    "image_stem",
    "is_dicom_file",
    "is_nifti_path",
    "kind_from_name",
    "special_file_kind",
]

FileKind = Literal["dicom", "nifti", "raster", "other", "unknown"]

#: file names ending so (any case) are taken as DICOM without looking inside
DICOM_SUFFIXES = (".dcm", ".dicom", ".dic", ".ima")
#: file names ending so (any case) are NIfTI
NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: file names ending so (any case) are PNG or TIFF images
RASTER_SUFFIXES = (".png", ".tif", ".tiff")
#: suffixes of files that are not images medidenoise reads: never parsed as DICOM unless the
#: file carries the DICOM preamble
OTHER_SUFFIXES = (
    ".txt",
    ".json",
    ".xml",
    ".html",
    ".pdf",
    ".csv",
    ".md",
    ".zip",
    ".gz",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".exe",
    ".py",
    ".log",
)
#: a DICOM Part 10 file holds b"DICM" right after its 128-byte preamble
_DICM_AT = 128


def kind_from_name(path: str | os.PathLike) -> FileKind:
    """What the file name alone says a file is (the file need not exist).

    Examples
    --------
    >>> [kind_from_name(n) for n in ("CT1.DCM", "t1.nii.gz", "a.tif", "notes.txt", "IM0001")]
    ['dicom', 'nifti', 'raster', 'other', 'unknown']
    """
    name = Path(path).name.lower()
    if name.endswith(DICOM_SUFFIXES):
        return "dicom"
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(RASTER_SUFFIXES):
        return "raster"
    if name.endswith(OTHER_SUFFIXES):
        return "other"
    return "unknown"


def file_kind(path: str | os.PathLike) -> FileKind:
    """What a file is: its name, and the DICOM preamble when the name does not say DICOM.

    A file with the preamble is DICOM whatever its name; otherwise the name decides
    (:func:`kind_from_name`). A missing or unreadable file is judged by its name alone.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "1.2.840.10008.1"
    >>> _ = f.write_bytes(bytes(128) + b"DICM")
    >>> file_kind(f), file_kind(f.with_name("scan.nii"))
    ('dicom', 'nifti')
    """
    by_name = kind_from_name(path)
    # only a regular file is opened: a named pipe or a device would block or never end
    if by_name == "dicom" or (os.path.isfile(path) and has_dicom_preamble(path)):
        return "dicom"
    return by_name


def is_nifti_path(path: str | os.PathLike) -> bool:
    """True for a name ending in ``.nii`` or ``.nii.gz`` (any case); the file need not exist.

    Examples
    --------
    >>> is_nifti_path("scan.NII.GZ"), is_nifti_path("scan.gz")
    (True, False)
    """
    return kind_from_name(path) == "nifti"


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
    """True for an existing file that :func:`file_kind` calls DICOM: a DICOM suffix
    (``.dcm``, ``.dicom``, ``.dic``, ``.ima``) or the DICOM preamble.

    A DICOM file without the preamble and without a DICOM suffix (some old
    exports) is not recognised here; :func:`~medidenoise.io.scan_dicom` still
    finds it by parsing.
    """
    p = Path(path)
    return p.is_file() and file_kind(p) == "dicom"


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
