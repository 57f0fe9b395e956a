"""The napari reader: DICOM files and folders (one layer per series) and NIfTI."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import medidenoise as md
from napari_medidenoise._layers import LayerTuple, layer_tuple

__all__ = ["is_dicom_file", "is_nifti", "napari_get_reader", "read_medical"]

log = logging.getLogger(__name__)

PathOrPaths = str | os.PathLike | Sequence[str | os.PathLike]
ReaderFunction = Callable[[PathOrPaths], list[LayerTuple] | None]

# a folder is taken as DICOM when one of its first files is; more is not looked at
_FOLDER_PROBE_LIMIT = 64


def is_nifti(path: Path) -> bool:
    """True for a ``.nii`` / ``.nii.gz`` file."""
    return path.is_file() and md.is_nifti_path(path)


def is_dicom_file(path: Path) -> bool:
    """True for a file with the DICOM preamble ("DICM" at byte 128) or a DICOM suffix."""
    return md.is_dicom_file(path)


def _probe_files(folder: Path) -> Iterator[Path]:
    for count, path in enumerate(p for p in folder.rglob("*") if p.is_file()):
        if count >= _FOLDER_PROBE_LIMIT:
            return
        yield path


def _is_dicom_folder(path: Path) -> bool:
    return path.is_dir() and any(is_dicom_file(p) for p in _probe_files(path))


def _series_name(volume: md.Volume, fallback: str) -> str:
    description = volume.metadata.get("series_description") or volume.metadata.get(
        "SeriesDescription"
    )
    return f"{fallback} {description}".strip() if description else fallback


def _read_dicom_folder(folder: Path) -> list[LayerTuple]:
    """One layer per image stack: a series whose UID holds several stacks gives several."""
    series = md.scan_dicom(folder).series
    if not series:  # the library's reader says why (no image, only localizers...)
        volume = md.read_volume(folder)
        return [layer_tuple(volume, _series_name(volume, folder.name))]
    layers = []
    for number, info in enumerate(series, start=1):
        try:
            volume = md.read_dicom_series(info)
        except (md.MedidenoiseError, OSError, ValueError) as exc:
            _report_failure(folder, exc)
            continue
        label = folder.name if len(series) == 1 else f"{folder.name} [{number}]"
        layers.append(layer_tuple(volume, _series_name(volume, label)))
    return layers


def _read_one(path: Path) -> list[LayerTuple]:
    if path.is_dir():
        return _read_dicom_folder(path)
    volume = md.read_volume(path)
    return [layer_tuple(volume, md.image_stem(path))]


def _report_failure(path: Path, exc: BaseException) -> None:
    log.warning("medidenoise could not read %s: %s", path, exc)
    try:
        from napari.utils.notifications import show_warning
    except ImportError:  # outside napari: the log line is the report
        return
    show_warning(f"medidenoise could not read {path}: {exc}")


def read_medical(path: PathOrPaths) -> list[LayerTuple] | None:
    """Read DICOM files/folders and NIfTI files into image layer data.

    Parameters
    ----------
    path : str, path or list of them
        A DICOM file, a folder of DICOM files (one layer per image series) or
        a NIfTI file.

    Returns
    -------
    list of (data, kwargs, "image") or None
        ``None`` when nothing could be read; the reason is logged and shown
        as a napari warning, never raised.
    """
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    layers: list[LayerTuple] = []
    for item in map(Path, paths):
        try:
            layers.extend(_read_one(item))
        # reader boundary: napari gets None and a warning, never a traceback
        except Exception as exc:
            _report_failure(item, exc)
    return layers or None


def _readable(path: Path) -> bool:
    return is_nifti(path) or is_dicom_file(path) or _is_dicom_folder(path)


def napari_get_reader(path: PathOrPaths) -> ReaderFunction | None:
    """Return :func:`read_medical` when ``path`` is DICOM or NIfTI, else ``None``."""
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    if not paths or not all(_readable(Path(p)) for p in paths):
        return None
    return read_medical
