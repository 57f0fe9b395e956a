"""Reading grayscale PNG and TIFF images (8/16-bit, float TIFF)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from medidenoise._validate import check_finite, check_ndim, check_size
from medidenoise.errors import InvalidImageError, UnsupportedImageError
from medidenoise.io.dicom import default_affine
from medidenoise.io.volume import Volume

__all__ = ["read_raster"]

logger = logging.getLogger(__name__)


#: the most pixel data medidenoise decodes from one PNG/TIFF file (larger claims: a corrupt
#: header or a decompression bomb)
MAX_RASTER_BYTES = 4 << 30


def _check_claim(path: Path, shape: tuple[int, ...], itemsize: int) -> None:
    claimed = int(np.prod(shape, dtype=np.float64)) * max(1, itemsize)
    if claimed > MAX_RASTER_BYTES:
        raise InvalidImageError(
            f"{path}: the file claims an image of shape {tuple(shape)} ({claimed / 2**30:.1f} "
            f"GiB decoded), more than the {MAX_RASTER_BYTES >> 30} GiB medidenoise decodes "
            "from one file; it is corrupt or a decompression bomb."
        )


def _load(path: Path) -> np.ndarray:
    try:
        if path.suffix.lower() == ".png":
            from PIL import Image

            with Image.open(path) as img:
                bands = len(img.getbands())
                _check_claim(path, (img.height, img.width, bands), 2 if "16" in img.mode else 1)
                if img.mode == "P":  # palette: expand, then check it is gray
                    mode = "RGBA" if "transparency" in img.info else "RGB"
                    return np.asarray(img.convert(mode))
                return np.asarray(img)
        import tifffile

        with tifffile.TiffFile(path) as tif:
            if tif.series:
                series = tif.series[0]
                _check_claim(path, tuple(series.shape), np.dtype(series.dtype).itemsize)
            return np.asarray(tif.asarray())
    except InvalidImageError:
        raise
    except MemoryError as exc:
        raise InvalidImageError(
            f"{path}: not enough memory to decode the image; the file claims a larger image "
            "than this machine can hold (or is corrupt)."
        ) from exc
    except Exception as exc:  # Pillow/tifffile raise many types (DecompressionBombError...)
        raise InvalidImageError(
            f"{path}: cannot read the image ({type(exc).__name__}: {exc}); expected a valid "
            "PNG or TIFF file."
        ) from exc


def _to_gray(path: Path, arr: np.ndarray) -> np.ndarray:
    """Drop a channel axis whose colour channels are all equal; refuse true colour."""
    if arr.ndim == 3 and arr.shape[-1] in (2, 3, 4):
        n_color = 1 if arr.shape[-1] == 2 else 3  # gray+alpha, or RGB(+alpha)
        if arr.shape[-1] in (2, 4):
            alpha = arr[..., -1]
            if alpha.min() != alpha.max():
                raise UnsupportedImageError(
                    f"{path}: the image has a varying alpha (transparency) channel; expected a "
                    "grayscale image. Flatten it onto a background and save it as grayscale."
                )
        color = arr[..., :n_color]
        if n_color == 3 and not (
            np.array_equal(color[..., 0], color[..., 1])
            and np.array_equal(color[..., 0], color[..., 2])
        ):
            raise UnsupportedImageError(
                f"{path}: true-colour image (RGB channels differ); expected a grayscale image. "
                "medidenoise denoises grayscale X-ray/CT/MR images: convert it to grayscale "
                "(e.g. PIL Image.convert('L')) if that is what you mean."
            )
        return color[..., 0]
    return arr


def read_raster(path: str | os.PathLike) -> Volume:
    """Read a grayscale PNG/TIFF into a :class:`Volume` (D=1; multi-page TIFF: D pages).

    Values are kept as stored (8/16-bit integers become float32 of the same
    value); spacing is 1 mm and the affine the DICOM default orientation.
    RGB images whose three channels are equal are accepted as gray.

    Raises
    ------
    UnsupportedImageError
        True colour or a varying alpha channel.
    InvalidImageError
        Unreadable file, or not a 2D/3D image.
    """
    path = Path(path)
    arr = _to_gray(path, _load(path))
    wrong = (
        "{name}: image has shape {shape}; expected a 2D grayscale image (or a stack of 2D pages)."
    )
    check_ndim(arr, (2, 3), wrong, name=str(path))
    check_size(arr, wrong, name=str(path))
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if not np.issubdtype(arr.dtype, np.number):
        raise InvalidImageError(f"{path}: pixel type {arr.dtype} is not numeric.")
    arr = arr.astype(np.float32)
    check_finite(
        arr,
        "{name}: the image holds NaN or infinite values; expected finite values. Replace "
        "them (numpy.nan_to_num) and save again.",
        name=str(path),
    )
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    return Volume(
        array=arr,
        spacing=(1.0, 1.0, 1.0),
        affine=default_affine((1.0, 1.0, 1.0)),
        modality="OT",
        photometric="MONOCHROME2",
        path=path,
        metadata={"format": path.suffix.lower().lstrip(".")},
    )
