"""The series logic of :func:`read_volume` as a MONAI ``ImageReader``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from monai.data.image_reader import ImageReader
from monai.utils import MetaKeys, SpaceKeys

from medidenoise.io.dicom import read_dicom
from medidenoise.io.formats import file_kind
from medidenoise.io.volume import Volume

__all__ = ["DicomSeriesReader"]

PathLike = str | os.PathLike


def _looks_like_dicom(path: Path) -> bool:
    """A folder (a series), or a file that io.formats' one rule calls DICOM."""
    return path.is_dir() or file_kind(path) == "dicom"


class DicomSeriesReader(ImageReader):
    """Read DICOM files and series folders with medidenoise's series logic.

    Same behaviour as :func:`medidenoise.io.read_volume` for DICOM input:
    series split by SeriesInstanceUID, localizers dropped, slices sorted along
    the normal, spacing validated, per-slice rescale, MONOCHROME1 kept as
    stored. The array is returned as (D, H, W) (no channel; use
    ``ensure_channel_first=True``) with a RAS ``affine`` for that index order.

    Parameters
    ----------
    series_uid : str, optional
        Which series to read from folders holding several.
    allow_irregular : bool
        Accept missing slices / irregular spacing with a warning.

    Examples
    --------
    >>> from monai.transforms import LoadImage
    >>> loader = LoadImage(reader=DicomSeriesReader(), image_only=True)
    >>> img = loader("path/to/series/")  # doctest: +SKIP
    """

    def __init__(self, series_uid: str | None = None, *, allow_irregular: bool = False) -> None:
        super().__init__()
        self.series_uid = series_uid
        self.allow_irregular = allow_irregular

    def verify_suffix(self, filename: Sequence[PathLike] | PathLike) -> bool:
        """True when every name is a folder, a ``.dcm`` file or a DICOM file without suffix."""
        names = [filename] if isinstance(filename, (str, os.PathLike)) else list(filename)
        return bool(names) and all(_looks_like_dicom(Path(n)) for n in names)

    def read(self, data: Sequence[PathLike] | PathLike, **kwargs: Any) -> Volume | list[Volume]:
        """Read each file/folder into a :class:`Volume` (one per name).

        ``kwargs`` may override ``series_uid`` and ``allow_irregular``.
        """
        names = [data] if isinstance(data, (str, os.PathLike)) else list(data)
        series_uid = kwargs.get("series_uid", self.series_uid)
        allow = kwargs.get("allow_irregular", self.allow_irregular)
        vols = [read_dicom(n, series_uid=series_uid, allow_irregular=allow) for n in names]
        return vols[0] if len(vols) == 1 else vols

    def get_data(self, img: Volume | Sequence[Volume]) -> tuple[np.ndarray, dict]:
        """Return the (D, H, W) array (stacked as channels for several) and MONAI metadata."""
        vols = [img] if isinstance(img, Volume) else list(img)
        first = vols[0]
        for v in vols[1:]:
            if v.shape != first.shape or not np.allclose(v.affine, first.affine):
                raise ValueError(
                    f"cannot stack {v.path} ({v.shape}) with {first.path} ({first.shape}) as "
                    "channels: expected the same shape and affine."
                )
        meta: dict[str, Any] = {
            MetaKeys.AFFINE: first.affine.copy(),
            MetaKeys.ORIGINAL_AFFINE: first.affine.copy(),
            MetaKeys.SPATIAL_SHAPE: np.asarray(first.shape),
            MetaKeys.SPACE: SpaceKeys.RAS,
            "spacing": np.asarray(first.spacing),
            "modality": first.modality,
            "photometric": first.photometric,
        }
        for key in ("SeriesInstanceUID", "SeriesDescription", "SeriesNumber"):
            value = first.metadata.get(key)
            if isinstance(value, (str, int, float)):
                meta[key] = value
        if len(vols) == 1:
            meta[MetaKeys.ORIGINAL_CHANNEL_DIM] = float("nan")
            return first.array, meta
        meta[MetaKeys.ORIGINAL_CHANNEL_DIM] = 0
        return np.stack([v.array for v in vols]), meta
