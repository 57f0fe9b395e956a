"""The plugin's reader and writers called directly with hostile input (issue 33): a FIFO among
the DICOM files, a full disk, complex data. Plain functions, no Qt needed."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from napari_medidenoise import napari_get_reader
from napari_medidenoise._layers import META_KEY, ROLE_DENOISED
from napari_medidenoise._writer import write_dicom, write_nifti

import medidenoise.io.dicom._writer as dicom_writer


@pytest.fixture
def shown(napari_notes) -> list[str]:
    """The napari error notifications shown during the test."""
    return napari_notes.errors


def _denoised(kwargs: dict) -> dict:
    entry = {**kwargs["metadata"][META_KEY], "role": ROLE_DENOISED, "derived_from": "source"}
    entry.update(model="nlm", noise_level=3.0, self_ensemble=False)
    return {**kwargs, "name": f"{kwargs['name']} denoised", "metadata": {META_KEY: entry}}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_among_the_dicom_files_does_not_block_the_reader(dicom_folder: Path) -> None:
    fifo = dicom_folder / "0000_pipe.dcm"
    os.mkfifo(fifo)
    box: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: box.update(layers=napari_get_reader(str(dicom_folder))(str(dicom_folder))),
        daemon=True,
    )
    worker.start()
    worker.join(60)
    if worker.is_alive():  # unblock the reader stuck in open() before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(10)
        pytest.fail("the reader blocked on a named pipe")
    [(data, _, kind)] = box["layers"]
    assert kind == "image" and data.shape == (6, 64, 64)


def test_dicom_writer_on_a_full_disk_leaves_no_files(
    dicom_folder: Path, tmp_path: Path, shown: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    [(data, kwargs, _)] = napari_get_reader(str(dicom_folder))(str(dicom_folder))
    calls = {"n": 0}
    real = dicom_writer.dcmwrite

    def fill_up(filename: Any, ds: Any, **kw: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            Path(filename).write_bytes(b"\0" * 300)
            raise OSError(errno.ENOSPC, "No space left on device")
        real(filename, ds, **kw)

    monkeypatch.setattr(dicom_writer, "dcmwrite", fill_up)
    target = tmp_path / "out.dcm"
    assert write_dicom(str(target), np.round(data * 0.5), _denoised(kwargs)) == []
    assert not target.exists() or list(target.iterdir()) == []
    assert "no space left" in shown[-1] and "out.dcm" in shown[-1]


def test_nifti_writer_refuses_complex_data(tmp_path: Path, shown: list[str]) -> None:
    meta = {"name": "k-space", "metadata": {}}
    target = tmp_path / "k.nii.gz"
    assert write_nifti(str(target), np.ones((4, 8, 8), np.complex64), meta) == []
    assert "complex64" in shown[-1] and "np.abs" in shown[-1]
    assert not target.exists()
