"""Lossless re-encoding of derived instances, on request: derived series are written
uncompressed (Explicit VR Little Endian) unless a lossless re-encode is asked for.

The names are those of the CLI's ``--compression``: ``"none"`` (Explicit VR
Little Endian), ``"rle"`` (RLE Lossless, pydicom's own encoder), ``"jpeg-ls"``
(JPEG-LS Lossless, needs ``pyjpegls``) and ``"jpeg2000"`` (JPEG 2000 Lossless,
needs ``pylibjpeg`` and ``pylibjpeg-openjpeg``). Only lossless syntaxes are
offered: the derived series must decode to exactly the values that were
computed, and no new lossy-compression history is created.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import get_encoder
from pydicom.uid import UID, JPEG2000Lossless, JPEGLSLossless, RLELossless

from medidenoise.errors import MissingDecoderError, UnsupportedImageError

__all__ = ["COMPRESSIONS", "Compression", "compress_instance", "compression_syntax"]

Compression = Literal["none", "rle", "jpeg-ls", "jpeg2000"]

#: ``--compression`` name -> transfer syntax (None: Explicit VR Little Endian)
COMPRESSIONS: dict[str, UID | None] = {
    "none": None,
    "rle": RLELossless,
    "jpeg-ls": JPEGLSLossless,
    "jpeg2000": JPEG2000Lossless,
}

#: openjpeg (through pylibjpeg-openjpeg) always uses 6 DWT resolution levels
_J2K_MIN_SIZE = 2 ** (6 - 1)
#: what to pip-install for each encoder when pydicom reports it unavailable
_PACKAGES = {
    "rle": "pylibjpeg-rle",
    "jpeg-ls": "pyjpegls",
    "jpeg2000": "pylibjpeg pylibjpeg-openjpeg",
}


def _encoder_available(uid: UID) -> bool:
    return bool(get_encoder(uid).is_available)


def compression_syntax(name: str) -> UID | None:
    """The transfer syntax of a ``--compression`` name, checking its encoder is installed.

    Parameters
    ----------
    name : {"none", "rle", "jpeg-ls", "jpeg2000"}
        The lossless re-encode asked for.

    Returns
    -------
    pydicom.uid.UID or None
        None for ``"none"`` (uncompressed Explicit VR Little Endian).

    Raises
    ------
    ValueError
        An unknown name.
    MissingDecoderError
        The encoder's package is not installed (the message names it).
    """
    if name not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {', '.join(COMPRESSIONS)}, got {name!r}")
    uid = COMPRESSIONS[name]
    if uid is not None and not _encoder_available(uid):
        raise MissingDecoderError(
            f"compression {name!r} ({uid.name}) needs {_PACKAGES[name]}, which is not "
            f"installed: `pip install {_PACKAGES[name]}`, or pass --compression none "
            "(compression='none') for uncompressed output"
        )
    return uid


def compress_instance(ds: Dataset, raw: np.ndarray, uid: UID, *, where: str = "") -> None:
    """Re-encode ``ds`` (uncompressed, Pixel Data from ``raw``) losslessly as ``uid``.

    Raises
    ------
    UnsupportedImageError
        The encoder refuses this image (e.g. 32-bit values for JPEG-LS, or
        fewer than 32 rows or columns for JPEG 2000).
    """
    rows, cols = int(raw.shape[-2]), int(raw.shape[-1])
    if uid == JPEG2000Lossless and min(rows, cols) < _J2K_MIN_SIZE:
        raise UnsupportedImageError(
            f"{where}: {rows}x{cols} pixels is too small for the JPEG 2000 encoder (openjpeg "
            f"uses 6 resolution levels: at least {_J2K_MIN_SIZE} pixels each way); pick "
            "--compression rle or jpeg-ls for this series"
        )
    try:
        ds.compress(uid, np.ascontiguousarray(raw), generate_instance_uid=False)
    except (ValueError, RuntimeError, NotImplementedError) as exc:
        raise UnsupportedImageError(
            f"{where}: cannot encode as {uid.name} ({exc}); pick another --compression or none"
        ) from exc
