"""The npe2 manifest is valid and registered; the sample data loads from installed packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from factories import data_file
from napari_medidenoise._layers import META_KEY


def test_manifest_validates_and_is_registered():
    npe2 = shutil.which("npe2", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                      os.environ.get("PATH", "")]))  # fmt: skip
    assert npe2 is not None, "the npe2 command is not installed"
    done = subprocess.run([npe2, "validate", "napari-medidenoise"], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("napari-medidenoise")
    contributions = manifest.contributions
    assert {w.display_name for w in contributions.widgets} == {"Denoise", "Add noise", "Quality"}
    assert {s.key for s in contributions.sample_data} == {"noisy_mri", "noisy_radiograph"}
    assert contributions.readers[0].accepts_directories


def test_the_reader_claims_only_what_it_reads(tmp_path: Path):
    """napari offers the plugin for DICOM, NIfTI and folders, never for any other file."""
    from importlib.resources import files

    from npe2 import PluginManager, PluginManifest

    manager = PluginManager()
    manager.register(PluginManifest.from_file(files("napari_medidenoise") / "napari.yaml"))
    folder = tmp_path / "series"
    folder.mkdir()

    def offered(name: str) -> bool:
        path = folder if name == "<folder>" else tmp_path / name
        return any(manager.iter_compatible_readers([str(path)]))

    for name in ("ct.dcm", "IM0001.DCM", "scan.dicom", "mr.IMA", "t1.nii", "t1.nii.gz",
                 "<folder>"):  # fmt: skip
        assert offered(name), name
    for name in ("photo.png", "stack.tif", "notes.txt", "data.csv", "movie.mp4"):
        assert not offered(name), name


def test_noisy_mri_sample():
    pytest.importorskip("nilearn", reason="nilearn (napari-medidenoise[data]) not installed")
    from napari_medidenoise._sample_data import noisy_mri

    (clean, clean_kw, _), (noisy, noisy_kw, kind) = noisy_mri()
    assert kind == "image" and noisy.shape == clean.shape and noisy.shape[0] == 16
    assert noisy_kw["scale"] == pytest.approx((1.0, 1.0, 1.0))
    assert clean_kw["visible"] is False
    assert 0.02 < np.std(noisy - clean) / clean.max() < 0.1


def test_noisy_radiograph_sample():
    data_file("RG1_UNCR.dcm")  # skips without pydicom-data (napari-medidenoise[data])
    from napari_medidenoise._sample_data import noisy_radiograph

    [(data, kwargs, _)] = noisy_radiograph()
    assert data.ndim == 2 and max(data.shape) < 700
    volume = kwargs["metadata"][META_KEY]["volume"]
    assert kwargs["colormap"] == ("gray_r" if volume.photometric == "MONOCHROME1" else "gray")
    assert kwargs["scale"][0] > 0.5  # 4x the detector pixel spacing
