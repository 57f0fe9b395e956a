"""The :class:`Volume` container shared by readers, denoisers and writers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medidenoise._validate import REAL_KINDS
from medidenoise.errors import InvalidImageError

__all__ = ["DicomSource", "SliceSource", "Volume"]


@dataclass(frozen=True)
class SliceSource:
    """Where one slice of a DICOM-derived volume came from.

    Attributes
    ----------
    path : pathlib.Path
        The source file.
    frame : int or None
        Zero-based frame index inside a multi-frame file, ``None`` for a
        single-frame file.
    sop_instance_uid, sop_class_uid : str
        Identifiers of the source instance, for SourceImageSequence.
    slope, intercept : float
        The rescale that maps this slice's stored values to modality units.
    """

    path: Path
    frame: int | None
    sop_instance_uid: str
    sop_class_uid: str
    slope: float = 1.0
    intercept: float = 0.0


@dataclass(frozen=True)
class DicomSource:
    """The sorted per-slice references of a volume read from DICOM.

    ``slices[k]`` is the source of ``Volume.array[k]``; a derived series maps
    denoised slice ``k`` back to it.
    """

    series_uid: str
    study_uid: str
    slices: tuple[SliceSource, ...]
    multiframe: bool = False

    @property
    def files(self) -> tuple[Path, ...]:
        """The distinct source files in slice order."""
        return tuple(dict.fromkeys(s.path for s in self.slices))


@dataclass(frozen=True, eq=False)
class Volume:
    """An image volume in modality units with its geometry.

    Attributes
    ----------
    array : numpy.ndarray
        float32 array of shape (D, H, W); D is 1 for a 2D image. Slices are
        ordered by increasing position along the slice normal.
    spacing : tuple of float
        Voxel size (dz, dy, dx) in millimetres.
    affine : numpy.ndarray
        4x4 matrix mapping the array index ``(d, h, w, 1)`` to RAS world
        coordinates in millimetres (the nibabel/NIfTI axis convention, applied
        to this array's own index order).
    modality : str
        DICOM modality ("CT", "MR", "CR", "DX", ...) or "OT" when unknown.
    photometric : str
        "MONOCHROME2" (bright = high value) or "MONOCHROME1" (bright = low
        value). Values are never inverted: a MONOCHROME1 volume keeps its
        stored meaning and is written back as MONOCHROME1.
    source : DicomSource or None
        For DICOM input, the sorted per-slice sources needed to write a
        derived series.
    path : pathlib.Path or None
        The file or folder the volume was read from.
    metadata : dict
        Extra facts (series description, window centre/width, NIfTI header...).
    padding : numpy.ndarray or None
        Boolean (D, H, W) mask of Pixel Padding (DICOM PixelPaddingValue /
        PixelPaddingRangeLimit: a CT's outside of the field of view), or None
        when the volume has none. Padding is not image: the denoiser keeps it
        out of its statistics and of the network's view, and gives it back
        exactly.
    """

    array: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    affine: np.ndarray = field(default_factory=lambda: np.eye(4))
    modality: str = "OT"
    photometric: str = "MONOCHROME2"
    source: DicomSource | None = None
    path: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    padding: np.ndarray | None = None

    def __post_init__(self) -> None:
        arr = np.asarray(self.array)
        if arr.ndim == 2:
            arr = arr[np.newaxis]
        if arr.ndim != 3:
            raise ValueError(f"Volume.array must be 2D or 3D, got shape {arr.shape}")
        if arr.dtype.kind not in REAL_KINDS:  # float32 of complex would drop its imaginary part
            raise InvalidImageError(
                f"Volume.array must be real-valued, got dtype {arr.dtype}; pass np.abs(array) "
                "for a magnitude image (or array.real) first"
            )
        if arr.dtype != np.float32:
            arr = arr.astype(np.float32)
        object.__setattr__(self, "array", arr)
        object.__setattr__(self, "spacing", tuple(float(s) for s in self.spacing))
        affine = np.asarray(self.affine, dtype=np.float64)
        if affine.shape != (4, 4):
            raise ValueError(f"Volume.affine must be 4x4, got shape {affine.shape}")
        object.__setattr__(self, "affine", affine)
        if self.padding is not None:
            mask = np.asarray(self.padding, dtype=bool)
            mask = mask[np.newaxis] if mask.ndim == 2 else mask
            if mask.shape != arr.shape:
                raise ValueError(
                    f"Volume.padding must have the array's shape {arr.shape}, got {mask.shape}"
                )
            object.__setattr__(self, "padding", mask if mask.any() else None)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(D, H, W)."""
        return tuple(self.array.shape)  # type: ignore[return-value]

    @property
    def is_2d(self) -> bool:
        """True for a single-slice image."""
        return self.array.shape[0] == 1

    def with_array(self, array: np.ndarray, **changes: Any) -> Volume:
        """Return a copy with the same geometry and a new array of the same shape."""
        array = np.asarray(array)
        if array.ndim == 2:
            array = array[np.newaxis]
        if array.shape != self.array.shape:
            raise ValueError(
                f"new array has shape {array.shape}, the volume has {self.array.shape}"
            )
        return dataclasses.replace(self, array=array, **changes)
