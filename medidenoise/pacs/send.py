"""Sending derived series to a DICOM node by C-STORE (pynetdicom)."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import dcmread

from medidenoise.pacs.errors import PacsError, PacsUnreachableError

__all__ = ["Destination", "check_ae_title", "no_delay", "parse_destination", "send_files"]

log = logging.getLogger(__name__)

#: C-STORE statuses that mean "stored" (success and the standard's warnings)
_STORED = {0x0000, 0xB000, 0xB006, 0xB007}


@dataclass(frozen=True)
class Destination:
    """A DICOM node: its AE title, host and port."""

    ae_title: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


def no_delay(assoc: Any) -> None:
    """Turn Nagle's algorithm off on an association's socket.

    pynetdicom writes a C-STORE's command and data set as separate small writes; with Nagle on,
    the second waits for the peer's delayed acknowledgement (40 ms on Linux), twice per
    instance, which made sending several times slower than storing.
    """
    sock = getattr(getattr(getattr(assoc, "dul", None), "socket", None), "socket", None)
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not TCP (or already closed): nothing to gain
            pass


def check_ae_title(title: str, *, what: str = "AE title") -> str:
    """``title`` when it is a valid AE title (1-16 characters, no backslash nor control)."""
    if not 0 < len(title.strip()) <= 16 or "\\" in title or not title.isprintable():
        raise ValueError(
            f"{what} {title!r}: an AE title has 1 to 16 printable characters, no backslash"
        )
    return title.strip()


def parse_destination(text: str) -> Destination:
    """``AET@HOST:PORT`` -> :class:`Destination`.

    Raises
    ------
    ValueError
        Not of that form, or a bad AE title or port.
    """
    match = re.match(r"^([^@]+)@(\[[^\]]+\]|[^:@]+):(\d+)$", text.strip())
    if match is None:
        raise ValueError(
            f"--destination {text!r}: expected AET@HOST:PORT, e.g. ORTHANC@pacs.example:4242"
        )
    port = int(match.group(3))
    if not 0 < port < 65536:
        raise ValueError(f"--destination {text!r}: port {port} is not within 1..65535")
    title = check_ae_title(match.group(1), what="--destination AE title")
    return Destination(title, match.group(2).strip("[]"), port)


def send_files(
    files: Sequence[Path],
    destination: Destination,
    *,
    calling_aet: str,
    skip: Collection[str] = (),
    on_sent: Callable[[str], None] | None = None,
) -> int:
    """C-STORE ``files`` to ``destination`` over one association; return how many were sent.

    Parameters
    ----------
    files : sequence of pathlib.Path
        DICOM files (with file meta).
    destination : Destination
        The receiving node.
    calling_aet : str
        Our AE title.
    skip : collection of str
        SOP Instance UIDs already delivered: not sent again.
    on_sent : callable, optional
        Called with each SOP Instance UID as soon as the destination acknowledged it.

    Raises
    ------
    PacsUnreachableError
        No association (node down, wrong address, our AE title refused).
    PacsError
        The destination refused an instance (its status given).
    """
    from pynetdicom import AE

    todo = []
    for path in files:
        ds = dcmread(path, stop_before_pixels=True)
        if str(ds.SOPInstanceUID) not in skip:
            todo.append((path, str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID), ds))
    if not todo:
        return 0
    ae = AE(ae_title=calling_aet)
    for pair in sorted({(cls, ts) for _, cls, ts, _ in todo}):
        ae.add_requested_context(pair[0], [pair[1]])
    assoc = ae.associate(destination.host, destination.port, ae_title=destination.ae_title)
    if not assoc.is_established:
        raise PacsUnreachableError(
            f"{destination}: no association (the node is down, the address is wrong, or it "
            f"refused our AE title {calling_aet}); the series stays pending and is retried"
        )
    no_delay(assoc)
    sent = 0
    try:
        for path, _, _, ds in todo:
            status = assoc.send_c_store(path)
            code = getattr(status, "Status", None)
            if code is None:
                raise PacsUnreachableError(
                    f"{destination}: the association broke while sending; retried later"
                )
            if code not in _STORED:
                raise PacsError(
                    f"{destination}: refused an instance of SOP class {ds.SOPClassUID} "
                    f"(C-STORE status 0x{code:04X})"
                )
            sent += 1
            if on_sent is not None:
                on_sent(str(ds.SOPInstanceUID))
    finally:
        if assoc.is_established:
            assoc.release()
    return sent
