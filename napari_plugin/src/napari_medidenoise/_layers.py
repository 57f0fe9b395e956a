"""Volume <-> napari layer data: geometry, colormap and what is kept for write-back.

Geometry: ``scale`` is the voxel size and napari's ``affine`` places the
layer in patient millimetres (DICOM LPS, axes as in :func:`world_affine`), so
the same scan read from DICOM and from NIfTI overlays.

A layer made by this plugin keeps the :class:`medidenoise.Volume` it came from
in ``layer.metadata["medidenoise"]["volume"]``; the writers use it to save the
layer's (possibly denoised) data with the original geometry and, for DICOM,
the per-slice sources of a derived series.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import medidenoise as md

__all__ = [
    "DIFFERENCE",
    "DIFFERENCE_COLORMAP",
    "META_KEY",
    "ROLE_DENOISED",
    "ROLE_NOISY",
    "ROLE_REMOVED_NOISE",
    "ROLE_SOURCE",
    "colormap_for",
    "difference_limits",
    "display_limits",
    "header_window",
    "layer_entry",
    "layer_role",
    "layer_tuple",
    "source_volume",
    "volume_from_layer",
    "volume_limits",
    "world_affine",
]

#: key of this plugin's entry in ``layer.metadata``
META_KEY = "medidenoise"

LayerTuple = tuple[np.ndarray, dict[str, Any], str]

#: what a layer made by this plugin holds (``layer.metadata["medidenoise"]["role"]``)
ROLE_SOURCE = "source"  # the image as read from its file
ROLE_DENOISED = "denoised"  # a denoising result (volume or preview)
ROLE_REMOVED_NOISE = "removed noise"  # input - denoised: noise, not anatomy
ROLE_NOISY = "noisy"  # the input with noise added on purpose

#: what a removed-noise layer is the difference of (``metadata["medidenoise"]["difference"]``)
DIFFERENCE = "input - denoised"
#: diverging colormap of a difference image: near-white at 0, magenta below, green above,
#: so it cannot pass for a grey-scale scan (one of napari's own colormaps)
DIFFERENCE_COLORMAP = "PiYG"


def layer_entry(metadata: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """This plugin's entry in a layer's metadata (empty when there is none)."""
    entry = (metadata or {}).get(META_KEY)
    return entry if isinstance(entry, Mapping) else {}


def layer_role(metadata: Mapping[str, Any] | None) -> str | None:
    """What the layer holds: one of the ``ROLE_*`` values, or None for a foreign layer.

    A layer derived by some other means (no recorded role) is ``"derived"``.
    """
    entry = layer_entry(metadata)
    if not entry:
        return None
    default = "derived" if "derived_from" in entry else ROLE_SOURCE
    return str(entry.get("role", default))


#: RAS (the Volume affine's frame) -> DICOM's LPS patient frame
_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])


def _world_axes(volume: md.Volume) -> np.ndarray:
    """Unit vectors (LPS) of the viewer's world axes for this volume, one row per array axis.

    Each array axis (slice, row, column) gets the patient axis it points
    closest to, taken in DICOM's LPS direction (patient left, posterior,
    superior), except that superior becomes inferior when it lies in the
    displayed plane, so heads are up on screen. The same scan from DICOM or
    NIfTI (whatever its voxel order) gets the same world axes; a volume too
    oblique to match three distinct patient axes keeps its own directions.
    """
    columns = _RAS_TO_LPS @ np.asarray(volume.affine, dtype=np.float64)[:3, :3]
    norms = np.linalg.norm(columns, axis=0)
    norms[norms == 0] = 1.0
    units = columns / norms
    nearest = [int(np.argmax(np.abs(units[:, k]))) for k in range(3)]
    if len(set(nearest)) < 3:
        return units.T
    axes = np.zeros((3, 3))
    for k, patient_axis in enumerate(nearest):
        axes[k, patient_axis] = -1.0 if patient_axis == 2 and k != 0 else 1.0
    return axes


def world_affine(volume: md.Volume) -> np.ndarray:
    """napari's ``affine`` of a layer showing ``volume`` with ``scale=volume.spacing``.

    World coordinates are patient millimetres (DICOM LPS) along the world
    axes of :func:`_world_axes`: each axis is flipped where the array runs
    against its world axis, and the origin is the position of voxel
    (0, 0, 0). Obliquity (a few degrees of tilt) is left out, because
    napari's 2D slicing cannot apply an out-of-plane rotation.

    Returns
    -------
    numpy.ndarray
        4x4 matrix (3x3 for a one-slice volume shown as a 2D layer).
    """
    matrix = np.asarray(volume.affine, dtype=np.float64)
    columns = _RAS_TO_LPS @ matrix[:3, :3]
    origin = _RAS_TO_LPS @ matrix[:3, 3]
    axes = _world_axes(volume)
    signs = np.sign(np.einsum("kj,jk->k", axes, columns))
    signs[signs == 0] = 1.0
    affine = np.eye(4)
    affine[:3, :3] = np.diag(signs)
    affine[:3, 3] = axes @ origin
    if volume.is_2d:
        return affine[1:, 1:]
    return affine


def colormap_for(volume: md.Volume) -> str:
    """``"gray_r"`` for MONOCHROME1 (bright = low value), else ``"gray"``."""
    return "gray_r" if volume.photometric == "MONOCHROME1" else "gray"


#: the minimum is taken for padding (outside the field of view) when this share of voxels holds it
_PADDING_SHARE = 0.01


def display_limits(array: np.ndarray, *, skip_padding: bool = False) -> tuple[float, float]:
    """Contrast limits from the 0.5 and 99.5 percentiles of a subsample.

    With ``skip_padding``, voxels at the minimum value are left out when there
    are many of them (at least 1 %): the constant fill outside a CT's field of
    view would otherwise pull the lower limit far below any tissue.
    """
    flat = np.asarray(array).reshape(-1)
    step = max(1, flat.size // 200_000)
    sample = flat[::step]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return (0.0, 1.0)
    if skip_padding:
        at_min = sample == sample.min()
        if _PADDING_SHARE <= at_min.mean() < 1.0:
            sample = sample[~at_min]
    low, high = (float(v) for v in np.percentile(sample, [0.5, 99.5]))
    if high <= low:
        low, high = float(sample.min()), float(sample.max())
    if high <= low:
        high = low + 1.0
    return (low, high)


#: percentile of |difference| that sets the contrast limits of a difference image
_DIFFERENCE_PERCENTILE = 99.5


def difference_limits(array: np.ndarray) -> tuple[float, float]:
    """Contrast limits ``(-m, m)`` of a difference image, symmetric around 0.

    ``m`` is the 99.5th percentile of ``|array|`` on a subsample, so that a few
    outliers do not wash the rest out and 0 (unchanged) sits at the middle of
    the colormap. It falls back to the largest ``|value|``, and to 1 for an
    all-zero (or non-finite) array.

    Examples
    --------
    >>> low, high = difference_limits(np.random.default_rng(0).normal(0, 2, (8, 64, 64)))
    >>> low == -high and 4 < high < 7
    True
    """
    flat = np.asarray(array).reshape(-1)
    sample = np.abs(flat[:: max(1, flat.size // 200_000)])
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return (-1.0, 1.0)
    bound = float(np.percentile(sample, _DIFFERENCE_PERCENTILE)) or float(sample.max()) or 1.0
    return (-bound, bound)


def _first_number(value: Any) -> float | None:
    """The first of a possibly multi-valued DICOM number (``40\\400`` -> 40.0)."""
    if isinstance(value, str | bytes) or not np.iterable(value):
        values = [value]
    else:
        values = list(value)
    try:
        number = float(values[0]) if values else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and np.isfinite(number) else None


def header_window(volume: md.Volume) -> tuple[float, float] | None:
    """(low, high) of the header's first Window Center/Width, in the volume's units, if any."""
    centre = _first_number(volume.metadata.get("WindowCenter"))
    width = _first_number(volume.metadata.get("WindowWidth"))
    if centre is None or width is None or width <= 0:
        return None
    return (centre - width / 2, centre + width / 2)


def volume_limits(volume: md.Volume, data: np.ndarray) -> tuple[float, float]:
    """Contrast limits of a layer: the header's window when it has one, else percentiles
    of the data without its padding."""
    return header_window(volume) or display_limits(data, skip_padding=True)


def layer_tuple(volume: md.Volume, name: str, **extra: Any) -> LayerTuple:
    """The napari ``LayerData`` tuple of an image layer showing ``volume``.

    A single-slice volume becomes a 2D layer. ``extra`` entries are added to
    the layer's keyword arguments (``visible=False``...).
    """
    data, scale = volume.array, volume.spacing
    if volume.is_2d:
        data, scale = data[0], scale[1:]  # type: ignore[assignment]
    kwargs: dict[str, Any] = {
        "name": name,
        "scale": tuple(scale),
        "affine": world_affine(volume),
        "colormap": colormap_for(volume),
        "contrast_limits": volume_limits(volume, data),
        "metadata": {META_KEY: {"volume": volume, "role": ROLE_SOURCE}},
        **extra,
    }
    return (data, kwargs, "image")


def source_volume(metadata: Mapping[str, Any] | None) -> md.Volume | None:
    """The Volume kept in a layer's metadata by this plugin, if any."""
    volume = layer_entry(metadata).get("volume")
    return volume if isinstance(volume, md.Volume) else None


def volume_from_layer(data: Any, meta: Mapping[str, Any]) -> md.Volume:
    """A Volume holding a layer's data, for the writers.

    Parameters
    ----------
    data : array-like
        The layer data, 2D (H, W) or 3D (D, H, W).
    meta : mapping
        The layer's state (``layer.as_layer_data_tuple()[1]``): its
        ``metadata``, ``scale``, ``translate`` and ``name``.

    Returns
    -------
    medidenoise.Volume
        The kept source volume with the layer's data when the shapes agree
        (geometry, modality and DICOM sources kept); otherwise a new volume
        built from the layer's scale and translate.
    """
    array = np.asarray(data)
    name = meta.get("name", "layer")
    if array.ndim not in (2, 3) or getattr(meta, "rgb", False) or meta.get("rgb"):
        raise ValueError(
            f"layer {name!r} has shape {array.shape}; only grayscale 2D or 3D images can be saved"
        )
    volume = source_volume(meta.get("metadata"))
    if (
        volume is not None
        and volume.array.size == array.size
        and (volume.array.shape[-array.ndim :] == array.shape)
    ):
        return volume.with_array(array.astype(np.float32, copy=False))
    scale = [float(s) for s in meta.get("scale", (1.0,) * array.ndim)]
    translate = [float(t) for t in meta.get("translate", (0.0,) * array.ndim)]
    if array.ndim == 2:
        scale, translate = [1.0, *scale], [0.0, *translate]
    affine = np.diag([*scale, 1.0])
    affine[:3, 3] = translate
    dz, dy, dx = scale[-3:]
    return md.Volume(np.asarray(array, dtype=np.float32), spacing=(dz, dy, dx), affine=affine)
