"""Decoding DICOM pixel data into modality units, with clear errors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.encaps import generate_frames
from pydicom.pixels import get_decoder
from pydicom.uid import UID, ImplicitVRLittleEndian, RLELossless

from medidenoise._optional import optional
from medidenoise._validate import check_finite
from medidenoise.errors import (
    InvalidImageError,
    MedidenoiseError,
    MissingDecoderError,
    UnsupportedImageError,
)
from medidenoise.io.dicom._header import MAX_DECODED_BYTES, expected_pixel_bytes, transfer_syntax_of

__all__ = ["check_decodable", "check_grayscale", "read_frames"]

logger = logging.getLogger(__name__)

# pydicom's own JPEG/JPEG-LS header parser (private; only used for a size check); without it
# (another pydicom) the decoder judges the size alone
_get_jpg_parameters = getattr(optional("pydicom.pixels.utils"), "_get_jpg_parameters", None)

_GRAYSCALE = ("MONOCHROME1", "MONOCHROME2")
_J2K_SYNTAXES = {
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
}

# which pip packages decode a transfer syntax (first choice first)
_J2K = "pylibjpeg pylibjpeg-openjpeg"
_JPEG = "pylibjpeg pylibjpeg-libjpeg"
_PACKAGES: dict[str, str] = {
    "1.2.840.10008.1.2.4.50": _JPEG,
    "1.2.840.10008.1.2.4.51": _JPEG,
    "1.2.840.10008.1.2.4.57": _JPEG,
    "1.2.840.10008.1.2.4.70": _JPEG,
    "1.2.840.10008.1.2.4.80": "pyjpegls (or pylibjpeg pylibjpeg-libjpeg)",
    "1.2.840.10008.1.2.4.81": "pyjpegls (or pylibjpeg pylibjpeg-libjpeg)",
    "1.2.840.10008.1.2.4.90": _J2K,
    "1.2.840.10008.1.2.4.91": _J2K,
    "1.2.840.10008.1.2.4.201": _J2K,
    "1.2.840.10008.1.2.4.202": _J2K,
    "1.2.840.10008.1.2.4.203": _J2K,
    "1.2.840.10008.1.2.5": "pylibjpeg pylibjpeg-rle",
}


def check_decodable(path: Path | str, transfer_syntax: str) -> None:
    """Raise unless pydicom can decode pixel data in ``transfer_syntax``.

    Raises
    ------
    MissingDecoderError
        The transfer syntax is compressed and no decoder plugin is installed;
        the message names the file, the syntax and the packages to install.
    UnsupportedImageError
        pydicom has no decoder at all for this transfer syntax.
    """
    uid = UID(transfer_syntax or ImplicitVRLittleEndian)
    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        raise UnsupportedImageError(
            f"{path}: pixel data uses transfer syntax {uid.name} ({uid}), which pydicom cannot "
            "decode; expected an uncompressed, JPEG, JPEG-LS, JPEG 2000 or RLE syntax. Convert "
            "the file (for example with dcmtk's dcmdjpeg or gdcmconv --raw) and try again."
        ) from None
    if not decoder.is_available:
        packages = _PACKAGES.get(str(uid), "pylibjpeg pylibjpeg-openjpeg pylibjpeg-libjpeg")
        missing = "; ".join(decoder.missing_dependencies) or "no plugin available"
        raise MissingDecoderError(
            f"{path}: pixel data is compressed with {uid.name} ({uid}) and no decoder for it is "
            f"installed ({missing}). Install one: pip install {packages} "
            "(or pip install 'medidenoise[codecs]')."
        )


def check_grayscale(
    path: Path | str, photometric: str, samples_per_pixel: int, has_modality_lut: bool = False
) -> None:
    """Raise :class:`UnsupportedImageError` for colour, palette or LUT-only images."""
    if photometric not in _GRAYSCALE or samples_per_pixel != 1:
        raise UnsupportedImageError(
            f"{path}: PhotometricInterpretation is {photometric!r} with {samples_per_pixel} "
            "sample(s) per pixel; expected a grayscale image (MONOCHROME1 or MONOCHROME2, 1 "
            "sample). Colour and palette images cannot be denoised by medidenoise: export a "
            "grayscale version of the image."
        )
    if has_modality_lut:
        raise UnsupportedImageError(
            f"{path}: the modality values are defined by a Modality LUT Sequence instead of "
            "RescaleSlope/RescaleIntercept; expected a linear rescale. Convert the image to a "
            "rescaled one (e.g. with dcmtk) before denoising."
        )


_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def _check_sizes(path: Path, ds: Any, ts: str) -> None:
    """Refuse pixel data whose size disagrees with Rows/Columns... before decoding it."""
    expected = expected_pixel_bytes(ds)
    if expected > MAX_DECODED_BYTES:
        raise InvalidImageError(
            f"{path}: the header claims {expected / 2**30:.1f} GiB of pixel data (Rows "
            f"{ds.get('Rows')}, Columns {ds.get('Columns')}, {ds.get('NumberOfFrames', 1)} "
            f"frame(s)), more than the {MAX_DECODED_BYTES >> 30} GiB medidenoise decodes from "
            "one file; the header is probably corrupt. Re-export the file from the source."
        )
    uid = UID(ts)
    keyword = next(k for k in _PIXEL_KEYWORDS if k in ds)
    if not uid.is_transfer_syntax or uid.is_compressed:
        return
    data = ds[keyword].value or b""
    held = len(data)
    row_bytes = max(1, expected // max(1, int(ds.get("Rows", 1) or 1)))
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    # trailing zero bytes are padding (pydicom drops them); anything else beyond a row means
    # Rows/Columns do not describe the data
    padded = not any(data[expected:])
    if (held - expected >= max(2, row_bytes // frames) and not padded) or held < expected:
        raise InvalidImageError(
            f"{path}: the pixel data holds {held} bytes but Rows x Columns x samples x frames "
            f"x bits ({ds.get('Rows')} x {ds.get('Columns')} x "
            f"{ds.get('SamplesPerPixel', 1)} x {frames} x {ds.get('BitsAllocated')}) needs "
            f"{expected}; the image size in the header does not match the data (a wrong "
            "Rows/Columns would give a sheared image). Re-export the file from the source."
        )


def _codestream_size(frame: bytes, uid: UID) -> tuple[int, int] | None:
    """(rows, columns) a JPEG, JPEG-LS or JPEG 2000 frame declares itself, or None."""
    if str(uid) in _J2K_SYNTAXES:
        at = frame.find(b"\xff\x4f\xff\x51", 0, 4096)  # SOC + SIZ (also inside a JP2 box)
        if at < 0 or len(frame) < at + 24:
            return None
        xsiz, ysiz, x0, y0 = (int.from_bytes(frame[at + 8 + 4 * i : at + 12 + 4 * i], "big")
                              for i in range(4))  # fmt: skip
        return ysiz - y0, xsiz - x0
    if str(uid).startswith("1.2.840.10008.1.2.4.") and _get_jpg_parameters is not None:
        try:
            info = _get_jpg_parameters(frame)
        except Exception:  # not parseable here: the decoder will judge it
            return None
        rows, cols = int(info.get("height", 0) or 0), int(info.get("width", 0) or 0)
        return (rows, cols) if rows and cols else None
    return None


def _check_codestreams(path: Path, ds: Any, ts: str) -> None:
    """Refuse compressed frames whose own size is not Rows x Columns, before any decoder runs.

    Some decoders abort the whole process (GDCM's C++ exception) rather than raise when the
    header claims more pixels than the code stream holds.
    """
    uid = UID(ts)
    if not uid.is_compressed or uid == RLELossless or "PixelData" not in ds:
        return
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    n = int(ds.get("NumberOfFrames", 1) or 1)
    try:
        frames = list(generate_frames(ds.PixelData, number_of_frames=n))
    except Exception as exc:
        raise InvalidImageError(
            f"{path}: the compressed pixel data cannot be split into its {n} frame(s) ({exc}); "
            "the file is truncated or NumberOfFrames is wrong. Re-export it from the source."
        ) from exc
    if len(frames) < n:
        raise InvalidImageError(
            f"{path}: the compressed pixel data holds {len(frames)} frame(s) but "
            f"NumberOfFrames is {n}; the file is truncated or its header is wrong."
        )
    for k, frame in enumerate(frames):
        size = _codestream_size(frame, uid)
        if size is not None and size != (rows, cols):
            raise InvalidImageError(
                f"{path}: frame {k + 1} is compressed as a {size[0]} x {size[1]} image but "
                f"Rows/Columns say {rows} x {cols}; the header does not describe the pixel "
                "data. Re-export the file from the source."
            )


def read_frames(path: Path, frames: list[int | None]) -> dict[int | None, np.ndarray]:
    """Decode the stored values of the given frames of one file.

    Parameters
    ----------
    path : pathlib.Path
        A DICOM image file.
    frames : list of int or None
        Frame indices (``None`` for a single-frame file).

    Returns
    -------
    dict
        Frame index -> 2D array of stored values (not yet rescaled).

    Raises
    ------
    MissingDecoderError, UnsupportedImageError, InvalidImageError
        No decoder, colour data, or pixel data that cannot be decoded
        (truncated or corrupt file, a size that disagrees with Rows/Columns,
        a size claim beyond :data:`MAX_DECODED_BYTES`). Any other failure
        of the decoder on this file becomes an :class:`InvalidImageError`
        naming it.
    """
    try:
        return _read_frames(path, frames)
    except MedidenoiseError:
        raise
    except MemoryError as exc:
        raise InvalidImageError(
            f"{path}: not enough memory to decode its pixel data; the header claims Rows x "
            "Columns x frames larger than this machine can hold (or is corrupt)."
        ) from exc
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # malformed values reach pydicom and its decoders in many
        # forms; a decoder written in Rust panics with a BaseException (pyo3 PanicException)
        raise InvalidImageError(
            f"{path}: cannot read the image ({type(exc).__name__}: {exc}); a header value is "
            "malformed or the file is corrupt. Re-export it from the source."
        ) from exc


def _read_frames(path: Path, frames: list[int | None]) -> dict[int | None, np.ndarray]:
    try:
        ds = pydicom.dcmread(path, force=True)
    except Exception as exc:  # pydicom raises many types on corrupt input
        raise InvalidImageError(
            f"{path}: cannot read the DICOM file ({type(exc).__name__}: {exc}); the file is "
            "corrupt or truncated. Re-export it from the source."
        ) from exc
    ts = transfer_syntax_of(ds)
    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    if not str(ds.file_meta.get("TransferSyntaxUID", "") or ""):
        ds.file_meta.TransferSyntaxUID = UID(ts)  # no file meta: use the encoding read
    check_grayscale(
        path,
        str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip(),
        int(ds.get("SamplesPerPixel", 1) or 1),
    )
    check_decodable(path, ts)
    if not any(k in ds for k in _PIXEL_KEYWORDS):
        raise InvalidImageError(
            f"{path}: no Pixel Data element could be read; expected an image with pixel data. "
            "The file is probably truncated or corrupt: re-export it from the source."
        )
    _check_sizes(path, ds, ts)
    _check_codestreams(path, ds, ts)
    try:
        arr = ds.pixel_array
    except (MemoryError, KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # pyo3 decoders panic with a BaseException
        name = UID(ts).name if ts else "unknown transfer syntax"
        raise InvalidImageError(
            f"{path}: cannot decode the pixel data ({name}): {exc}. The file is probably "
            "truncated or corrupt; re-export it from the source."
        ) from exc
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    if n_frames == 1 and arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.ndim != 3:
        raise UnsupportedImageError(
            f"{path}: decoded pixel data has shape {arr.shape}; expected (rows, columns) or "
            "(frames, rows, columns) grayscale data."
        )
    if arr.dtype.kind == "f":  # integers are always finite
        check_finite(
            arr,
            "{name}: the float pixel data holds {bad} NaN or infinite value(s); expected "
            "finite values. Fix the file at its source.",
            name=str(path),
        )
    out: dict[int | None, np.ndarray] = {}
    for frame in frames:
        index = 0 if frame is None else frame
        if index >= arr.shape[0]:
            raise InvalidImageError(
                f"{path}: frame {index} requested but the pixel data holds {arr.shape[0]} "
                "frame(s); the file is truncated or NumberOfFrames is wrong."
            )
        out[frame] = arr[index]
    return out
