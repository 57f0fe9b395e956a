"""Start a real Orthanc (the Debian ``orthanc`` + ``orthanc-dicomweb`` packages) for a test.

Each instance gets free loopback ports, its own configuration file and storage folder under
a temporary folder, and is stopped (and its storage dropped) when the test ends. Never the
system service. A missing Orthanc skips the test, or fails it under
``MEDIDENOISE_REQUIRE_TOOLS=1`` (as CI runs: ``scripts/install-system-deps.sh`` installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ORTHANC_CANDIDATES = ("/usr/sbin/Orthanc", "/usr/bin/Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
INSTALL = "apt-get install orthanc orthanc-dicomweb (or: make system-deps)"


def orthanc_binary() -> str | None:
    """The Orthanc server program, or None when it is not installed."""
    found = shutil.which("Orthanc")
    if found:
        return found
    return next((p for p in ORTHANC_CANDIDATES if Path(p).is_file()), None)


def missing() -> str:
    """Why Orthanc cannot run here ("" when it can)."""
    if orthanc_binary() is None:
        return f"Orthanc is not installed ({INSTALL})"
    if not DICOMWEB_PLUGIN.is_file():
        return f"Orthanc's DICOMweb plugin {DICOMWEB_PLUGIN} is not installed ({INSTALL})"
    return ""


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Orthanc:
    """One running Orthanc: its REST root, DICOMweb root and DICOM address."""

    folder: Path
    http_port: int = field(default_factory=free_port)
    dicom_port: int = field(default_factory=free_port)
    aet: str = "ORTHANC"
    users: dict[str, str] = field(default_factory=dict)  # HTTP basic authentication when given
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def _auth(self) -> tuple[str, str] | None:
        return next(iter(self.users.items()), None)

    def _get(self, path: str) -> requests.Response:
        r = requests.get(f"{self.url}{path}", auth=self._auth, timeout=30)
        r.raise_for_status()
        return r

    def _post(self, path: str, data: bytes) -> requests.Response:
        r = requests.post(f"{self.url}{path}", data=data, auth=self._auth, timeout=30)
        r.raise_for_status()
        return r

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    def start(self, timeout: float = 30.0) -> Orthanc:
        binary = orthanc_binary()
        assert binary is not None, missing()
        self.folder.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": "medidenoise-test",
            "StorageDirectory": str(self.folder / "db"),
            "IndexDirectory": str(self.folder / "db"),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": self.aet,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": bool(self.users),
            "RegisteredUsers": self.users,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowEcho": True,
            "DicomCheckCalledAet": True,
            "DicomModalities": {},
            "HttpServerThreads": 4,
            "StableAge": 1,
            "Plugins": [str(DICOMWEB_PLUGIN)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        }
        cfg = self.folder / "orthanc.json"
        cfg.write_text(json.dumps(config), encoding="utf-8")
        with (self.folder / "orthanc.log").open("ab") as log:
            self.process = subprocess.Popen(
                [binary, str(cfg)], stdout=log, stderr=subprocess.STDOUT
            )
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.process.poll() is not None:
                text = (self.folder / "orthanc.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"Orthanc exited at start:\n{text}")
            try:
                if self._get("/system").ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer on {self.url} within {timeout} s")

    def stop(self, *, graceful: bool = True) -> None:
        """Stop the server: SIGTERM (its storage stays usable for a restart) or, when not
        ``graceful``, SIGKILL (quicker; for the end of a test, whose storage is dropped)."""
        if self.process is not None and self.process.poll() is None:
            if not graceful:
                self.process.kill()
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    # --- REST helpers ---------------------------------------------------------------------

    def upload(self, paths: list[Path]) -> None:
        """Store files through Orthanc's REST API (POST /instances)."""
        for path in paths:
            self._post("/instances", path.read_bytes())

    def series_uids(self) -> list[str]:
        """SeriesInstanceUID of every series Orthanc holds."""
        ids = self._get("/series").json()
        return [self._get(f"/series/{i}").json()["MainDicomTags"]["SeriesInstanceUID"] for i in ids]

    def instance_files(self, series_uid: str) -> list[bytes]:
        """The DICOM files of one series, as Orthanc returns them."""
        found = self._post("/tools/lookup", series_uid.encode()).json()
        series = [f["ID"] for f in found if f["Type"] == "Series"]
        assert series, f"Orthanc holds no series {series_uid}"
        out = []
        for inst in self._get(f"/series/{series[0]}/instances").json():
            out.append(self._get(f"/instances/{inst['ID']}/file").content)
        return out


def require_orthanc() -> None:
    """Skip (or, under MEDIDENOISE_REQUIRE_TOOLS=1, fail) when Orthanc cannot run."""
    why = missing()
    if why:
        require_tool_or_skip(why)


def require_tool_or_skip(why: str) -> None:
    """Skip the test, or fail it under MEDIDENOISE_REQUIRE_TOOLS=1 (as CI runs)."""
    import pytest

    if os.environ.get("MEDIDENOISE_REQUIRE_TOOLS") == "1":
        pytest.fail(why)
    pytest.skip(why)


def self_signed_certificate(folder: Path) -> Path:
    """A PEM (certificate, then key) for 127.0.0.1, made by the openssl program."""
    if shutil.which("openssl") is None:
        require_tool_or_skip("the openssl program is not installed (apt-get install openssl)")
    folder.mkdir(parents=True, exist_ok=True)
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    both = folder / "orthanc.pem"
    both.write_bytes(cert.read_bytes() + key.read_bytes())
    return both
