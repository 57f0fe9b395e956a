"""Slow conversion tests: a killed run resumes, worker processes, torchrun ranks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydicom import dcmread

from medidenoise.convert import convert_dicom_folder
from medidenoise.convert.plan import PARTIAL_DIR
from medidenoise.convert.unit import MANIFEST

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    env.pop("RANK", None)
    return env


def _sop_uids(report) -> set[str]:
    return {
        dcmread(f, stop_before_pixels=True).SOPInstanceUID
        for e in report.series
        for f in Path(e.output).glob("*.dcm")
    }


def test_killed_run_resumes(tmp_path: Path, ct_series) -> None:
    src, dst = tmp_path / "in", tmp_path / "out"
    for k in range(8):
        ct_series(src / f"S{k}", 6, size=256, number=k + 1)
    cmd = [
        sys.executable,
        "-m",
        "medidenoise",
        "denoise",
        str(src),
        str(dst),
        "--model",
        "identity",
    ]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not list(dst.rglob(MANIFEST)) and time.monotonic() < deadline:
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    done_before = len(list(dst.rglob(MANIFEST)))
    assert 1 <= done_before

    report = convert_dicom_folder(src, dst, model="identity")
    assert report.ok, report.summary()
    status = [e.status for e in report.series]
    assert status.count("complete") >= done_before and len(status) == 8
    assert not (dst / PARTIAL_DIR).exists()
    for e in report.series:
        out = Path(e.output)
        assert (out / MANIFEST).is_file() and len(list(out.glob("*.dcm"))) == 6


def test_jobs_give_the_same_series(clean_export: Path, tmp_path: Path) -> None:
    one = convert_dicom_folder(clean_export, tmp_path / "one", model="identity")
    two = convert_dicom_folder(clean_export, tmp_path / "two", model="identity", jobs=2)
    assert two.ok, two.summary()
    assert [e.source for e in two.series] == [e.source for e in one.series]
    assert _sop_uids(two) == _sop_uids(one)  # deterministic UIDs, same derived series


def test_torchrun_ranks_share_the_series(clean_export: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "medidenoise", "denoise", str(clean_export), str(dst), "--model", "identity",
    ]  # fmt: skip
    run = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=500)
    assert run.returncode == 0, run.stderr[-3000:]
    text = (dst / "medidenoise-report.txt").read_text()
    assert "4 found, 4 converted" in text and "result: OK" in text
    assert "rank 1 of 2" in run.stdout
    assert len(list(dst.rglob(MANIFEST))) == 4
