"""Invertible intensity normalisation between image units and network units."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from medidenoise.transforms._checks import as_float_image, check_number

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "CT_WINDOW",
    "NORMALIZATION_METHODS",
    "NormalizationParams",
    "normalization_params",
    "normalize_intensity",
]

NormalizationMethod = Literal["auto", "window", "percentile", "minmax", "none"]
NORMALIZATION_METHODS: tuple[str, ...] = ("auto", "window", "percentile", "minmax", "none")

#: Default CT window in HU, mapped to [0, 1]: air -> 0, water -> 0.5, dense bone -> ~1.
#: Narrower than the full (-1024, 3071) scanner range so that typical CT noise
#: (10-50 HU) becomes 0.005-0.025 in network units, where the noise models are
#: trained; values outside the window are kept (not clipped), e.g. metal > 1.
CT_WINDOW: tuple[float, float] = (-1000.0, 1000.0)


@dataclass(frozen=True)
class NormalizationParams:
    """How an image was mapped to network units: ``(x - low) / (high - low)``.

    Attributes
    ----------
    low, high : float
        Image values mapped to 0 and 1. ``high == low`` (a constant image)
        means a scale of 1: the image is only shifted.
    method : str
        The method that produced them ("window", "percentile", "minmax", "none").

    Examples
    --------
    >>> import numpy as np
    >>> p = NormalizationParams(low=-1000.0, high=1000.0, method="window")
    >>> p.apply(np.array([0.0], dtype=np.float32))
    array([0.5], dtype=float32)
    >>> p.inverse(np.array([0.5], dtype=np.float32))
    array([0.], dtype=float32)
    >>> p.scale_sigma(20.0)
    0.01
    >>> NormalizationParams.from_dict(p.to_dict()) == p
    True
    """

    low: float
    high: float
    method: str = "none"

    def __post_init__(self) -> None:
        low = check_number("low", self.low)
        high = check_number("high", self.high)
        if high < low:
            raise ValueError(f"high must be >= low, got low={low!r}, high={high!r}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "method", str(self.method))

    @property
    def scale(self) -> float:
        """Image units per network unit, ``high - low`` (1 for a constant image)."""
        span = self.high - self.low
        return span if span > 0 else 1.0

    @overload
    def apply(self, image: torch.Tensor) -> torch.Tensor: ...
    @overload
    def apply(self, image: np.ndarray | float) -> np.ndarray: ...
    def apply(self, image: Any) -> Any:
        """Map ``image`` (image units) to network units; numpy (float32 out) or torch."""
        if _is_tensor(image):
            return (image - self.low) / self.scale
        x = np.asarray(image, dtype=np.float64)
        return ((x - self.low) / self.scale).astype(np.float32)

    @overload
    def inverse(self, normalized: torch.Tensor) -> torch.Tensor: ...
    @overload
    def inverse(self, normalized: np.ndarray | float) -> np.ndarray: ...
    def inverse(self, normalized: Any) -> Any:
        """Map network units back to image units; exact up to float32 rounding."""
        if _is_tensor(normalized):
            return normalized * self.scale + self.low
        x = np.asarray(normalized, dtype=np.float64)
        return (x * self.scale + self.low).astype(np.float32)

    def apply_inplace(self, image: np.ndarray) -> np.ndarray:
        """:meth:`apply` written into ``image`` itself (a float array) and returned.

        For long volumes: no copy and no float64 temporaries (the arithmetic is
        done in the array's own precision).
        """
        image -= image.dtype.type(self.low)
        image /= image.dtype.type(self.scale)
        return image

    def inverse_inplace(self, normalized: np.ndarray) -> np.ndarray:
        """:meth:`inverse` written into ``normalized`` itself (a float array) and returned."""
        normalized *= normalized.dtype.type(self.scale)
        normalized += normalized.dtype.type(self.low)
        return normalized

    def scale_sigma(self, sigma: float) -> float:
        """Convert a noise std from image units to network units."""
        return float(sigma) / self.scale

    def unscale_sigma(self, sigma: float) -> float:
        """Convert a noise std from network units to image units."""
        return float(sigma) * self.scale

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary; :meth:`from_dict` rebuilds the object."""
        return {"low": self.low, "high": self.high, "method": self.method}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NormalizationParams:
        """Rebuild from :meth:`to_dict` output (e.g. checkpoint metadata)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"normalisation parameters must be a mapping, got {data!r}")
        missing = [k for k in ("low", "high") if k not in data]
        extra = sorted(set(data) - {"low", "high", "method"})
        if missing or extra:
            raise ValueError(
                f"normalisation parameters need keys 'low', 'high' (and optionally 'method'); "
                f"missing {missing}, unexpected {extra}"
            )
        return cls(low=data["low"], high=data["high"], method=data.get("method", "none"))


def normalize_intensity(
    image: np.ndarray,
    *,
    modality: str | None = None,
    method: NormalizationMethod = "auto",
    window: tuple[float, float] | None = None,
    percentiles: tuple[float, float] = (0.5, 99.5),
) -> tuple[np.ndarray, NormalizationParams]:
    """Map an image to network units, ``(x - low) / (high - low)``, invertibly.

    Values are not clipped, so ``params.inverse(normalized)`` returns the
    image up to float32 rounding; most values fall in [0, 1].

    Parameters
    ----------
    image : ndarray
        Image of any shape (2D slice, 3D volume), finite, in modality units.
    modality : str, optional
        DICOM modality code ("CT", "MR", "CR", "DX", ...), case-insensitive;
        used by ``method="auto"``.
    method : {"auto", "window", "percentile", "minmax", "none"}, optional
        ``"window"``: a fixed window, ``window`` or :data:`CT_WINDOW` (HU), so
        every CT scan gets the same scale; ``"percentile"``: the
        ``percentiles`` of the image (robust to a few hot or cold pixels; falls
        back to min/max when they coincide); ``"minmax"``: the image range;
        ``"none"``: identity (low 0, high 1); ``"auto"``: "window" for CT,
        "percentile" for everything else (MR, X-ray, unknown).
    window : (float, float), optional
        ``(low, high)`` for ``method="window"``; default :data:`CT_WINDOW`.
    percentiles : (float, float), optional
        Lower and upper percentiles (0-100) for ``method="percentile"``.

    Returns
    -------
    normalized : ndarray
        float32 array of the same shape.
    params : NormalizationParams
        What to invert it with.

    Examples
    --------
    >>> import numpy as np
    >>> ct = np.array([[-1000.0, 0.0], [40.0, 1000.0]], dtype=np.float32)
    >>> norm, params = normalize_intensity(ct, modality="CT")
    >>> norm
    array([[0.  , 0.5 ],
           [0.52, 1.  ]], dtype=float32)
    >>> params.method, params.scale_sigma(10.0)
    ('window', 0.005)
    >>> np.allclose(params.inverse(norm), ct)
    True
    """
    arr = as_float_image(image)
    params = normalization_params(
        arr, modality=modality, method=method, window=window, percentiles=percentiles
    )
    return params.apply(arr), params


def normalization_params(
    image: np.ndarray,
    *,
    modality: str | None = None,
    method: NormalizationMethod = "auto",
    window: tuple[float, float] | None = None,
    percentiles: tuple[float, float] = (0.5, 99.5),
) -> NormalizationParams:
    """The parameters :func:`normalize_intensity` would use, without mapping the image.

    Same arguments as :func:`normalize_intensity`; for callers that normalise
    in place or in pieces and cannot afford a normalised copy of a long volume.

    Examples
    --------
    >>> import numpy as np
    >>> normalization_params(np.arange(101.0), method="percentile", percentiles=(10, 90))
    NormalizationParams(low=10.0, high=90.0, method='percentile')
    """
    if method not in NORMALIZATION_METHODS:
        allowed = ", ".join(NORMALIZATION_METHODS)
        raise ValueError(f"method must be one of {allowed}; got {method!r}")
    arr = as_float_image(image)
    if method == "auto":
        is_ct = modality is not None and str(modality).strip().upper() == "CT"
        method = "window" if is_ct else "percentile"
    if method == "window":
        low, high = _pair("window", CT_WINDOW if window is None else window)
        if high <= low:
            raise ValueError(f"window must have low < high, got {window!r}")
    elif method == "percentile":
        p_lo, p_hi = _pair("percentiles", percentiles)
        if not 0 <= p_lo < p_hi <= 100:
            raise ValueError(
                f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles!r}"
            )
        low, high = (float(v) for v in np.percentile(arr, (p_lo, p_hi)))
        if high <= low:
            low, high = float(arr.min()), float(arr.max())
    elif method == "minmax":
        low, high = float(arr.min()), float(arr.max())
    else:
        low, high = 0.0, 1.0
    return NormalizationParams(low=low, high=high, method=method)


def _is_tensor(x: object) -> bool:
    # a tensor cannot exist unless torch was imported; do not import it for numpy users
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _pair(name: str, value: Any) -> tuple[float, float]:
    try:
        a, b = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high), got {value!r}") from None
    return check_number(f"{name}[0]", a), check_number(f"{name}[1]", b)
