"""The napari writers: NIfTI for any image layer, a derived DICOM series for DICOM layers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import medidenoise as md
from napari_medidenoise._layers import source_volume, volume_from_layer

__all__ = ["write_dicom", "write_nifti"]


def write_nifti(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Save one image layer as NIfTI through ``medidenoise.write_volume``.

    A layer read by this plugin keeps its original affine; any other image
    layer gets one from its scale and translate.

    Returns
    -------
    list of str
        The written file.
    """
    volume = volume_from_layer(data, meta)
    return [str(md.write_volume(volume, path))]


def write_dicom(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Save one image layer as a derived DICOM series in the folder ``path``.

    Uses ``medidenoise.write_dicom_series``, the same function as the command
    line: new UIDs, DERIVED image type, references to each source slice. The
    originals are not touched.

    Raises
    ------
    ValueError
        When the layer did not come from a DICOM series (save it as NIfTI), or
        its shape no longer matches the source series.
    """
    name = meta.get("name", "layer")
    volume = source_volume(meta.get("metadata"))
    if volume is None or volume.source is None:
        raise ValueError(
            f"layer {name!r} did not come from a DICOM series, so it cannot be saved as a "
            "derived DICOM series; save it as NIfTI (.nii.gz) instead"
        )
    array = np.asarray(data, dtype=np.float32)
    if array.size != volume.array.size:
        raise ValueError(
            f"layer {name!r} has shape {array.shape} but its source series has "
            f"{volume.array.shape}; only same-shape results can be saved as DICOM"
        )
    written = md.write_dicom_series(volume, array.reshape(volume.array.shape), Path(path))
    return [str(p) for p in written]
