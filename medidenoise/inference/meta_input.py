"""MONAI MetaTensors and arrays whose slices lie across another axis than the first.

The networks denoise 2D slices (with neighbours for 2.5D models), always
taken across the first axis of a (D, H, W) array. A MONAI ``MetaTensor`` from
``LoadImage`` is usually (H, W, D) or channel-first (1, H, W, D), with an
affine that says where each axis points. :func:`slice_axis_from_affine`
finds the slice axis from that affine; the caller moves it first, denoises
and moves it back, and the result is a ``MetaTensor`` with the input's
metadata (affine included).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from medidenoise._optional import optional
from medidenoise.errors import InvalidImageError

__all__ = ["is_meta_tensor", "slice_axis_from_affine", "spatial_view", "wrap_like"]

log = logging.getLogger(__name__)

#: an axis is the slice axis when its voxels are this much longer than any other's
_THICKER = 1.1
#: or, for (near) isotropic voxels, when it points this closely along head-foot (axial slices)
_AXIAL_COSINE = 0.9


def is_meta_tensor(image: Any) -> bool:
    """True for a MONAI ``MetaTensor`` (a torch tensor carrying an affine and metadata)."""
    data = optional("monai.data")  # MONAI is a dependency, but stay importable without it
    return data is not None and isinstance(image, data.MetaTensor)


def slice_axis_from_affine(affine: Any, shape: tuple[int, ...]) -> int:
    """The axis of a 3D array across which its 2D slices are taken.

    Parameters
    ----------
    affine : array-like
        4x4 matrix from array index to world millimetres (RAS or LPS).
    shape : tuple of int
        The array's spatial shape (3 axes).

    Returns
    -------
    int
        In this order of preference: the only axis of length 1 (a single
        slice); the axis whose voxels are clearly the longest (more than 10 %:
        the slice thickness of a clinical scan); for near-isotropic voxels,
        the axis pointing along head-foot (axial slices).

    Raises
    ------
    InvalidImageError
        When none of these applies (an isotropic oblique volume); the message
        says to pass ``slice_axis=``.
    """
    singletons = [k for k, n in enumerate(shape) if n == 1]
    if len(singletons) == 1:
        return singletons[0]
    matrix = np.asarray(affine, dtype=np.float64)
    if matrix.shape != (4, 4):
        raise InvalidImageError(
            f"a 3D image needs a 4x4 affine to find its slice axis, got shape {matrix.shape}; "
            "pass slice_axis= (the axis across which the 2D slices are taken)"
        )
    columns = matrix[:3, :3]
    spacing = np.linalg.norm(columns, axis=0)
    order = np.argsort(spacing)[::-1]
    if spacing[order[0]] > _THICKER * spacing[order[1]]:
        return int(order[0])
    directions = columns / np.where(spacing > 0, spacing, 1.0)
    along_z = np.abs(directions[2])
    if along_z.max() >= _AXIAL_COSINE:
        return int(np.argmax(along_z))
    raise InvalidImageError(
        f"cannot tell the slice axis from the affine: voxel sizes {np.round(spacing, 3).tolist()}"
        " mm are about equal and no axis points along head-foot; pass slice_axis= (the axis "
        "across which the 2D slices are taken: 0, 1 or 2)"
    )


def spatial_view(image: Any, slice_axis: int | None) -> tuple[np.ndarray, int | None, int]:
    """The MetaTensor's data without its channel axis, and the slice axis in that array.

    Returns
    -------
    (numpy.ndarray, int or None, int)
        The 2D or 3D spatial array (a copy on the CPU), the slice axis of a 3D
        array (``None`` for 2D) and how many leading channel axes were dropped.
        ``slice_axis`` counts the input's axes, channel included.
    """
    array = image.detach().cpu().numpy()
    channels = 0
    if array.ndim == 4 or (array.ndim == 3 and _channel_first_2d(image)):
        if array.shape[0] != 1:
            raise InvalidImageError(
                f"image has {array.shape[0]} channels (shape {tuple(array.shape)}); "
                "denoise one channel at a time, e.g. image[k:k+1]"
            )
        array, channels = array[0], 1
    if array.ndim == 2:
        return array, None, channels
    if array.ndim != 3:
        raise InvalidImageError(
            f"image must be 2D or 3D (with at most one channel axis first), got shape "
            f"{tuple(image.shape)}"
        )
    if slice_axis is None:
        axis = slice_axis_from_affine(image.affine, array.shape)
        log.info("denoising slices across axis %d (from the affine)", axis + channels)
        return array, axis, channels
    if not channels <= slice_axis < channels + 3:
        raise ValueError(
            f"slice_axis={slice_axis} is not a spatial axis of an image of shape "
            f"{tuple(image.shape)}; pick one of {list(range(channels, channels + 3))}"
        )
    return array, slice_axis - channels, channels


def _channel_first_2d(image: Any) -> bool:
    """A 3D MetaTensor whose affine is 2D (3x3): channel-first 2D image."""
    return tuple(np.asarray(image.affine).shape) == (3, 3)


def wrap_like(image: Any, array: np.ndarray, *, channels: int, denoised_by: str) -> Any:
    """``array`` as a MetaTensor with ``image``'s metadata (affine included) and device."""
    import torch
    from monai.data import MetaTensor

    data = torch.from_numpy(np.ascontiguousarray(array.reshape((1,) * channels + array.shape)))
    meta = {**dict(image.meta), "denoised_by": denoised_by}
    out = MetaTensor(data, meta=meta, applied_operations=list(image.applied_operations))
    return out.to(image.device)
