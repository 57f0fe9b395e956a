"""Input checks and conversions of :class:`~medidenoise.inference.denoiser.Denoiser`.

What a call accepts (``as_array``), the float32 working copy it denoises
(``float32_copy``) and running along another slice axis (``across_axis``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from medidenoise._model_names import MODELS
from medidenoise._validate import check_finite, check_ndim, check_real, check_size
from medidenoise.errors import CheckpointError, InvalidImageError, ModelError
from medidenoise.io import Volume

_F32_MAX = float(np.finfo(np.float32).max)


def _tensor_array(image: torch.Tensor) -> np.ndarray:
    """A tensor as numpy: detached from autograd, on the CPU, half precisions widened."""
    tensor = image.detach().cpu()
    if tensor.dtype in (torch.bfloat16, torch.float16):  # numpy has no bfloat16
        tensor = tensor.float()
    return tensor.numpy()


def as_array(image: Volume | np.ndarray | torch.Tensor) -> tuple[np.ndarray, str | None]:
    """``(array, modality)`` of what a call was given; a bare array must be a real 2D/3D image.

    A tensor may require grad or hold bfloat16/float16 values (it is read as float32; the
    result is a new array, never part of the caller's graph)."""
    if isinstance(image, Volume):
        return image.array, image.modality
    if isinstance(image, torch.Tensor):
        arr = _tensor_array(image)
    else:
        try:
            arr = np.asarray(image)
        except ValueError as exc:  # numpy's "inhomogeneous shape" of a ragged nested list
            raise InvalidImageError(
                f"image is a ragged nested sequence (rows of different lengths: {exc}); pass a "
                "numpy array of shape (H, W) or (D, H, W)"
            ) from None
    if arr.dtype == object:
        raise InvalidImageError(
            f"image of type {type(image).__name__} is not an array of numbers (numpy made an "
            "object array of it); pass a numpy array or torch tensor of shape (H, W) or (D, H, W)"
        )
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


def float32_copy(arr: np.ndarray) -> np.ndarray:
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
    return vol


def check_model_arg(model: object) -> None:
    """Refuse a ``model`` that is none of a name, a path or a ``torch.nn.Module``."""
    if isinstance(model, (str, os.PathLike, torch.nn.Module)):
        if isinstance(model, str) and not model.strip():
            raise ModelError(
                "model is an empty string; pass 'auto' (the default), another shipped model "
                "name, a classical method, a checkpoint file or a torch.nn.Module"
            )
        return
    raise ModelError(
        f"model must be a model name, a checkpoint path or a torch.nn.Module, got "
        f"{type(model).__name__} {model!r}; pass e.g. model='auto' (the default), 'nlm', "
        "'model.safetensors' or your network"
    )


def check_model_available(model: object) -> None:
    """Refuse, before any work, a model name that is neither known nor an existing file.

    For the batch conversion, which otherwise finds out only when the first series is
    denoised (after scanning the whole input and creating OUTPUT).
    """
    check_model_arg(model)
    if not isinstance(model, (str, os.PathLike)):
        return
    name = os.fspath(model)
    if name in MODELS or os.path.isfile(name):
        return
    known = ", ".join(MODELS)
    what = "a folder" if os.path.isdir(name) else "no such file"
    raise CheckpointError(
        f"model {name!r}: not a model name ({known}) and {what}; pass one of those names, "
        "or the path of a .safetensors checkpoint or an .onnx file from `medidenoise export`"
    )
