"""A modality for the node tests: C-ECHO and C-STORE with pynetdicom, and a node run in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pydicom import dcmread
from pynetdicom import AE
from pynetdicom.sop_class import Verification

from medidenoise.pacs import DicomNode, NodeOptions
from medidenoise.pacs.send import no_delay


def _associate(port: int, called: str, calling: str, classes: Sequence[str]) -> object:
    ae = AE(ae_title=calling)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    for uid in sorted(set(classes)):
        ae.add_requested_context(uid)
    assoc = ae.associate("127.0.0.1", port, ae_title=called)
    no_delay(assoc)  # as a DICOM toolkit does; else Nagle adds 40 ms per instance
    return assoc


def echo(port: int, *, called: str = "DENOISE", calling: str = "MODALITY") -> int | None:
    """C-ECHO status, or None when no association was established."""
    assoc = _associate(port, called, calling, [Verification])
    if not assoc.is_established:  # type: ignore[attr-defined]
        return None
    try:
        return int(assoc.send_c_echo().Status)  # type: ignore[attr-defined]
    finally:
        assoc.release()  # type: ignore[attr-defined]


def push(
    paths: Sequence[Path], port: int, *, called: str = "DENOISE", calling: str = "MODALITY"
) -> list[int] | None:
    """C-STORE ``paths`` over one association: their statuses, or None when refused."""
    datasets = [dcmread(p) for p in paths]
    assoc = _associate(port, called, calling, [str(ds.SOPClassUID) for ds in datasets])
    if not assoc.is_established:  # type: ignore[attr-defined]
        return None
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]  # type: ignore[attr-defined]
    finally:
        assoc.release()  # type: ignore[attr-defined]


def wait_for(check: Callable[[], object], timeout: float = 60.0, what: str = "") -> object:
    """Poll ``check`` until it returns something true; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")


@contextmanager
def running_node(options: NodeOptions) -> Iterator[DicomNode]:
    """A :class:`DicomNode` listening and working in background threads, stopped at exit."""
    node = DicomNode(options)
    node.start()
    stop = threading.Event()
    worker = threading.Thread(target=node.run, args=(stop,), kwargs={"poll": 0.05}, daemon=True)
    worker.start()
    try:
        yield node
    finally:
        stop.set()
        worker.join(60)
        node.shutdown()
