"""Plain helpers for the conversion tests: a messy PACS-like export and synthetic CT series.

A module of its own (not conftest.py) so that test modules can import the helpers by a name
no other test folder uses; ``from conftest import ...`` picks whichever folder's conftest was
imported first when several test folders run in one session.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import generate_uid

DATA = Path(get_testdata_file("CT_small.dcm")).parent


def data_file(name: str) -> Path:
    """A pydicom / pydicom-data test file, never downloaded."""
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not installed (pydicom-data missing?)")
    return Path(path)


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
