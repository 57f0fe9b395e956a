"""Synthetic test data shared by every test folder (tests/ and napari_plugin/tests/).

One home for: the pydicom / pydicom-data file lookup that skips when a file is not installed
(:func:`data_file`), synthetic DICOM series (:func:`make_series`, :func:`write_ct_series`,
:func:`write_phantom_series`), a messy PACS-like export (:func:`build_export`) and phantom
images (:func:`smooth_image`, :func:`random_discs`, :func:`disc_stack`).

Importable as ``factories`` because ``[tool.pytest.ini_options] pythonpath`` puts ``tests/`` on
``sys.path``; a module of its own (not conftest.py) so that ``from conftest import ...`` never
picks another folder's conftest.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    generate_uid,
)

DATA = Path(get_testdata_file("CT_small.dcm")).parent
"""pydicom's own test-data folder (ships with pydicom; holds ``dicomdirtests/``)."""

ROWS, COLS = 6, 5


# --- pydicom / pydicom-data files -----------------------------------------------------------


def data_file(name: str) -> Path:
    """A pydicom / pydicom-data test file, never downloaded; skips the test when it is missing.

    ``name`` is a file name (``"CT_small.dcm"``) or a path under :data:`DATA`
    (``"dicomdirtests/77654033/CR1/6154"``).
    """
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not installed (pydicom-data missing?)")
    return Path(path)


# --- synthetic DICOM series -----------------------------------------------------------------


def slice_pixels(k: int, shape: tuple[int, int] = (ROWS, COLS)) -> np.ndarray:
    """Stored values of synthetic slice ``k``: 100*k plus a small ramp (identifies the slice)."""
    return (100 * k + np.arange(shape[0] * shape[1]).reshape(shape) % 97).astype(np.int16)


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


def write_ct_series(folder: Path, n: int = 5, *, size: int = 128, number: int = 2) -> list[Path]:
    """A synthetic axial CT series (CT_small's header), ``n`` slices 2.5 mm apart."""
    template = dcmread(data_file("CT_small.dcm"))
    folder.mkdir(parents=True, exist_ok=True)
    series_uid, rng, paths = generate_uid(), np.random.default_rng(number), []
    for k in range(n):
        ds = template.copy()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesInstanceUID, ds.SeriesNumber = series_uid, number
        ds.SeriesDescription = f"Thorax {number}/5 mm"
        ds.InstanceNumber = n - k  # reversed on purpose: order must come from positions
        ds.ImagePositionPatient = [-158.0, -179.0, -10.0 + 2.5 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.Rows = ds.Columns = size
        ds.PixelData = rng.integers(0, 3000, (size, size), dtype=np.int16).tobytes()
        path = folder / f"{ds.SOPInstanceUID[-12:]}"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def corrupt_j2k(path: Path) -> Path:
    """A JPEG 2000 file whose code stream is cut short: scans fine, cannot be decoded."""
    ds = dcmread(data_file("MR_small_jp2klossless.dcm"))
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([frame[: len(frame) // 3]])
    ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path)
    return path


def hash_tree(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root`` (to show inputs are untouched)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def build_export(root: Path, *, broken: bool = True) -> Path:
    """Several patients, studies and series; compressed, MONOCHROME1, multi-frame, non-image.

    With ``broken``: also a truncated file (unreadable) and a series whose
    JPEG 2000 stream is corrupt (fails, the batch goes on).
    """
    p1, p2 = root / "PAT1" / "STUDY1", root / "PAT2" / "STUDY7"
    write_ct_series(p1 / "CT")
    shutil.copytree(DATA / "dicomdirtests/98892001/CT2N", p1 / "SCOUT")  # localizers
    shutil.copytree(DATA / "dicomdirtests/77654033/CR1", p1 / "CR")  # MONOCHROME1, slope .684
    (p2 / "MR").mkdir(parents=True)
    shutil.copy(data_file("MR_small_jpeg_ls_lossless.dcm"), p2 / "MR" / "IM1")
    (p2 / "EMR").mkdir()
    shutil.copy(data_file("emri_small_jpeg_2k_lossless.dcm"), p2 / "EMR" / "MF1")
    (p2 / "OTHER").mkdir()
    shutil.copy(data_file("test-SR.dcm"), p2 / "OTHER" / "SR1")
    shutil.copy(data_file("rtplan.dcm"), p2 / "OTHER" / "PLAN1")
    (root / "README.txt").write_text("export notes\n")
    if broken:
        shutil.copy(data_file("MR_truncated.dcm"), p2 / "OTHER" / "TRUNC")
        corrupt_j2k(p2 / "BAD" / "IM1")
    return root


# --- phantom images -------------------------------------------------------------------------


def disc_stack(depth: int, size: int, seed: int) -> np.ndarray:
    """Stored values of a (depth, size, size) CT phantom: a centred disc plus N(0, 20) noise."""
    yy, xx = np.mgrid[:size, :size]
    disc = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size / 3) ** 2
    rng = np.random.default_rng(seed)
    base = np.where(disc, 1040.0, 0.0)  # stored values; rescale -1024 -> 16 HU inside
    return np.stack([base + rng.normal(0, 20, base.shape) for _ in range(depth)])


def write_phantom_series(folder: Path, *, depth: int = 6, size: int = 64, seed: int = 0) -> Path:
    """Write a synthetic CT series (one file per slice, shuffled names) into ``folder``."""
    template = dcmread(data_file("CT_small.dcm"))
    series_uid, frame_uid = generate_uid(), generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.clip(disc_stack(depth, size, seed), 0, 4000).astype(np.uint16)
    for k in range(depth):
        ds = template.copy()
        ds.SeriesInstanceUID, ds.FrameOfReferenceUID = series_uid, frame_uid
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber, ds.SeriesDescription = k + 1, f"phantom {seed}"
        ds.ImagePositionPatient = [-32.0, -32.0, 2.5 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceLocation, ds.SliceThickness, ds.PixelSpacing = 2.5 * k, 2.5, [1.0, 1.0]
        ds.Rows = ds.Columns = size
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        for tag in ("SmallestImagePixelValue", "LargestImagePixelValue"):
            if tag in ds:
                delattr(ds, tag)
        ds.PixelData = pixels[k].tobytes()
        ds.save_as(folder / f"IM{(k * 7) % depth:04d}.dcm", enforce_file_format=True)
    return folder


def smooth_image(size: int = 64) -> np.ndarray:
    """A smooth float32 image in [0, 1] with a soft-edged disc: easy to denoise."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = 0.45 + 0.25 * np.sin(5 * xx) * np.cos(3 * yy)
    disc = ((xx - 0.6) ** 2 + (yy - 0.4) ** 2) < 0.04
    img = img + 0.25 * disc
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def random_discs(seed: int, shape: tuple[int, int, int] = (4, 48, 40)) -> np.ndarray:
    """A float32 (D, H, W) volume: four random bright discs per slice on a zero background."""
    rng = np.random.default_rng(seed)
    d, h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    vol = np.zeros(shape, dtype=np.float32)
    for k in range(d):
        for _ in range(4):
            cy, cx, r = rng.uniform(8, h - 8), rng.uniform(8, w - 8), rng.uniform(4, 12)
            vol[k][(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] += rng.uniform(100, 400)
    return vol
