"""Checks of image arrays: the one definition of a real dtype, the dimensions, the size and
finite values, for every layer (readers, transforms, the denoiser, the classical methods,
evaluation).

Each check raises :class:`~medidenoise.errors.InvalidImageError` with the
caller's own message, so the text keeps naming the caller's argument and the
fix; a message is a :meth:`str.format` template that may use ``{name}`` (the
``name`` given: a file or argument, inserted as is), ``{shape}``, ``{dtype}``,
``{ndim}``, ``{size}``, ``{bad}`` (the count of NaN/infinite values) and
``{min_side}``. :func:`check_image` runs them in their usual order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medidenoise.errors import InvalidImageError

__all__ = ["REAL_KINDS", "check_finite", "check_image", "check_ndim", "check_real", "check_size"]

#: numpy dtype kinds that hold real numbers: bool, signed, unsigned, float
REAL_KINDS = "biuf"


def _fail(message: str, arr: np.ndarray, name: str, **extra: Any) -> InvalidImageError:
    facts = {"shape": arr.shape, "dtype": arr.dtype, "ndim": arr.ndim, "size": arr.size}
    return InvalidImageError(message.format(name=name, **facts, **extra))


def check_real(
    arr: np.ndarray, message: str, *, name: str = "image", kinds: str = REAL_KINDS
) -> None:
    """Refuse a dtype that is not real-valued (complex, object, strings...)."""
    if arr.dtype.kind not in kinds:
        raise _fail(message, arr, name)


def check_ndim(arr: np.ndarray, ndims: Sequence[int], message: str, *, name: str = "image") -> None:
    """Refuse an array whose number of dimensions is not one of ``ndims``."""
    if arr.ndim not in ndims:
        raise _fail(message, arr, name)


def check_size(arr: np.ndarray, message: str, *, name: str = "image", min_side: int = 1) -> None:
    """Refuse a 0-d array or one with an axis shorter than ``min_side`` (1: not empty)."""
    if arr.ndim == 0 or min(arr.shape) < min_side:
        raise _fail(message, arr, name, min_side=min_side)


def check_finite(arr: np.ndarray, message: str, *, name: str = "image") -> None:
    """Refuse NaN or infinite values (``{bad}`` in the message counts them)."""
    finite = np.isfinite(arr)
    if not finite.all():
        raise _fail(message, arr, name, bad=int(arr.size - np.count_nonzero(finite)))


def check_image(
    image: Any,
    *,
    name: str = "image",
    real: str | None = None,
    ndim: str | None = None,
    ndims: Sequence[int] = (2, 3),
    size: str | None = None,
    min_side: int = 1,
    finite: str | None = None,
    kinds: str = REAL_KINDS,
    copy: bool = False,
) -> np.ndarray:
    """``image`` as a float32 array after the checks whose message is given, in this order:

    ``real`` (dtype kind in ``kinds``), ``ndim`` (in ``ndims``), ``size`` (no
    axis shorter than ``min_side``), then ``finite`` on the float32 values
    (a float64 value beyond the float32 range counts as infinite). A check
    without a message is skipped. ``copy=True`` always returns a new array.
    """
    arr = np.asarray(image)
    if real is not None:
        check_real(arr, real, name=name, kinds=kinds)
    if ndim is not None:
        check_ndim(arr, ndims, ndim, name=name)
    if size is not None:
        check_size(arr, size, name=name, min_side=min_side)
    out = np.array(arr, dtype=np.float32, copy=True) if copy else arr.astype(np.float32, copy=False)
    if finite is not None:
        check_finite(out, finite, name=name)
    return out
