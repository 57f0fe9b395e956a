"""What an evaluation runs on: the hold-out images and the noise settings.

Images are reduced to one 2D slice (the middle one of a volume), centre
cropped, and scaled to [0, 1] by their own minimum and maximum, so that every
metric uses ``data_range=1``. Noises are ``(kind, level)`` pairs for
:func:`medidenoise.transforms.add_noise`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medidenoise._validate import check_finite, check_ndim, check_real, check_size
from medidenoise.engine.data import HOLDOUT_NAMES
from medidenoise.errors import InvalidImageError, NoImageDataError
from medidenoise.io import Volume
from medidenoise.transforms import NOISE_KINDS

__all__ = [
    "DEFAULT_NOISES",
    "HOLDOUT_NAMES",
    "EvalImage",
    "ImageSource",
    "NoiseSpec",
    "holdout_paths",
    "load_images",
    "parse_noises",
]

ImageSource = str | os.PathLike | Volume | np.ndarray


@dataclass(frozen=True)
class NoiseSpec:
    """One noise setting: ``kind`` and ``level`` as :func:`~medidenoise.add_noise` takes them.

    Examples
    --------
    >>> NoiseSpec.parse("gaussian:0.1").label
    'gaussian 0.1'
    """

    kind: str
    level: float

    @property
    def label(self) -> str:
        """Short name for tables and file names, e.g. ``"poisson 200"``."""
        return f"{self.kind} {self.level:g}"

    @property
    def slug(self) -> str:
        """File-name-safe label, e.g. ``"gaussian-0.05"``."""
        return f"{self.kind}-{self.level:g}"

    @classmethod
    def parse(cls, spec: NoiseSpec | str | tuple[str, float]) -> NoiseSpec:
        """Build from ``"kind:level"``, ``(kind, level)`` or a ``NoiseSpec``."""
        if isinstance(spec, NoiseSpec):
            return spec
        if isinstance(spec, str):
            kind, sep, level_text = spec.partition(":")
            if not sep:
                raise ValueError(f"noise {spec!r} must be written KIND:LEVEL, e.g. gaussian:0.1")
            try:
                level = float(level_text)
            except ValueError:
                raise ValueError(f"noise {spec!r}: level {level_text!r} is not a number") from None
        else:
            kind, level = spec
        kind = kind.strip().lower()
        if kind not in NOISE_KINDS:
            raise ValueError(f"noise kind must be one of {', '.join(NOISE_KINDS)}; got {kind!r}")
        if not (math.isfinite(level) and level > 0):
            raise ValueError(f"noise {kind}: level must be a positive number, got {level!r}")
        return cls(kind, float(level))


#: Gaussian sigma 0.05 and 0.10, Poisson with 200 photons at the image maximum
#: (noise std 0.05 at intensity 0.5, 0.071 at 1.0), Rician sigma 0.05 (all in [0, 1] units).
DEFAULT_NOISES: tuple[NoiseSpec, ...] = (
    NoiseSpec("gaussian", 0.05),
    NoiseSpec("gaussian", 0.10),
    NoiseSpec("poisson", 200.0),
    NoiseSpec("rician", 0.05),
)


def parse_noises(
    noises: Sequence[NoiseSpec | str | tuple[str, float]] | None,
) -> tuple[NoiseSpec, ...]:
    """Normalise a list of noise settings; ``None`` gives :data:`DEFAULT_NOISES`.

    Examples
    --------
    >>> [n.label for n in parse_noises(["gaussian:0.1", ("rician", 0.05)])]
    ['gaussian 0.1', 'rician 0.05']
    """
    if noises is None:
        return DEFAULT_NOISES
    if isinstance(noises, str | NoiseSpec):
        noises = [noises]
    specs = tuple(NoiseSpec.parse(n) for n in noises)
    if not specs:
        raise ValueError("noises is empty: give at least one, e.g. ['gaussian:0.1']")
    return specs


def holdout_paths() -> list[Path]:
    """The files of the hold-out set, from the ``pydicom-data`` package.

    Raises
    ------
    NoImageDataError
        If a file is not installed (a ``ValueError``); install ``pydicom-data``.

    Examples
    --------
    >>> [p.stem for p in holdout_paths()]  # doctest: +SKIP
    ['RG3_UNCR', 'MR2_UNCR', '693_UNCR']
    """
    from pydicom.data import get_testdata_file

    paths = []
    for name in HOLDOUT_NAMES:
        found = get_testdata_file(f"{name}.dcm", download=False)
        if found is None:
            raise NoImageDataError(
                f"hold-out image {name}.dcm not found: install the data package "
                "(pip install pydicom-data, or medidenoise[data]) or pass images="
            )
        paths.append(Path(str(found)))
    return paths


@dataclass(frozen=True)
class EvalImage:
    """A clean 2D image ready for evaluation: float32, scaled to [0, 1]."""

    name: str
    modality: str
    source: str
    array: np.ndarray


def _to_slice(src: ImageSource, name: str) -> tuple[np.ndarray, str, str]:
    if isinstance(src, Volume):
        return src.array, src.modality, str(src.path or name)
    if isinstance(src, np.ndarray):
        return src, "OT", name
    from medidenoise.io import read_volume

    vol = read_volume(src)
    return vol.array, vol.modality, str(src)


def _prepare(arr: np.ndarray, crop: int, source: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim == 3:
        arr = arr[arr.shape[0] // 2]
    wrong = (
        "{name}: expected a 2D image or a 3D volume of at least 16 x 16 pixels, "
        "got shape {shape}, dtype {dtype}"
    )
    check_ndim(arr, (2,), wrong, name=source)
    check_real(arr, wrong, name=source, kinds="fiub")
    check_size(arr, wrong, name=source, min_side=16)
    if crop:
        h, w = arr.shape
        ch, cw = min(crop, h), min(crop, w)
        top, left = (h - ch) // 2, (w - cw) // 2
        arr = arr[top : top + ch, left : left + cw]
    img = arr.astype(np.float64)
    check_finite(img, "{name}: image contains NaN or infinite values", name=source)
    lo, hi = float(img.min()), float(img.max())
    if hi <= lo:
        raise InvalidImageError(f"{source}: the image (crop) is constant; nothing to evaluate")
    return ((img - lo) / (hi - lo)).astype(np.float32)


def load_images(
    images: Sequence[ImageSource] | Mapping[str, ImageSource] | None,
    *,
    crop: int = 256,
) -> list[EvalImage]:
    """Read, reduce to 2D, centre-crop and scale images to [0, 1].

    Parameters
    ----------
    images : sequence or mapping of path, Volume or ndarray, optional
        Files or folders (anything :func:`~medidenoise.read_volume` reads),
        volumes or arrays; a mapping gives their names. ``None``: the hold-out
        set (:data:`HOLDOUT_NAMES`). A volume contributes its middle slice.
    crop : int
        Side of the centre crop in pixels; 0 keeps the whole image.

    Returns
    -------
    list of EvalImage

    Examples
    --------
    >>> import numpy as np
    >>> img = load_images({"ramp": np.arange(64 * 64).reshape(64, 64)}, crop=32)[0]
    >>> img.array.shape, float(img.array.min()), float(img.array.max())
    ((32, 32), 0.0, 1.0)
    """
    if crop < 0:
        raise ValueError(f"crop must be >= 0 (0: whole images), got {crop}")
    if images is None:
        named: list[tuple[str, ImageSource]] = [(p.stem, p) for p in holdout_paths()]
    elif isinstance(images, Mapping):
        named = [(str(k), v) for k, v in images.items()]
    elif isinstance(images, str | os.PathLike | np.ndarray | Volume):
        named = [(_default_name(images, 0), images)]
    else:
        named = [(_default_name(src, i), src) for i, src in enumerate(images)]
    if not named:
        raise ValueError("images is empty: pass at least one image, or None for the hold-out set")
    out: list[EvalImage] = []
    seen: set[str] = set()
    for name, src in named:
        unique, k = name, 0
        while unique in seen:  # two files called a.dcm in different folders -> a, a_1
            k += 1
            unique = f"{name}_{k}"
        seen.add(unique)
        arr, modality, source = _to_slice(src, unique)
        out.append(EvalImage(unique, modality, source, _prepare(arr, crop, source)))
    return out


def _default_name(src: ImageSource, index: int) -> str:
    if isinstance(src, str | os.PathLike):
        path = Path(src)
        return path.stem or path.name or f"image{index}"
    return f"image{index}"
