"""The napari writers: NIfTI for any image layer, a derived DICOM series for DICOM layers.

napari picks a writer by the extension of the path: ``.nii.gz`` / ``.nii`` ->
NIfTI file, ``.dcm`` -> a folder holding the derived DICOM series (a path with
no extension gets ``.nii.gz``). A writer that cannot save a layer shows a napari
error notification and returns ``[]``, never raises: napari turns a writer's
``ValueError`` into a misleading "not a valid writer" warning.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

import medidenoise as md
from napari_medidenoise._layers import source_volume, volume_from_layer

__all__ = ["DICOM_EXTENSION", "write_dicom", "write_nifti"]

log = logging.getLogger(__name__)

#: the extension that selects the DICOM writer; the folder keeps the name as given
DICOM_EXTENSION = ".dcm"


def _refuse(message: str) -> list[str]:
    """Report why nothing was written (log + napari notification) and write nothing."""
    log.error("medidenoise: %s", message)
    try:
        from napari.utils.notifications import show_error
    except ImportError:  # outside napari: the log line is the report
        return []
    show_error(f"medidenoise: {message}")
    return []


def write_nifti(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Save one image layer as NIfTI through ``medidenoise.write_volume``.

    A layer read by this plugin keeps its original affine; any other image
    layer gets one from its scale and translate.

    Returns
    -------
    list of str
        The written file, or ``[]`` (with an error notification) when the
        layer cannot be saved as NIfTI.
    """
    try:
        volume = volume_from_layer(data, meta)
        return [str(md.write_volume(volume, path))]
    except (md.MedidenoiseError, ValueError, OSError) as exc:  # writer boundary
        return _refuse(f"{path}: {exc}")


def _expected_shape(volume: md.Volume, array: np.ndarray) -> tuple[int, ...]:
    """The layer shape that matches ``volume``: a one-slice series is shown as a 2D layer."""
    if volume.is_2d and array.ndim == 2:
        return tuple(volume.array.shape[1:])
    return tuple(volume.array.shape)


def _dicom_problem(path: Path, name: str, array: np.ndarray, volume: md.Volume) -> str:
    """Why the layer cannot be saved as a derived series at ``path`` ('' when it can)."""
    expected = _expected_shape(volume, array)
    if array.shape != expected:
        return (
            f"layer {name!r} has shape {array.shape} but its source series has {expected}; "
            "only same-shape results can be saved as a derived DICOM series (save it as "
            "NIfTI instead)"
        )
    if path.is_file() or (path.is_dir() and any(path.iterdir())):
        return (
            f"{path} already exists and is not an empty folder; choose a new name ending in "
            f"{DICOM_EXTENSION} (the derived series is written into a folder of that name)"
        )
    return ""


def write_dicom(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Save one image layer as a derived DICOM series in the new folder ``path``.

    Uses ``medidenoise.write_dicom_series``, the same function as the command
    line: new UIDs, DERIVED image type, references to each source slice. The
    originals are not touched. napari calls it for paths ending in ``.dcm``
    (``layer.save("ct_denoised.dcm")``), which become a folder of that name.

    Returns
    -------
    list of str
        The files written in slice order, or ``[]`` with an error notification
        when the layer did not come from DICOM, its shape differs from the
        source series, or ``path`` is an existing file or non-empty folder.
    """
    target = Path(path)
    name = meta.get("name", "layer")
    array = np.asarray(data, dtype=np.float32)
    volume = source_volume(meta.get("metadata"))
    if volume is None or volume.source is None:
        return _refuse(
            f"layer {name!r} did not come from a DICOM series, so it cannot be saved as a "
            "derived DICOM series; save it as NIfTI (.nii.gz) instead"
        )
    problem = _dicom_problem(target, name, array, volume)
    if problem:
        return _refuse(problem)
    try:
        written = md.write_dicom_series(volume, array.reshape(volume.array.shape), target)
    except (md.MedidenoiseError, ValueError, OSError) as exc:  # writer boundary
        return _refuse(f"{target}: {exc}")
    return [str(p) for p in written]
