"""``DenoiseOptions``: how to denoise, checked once where a caller hands it in.

Every public entry point (``denoise``, ``Denoiser``, the MONAI transforms, the batch
conversion, the command line, the napari plugin) turns what it was given into one
:class:`DenoiseOptions`; the code below them (the Denoiser's private steps, the
conversion units and workers) takes that object as it is and checks nothing again.
A new option is a new field here (with its check in ``__post_init__`` and, when it
changes what a conversion writes, ``compared=True``), its use in the Denoiser, and
its flag in the command line.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PRECISIONS", "DenoiseOptions", "check_noise_level"]

#: ``precision``: ``"auto"`` runs a U-Net's inner levels in bfloat16 on CPUs with bfloat16
#: instructions (float16 autocast on CUDA); ``"float32"`` runs the network in float32 on the
#: CPU (the figures of exported models, to the last digit)
PRECISIONS = ("auto", "float32")


def check_noise_level(noise_level: object, *, zero: str = "") -> float | None:
    """``noise_level`` as a float, or ``None``; refuses anything but one finite number ``>= 0``.

    ``zero``: where 0 makes no sense (a conversion, an adaptation), why not and what to do
    instead; 0 is then refused with that message.

    Examples
    --------
    >>> check_noise_level(3), check_noise_level(None)
    (3.0, None)
    """
    if noise_level is None:
        return None
    number = isinstance(noise_level, numbers.Real) and not isinstance(noise_level, bool)
    if not number:  # numpy's bool is no numbers.Real either
        raise ValueError(
            f"noise_level must be one number, the noise standard deviation in the image's "
            f"units, or None to estimate it; got {type(noise_level).__name__} "
            f"{noise_level!r}; pass e.g. noise_level=0.05"
            + (" (a float, not a string)" if isinstance(noise_level, str) else "")
        )
    level = float(noise_level)  # type: ignore[arg-type]  # a real number, checked above
    if not (level >= 0 and math.isfinite(level)):
        raise ValueError(f"noise_level must be a finite number >= 0, got {noise_level}")
    if zero and level == 0:
        raise ValueError(f"noise_level must be a positive number, got {noise_level}: {zero}")
    return level


def _compared(default: Any) -> Any:
    """A field that changes the denoised values: a conversion records and compares it."""
    return field(default=default, metadata={"compared": True})


@dataclass(frozen=True)
class DenoiseOptions:
    """How to denoise, validated once at construction.

    Parameters
    ----------
    noise_level : float, optional
        Noise standard deviation in the image's units (HU for CT); estimated per
        image (per series in a conversion) when ``None``.
    self_ensemble : bool
        Average the network over the eight flips and rotations of each slice
        (see :class:`~medidenoise.Denoiser`).
    rician : bool
        A magnitude image with Rician noise: remove the bias it leaves in dark regions
        (see :class:`~medidenoise.Denoiser`).
    batch_size : int, optional
        Slices per forward pass; default from the image size and device.
    tile_size : int, optional
        Larger images are denoised in overlapping tiles of this size (>= 32 pixels);
        default 512 on the CPU, 1024 on CUDA.
    precision : {"auto", "float32"}, optional
        See :class:`~medidenoise.Denoiser`; ``None``: the ``MEDIDENOISE_PRECISION``
        environment variable, else ``"auto"`` (:meth:`resolved_precision`).

    Raises
    ------
    ValueError
        A value outside what the option takes; the message names the option.

    Examples
    --------
    >>> opts = DenoiseOptions(noise_level=12.5, self_ensemble=True)
    >>> opts.compared_settings()
    {'noise_level': 12.5, 'self_ensemble': True, 'rician': False}
    >>> DenoiseOptions(tile_size=8)
    Traceback (most recent call last):
    ...
    ValueError: tile_size must be a whole number of at least 32 pixels, got 8
    """

    noise_level: float | None = _compared(None)
    self_ensemble: bool = _compared(False)
    rician: bool = _compared(False)
    batch_size: int | None = None
    tile_size: int | None = None
    precision: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: the checked values are stored once, here
        set_(self, "noise_level", check_noise_level(self.noise_level))
        for name in ("self_ensemble", "rician"):
            value = getattr(self, name)
            if isinstance(value, str):  # "False" would read as True
                raise ValueError(f"{name} must be True or False, got the string {value!r}")
            set_(self, name, bool(value))
        if self.batch_size is not None and not (_whole(self.batch_size) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.tile_size is not None and not (_whole(self.tile_size) and self.tile_size >= 32):
            raise ValueError(
                f"tile_size must be a whole number of at least 32 pixels, got {self.tile_size}"
            )
        if self.precision is not None and self.precision not in PRECISIONS:
            raise ValueError(
                f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )

    @classmethod
    def of(cls, options: DenoiseOptions | None = None, **keywords: Any) -> DenoiseOptions:
        """``options``, or the options the keywords describe; refuses both at once.

        The entry points take either ``options=`` or the single keywords
        (``noise_level=``, ``self_ensemble=``, ...); a keyword left at its default does
        not count as given.
        """
        if options is None:
            return cls(**keywords)
        if not isinstance(options, DenoiseOptions):
            raise TypeError(
                f"options must be a DenoiseOptions, got {type(options).__name__}; build one "
                "with medidenoise.DenoiseOptions(...)"
            )
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        given = sorted(k for k, v in keywords.items() if v != defaults.get(k))
        if given:
            raise TypeError(
                f"pass options= or the single options ({', '.join(given)}), not both; "
                f"e.g. options.replace({given[0]}=...)"
            )
        return options

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> DenoiseOptions:
        """The options among ``values`` (other keys ignored); ``values["options"]`` if given."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls.of(values.get("options"), **{k: v for k, v in values.items() if k in names})

    def replace(self, **changes: Any) -> DenoiseOptions:
        """A copy with ``changes``, validated like a new one."""
        return dataclasses.replace(self, **changes)

    def compared_settings(self) -> dict[str, Any]:
        """The options that change the denoised values, by name (a conversion's manifest)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if _is_compared(f)}

    @classmethod
    def compared_defaults(cls) -> dict[str, Any]:
        """What a manifest written before an option existed means by its absence."""
        return {f.name: f.default for f in dataclasses.fields(cls) if _is_compared(f)}

    def resolved_precision(self) -> str:
        """``precision``, else the ``MEDIDENOISE_PRECISION`` environment variable, else "auto"."""
        if self.precision is not None:
            return self.precision
        value = os.environ.get("MEDIDENOISE_PRECISION") or "auto"
        if value not in PRECISIONS:
            raise ValueError(
                f"precision must be one of {', '.join(PRECISIONS)}, got {value!r} (from "
                "MEDIDENOISE_PRECISION)"
            )
        return value


def _whole(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_compared(f: dataclasses.Field) -> bool:
    return bool(f.metadata.get("compared"))
