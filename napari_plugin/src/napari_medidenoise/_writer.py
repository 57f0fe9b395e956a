"""The napari writers: NIfTI for any image layer, a derived DICOM series for DICOM layers.

napari picks a writer by the extension of the path: ``.nii.gz`` / ``.nii`` ->
NIfTI file, ``.dcm`` -> a folder holding the derived DICOM series (a path with
no extension gets ``.nii.gz``). A writer that cannot save a layer shows a napari
error notification and returns ``[]``, never raises: napari turns a writer's
``ValueError`` into a misleading "not a valid writer" warning.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

import medidenoise as md
from napari_medidenoise._layers import (
    ROLE_DENOISED,
    ROLE_NOISY,
    ROLE_REMOVED_NOISE,
    ROLE_SOURCE,
    layer_entry,
    layer_role,
    source_volume,
    volume_from_layer,
)

__all__ = ["DICOM_EXTENSION", "sidecar_path", "write_dicom", "write_nifti"]

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


#: what a result layer's JSON sidecar holds from its metadata, when the layer has them
_SIDECAR_KEYS = ("role", "difference", "derived_from", "provenance", "quality", "warnings")


def sidecar_path(path: str | Path) -> Path:
    """The JSON sidecar beside a NIfTI file: ``ct.nii.gz`` -> ``ct.json``."""
    target = Path(path)
    stem = target.name.removesuffix(".gz").removesuffix(".nii")
    return target.with_name(f"{stem}.json")


def _write_sidecar(path: Path, meta: dict[str, Any]) -> None:
    """What was done to a denoising result and how well, beside its NIfTI file.

    Written only for a layer that records a run (its ``provenance``); the same record the
    command line writes in its report, so a NIfTI save is as auditable as a DICOM one.
    """
    entry = layer_entry(meta.get("metadata"))
    if not entry.get("provenance"):
        return
    record = {k: entry[k] for k in _SIDECAR_KEYS if k in entry}
    record["layer"] = meta.get("name", "layer")
    text = json.dumps(record, indent=2, default=str) + "\n"
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def write_nifti(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Save one image layer as NIfTI through ``medidenoise.write_nifti``.

    A layer read by this plugin keeps its original affine; any other image
    layer gets one from its scale and translate. A result of the Denoise widget
    also gets a JSON sidecar (:func:`sidecar_path`) with its run's provenance,
    quality figures and warnings.

    Returns
    -------
    list of str
        The written NIfTI file (its sidecar beside it is not listed), or ``[]``
        (with an error notification) when the layer cannot be saved as NIfTI.
    """
    dtype = np.dtype(data.dtype) if hasattr(data, "dtype") else np.asarray(data).dtype
    if dtype.kind not in "biuf":  # float32 of complex data would drop its imaginary part
        return _refuse(
            f"{path}: layer {meta.get('name', 'layer')!r} holds {dtype} "
            "values; NIfTI is written from real values only, so take the magnitude "
            "(np.abs) or the real part of the layer first"
        )
    try:
        volume = volume_from_layer(data, meta)
        written = md.write_nifti(volume, path)
        _write_sidecar(sidecar_path(written), meta)
        return [str(written)]
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


#: why a layer of each role is not a denoised image of its source series
_NOT_DENOISED = {
    ROLE_REMOVED_NOISE: (
        "holds the noise removed by denoising (input - denoised), not an image of the "
        "patient, so it is never saved as a DICOM series where it could pass for a scan; "
        "save it as NIfTI (.nii.gz) to analyse it"
    ),
    ROLE_NOISY: (
        "holds the image with noise added on purpose, not a denoised result, so it is not "
        "saved as a derived DICOM series; save it as NIfTI (.nii.gz) instead"
    ),
    ROLE_SOURCE: (
        "is the series as it was read (its DICOM files already exist); only denoised "
        "results are saved as a derived DICOM series: denoise it first, or save it as NIfTI "
        "(.nii.gz)"
    ),
}


def _role_problem(name: str, meta: dict[str, Any]) -> str:
    """Why the layer is not a denoised result that may be saved as DICOM ('' when it is)."""
    role = layer_role(meta.get("metadata"))
    if role == ROLE_DENOISED:
        return ""
    reason = _NOT_DENOISED.get(
        str(role),
        "was not made by medidenoise's Denoise widget, so nothing says it is a denoised "
        "image of its source series; save it as NIfTI (.nii.gz) instead",
    )
    return f"layer {name!r} {reason}"


def _derivation(meta: dict[str, Any]) -> str:
    """Derivation Description from the layer's record of its run, as the command line writes it:
    its provenance (model, route, hash, numeric level, steps), or for a layer without one the
    model and level it names."""
    entry = layer_entry(meta.get("metadata"))
    record = entry.get("provenance")
    if record:
        return md.Provenance.from_dict(dict(record)).describe()
    level = entry.get("noise_level")
    return md.derivation_description(
        entry.get("model", "unknown model"),
        None if level is None else float(level),
        self_ensemble=bool(entry.get("self_ensemble", False)),
        rician=bool(entry.get("rician", False)),
    )


def write_dicom(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Save a denoised layer as a derived DICOM series in the new folder ``path``.

    Uses ``medidenoise.write_dicom_series``, the same function as the command
    line: new UIDs, DERIVED image type, references to each source slice, and a
    Derivation Description naming the model and noise level of the run that
    made the layer. The originals are not touched. napari calls it for paths
    ending in ``.dcm`` (``layer.save("ct_denoised.dcm")``), which become a
    folder of that name.

    Only a denoising result (the "denoised" or "preview" layer of the Denoise
    widget) is saved this way: a removed-noise layer, a layer with added noise
    or the series as read would otherwise become a series labelled DENOISED
    that holds no such image.

    Returns
    -------
    list of str
        The files written in slice order, or ``[]`` with an error notification
        when the layer is not a denoised result of a DICOM series, its shape
        differs from the source series, or ``path`` is an existing file or
        non-empty folder.
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
    problem = _role_problem(name, meta) or _dicom_problem(target, name, array, volume)
    if problem:
        return _refuse(problem)
    try:
        written = md.write_dicom_series(
            volume,
            array.reshape(volume.array.shape),
            target,
            derivation_description=_derivation(meta),
        )
    except (md.MedidenoiseError, ValueError, OSError) as exc:  # writer boundary
        return _refuse(f"{target}: {exc}")
    return [str(p) for p in written]
