"""Argument checks shared by the transforms (private)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from medidenoise._validate import check_image

RngLike = np.random.Generator | int | None

#: median(|N(0, 1)|): turns a median absolute value into a standard deviation
MAD_TO_STD = 0.6744897501960817


def varying_3x3(x: np.ndarray) -> np.ndarray:
    """Where a 2D image is not constant over a pixel's 3x3 neighbourhood (edges replicated).

    The same mask as ``maximum_filter(x, 3) > minimum_filter(x, 3)`` (scipy's default
    ``reflect`` border repeats the edge pixel at distance 1), from eight comparisons: a
    few times faster on a 512x512 slice.
    """
    h, w = x.shape
    padded = np.pad(x, 1, mode="edge")
    same = np.ones(x.shape, dtype=bool)
    for dy in range(3):
        for dx in range(3):
            if dy != 1 or dx != 1:
                same &= padded[dy : dy + h, dx : dx + w] == x
    return ~same


def even_slices(depth: int, count: int) -> np.ndarray:
    """Indices of at most ``count`` evenly spaced slices of ``depth`` (all when fewer)."""
    if depth <= count:
        return np.arange(depth)
    return np.unique(np.linspace(0, depth - 1, count).round().astype(int))


def as_float_image(image: Any, *, name: str = "image", finite: bool = True) -> np.ndarray:
    """Return ``image`` as a float32 ndarray (no copy when it already is one).

    Raises :class:`InvalidImageError` for empty, non-real or non-finite input.
    """
    return check_image(
        image,
        name=name,
        real="{name}: expected a real-valued array, got dtype {dtype}; "
        "pass the magnitude (np.abs) for complex data",
        size="{name}: expected a non-empty array, got shape {shape}",
        finite="{name}: {bad} of {size} values are NaN or infinite; "
        "replace them (e.g. np.nan_to_num) before calling"
        if finite
        else None,
    )


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    """Return ``value`` as a float after checking it is finite and in range.

    The range is ``[low, high]``, or ``(low, high]`` when ``low_open``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    ok = math.isfinite(v)
    if ok and low is not None:
        ok = v > low if low_open else v >= low
    if ok and high is not None:
        ok = v <= high
    if not ok:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        bracket = "(" if low_open or low is None else "["
        closer = ")" if high is None else "]"
        allowed = f"{bracket}{lo}, {hi}{closer}"
        raise ValueError(f"{name} must be a finite number in {allowed}, got {v!r}")
    return v


def make_rng(rng: Any) -> np.random.Generator:
    """Turn ``rng`` (Generator, int seed or None) into a ``numpy.random.Generator``."""
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if isinstance(rng, bool) or not isinstance(rng, numbers.Integral):
        raise TypeError(
            f"rng must be a numpy.random.Generator, a non-negative int seed or None, got {rng!r}"
        )
    if rng < 0:
        raise ValueError(f"rng seed must be non-negative, got {rng}")
    return np.random.default_rng(int(rng))
