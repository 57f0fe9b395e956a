"""``medidenoise serve``, the DICOM node, against a real Orthanc as its destination (no mock)."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from dicom_peer import echo, push, running_node, wait_for
from factories import make_series, write_sr
from orthanc_server import Orthanc, free_port
from pydicom import dcmread

from medidenoise.convert import derivation_description
from medidenoise.pacs import NodeOptions, derived_series_uid
from medidenoise.pacs.send import parse_destination

IDENTITY = {"model": "identity", "device": "cpu"}


def _options(tmp_path: Path, orthanc: Orthanc | None = None, **kw: object) -> NodeOptions:
    where: dict[str, object] = {"output": tmp_path / "out"}
    if orthanc is not None:
        where = {"destination": parse_destination(f"{orthanc.aet}@127.0.0.1:{orthanc.dicom_port}")}
    return NodeOptions(
        port=free_port(),
        ae_title="DENOISE",
        work=tmp_path / "work",
        settle=0.3,
        retry=0.3,
        convert=IDENTITY,
        **where,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def _derived(series_uid: str) -> str:
    return derived_series_uid(series_uid, derivation_description("identity"))


def test_serve_forwards_every_series_of_a_pushed_study(
    orthanc: Orthanc, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    study = "1.2.826.0.1.3680043.8.498.1"
    ct = make_series(tmp_path / "a", 4, shape=(32, 32), study_uid=study)
    ct2 = make_series(tmp_path / "b", 3, shape=(32, 32), study_uid=study, series_number=4)
    options = _options(tmp_path, orthanc)
    caplog.set_level(logging.INFO)
    with running_node(options) as node:
        assert echo(options.port) == 0x0000
        assert push([*ct, *ct2], options.port) == [0x0000] * 7
        wait_for(lambda: node.delivered == 2, what="two derived series delivered")
    series = [str(dcmread(p[0]).SeriesInstanceUID) for p in (ct, ct2)]
    assert sorted(orthanc.series_uids()) == sorted(_derived(s) for s in series)
    stored = {dcmread(BytesIO(b)).SourceImageSequence[0].ReferencedSOPInstanceUID: b
              for b in orthanc.instance_files(_derived(series[0]))}  # fmt: skip
    assert len(stored) == 4
    for path in ct:  # pixel for pixel, UID by UID
        src = dcmread(path)
        out = dcmread(BytesIO(stored[src.SOPInstanceUID]))
        assert out.SeriesInstanceUID == _derived(src.SeriesInstanceUID)
        assert out.StudyInstanceUID == study and out.SOPInstanceUID != src.SOPInstanceUID
        assert out.ImageType[0] == "DERIVED"
        np.testing.assert_array_equal(out.pixel_array, src.pixel_array)
    assert len(orthanc.instance_files(_derived(series[1]))) == 3
    assert not list((tmp_path / "work" / "batches").iterdir())  # all delivered: nothing pending
    text = caplog.text
    assert "Synthetic" not in text and "SYN001" not in text  # no patient data in the log


def test_non_images_are_refused_and_callers_outside_allow_too(tmp_path: Path) -> None:
    options = _options(tmp_path, allow=("MODALITY",))
    sr = write_sr(tmp_path / "sr.dcm")
    ct = make_series(tmp_path / "ct", 2, shape=(16, 16))
    with running_node(options):
        assert push([sr], options.port) == [0x0122]  # SOP class not supported
        assert echo(options.port, calling="INTRUDER") is None  # association rejected
        assert push(ct, options.port, calling="INTRUDER") is None
        assert echo(options.port, called="SOMEONE") is None  # not our AE title
    assert not list((tmp_path / "work").rglob("*.dcm"))  # nothing kept from any of them


def test_serve_writes_to_a_folder(tmp_path: Path) -> None:
    options = _options(tmp_path)
    ct = make_series(tmp_path / "ct", 3, shape=(16, 16))
    with running_node(options) as node:
        assert push(ct, options.port) == [0] * 3
        wait_for(lambda: node.delivered == 1, what="the derived series written")
    written = sorted((tmp_path / "out").rglob("*.dcm"))
    assert len(written) == 3
    uid = _derived(str(dcmread(ct[0]).SeriesInstanceUID))
    assert {str(dcmread(p).SeriesInstanceUID) for p in written} == {uid}


def test_destination_down_keeps_the_series_until_it_is_back(
    orthanc: Orthanc, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    orthanc.stop()
    options = _options(tmp_path, orthanc)
    ct = make_series(tmp_path / "ct", 3, shape=(16, 16))
    caplog.set_level(logging.INFO)
    with running_node(options) as node:
        assert push(ct, options.port) == [0] * 3
        wait_for(lambda: "no association" in caplog.text, what="the failed delivery logged")
        batches = list((tmp_path / "work" / "batches").iterdir())
        assert len(batches) == 1 and node.delivered == 0  # pending, nothing marked sent
        assert not (batches[0] / "sent.txt").exists()
        assert f"ORTHANC@127.0.0.1:{orthanc.dicom_port}" in caplog.text
        orthanc.start()
        wait_for(lambda: node.delivered == 1, what="delivery once the destination is back")
    assert orthanc.series_uids() == [_derived(str(dcmread(ct[0]).SeriesInstanceUID))]
    assert not list((tmp_path / "work" / "batches").iterdir())


def _serve(options: NodeOptions, orthanc: Orthanc, log: Path) -> subprocess.Popen:
    """``medidenoise serve`` as its own process (logging to ``log``), once it answers C-ECHO."""
    argv = [sys.executable, "-m", "medidenoise", "serve", "--port", str(options.port),
            "--ae-title", options.ae_title, "--work", str(options.work),
            "--destination", f"{orthanc.aet}@127.0.0.1:{orthanc.dicom_port}",
            "--settle", "1", "--model", "identity", "--device", "cpu"]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: process.poll() is not None or echo(options.port) == 0, 90, "serve")
    except BaseException:
        process.kill()
        raise
    assert process.poll() is None, log.read_text()
    return process


def test_serve_killed_mid_series_resumes_and_sends_it_once(
    orthanc: Orthanc, tmp_path: Path
) -> None:
    options = _options(tmp_path, orthanc)
    ct = make_series(tmp_path / "ct", 4, shape=(32, 32))
    derived = _derived(str(dcmread(ct[0]).SeriesInstanceUID))
    log = tmp_path / "serve.log"
    first = _serve(options, orthanc, log)
    try:
        assert push(ct[:2], options.port) == [0, 0]  # acknowledged: on disk already
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert len(list((options.work / "incoming").rglob("*.dcm"))) == 2
    second = _serve(options, orthanc, log)
    try:
        assert push(ct[2:], options.port) == [0, 0]
        wait_for(lambda: derived in orthanc.series_uids(), 90, "the derived series")
        wait_for(lambda: not list((options.work / "batches").iterdir()), 30, "delivery")
        second.send_signal(signal.SIGTERM)  # graceful stop
        assert second.wait(timeout=30) == 0
    finally:
        if second.poll() is None:
            second.kill()
    text = log.read_text()
    assert orthanc.series_uids() == [derived]
    assert len(orthanc.instance_files(derived)) == 4  # the whole series, in one piece
    assert text.count(f"series {derived}: 4 instance(s) sent") == 1, text  # sent once
    assert "Synthetic" not in text and "SYN001" not in text  # no patient data in the log


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--destination", "PACS-at-host"], "expected AET@HOST:PORT"),
        (["--destination", "A@h:104", "--allow", "TOO-LONG-AN-AE-TITLE"], "--allow"),
        (["--output", "out", "--settle", "-1"], "--settle"),
    ],
)
def test_serve_refuses_bad_arguments(args: list[str], message: str, capsys, tmp_path) -> None:
    from medidenoise.cli import main

    argv = ["serve", "--port", str(free_port()), "--ae-title", "DENOISE"]
    assert main([*argv, "--work", str(tmp_path / "w"), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_delivery_cut_short_resumes_with_what_was_not_acknowledged(
    orthanc: Orthanc, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from medidenoise.pacs.send import send_files
    from medidenoise.pacs.spool import Spool

    orthanc.stop()  # converted, then nothing delivered
    options = _options(tmp_path, orthanc)
    ct = make_series(tmp_path / "ct", 4, shape=(16, 16))
    caplog.set_level(logging.INFO)
    with running_node(options) as node:
        assert push(ct, options.port) == [0] * 4
        wait_for(lambda: "no association" in caplog.text, what="a failed delivery")
        assert node.delivered == 0
    (batch,) = Spool(options.work).pending()
    derived = sorted((batch / "out").rglob("*.dcm"))
    assert len(derived) == 4
    # what a node killed in the middle of sending leaves: two instances stored and recorded
    orthanc.start()
    half = [str(dcmread(p).SOPInstanceUID) for p in derived[:2]]
    destination = parse_destination(f"{orthanc.aet}@127.0.0.1:{orthanc.dicom_port}")
    assert send_files(derived[:2], destination, calling_aet="DENOISE") == 2
    for uid in half:
        Spool(options.work).mark_sent(batch, uid)

    caplog.clear()
    with running_node(options) as node:
        wait_for(lambda: node.delivered == 1, what="the rest delivered")
    uid = _derived(str(dcmread(ct[0]).SeriesInstanceUID))
    assert f"series {uid}: 2 instance(s) sent" in caplog.text  # only those not acknowledged
    assert len(orthanc.instance_files(uid)) == 4
    assert not Spool(options.work).pending()
