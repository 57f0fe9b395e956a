"""Synthetic DICOM series writer and test-data helpers for the io tests.

Imported by ``conftest.py`` (fixtures) and by the test modules; kept out of
``conftest.py`` so that its module name cannot clash with other test folders.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    generate_uid,
)

ROWS, COLS = 6, 5


def slice_pixels(k: int, shape: tuple[int, int] = (ROWS, COLS)) -> np.ndarray:
    """Stored values of synthetic slice ``k``: 100*k plus a small ramp (identifies the slice)."""
    return (100 * k + np.arange(shape[0] * shape[1]).reshape(shape) % 97).astype(np.int16)


def data_file(name: str) -> Path:
    """A pydicom / pydicom-data test file, never downloaded."""
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not installed (pydicom-data missing?)")
    return Path(path)


def make_series(
    folder: Path,
    n: int = 5,
    *,
    z0: float = -10.0,
    dz: float = 2.5,
    positions: Sequence[Sequence[float]] | None = None,
    iop: Sequence[float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    pixel_spacing: tuple[float, float] = (0.7, 0.8),
    instance_numbers: Sequence[int | None] | None = None,
    slopes: Sequence[float] | None = None,
    intercepts: Sequence[float] | None = None,
    names: Callable[[int], str] | None = None,
    series_uid: str | None = None,
    study_uid: str | None = None,
    description: str = "synthetic CT",
    series_number: int = 3,
    modality: str = "CT",
    image_type: Sequence[str] = ("ORIGINAL", "PRIMARY", "AXIAL"),
    photometric: str = "MONOCHROME2",
    transfer_syntax: str = ExplicitVRLittleEndian,
    compress: str | None = None,
    with_geometry: bool = True,
    shape: tuple[int, int] = (ROWS, COLS),
) -> list[Path]:
    """Write a synthetic single-frame CT series (slice ``k`` holds :func:`slice_pixels`).

    Slice ``k`` is at ``positions[k]`` or ``(10, 20, z0 + k*dz)`` in LPS. File
    names come from ``names(k)`` (default ``slice{k}.dcm``). Returns the paths
    in ``k`` order.
    """
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    for_uid = generate_uid()
    paths = []
    for k in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = transfer_syntax
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        sop = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = sop
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = for_uid
        ds.Modality = modality
        ds.SeriesDescription = description
        ds.SeriesNumber = series_number
        ds.PatientName = "Synthetic^Phantom"
        ds.PatientID = "SYN001"
        ds.ImageType = list(image_type)
        number = instance_numbers[k] if instance_numbers is not None else k + 1
        if number is not None:
            ds.InstanceNumber = number
        if with_geometry:
            pos = positions[k] if positions is not None else (10.0, 20.0, z0 + k * dz)
            ds.ImagePositionPatient = [float(v) for v in pos]
            ds.ImageOrientationPatient = [float(v) for v in iop]
        ds.PixelSpacing = list(pixel_spacing)
        ds.SliceThickness = abs(dz)
        ds.RescaleSlope = slopes[k] if slopes is not None else 1.0
        ds.RescaleIntercept = intercepts[k] if intercepts is not None else -1024.0
        ds.WindowCenter = 40
        ds.WindowWidth = 400
        ds.Rows, ds.Columns = shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = photometric
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        arr = slice_pixels(k, shape)
        big = transfer_syntax == ExplicitVRBigEndian
        ds.PixelData = arr.astype(">i2" if big else "<i2").tobytes()
        if compress is not None:
            ds.compress(compress, arr)
        path = folder / (names(k) if names is not None else f"slice{k}.dcm")
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_sr(path: Path) -> Path:
    """A minimal Basic Text SR object (no pixel data)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.Modality = "SR"
    ds.save_as(path, enforce_file_format=True)
    return path


def copy_testdata(name: str, dest: Path) -> Path:
    """Copy a pydicom test file (or folder) to ``dest``."""
    src = data_file(name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dest)
    else:
        shutil.copyfile(src, dest)
    return dest
