"""Batch conversion under hostile input: broken slices, malformed files, concurrent runs, kills.

For every case: the inputs stay byte for byte as they were; a series is either written whole
(with its manifest) or not at all, unless --allow-incomplete asks for it flagged INCOMPLETE;
the report and the exit code say what happened (0 all converted, 1 something failed or is
incomplete, 2 usage error, 3 OUTPUT in use by another run).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import ClassVar

import pydicom
import pytest
import torch
from factories import data_file, hash_tree, write_ct_series

from medidenoise.cli import main
from medidenoise.convert import convert_dicom_folder
from medidenoise.convert.lock import LOCK_NAME, OutputLockedError, claim, output_lock
from medidenoise.convert.plan import PARTIAL_DIR
from medidenoise.convert.unit import MANIFEST
from medidenoise.io import scan_dicom


def _export(root: Path) -> dict[str, list[Path]]:
    """Three small CT series in their own folders."""
    return {name: write_ct_series(root / name, 4, size=32, number=k + 2)
            for k, name in enumerate(("A", "B", "C"))}  # fmt: skip


def _assert_outputs_whole(out: Path) -> None:
    """Every derived series folder holds its manifest and exactly the files it lists."""
    for folder in (p for p in out.rglob("*_denoised") if p.is_dir()):
        manifest = folder / MANIFEST
        assert manifest.is_file(), f"{folder} looks like a series but has no manifest"
        listed = json.loads(manifest.read_text())["files"]
        assert sorted(p.name for p in folder.glob("*.dcm")) == sorted(listed)


def _header_cut_after_series_uid(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: raw.find(b"\x20\x00\x0e\x00") + 80])  # inside the next elements


@pytest.mark.parametrize("damage", ["header", "pixels", "boundary"])
def test_a_broken_slice_fails_its_series_not_silently(
    tmp_path: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    series = _export(tmp_path / "in")
    victim = series["B"][3]  # the last slice: no gap is left to betray it
    original = victim.read_bytes()
    if damage == "header":
        _header_cut_after_series_uid(victim)
    elif damage == "pixels":
        victim.write_bytes(original[:-400])  # into the pixels (trailing elements follow them)
    else:  # cut exactly at an element boundary: a header with no Rows/Columns/Pixel Data
        ds = pydicom.dcmread(victim)
        for keyword in list(ds.dir()):
            if keyword not in ("SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID"):
                delattr(ds, keyword)
        ds.save_as(victim)
    before = hash_tree(tmp_path / "in")
    out = tmp_path / "out"
    assert main(["denoise", str(tmp_path / "in"), str(out), "--model", "identity"]) == 1
    text = capsys.readouterr().out
    assert hash_tree(tmp_path / "in") == before
    assert "result: FAILED" in text and victim.name in text and "--allow-incomplete" in text
    report = json.loads((out / "medidenoise-report.json").read_text())
    status = {Path(e["source"]).name: e["status"] for e in report["series"]}
    assert status == {"A": "converted", "B": "failed", "C": "converted"}
    assert not (out / "B").exists()  # nothing that looks like series B
    _assert_outputs_whole(out)

    # written on request, flagged INCOMPLETE everywhere a reader would look
    assert main(["denoise", str(tmp_path / "in"), str(out), "--model", "identity",
                 "--allow-incomplete"]) == 1  # fmt: skip
    report = json.loads((out / "medidenoise-report.json").read_text())
    entry = next(e for e in report["series"] if e["source"].endswith("B"))
    assert entry["status"] == "incomplete" and not report["ok"]
    folder = Path(entry["output"])
    files = sorted(folder.glob("*.dcm"))
    assert len(files) == 3
    ds = pydicom.dcmread(files[0])
    assert ds.SeriesDescription.endswith("INCOMPLETE") and "INCOMPLETE" in ds.DerivationDescription
    assert json.loads((folder / MANIFEST).read_text())["incomplete"] == [str(victim)]

    # the file repaired: the next run redoes the series whole and all is well
    victim.write_bytes(original)
    assert main(["denoise", str(tmp_path / "in"), str(out), "--model", "identity"]) == 0
    assert len(list(folder.glob("*.dcm"))) == 4
    assert "INCOMPLETE" not in pydicom.dcmread(next(folder.glob("*.dcm"))).SeriesDescription


def test_a_dry_run_reports_what_the_real_run_then_does(tmp_path: Path) -> None:
    """One decision (convert.unit.decide) for both: left alone, refused, or to be converted."""
    series = _export(tmp_path / "in")
    _header_cut_after_series_uid(series["B"][3])
    src, out = tmp_path / "in", tmp_path / "out"
    first = convert_dicom_folder(src, out, model="identity", allow_incomplete=True)
    assert [e.status for e in first.series] == ["converted", "incomplete", "converted"]
    for kwargs in ({"allow_incomplete": True}, {}, {"noise_level": 1.0}, {"overwrite": True}):
        dry = convert_dicom_folder(src, out, model="identity", dry_run=True, **kwargs)
        real = convert_dicom_folder(src, out, model="identity", **kwargs)
        for planned, done in zip(dry.series, real.series, strict=True):
            if planned.status == "planned":
                assert done.status in ("converted", "incomplete"), kwargs
            else:
                assert (planned.status, planned.reason) == (done.status, done.reason), kwargs
        statuses = [e.status for e in dry.series]
        if kwargs == {"allow_incomplete": True}:  # B as the earlier run flagged it
            assert statuses == ["complete", "incomplete", "complete"]
        elif kwargs == {"noise_level": 1.0}:  # other settings: refused, never replaced
            assert statuses == ["failed", "failed", "failed"]
        elif kwargs == {"overwrite": True}:
            assert statuses == ["planned", "failed", "planned"]


def test_a_broken_copy_of_a_readable_slice_does_not_fail_its_series(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path / "in" / "A", 3, size=32)
    copy = tmp_path / "in" / "stray" / "copy_of_first"
    copy.parent.mkdir()
    copy.write_bytes(paths[0].read_bytes()[:-1000])  # same SOPInstanceUID, truncated
    report = convert_dicom_folder(tmp_path / "in", tmp_path / "out", model="identity")
    assert [e.status for e in report.series] == ["converted"]
    assert [f.status for f in report.files] == ["unreadable"]  # still reported: exit 1
    assert not report.ok


def test_malformed_files_never_stop_the_scan_or_the_batch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _export(tmp_path / "in")
    odd = tmp_path / "in" / "odd"
    odd.mkdir()
    (odd / "badVR.dcm").write_bytes(data_file("badVR.dcm").read_bytes())
    unknown = write_ct_series(odd / "vr", 1, size=32, number=9)[0]
    raw = unknown.read_bytes()
    at = raw.find(b"\x08\x00\x3e\x10LO")  # SeriesDescription: an unknown VR "ZZ"
    unknown.write_bytes(raw[: at + 4] + b"ZZ" + raw[at + 6 :])
    before = hash_tree(tmp_path / "in")

    assert main(["series", str(tmp_path / "in")]) == 1  # listed, no traceback
    text = capsys.readouterr().out
    assert "badVR.dcm" in text and "Unknown Value Representation" in text
    assert text.count("#") >= 3  # the three good series are still listed

    assert (
        main(["denoise", str(tmp_path / "in"), str(tmp_path / "out"), "--model", "identity"]) == 1
    )
    report = json.loads((tmp_path / "out" / "medidenoise-report.json").read_text())
    status = {Path(e["source"]).name: e["status"] for e in report["series"]}
    assert [status[k] for k in "ABC"] == ["converted"] * 3
    unreadable = {Path(f["path"]).name for f in report["files"] if f["status"] == "unreadable"}
    assert {"badVR.dcm", unknown.name} <= unreadable
    assert hash_tree(tmp_path / "in") == before


def test_a_second_run_into_the_same_output_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _export(tmp_path / "in")
    out = tmp_path / "out"
    with output_lock(out / LOCK_NAME):  # a first run is writing
        assert (out / LOCK_NAME).read_text().startswith(f"pid {os.getpid()}")
        code = main(["denoise", str(tmp_path / "in"), str(out), "--model", "identity"])
        with pytest.raises(OutputLockedError, match="another medidenoise conversion"):
            convert_dicom_folder(tmp_path / "in", out, model="identity")
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # the refused run wrote nothing
        assert (out / LOCK_NAME).read_text().startswith(f"pid {os.getpid()}")  # not taken over
    assert code == 3
    assert "another medidenoise conversion is writing into this OUTPUT" in capsys.readouterr().err
    # the first run over: the lock is gone and the next run works
    assert main(["denoise", str(tmp_path / "in"), str(out), "--model", "identity"]) == 0
    assert not (out / LOCK_NAME).exists()
    # a dry run needs no lock
    with output_lock(out / LOCK_NAME):
        assert convert_dicom_folder(tmp_path / "in", out, model="identity", dry_run=True).ok


def test_a_series_claimed_by_another_process_is_left_to_it(tmp_path: Path) -> None:
    _export(tmp_path / "in")
    out = tmp_path / "out"
    plan_b = convert_dicom_folder(tmp_path / "in", out, model="identity", dry_run=True)
    b = next(e for e in plan_b.series if e.source.endswith("B"))
    from medidenoise.convert.plan import plan

    unit = next(u for u in plan(tmp_path / "in", None).units if str(u.source).endswith("B"))
    with claim(out / PARTIAL_DIR / f"{unit.key}.claim") as mine:
        assert mine
        with claim(out / PARTIAL_DIR / f"{unit.key}.claim") as again:
            assert not again  # one holder at a time, even within a process
        report = convert_dicom_folder(tmp_path / "in", out, model="identity", jobs=1)
    status = {Path(e.source).name: (e.status, e.reason) for e in report.series}
    assert status["B"][0] == "failed" and "being written by another process" in status["B"][1]
    assert status["A"][0] == status["C"][0] == "converted"
    assert not Path(b.output).exists()
    assert not report.ok


_RUN = """
import sys
from medidenoise.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [sys.executable, "-c", _RUN, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


_RUN_ON_SIGNAL = """
import pathlib, sys, time
import medidenoise.convert, medidenoise.inference
from medidenoise.cli import main
go = pathlib.Path(sys.argv[1])
while not go.exists():
    time.sleep(0.01)
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_a_second_process_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    for k in range(3):
        write_ct_series(tmp_path / "in" / f"S{k}", 6, size=128, number=k + 2)
    before = hash_tree(tmp_path / "in")
    out, go = tmp_path / "out", tmp_path / "go"
    args = ["denoise", str(tmp_path / "in"), str(out), "--model", "identity"]
    second = subprocess.Popen(  # imported and waiting, so that it starts at once
        [sys.executable, "-c", _RUN_ON_SIGNAL, str(go), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = _start(["denoise", str(tmp_path / "in"), str(out), "--model", "nlm"])
    deadline = time.monotonic() + 120
    while not any((out / PARTIAL_DIR).glob("*.claim")) and time.monotonic() < deadline:
        time.sleep(0.01)  # the first run holds the lock and is converting a series
    # paused while it holds the lock, so that the second runs inside the first however fast
    # this machine converts the three small series
    first.send_signal(signal.SIGSTOP)
    try:
        go.touch()
        code, err = second.wait(timeout=120), second.stderr.read()  # type: ignore[union-attr]
        assert first.poll() is None, "the first run ended before the second started: no overlap"
    finally:
        first.send_signal(signal.SIGCONT)
    assert code == 3, err[-3000:]
    assert f"pid {first.pid}" in err
    assert first.wait(timeout=300) == 0, first.stderr.read()  # type: ignore[union-attr]
    report = json.loads((out / "medidenoise-report.json").read_text())
    assert report["ok"] and "nlm" in report["settings"]["model"]  # the first run's report
    for entry in report["series"]:
        assert entry["status"] == "converted" and (Path(entry["output"]) / MANIFEST).is_file()
    _assert_outputs_whole(out)
    assert hash_tree(tmp_path / "in") == before


@pytest.mark.slow
def test_a_run_killed_mid_series_leaves_nothing_that_looks_complete(tmp_path: Path) -> None:
    for k in range(3):
        write_ct_series(tmp_path / "in" / f"S{k}", 8, size=128, number=k + 2)
    before = hash_tree(tmp_path / "in")
    out = tmp_path / "out"
    run = _start(["denoise", str(tmp_path / "in"), str(out), "--model", "nlm"])
    deadline = time.monotonic() + 120
    while not any((out / PARTIAL_DIR).glob("*/series")) and time.monotonic() < deadline:
        time.sleep(0.01)
    # a series is being written: kill it there (a longer wait let a fast machine finish all three)
    time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    assert hash_tree(tmp_path / "in") == before
    _assert_outputs_whole(out)
    assert not (out / "medidenoise-report.json").exists()  # it died before reporting
    # the lock died with it: the next run goes ahead, finishes the job and says so
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = convert_dicom_folder(tmp_path / "in", out, model="nlm")
    assert report.ok and len(report.series) == 3
    _assert_outputs_whole(out)
    assert not (out / PARTIAL_DIR).exists()
    assert all(len(scan_dicom(Path(e.output)).series) == 1 for e in report.series)


class _Amplify(torch.nn.Module):
    """A 'network' whose output leaves the stored range: its clipping must be reported."""

    context_slices = 1
    noise_level_input = True
    size_multiple = 1
    metadata: ClassVar[dict] = {"name": "amplify"}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1] * 100.0


def test_clipping_names_the_source_series_and_is_in_the_report(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_ct_series(tmp_path / "in" / "A", 2, size=32)
    with caplog.at_level(logging.INFO, logger="medidenoise.io.dicom._writer"):
        report = convert_dicom_folder(
            tmp_path / "in", tmp_path / "out", model=_Amplify(), noise_level=10.0
        )
    (entry,) = report.series
    assert entry.status == "converted"
    notes = [n for n in entry.notes if "clipped" in n]
    assert len(notes) == 1 and " of 2048 denoised pixel values" in notes[0]
    logged = [r.getMessage() for r in caplog.records if "clipped" in r.getMessage()]
    assert logged and str(tmp_path / "in" / "A") in logged[0]
    assert logged[0].split(":")[0] == str(tmp_path / "in" / "A")  # the source, not the work folder
    saved = json.loads((tmp_path / "out" / "medidenoise-report.json").read_text())
    assert saved["series"][0]["notes"] == entry.notes


def test_an_unreadable_file_of_unknown_series_is_noted_on_the_series_beside_it(
    tmp_path: Path,
) -> None:
    paths = write_ct_series(tmp_path / "in" / "A", 3, size=32)
    write_ct_series(tmp_path / "in" / "B", 2, size=32, number=5)
    stray = tmp_path / "in" / "A" / "cut"
    stray.write_bytes(paths[0].read_bytes()[:200])  # cut inside its file meta: no UIDs left
    report = convert_dicom_folder(tmp_path / "in", tmp_path / "out", model="identity")
    by_name = {Path(e.source).name: e for e in report.series}
    assert by_name["A"].status == by_name["B"].status == "converted"
    assert any(str(stray) in n and "series cannot be told" in n for n in by_name["A"].notes)
    assert not any(str(stray) in n for n in by_name["B"].notes)
    assert not report.ok  # the unreadable file alone makes the exit code 1
    assert (
        main(["denoise", str(tmp_path / "in"), str(tmp_path / "out"), "--model", "identity"]) == 1
    )
