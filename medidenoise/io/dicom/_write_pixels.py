"""Pixel side of the derived-series writer: modality units back to stored values.

A denoised slice is in modality units (HU for CT). Each slice is turned back
into stored values through *its own* rescale, ``raw = round((v - b) / m)``,
then clipped to the range the output's Bits Stored and Pixel Representation
allow and cast to the source's allocation. Nothing ever wraps around.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from medidenoise.errors import InvalidImageError, UnsupportedImageError

__all__ = [
    "PixelFormat",
    "make_little_endian",
    "padding_mask",
    "pixel_format",
    "rescale_inverse",
    "set_pixels",
    "to_stored",
]

log = logging.getLogger(__name__)

#: a series whose out-of-range fraction exceeds this gets a wider Bits Stored
WIDEN_FRACTION = 1e-4


@dataclass(frozen=True)
class PixelFormat:
    """How stored values are laid out: allocation, used bits and sign."""

    bits_allocated: int
    bits_stored: int
    signed: bool

    @property
    def dtype(self) -> np.dtype:
        """The little-endian numpy dtype of one stored value."""
        kind = "i" if self.signed else "u"
        return np.dtype(f"<{kind}{self.bits_allocated // 8}")

    @property
    def stored_range(self) -> tuple[int, int]:
        """The smallest and largest value Bits Stored can hold."""
        if self.signed:
            return -(2 ** (self.bits_stored - 1)), 2 ** (self.bits_stored - 1) - 1
        return 0, 2**self.bits_stored - 1

    def widened(self, lo: float, hi: float) -> PixelFormat:
        """The narrowest format (up to Bits Allocated) that holds ``[lo, hi]``."""
        bits = self.bits_stored
        fmt = self
        while bits < self.bits_allocated:
            r_lo, r_hi = fmt.stored_range
            if r_lo <= lo and hi <= r_hi:
                break
            bits += 1
            fmt = PixelFormat(self.bits_allocated, bits, self.signed)
        return fmt


def pixel_format(ds: Dataset, *, where: str = "") -> PixelFormat:
    """Read the stored-value layout of a source dataset, refusing what cannot be written.

    Raises
    ------
    UnsupportedImageError
        Colour data or an allocation other than 8, 16 or 32 bits.
    """
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    if spp != 1:
        raise UnsupportedImageError(
            f"{where}: {spp} samples per pixel ({ds.get('PhotometricInterpretation')}); "
            "only greyscale images can be written as a denoised series"
        )
    ba = int(ds.BitsAllocated)
    if ba not in (8, 16, 32):
        raise UnsupportedImageError(
            f"{where}: Bits Allocated {ba} is not supported; expected 8, 16 or 32"
        )
    bs = int(ds.get("BitsStored", ba) or ba)
    bs = min(max(bs, 1), ba)
    return PixelFormat(ba, bs, bool(int(ds.get("PixelRepresentation", 0) or 0)))


def to_stored(
    values: np.ndarray,
    slope: float,
    intercept: float,
    fmt: PixelFormat,
    *,
    where: str = "",
) -> tuple[np.ndarray, int]:
    """Invert one slice's rescale and store it in ``fmt``.

    Parameters
    ----------
    values : numpy.ndarray
        One slice (or frame) in modality units.
    slope, intercept : float
        That slice's Rescale Slope and Intercept.
    fmt : PixelFormat
        The output layout.
    where : str
        Names the slice in error messages.

    Returns
    -------
    raw : numpy.ndarray
        Stored values in ``fmt.dtype``, clipped to ``fmt.stored_range``.
    clipped : int
        How many pixels had to be clipped.
    """
    raw = rescale_inverse(values, slope, intercept, where=where)
    lo, hi = fmt.stored_range
    clipped = int(np.count_nonzero((raw < lo) | (raw > hi)))
    np.clip(raw, lo, hi, out=raw)
    return raw.astype(fmt.dtype), clipped


def rescale_inverse(
    values: np.ndarray, slope: float, intercept: float, *, where: str = ""
) -> np.ndarray:
    """``round((values - intercept) / slope)`` in float64, refusing NaN."""
    if slope == 0 or not np.isfinite(slope):
        raise InvalidImageError(f"{where}: Rescale Slope {slope} cannot be inverted")
    v = np.asarray(values, dtype=np.float64)
    if np.isnan(v).any():
        raise InvalidImageError(
            f"{where}: the denoised image contains NaN; nothing was written for it"
        )
    return np.rint((v - float(intercept)) / float(slope))


def padding_mask(ds: Dataset, raw: np.ndarray) -> np.ndarray | None:
    """Where ``raw`` (the source's stored values) holds Pixel Padding, else None."""
    if "PixelPaddingValue" not in ds:
        return None
    value = int(ds.PixelPaddingValue)
    limit = ds.get("PixelPaddingRangeLimit")
    if limit is None:
        mask = raw == value
    else:
        lo, hi = sorted((value, int(limit)))
        mask = (raw >= lo) & (raw <= hi)
    return mask if mask.any() else None


def set_pixels(ds: Dataset, raw: np.ndarray, fmt: PixelFormat, photometric: str) -> None:
    """Store ``raw`` as uncompressed Explicit VR Little Endian Pixel Data.

    ``raw`` is (H, W) for a single-frame object or (F, H, W) for a
    multi-frame one (Number of Frames is set from it).
    """
    # set_pixel_data refuses big endian and keeps implicit VR: switch first
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if fmt.bits_allocated <= 16:
        ds.set_pixel_data(raw, photometric, fmt.bits_stored, generate_instance_uid=False)
        return
    # 32-bit stored values: pydicom's helper only handles 8/16 bits
    data = np.ascontiguousarray(raw, dtype=fmt.dtype).tobytes()
    ds.PixelData = data
    ds["PixelData"].VR = "OW"
    ds["PixelData"].is_undefined_length = False
    ds.BitsAllocated = fmt.bits_allocated
    ds.BitsStored = fmt.bits_stored
    ds.HighBit = fmt.bits_stored - 1
    ds.PixelRepresentation = int(fmt.signed)
    ds.PhotometricInterpretation = photometric
    ds.SamplesPerPixel = 1
    ds.Rows, ds.Columns = int(raw.shape[-2]), int(raw.shape[-1])
    if raw.ndim == 3:
        ds.NumberOfFrames = int(raw.shape[0])
    elif "NumberOfFrames" in ds:
        del ds.NumberOfFrames


_SWAP_WIDTH = {"OW": 2, "OL": 4, "OF": 4, "OD": 8, "OV": 8}


def make_little_endian(ds: Dataset) -> None:
    """Byte-swap the binary values of a dataset read from a big-endian file.

    pydicom decodes numbers, text and tags on reading, but OW/OL/OF/OD/OV
    values stay raw bytes in the source byte order; they are swapped here.
    UN values have no known layout and are dropped (with a log line). Pixel
    Data must already have been replaced.
    """
    for elem in list(ds.iterall()):
        if elem.tag == 0x7FE00010 or elem.value is None:
            continue
        width = _SWAP_WIDTH.get(str(elem.VR))
        if width and isinstance(elem.value, bytes) and len(elem.value) % width == 0:
            elem.value = np.frombuffer(elem.value, f">u{width}").astype(f"<u{width}").tobytes()
    _drop_unknown(ds)


def _drop_unknown(ds: Dataset) -> None:
    for elem in list(ds):
        if elem.VR == "UN":
            log.debug("dropping %s (VR UN) from a big-endian source", elem.tag)
            del ds[elem.tag]
        elif elem.VR == "SQ":
            for item in elem.value:
                _drop_unknown(item)
