"""Input checks and conversions of :class:`~medidenoise.inference.denoiser.Denoiser`.

What a call accepts (``as_array``), the float32 working copy it denoises
(``float32_copy``) and running along another slice axis (``across_axis``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from medidenoise._validate import check_finite, check_ndim, check_real, check_size
from medidenoise.errors import InvalidImageError
from medidenoise.io import Volume

_F32_MAX = float(np.finfo(np.float32).max)


def as_array(image: Volume | np.ndarray | torch.Tensor) -> tuple[np.ndarray, str | None]:
    """``(array, modality)`` of what a call was given; a bare array must be a real 2D/3D image."""
    if isinstance(image, Volume):
        return image.array, image.modality
    arr = np.asarray(image)
    check_real(arr, "image must have a real dtype, got {dtype}")
    check_ndim(
        arr,
        (2, 3),
        "image must be 2D (H, W) or 3D (D, H, W), got shape {shape}; "
        "for colour or 4D data pick one channel or volume first",
    )
    check_size(arr, "image has an empty axis: shape {shape}")
    return arr, None


def across_axis(
    array: np.ndarray, axis: int | None, run: Callable[[np.ndarray], Any]
) -> np.ndarray:
    """``run`` on ``array`` with its slice axis moved first, the result moved back."""
    if axis is None or array.ndim == 2:
        return np.asarray(run(array))
    moved = np.ascontiguousarray(np.moveaxis(array, axis, 0))
    return np.moveaxis(np.asarray(run(moved)), 0, axis)


def float32_copy(arr: np.ndarray, noise_level: float | None) -> np.ndarray:
    """The call's own float32 (D, H, W) copy of ``arr``, checked to be denoisable."""
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 4:
        big = np.abs(arr).max(initial=0.0)
        if big > _F32_MAX:
            raise InvalidImageError(
                f"image holds values up to {big:.3g}, beyond the float32 range (+-3.4e38) "
                "the denoiser computes in; rescale the image (e.g. divide it by a power "
                "of ten) first"
            )
    vol = np.array(arr, dtype=np.float32, copy=True).reshape((-1, *arr.shape[-2:]))
    check_finite(
        vol, "image contains NaN or infinite values; replace them (e.g. np.nan_to_num) first"
    )
    if noise_level is not None and not (noise_level >= 0 and np.isfinite(noise_level)):
        raise ValueError(f"noise_level must be a finite number >= 0, got {noise_level}")
    return vol
