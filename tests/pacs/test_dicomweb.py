"""Conversion through DICOMweb against a real Orthanc (no mock)."""

from __future__ import annotations

import logging
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import requests
from orthanc_server import Orthanc, require_orthanc, self_signed_certificate
from pydicom import dcmread

from medidenoise.cli import main
from medidenoise.convert import derivation_description
from medidenoise.pacs import PacsUnreachableError, convert_dicomweb, derived_series_uid


def _study_url(server: Orthanc, ct: list[Path]) -> tuple[str, str, str]:
    first = dcmread(ct[0], stop_before_pixels=True)
    study, series = str(first.StudyInstanceUID), str(first.SeriesInstanceUID)
    return f"{server.dicomweb}/studies/{study}", study, series


def _by_source(files: list[bytes]) -> dict[str, object]:
    out = {}
    for data in files:
        ds = dcmread(BytesIO(data))
        out[ds.SourceImageSequence[0].ReferencedSOPInstanceUID] = ds
    return out


def test_dicomweb_to_dicomweb_identity_is_exact(orthanc: Orthanc, ct: list[Path], capsys) -> None:
    orthanc.upload(ct)
    url, study, series = _study_url(orthanc, ct)
    code = main(["denoise", url, orthanc.dicomweb, "--model", "identity", "--device", "cpu"])
    assert code == 0, capsys.readouterr()
    derived = derived_series_uid(series, derivation_description("identity"))
    assert sorted(orthanc.series_uids()) == sorted([series, derived])
    stored = _by_source(orthanc.instance_files(derived))
    sources = {dcmread(p).SOPInstanceUID: dcmread(p) for p in ct}
    assert set(stored) == set(sources)  # one derived instance per source, UID by UID
    sops = set()
    for sop, src in sources.items():
        out = stored[sop]
        assert out.SeriesInstanceUID == derived
        assert out.StudyInstanceUID == study
        assert out.FrameOfReferenceUID == src.FrameOfReferenceUID
        assert out.SOPInstanceUID not in sources
        assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
        assert out.ImageType[0] == "DERIVED"
        assert out.ImagePositionPatient == src.ImagePositionPatient
        np.testing.assert_array_equal(out.pixel_array, src.pixel_array)  # pixel for pixel
        sops.add(out.SOPInstanceUID)
    assert len(sops) == len(ct)

    # a re-run finds the derived series on the server and retrieves nothing
    code = main(["denoise", url, orthanc.dicomweb, "--model", "identity", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0
    assert "1 already complete" in out and "0 converted" in out, out
    assert len(orthanc.instance_files(derived)) == len(ct)


def test_dicomweb_series_to_folder_and_folder_to_dicomweb(
    orthanc: Orthanc, ct: list[Path], tmp_path: Path
) -> None:
    orthanc.upload(ct)
    url, study, series = _study_url(orthanc, ct)
    report = convert_dicomweb(
        f"{url}/series/{series}", tmp_path / "out", model="identity", device="cpu"
    )
    assert report.ok and [e.status for e in report.series] == ["converted"]
    assert report.series[0].source == f"{url}/series/{series}"
    written = sorted((tmp_path / "out").rglob("*.dcm"))
    assert len(written) == len(ct)
    assert (tmp_path / "out" / "medidenoise-report.json").read_text().count(url) >= 1

    # the folder just written goes back to the server (a folder INPUT, a DICOMweb OUTPUT)
    report = convert_dicomweb(tmp_path / "ct", orthanc.dicomweb, model="identity", device="cpu")
    assert report.ok, report.summary()
    assert report.series[0].output.startswith(f"{orthanc.dicomweb}/studies/{study}/series/")
    assert len(orthanc.series_uids()) == 2


def test_server_down_is_a_clear_error(ct: list[Path], tmp_path: Path, capsys) -> None:
    from orthanc_server import free_port

    dead = f"http://127.0.0.1:{free_port()}/dicom-web"
    code = main(["denoise", str(tmp_path / "ct"), dead, "--model", "identity"])
    err = capsys.readouterr().err
    assert code == 4
    assert "cannot reach the DICOMweb server" in err and dead in err
    with pytest.raises(PacsUnreachableError):
        convert_dicomweb(f"{dead}/studies/1.2.3", tmp_path / "out", model="identity")
    assert not (tmp_path / "out").exists()  # nothing written, nothing marked done


def test_credentials_in_the_url_are_refused(tmp_path: Path, capsys) -> None:
    code = main(["denoise", "http://user:secret@127.0.0.1:1/dicom-web/studies/1.2", "out"])
    err = capsys.readouterr().err
    assert code == 2 and "secret" not in err and "netrc" in err


def test_credentials_come_from_the_environment(monkeypatch) -> None:
    from medidenoise.pacs.dicomweb import DicomWebClient

    monkeypatch.setenv("MEDIDENOISE_DICOMWEB_USER", "alice")
    monkeypatch.setenv("MEDIDENOISE_DICOMWEB_PASSWORD", "pw")
    client = DicomWebClient("https://pacs.example/dicom-web")
    assert client.session.auth == ("alice", "pw")
    assert client.session.verify is True
    prepared = client.session.prepare_request(requests.Request("GET", client.base))
    assert prepared.headers["Authorization"].startswith("Basic ")


def test_credentials_from_netrc_or_the_environment_never_logged(
    ct: list[Path], tmp_path: Path, monkeypatch, capsys, caplog
) -> None:
    require_orthanc()
    secret = "s3cret-pw"
    server = Orthanc(tmp_path / "secure", users={"alice": secret}).start()
    try:
        server.upload(ct)
        url, _, _ = _study_url(server, ct)
        argv = ["-v", "denoise", url, server.dicomweb, "--model", "identity", "--device", "cpu",
                "--work", str(tmp_path / "work")]  # fmt: skip
        for name in ("TOKEN", "USER", "PASSWORD"):
            monkeypatch.delenv(f"MEDIDENOISE_DICOMWEB_{name}", raising=False)
        empty = tmp_path / "empty.netrc"
        empty.write_text("")
        monkeypatch.setenv("NETRC", str(empty))
        caplog.set_level(logging.DEBUG)
        assert main(argv) == 2  # no credentials: refused, and said so
        seen = capsys.readouterr()
        assert "refused the credentials (HTTP 401)" in seen.err and "netrc" in seen.err

        netrc = tmp_path / "netrc"
        netrc.write_text(f"machine 127.0.0.1 login alice password {secret}\n")
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))
        assert main(argv) == 0
        out = capsys.readouterr()
        assert "1 converted" in out.out, out

        monkeypatch.setenv("NETRC", str(empty))  # the environment instead, on a re-run
        monkeypatch.setenv("MEDIDENOISE_DICOMWEB_USER", "alice")
        monkeypatch.setenv("MEDIDENOISE_DICOMWEB_PASSWORD", secret)
        assert main(argv) == 0
        again = capsys.readouterr()
        assert "1 already complete" in again.out
        written = "".join(
            p.read_text(errors="replace") for p in (tmp_path / "work").rglob("*.json")
        )
        for text in (
            seen.out,
            seen.err,
            out.out,
            out.err,
            again.out,
            again.err,
            caplog.text,
            written,
        ):
            assert secret not in text
    finally:
        server.stop(graceful=False)


def test_https_certificates_are_checked(
    orthanc: Orthanc, ct: list[Path], tmp_path: Path, monkeypatch, capsys
) -> None:
    from tls_proxy import TlsProxy

    pem = self_signed_certificate(tmp_path / "tls")
    proxy = TlsProxy(orthanc.url, pem)
    try:
        orthanc.upload(ct)
        _, study, series = _study_url(orthanc, ct)
        web = f"{proxy.url}/dicom-web"
        argv = ["denoise", f"{web}/studies/{study}", web, "--model", "identity", "--device", "cpu"]
        for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            monkeypatch.delenv(name, raising=False)
        assert main(argv) == 4  # a certificate no known authority vouches for: never ignored
        err = capsys.readouterr().err
        assert "certificate could not be verified" in err and "REQUESTS_CA_BUNDLE" in err
        assert orthanc.series_uids() == [series]  # nothing stored

        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pem))  # the private authority, named
        assert main(argv) == 0, capsys.readouterr()
        assert len(orthanc.series_uids()) == 2
    finally:
        proxy.stop()


def test_a_series_the_server_holds_only_in_part_is_stored_again(
    orthanc: Orthanc, ct: list[Path]
) -> None:
    orthanc.upload(ct)
    url, _, series = _study_url(orthanc, ct)
    derived = derived_series_uid(series, derivation_description("identity"))
    assert convert_dicomweb(url, orthanc.dicomweb, model="identity", device="cpu").ok
    found = requests.post(f"{orthanc.url}/tools/lookup", data=derived, timeout=30).json()
    (series_id,) = [f["ID"] for f in found if f["Type"] == "Series"]
    first = requests.get(f"{orthanc.url}/series/{series_id}/instances", timeout=30).json()[0]
    requests.delete(f"{orthanc.url}/instances/{first['ID']}", timeout=30).raise_for_status()
    assert len(orthanc.instance_files(derived)) == len(ct) - 1  # an interrupted store, say

    report = convert_dicomweb(url, orthanc.dicomweb, model="identity", device="cpu")
    assert report.ok and [e.status for e in report.series] == ["converted"]
    assert len(orthanc.instance_files(derived)) == len(ct)  # whole again, same UIDs
    assert sorted(orthanc.series_uids()) == sorted([series, derived])


def test_multipart_answers_are_split_on_disk(tmp_path: Path) -> None:
    from medidenoise.pacs.dicomweb import PacsError, _split_multipart

    parts = [b"DICM\r\n--notit\r\n" + bytes(range(256)) * 3, b"", b"\r\n\r\nend"]
    body = b"preamble\r\n" + b"".join(
        b"--b0undary\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n" for p in parts
    )
    raw = tmp_path / "raw"
    raw.write_bytes(body + b"--b0undary--\r\n")
    ctype = 'multipart/related; type="application/dicom"; boundary="b0undary"'
    paths = _split_multipart(ctype, raw, tmp_path)
    assert [p.read_bytes() for p in paths] == parts
    raw.write_bytes(body[:-40])  # cut inside the last part
    with pytest.raises(PacsError, match="ends inside part 3"):
        _split_multipart(ctype, raw, tmp_path)
    with pytest.raises(PacsError, match="multipart"):
        _split_multipart("application/dicom", raw, tmp_path)


def test_a_dask_scheduler_is_refused_with_a_server(tmp_path: Path, capsys) -> None:
    url = "http://127.0.0.1:1/dicom-web"
    code = main(["denoise", str(tmp_path), url, "--scheduler", "local:1"])
    assert code == 2 and "--scheduler" in capsys.readouterr().err
