"""A small DICOMweb client: QIDO-RS (search), WADO-RS (retrieve) and STOW-RS (store).

Only what conversion needs, over ``requests``. Credentials never come from the
command line: a URL with ``user:password@`` is refused. They come from the
environment (``MEDIDENOISE_DICOMWEB_TOKEN`` for a bearer token, or
``MEDIDENOISE_DICOMWEB_USER`` and ``MEDIDENOISE_DICOMWEB_PASSWORD``) or, failing
those, from ``~/.netrc`` (``$NETRC``), which ``requests`` reads for the URL's
host. HTTPS certificates are always checked (``REQUESTS_CA_BUNDLE`` names a
private certificate authority). Nothing logged holds a credential.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from medidenoise.pacs.errors import PacsError, PacsUnreachableError

__all__ = ["DicomWebClient", "RemoteSeries", "WebLocation", "is_url", "parse_url"]

log = logging.getLogger(__name__)

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_TIMEOUT = (10.0, 300.0)  # connect, read (seconds)
_STOW_BYTES = 64 * 2**20  # one STOW-RS request carries at most about this much
_CHUNK = 2**20  # bytes read at a time from a WADO-RS answer


def is_url(text: str | os.PathLike) -> bool:
    """True when ``text`` is an http(s) URL rather than a path."""
    return isinstance(text, str) and text.lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class WebLocation:
    """A DICOMweb service root and, optionally, one study or one series in it."""

    base: str
    study_uid: str = ""
    series_uid: str = ""

    def series_url(self, study_uid: str, series_uid: str) -> str:
        """The WADO-RS URL of one series of this service."""
        return f"{self.base}/studies/{study_uid}/series/{series_uid}"

    def __str__(self) -> str:
        text = self.base
        if self.study_uid:
            text += f"/studies/{self.study_uid}"
        if self.series_uid:
            text += f"/series/{self.series_uid}"
        return text


def parse_url(url: str, *, what: str = "URL") -> WebLocation:
    """Split a DICOMweb URL into its service root, study and series.

    ``http://host:8042/dicom-web`` (a root: an OUTPUT), ``.../studies/UID`` or
    ``.../studies/UID/series/UID`` (an INPUT).

    Raises
    ------
    ValueError
        Not http(s), credentials in the URL, or a malformed UID.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} {url!r}: not an http(s) URL of a DICOMweb service")
    if parts.username or parts.password:
        raise ValueError(
            f"{what}: the URL holds credentials (user:password@), which would show in the shell "
            "history and the process list; remove them and put them in ~/.netrc or in "
            "MEDIDENOISE_DICOMWEB_USER / MEDIDENOISE_DICOMWEB_PASSWORD (or "
            "MEDIDENOISE_DICOMWEB_TOKEN)"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{what} {url!r}: a DICOMweb URL takes no query (?...) nor fragment")
    path = parts.path.rstrip("/")
    match = re.match(r"^(.*?)/studies/([^/]+)(?:/series/([^/]+))?$", path)
    if match is None and "/studies" in path:
        raise ValueError(
            f"{what} {url!r}: expected .../studies/<StudyUID>[/series/<SeriesUID>] or a "
            "DICOMweb root such as http://host:8042/dicom-web"
        )
    root, study, series = match.groups(default="") if match else (path, "", "")
    for uid in (study, series):
        if uid and not _UID.match(uid):
            raise ValueError(f"{what} {url!r}: {uid!r} is not a DICOM UID (digits and dots)")
    base = f"{parts.scheme}://{parts.netloc}{root}"
    return WebLocation(base, study, series)


@dataclass(frozen=True)
class RemoteSeries:
    """One series as a QIDO-RS search describes it."""

    study_uid: str
    series_uid: str
    instances: int
    modality: str = ""
    description: str = ""


def _value(item: dict[str, Any], tag: str, default: Any = "") -> Any:
    values = (item.get(tag) or {}).get("Value") or []
    return values[0] if values else default


class DicomWebClient:
    """QIDO/WADO/STOW against one DICOMweb service root.

    Parameters
    ----------
    base : str
        The service root, e.g. ``http://localhost:8042/dicom-web``.
    """

    def __init__(self, base: str) -> None:
        import requests

        self.base = base.rstrip("/")
        self._requests = requests
        self.session = requests.Session()  # trust_env: netrc, proxies, REQUESTS_CA_BUNDLE
        self.session.verify = True
        token = os.environ.get("MEDIDENOISE_DICOMWEB_TOKEN")
        user = os.environ.get("MEDIDENOISE_DICOMWEB_USER")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        elif user:
            self.session.auth = (user, os.environ.get("MEDIDENOISE_DICOMWEB_PASSWORD", ""))

    def close(self) -> None:
        """Close the HTTP connections."""
        self.session.close()

    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            response = self.session.request(method, url, timeout=_TIMEOUT, **kwargs)
        except self._requests.exceptions.SSLError as exc:
            raise PacsUnreachableError(
                f"{url}: the server's HTTPS certificate could not be verified ({exc}); give its "
                "certificate authority in REQUESTS_CA_BUNDLE (checks are never turned off)"
            ) from exc
        except self._requests.exceptions.RequestException as exc:
            raise PacsUnreachableError(
                f"{url}: cannot reach the DICOMweb server ({type(exc).__name__}); check that it "
                "runs and that the URL is right, then run again"
            ) from exc
        if response.status_code in (401, 403):
            raise PacsError(
                f"{url}: the server refused the credentials (HTTP {response.status_code}); set "
                "MEDIDENOISE_DICOMWEB_USER / MEDIDENOISE_DICOMWEB_PASSWORD (or "
                "MEDIDENOISE_DICOMWEB_TOKEN), or a ~/.netrc entry for this host"
            )
        return response

    def ping(self) -> None:
        """Check that the service answers a search (QIDO-RS ``/studies?limit=1``).

        Raises
        ------
        PacsUnreachableError
            No answer at all.
        PacsError
            An answer other than success.
        """
        url = f"{self.base}/studies"
        response = self._request(
            "GET", url, params={"limit": "1"}, headers={"Accept": "application/dicom+json"}
        )
        if response.status_code not in (200, 204):
            raise PacsError(
                f"{url}: the server answered HTTP {response.status_code} to a search; is this "
                "the DICOMweb root (e.g. http://host:8042/dicom-web)?"
            )

    def search_series(
        self, study_uid: str, series_uid: str = "", *, missing_ok: bool = False
    ) -> list[RemoteSeries]:
        """QIDO-RS: the series of a study (or the one series), with instance counts."""
        url = f"{self.base}/studies/{study_uid}/series"
        params = {"includefield": "00201209"}
        if series_uid:
            params["SeriesInstanceUID"] = series_uid
        response = self._request(
            "GET", url, params=params, headers={"Accept": "application/dicom+json"}
        )
        if response.status_code == 204 or (response.status_code == 404 and missing_ok):
            return []
        if response.status_code != 200:
            raise PacsError(f"{url}: search failed (HTTP {response.status_code})")
        items = response.json() if response.content.strip() else []
        return [
            RemoteSeries(
                study_uid=study_uid,
                series_uid=str(_value(item, "0020000E")),
                instances=int(_value(item, "00201209", 0) or 0),
                modality=str(_value(item, "00080060")),
                description=str(_value(item, "0008103E")),
            )
            for item in items
        ]

    def download_series(self, series: RemoteSeries, folder: Path) -> list[Path]:
        """WADO-RS: every instance of ``series`` as ``folder/<n>.dcm``; returns the paths.

        The answer is streamed to disk and split there, so memory stays small
        whatever the size of the series.
        """
        url = f"{self.base}/studies/{series.study_uid}/series/{series.series_uid}"
        accept = 'multipart/related; type="application/dicom"; transfer-syntax=*'
        response = self._request("GET", url, headers={"Accept": accept}, stream=True)
        with response:
            if response.status_code == 404:
                raise PacsError(f"{url}: no such series on the server (HTTP 404)")
            if response.status_code != 200:
                raise PacsError(f"{url}: retrieve failed (HTTP {response.status_code})")
            folder.mkdir(parents=True, exist_ok=True)
            raw = folder / ".wado-response.part"
            try:
                with raw.open("wb") as f:
                    for chunk in response.iter_content(_CHUNK):
                        f.write(chunk)
            except self._requests.exceptions.RequestException as exc:
                raise PacsUnreachableError(
                    f"{url}: the connection broke while retrieving ({type(exc).__name__}); "
                    "run again"
                ) from exc
        try:
            paths = _split_multipart(response.headers.get("Content-Type", ""), raw, folder)
        finally:
            raw.unlink(missing_ok=True)
        if not paths:
            raise PacsError(f"{url}: the server returned no instances")
        return paths

    def store(self, files: Sequence[Path]) -> None:
        """STOW-RS: send ``files`` (DICOM files), in requests of at most about 64 MiB.

        Raises
        ------
        PacsError
            The server refused some instance (its reason given).
        """
        batch: list[Path] = []
        size = 0
        for path in files:
            batch.append(path)
            size += path.stat().st_size
            if size >= _STOW_BYTES:
                self._store_batch(batch)
                batch, size = [], 0
        if batch:
            self._store_batch(batch)

    def _store_batch(self, files: Sequence[Path]) -> None:
        boundary = uuid.uuid4().hex
        body = b"".join(_part(boundary, path.read_bytes()) for path in files)
        body += f"--{boundary}--\r\n".encode()
        url = f"{self.base}/studies"
        headers = {
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
            "Accept": "application/dicom+json",
        }
        response = self._request("POST", url, data=body, headers=headers)
        if response.status_code not in (200, 202):
            raise PacsError(f"{url}: store failed (HTTP {response.status_code})")
        failed = _failed_sops(response.content)
        if failed or response.status_code == 202:
            raise PacsError(
                f"{url}: the server refused {len(failed) or 'some'} of {len(files)} instance(s) "
                f"(failure reasons {sorted(set(failed.values()))}); see its log"
            )


def _part(boundary: str, data: bytes) -> bytes:
    head = f"--{boundary}\r\nContent-Type: application/dicom\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data + b"\r\n"


def _split_multipart(content_type: str, raw: Path, folder: Path) -> list[Path]:
    """Write the bodies of the multipart/related answer in ``raw`` as ``folder/<n>.dcm``."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.lower().startswith("multipart/") or match is None:
        raise PacsError(f"expected a multipart/related answer, got {content_type!r}")
    delimiter = b"--" + match.group(1).encode()
    paths: list[Path] = []
    if raw.stat().st_size == 0:
        return paths
    with raw.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as body:
        pos = body.find(delimiter)
        while pos >= 0:
            start = pos + len(delimiter)
            if body[start : start + 2] == b"--":
                break  # the closing delimiter
            head_end = body.find(b"\r\n\r\n", start)
            end = body.find(b"\r\n" + delimiter, head_end + 4) if head_end >= 0 else -1
            if end < 0:
                raise PacsError(f"the server's answer ends inside part {len(paths) + 1}; run again")
            path = folder / f"{len(paths) + 1:05d}.dcm"
            path.write_bytes(body[head_end + 4 : end])
            paths.append(path)
            pos = end + 2
    return paths


def _failed_sops(content: bytes) -> dict[str, int]:
    """SOP Instance UID -> failure reason of a STOW-RS answer's FailedSOPSequence."""
    try:
        answer = json.loads(content) if content.strip() else {}
    except ValueError:
        return {}
    failed = (answer.get("00081198") or {}).get("Value") or [] if isinstance(answer, dict) else []
    return {str(_value(item, "00081155")): int(_value(item, "00081197", 0) or 0) for item in failed}
