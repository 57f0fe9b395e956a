"""Readers and writers under the second hostile audit (issue 33): FIFOs and devices, an empty
path, complex data, full disks.

A reader must never block on something that is not a regular file, and a writer must leave
either the whole output or nothing at the target, with an error naming the path and the cause.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
from factories import make_series

import medidenoise.io.dicom._scan as dicom_scan
import medidenoise.io.dicom._writer as dicom_writer
from medidenoise.cli import main
from medidenoise.errors import (
    InvalidImageError,
    MedidenoiseError,
    OutputWriteError,
    UnsupportedImageError,
)
from medidenoise.io import Volume, read_volume, scan_dicom, write_dicom_series, write_nifti

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")


def _bounded(call: Callable[[], Any], fifo: Path | None = None, seconds: float = 60.0) -> Any:
    """``call()`` in a thread; fails (and unblocks a reader of ``fifo``) when it hangs."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the test
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    hung = worker.is_alive()
    if hung and fifo is not None:  # a reader blocked in open() of the pipe: let it go
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        worker.join(10)
    assert not hung, f"the call blocked for over {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


@needs_fifo
def test_a_fifo_named_dcm_in_a_series_folder_is_skipped_and_reported(tmp_path: Path) -> None:
    make_series(tmp_path / "ct", 4)
    fifo = tmp_path / "ct" / "00000.dcm"
    os.mkfifo(fifo)
    vol = _bounded(lambda: read_volume(tmp_path / "ct"), fifo)
    assert vol.shape[0] == 4
    scan = _bounded(lambda: scan_dicom(tmp_path / "ct"), fifo)
    assert [(p, why) for p, why in scan.skipped if p == fifo]
    assert "named pipe" in dict(scan.skipped)[fifo]


@needs_fifo
def test_a_lone_fifo_or_device_is_refused_by_name(tmp_path: Path) -> None:
    fifo = tmp_path / "scan.dcm"
    os.mkfifo(fifo)
    with pytest.raises(UnsupportedImageError, match=r"scan\.dcm: a named pipe"):
        _bounded(lambda: read_volume(fifo), fifo)
    nii_fifo = tmp_path / "scan.nii.gz"
    os.mkfifo(nii_fifo)
    with pytest.raises(UnsupportedImageError, match="named pipe"):
        _bounded(lambda: read_volume(nii_fifo), nii_fifo)
    if Path("/dev/zero").exists():
        with pytest.raises(UnsupportedImageError, match="/dev/zero: a character device"):
            _bounded(lambda: read_volume("/dev/zero"))


def test_an_empty_path_is_refused_not_read_as_the_current_folder() -> None:
    with pytest.raises(InvalidImageError, match="the path is empty"):
        read_volume("")


def test_series_names_an_unopenable_file_and_a_missing_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    files = make_series(tmp_path / "ct", 3)
    real_open = open

    def refuse(path: Any, *args: Any, **kwargs: Any) -> Any:
        if Path(path) == files[1]:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(dicom_scan, "open", refuse, raising=False)
    assert main(["series", str(tmp_path / "ct")]) == 1
    out = capsys.readouterr().out
    assert str(files[1]) in out and "cannot be opened" in out
    assert main(["series", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "no such file" in err and "Traceback" not in err


def test_volume_refuses_complex_data() -> None:
    with pytest.raises(InvalidImageError, match=r"real-valued.*np\.abs"):
        Volume(np.ones((2, 4, 4), np.complex64))


def _enospc(*_: Any, **__: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_write_nifti_on_a_full_disk_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_then_full(img: Any, filename: str) -> None:
        Path(filename).write_bytes(b"\x5c\x01\x00\x00 half a header")
        _enospc()

    monkeypatch.setattr(nib, "save", half_then_full)
    target = tmp_path / "out" / "v.nii.gz"
    with pytest.raises(OutputWriteError, match=r"v\.nii\.gz: cannot write: no space left") as info:
        write_nifti(Volume(np.zeros((2, 4, 4), np.float32)), target)
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC
    assert not target.exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_write_nifti_under_a_regular_file_names_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputWriteError, match="file") as info:
        write_nifti(Volume(np.zeros((1, 4, 4), np.float32)), tmp_path / "file" / "v.nii")
    assert isinstance(info.value, MedidenoiseError)


@pytest.mark.parametrize("existing", [False, True])
def test_write_dicom_series_on_a_full_disk_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    make_series(tmp_path / "ct", 4)
    vol = read_volume(tmp_path / "ct")
    out = tmp_path / "derived"
    if existing:
        out.mkdir()
    calls = {"n": 0}
    real = dicom_writer.dcmwrite

    def fill_up(filename: Any, ds: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            Path(filename).write_bytes(b"\0" * 200)  # a truncated instance
            _enospc()
        real(filename, ds, **kwargs)

    monkeypatch.setattr(dicom_writer, "dcmwrite", fill_up)
    with pytest.raises(OutputWriteError, match=r"00003\.dcm: cannot write: no space left"):
        write_dicom_series(vol, vol.array, out)
    assert calls["n"] == 3
    assert (list(out.iterdir()) == []) if existing else not out.exists()
    assert len(list((tmp_path / "ct").iterdir())) == 4  # the source is untouched
