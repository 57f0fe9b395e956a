"""Bad ``--scheduler`` files under the second hostile audit (issue 33): a scheduler file without
an address, malformed JSON or a named pipe is refused at once, naming the file, before any work
(it ended in a bare AssertionError, the malformed one after a 20 s wait)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from medidenoise.cli import main
from medidenoise.convert import convert_dicom_folder
from medidenoise.errors import ConfigError

pytest.importorskip("distributed", reason="needs medidenoise[dask]")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"type": "Scheduler", "id": "Scheduler-1"}', r'holds no "address" \(found \[.id.'),
        ('{"address": ', "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", r'holds no "address" \(found list\)'),
        ('{"address": ""}', 'holds no "address"'),
        ("\xff\xfe garbage", "not valid JSON"),
    ],
)
def test_a_bad_scheduler_file_is_refused_at_once(
    tmp_path: Path, ct_series, content: str, match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ct_series(tmp_path / "in", 2, size=32)
    sched = tmp_path / "scheduler.json"
    sched.write_bytes(content.encode("latin-1"))
    start = time.monotonic()
    with pytest.raises(ConfigError, match=match) as info:
        convert_dicom_folder(
            tmp_path / "in", tmp_path / "out", model="identity", scheduler=str(sched)
        )
    assert str(sched) in str(info.value) and "dask scheduler --scheduler-file" in str(info.value)
    args = ["denoise", str(tmp_path / "in"), str(tmp_path / "out"), "--model", "identity"]
    assert main([*args, "--scheduler", str(sched)]) == 2
    err = capsys.readouterr().err
    assert str(sched) in err and "Traceback" not in err and "AssertionError" not in err
    assert time.monotonic() - start < 10
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_as_scheduler_file_does_not_block(tmp_path: Path, ct_series) -> None:
    ct_series(tmp_path / "in", 2, size=32)
    fifo = tmp_path / "scheduler.json"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="named pipe"):
        convert_dicom_folder(
            tmp_path / "in", tmp_path / "out", model="identity", scheduler=str(fifo)
        )
