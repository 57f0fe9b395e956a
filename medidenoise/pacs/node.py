"""``DicomNode``: a DICOM node that denoises the series sent to it (``medidenoise serve``).

It answers C-ECHO and takes C-STORE of image storage classes (other SOP classes
are refused with status 0x0122, "SOP class not supported"). Each instance is
on disk (see :mod:`medidenoise.pacs.spool`) before it is acknowledged. A
series is complete when nothing arrived for it for ``settle`` seconds; it is
then converted by :func:`~medidenoise.convert.convert_dicom_folder` with the
options ``medidenoise denoise`` takes, and its derived series is sent by
C-STORE to the destination (or written into an output folder) from a thread of
its own, while the next series is being converted. Callers outside
``allow`` are refused at association. Logs hold UIDs and counts, never patient
data (names, IDs, dates).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medidenoise.convert import convert_dicom_folder
from medidenoise.convert.report import ConversionReport
from medidenoise.convert.unit import MANIFEST
from medidenoise.pacs.errors import PacsError
from medidenoise.pacs.send import Destination, check_ae_title, send_files
from medidenoise.pacs.spool import Spool, is_uid

__all__ = ["IMAGE_STORAGE", "DicomNode", "NodeOptions"]

log = logging.getLogger(__name__)

# C-STORE statuses (PS3.4 B.2.3, PS3.7 C.4)
_SUCCESS, _NOT_SUPPORTED, _OUT_OF_RESOURCES, _CANNOT_UNDERSTAND = 0x0000, 0x0122, 0xA700, 0xC000
_VERIFICATION = "1.2.840.10008.1.1"  # the Verification SOP class (C-ECHO)


def _image_storage() -> frozenset[str]:
    from pynetdicom.sop_class import _STORAGE_CLASSES

    return frozenset(str(uid) for name, uid in _STORAGE_CLASSES.items() if "ImageStorage" in name)


IMAGE_STORAGE: frozenset[str] = frozenset()  # filled on first use (pynetdicom is optional)


@dataclass(frozen=True)
class NodeOptions:
    """What ``medidenoise serve`` was asked for.

    Attributes
    ----------
    port : int
        The port to listen on.
    ae_title : str
        This node's AE title; calls to another title are refused.
    work : pathlib.Path
        Received instances and pending series (see :mod:`~medidenoise.pacs.spool`).
    destination : Destination, optional
        Where derived series are sent by C-STORE.
    output : pathlib.Path, optional
        Instead of a destination: a folder the derived series are written to
        (the folder conversion's layout under ``<StudyUID>/<SeriesUID>/``).
    allow : tuple of str
        Calling AE titles accepted; empty accepts any.
    settle : float
        Seconds without a new instance after which a series is complete.
    bind : str
        The address to listen on (``""``: every interface).
    convert : dict
        Options of :func:`~medidenoise.convert.convert_dicom_folder`.
    retry : float
        Seconds between attempts to deliver to a destination that is down.
    """

    port: int
    ae_title: str
    work: Path
    destination: Destination | None = None
    output: Path | None = None
    allow: tuple[str, ...] = ()
    settle: float = 10.0
    bind: str = ""
    convert: dict[str, Any] = field(default_factory=dict)
    retry: float = 10.0

    def __post_init__(self) -> None:
        check_ae_title(self.ae_title, what="--ae-title")
        for title in self.allow:
            check_ae_title(title, what="--allow")
        if (self.destination is None) == (self.output is None):
            raise ValueError("give exactly one of --destination AET@HOST:PORT and --output FOLDER")
        if not 0 < self.port < 65536:
            raise ValueError(f"--port {self.port}: not within 1..65535")
        if not self.settle >= 0:
            raise ValueError(f"--settle {self.settle}: must be a number of seconds >= 0")


class DicomNode:
    """A running ``medidenoise serve``: :meth:`start`, then :meth:`run` until stopped.

    Parameters
    ----------
    options : NodeOptions
        What to listen on, where to send, how to convert.

    Examples
    --------
    >>> node = DicomNode(NodeOptions(11112, "DENOISE", Path("work"),  # doctest: +SKIP
    ...                              destination=parse_destination("PACS@pacs:104")))
    >>> node.start(); node.run(stop_event); node.shutdown()  # doctest: +SKIP
    """

    def __init__(self, options: NodeOptions) -> None:
        self.options = options
        self.spool = Spool(options.work)
        self._server: Any = None
        self._retry_at: dict[Path, float] = {}  # conversion retry times
        self._send_at: dict[Path, float] = {}  # delivery retry times
        self._converted: dict[Path, ConversionReport] = {}  # converted, not yet delivered
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.delivered = 0  # derived series delivered since start

    # --- the DICOM side -------------------------------------------------------------------

    def start(self) -> None:
        """Listen for associations (in background threads)."""
        global IMAGE_STORAGE
        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt
        from pynetdicom.sop_class import _STORAGE_CLASSES

        IMAGE_STORAGE = IMAGE_STORAGE or _image_storage()
        logging.getLogger("pynetdicom").setLevel(logging.WARNING)  # its INFO lines name peers
        ae = AE(ae_title=self.options.ae_title)
        ae.add_supported_context(_VERIFICATION)
        for uid in _STORAGE_CLASSES.values():
            ae.add_supported_context(uid, ALL_TRANSFER_SYNTAXES)
        ae.require_called_aet = True
        if self.options.allow:
            ae.require_calling_aet = list(self.options.allow)
        handlers: list[Any] = [
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_REJECTED, self._on_rejected),
        ]
        self._server = ae.start_server(
            (self.options.bind, self.options.port), block=False, evt_handlers=handlers
        )
        pending = len(self.spool.pending())
        log.info(
            "listening as %s on port %d; %d series pending from before",
            self.options.ae_title,
            self.options.port,
            pending + self.spool.open_series(),
        )

    def _on_echo(self, event: Any) -> int:
        return _SUCCESS

    def _on_rejected(self, event: Any) -> None:
        log.warning("refused an association from AE title %r", event.assoc.requestor.ae_title)

    def _on_store(self, event: Any) -> int:
        sop_class = str(event.request.AffectedSOPClassUID)
        if sop_class not in IMAGE_STORAGE:
            log.warning("refused an instance of SOP class %s: not an image", sop_class)
            return _NOT_SUPPORTED
        try:
            ds = event.dataset
            study, series = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)
            sop = str(event.request.AffectedSOPInstanceUID)
        except Exception as exc:  # an undecodable data set: refuse it, keep serving
            log.warning("refused an instance that cannot be decoded (%s)", type(exc).__name__)
            return _CANNOT_UNDERSTAND
        if not (is_uid(study) and is_uid(series) and is_uid(sop)):
            log.warning("refused an instance with a malformed UID")
            return _CANNOT_UNDERSTAND
        try:
            self.spool.receive(study, series, sop, event.encoded_dataset())
        except OSError as exc:
            log.error("cannot keep a received instance in %s: %s", self.options.work, exc)
            return _OUT_OF_RESOURCES
        return _SUCCESS

    def shutdown(self) -> None:
        """Stop listening (running associations are closed)."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    # --- the work loop --------------------------------------------------------------------

    def run(self, stop: threading.Event, *, poll: float = 0.2) -> None:
        """Convert settled series and deliver them until ``stop`` is set.

        Conversion runs in the calling thread and delivery in a second one, so the
        next series is denoised while the last one is being sent. When ``stop`` is
        set, the series being converted and the one being sent are finished;
        converted series not yet sent stay pending for the next start.
        """
        halt = threading.Event()  # set when this loop ends, however it ends (Ctrl-C too)
        sender = threading.Thread(
            target=self._send_loop, args=(stop, halt, poll), name="medidenoise-send", daemon=True
        )
        sender.start()
        try:
            while not stop.is_set():
                self.step()
                stop.wait(poll)
        finally:
            halt.set()
            self._wake.set()
            sender.join()

    def step(self) -> None:
        """Batch the settled series, then convert every batch that is due.

        Converted batches wait for :meth:`deliver` (which :meth:`run` calls from its
        sender thread).
        """
        for folder in self.spool.settled(self.options.settle):
            self.spool.take(folder)
        now = time.monotonic()
        for batch in self.spool.pending():
            with self._lock:
                if batch in self._converted:
                    continue
            if self._retry_at.get(batch, 0.0) > now:
                continue
            report = self._convert(batch)
            if report is not None:
                with self._lock:
                    self._converted[batch] = report
                self._wake.set()

    def deliver(self) -> None:
        """Send every converted batch, oldest first; stop at the first delivery that fails."""
        with self._lock:
            ready = list(self._converted.items())
        for batch, report in ready:
            if self._send_at.get(batch, 0.0) > time.monotonic():
                return  # the destination failed a moment ago: wait for the retry time
            try:
                self._deliver(batch, report)
            except PacsError as exc:
                log.error("batch %s: %s", batch.name, exc)
                self._send_at[batch] = time.monotonic() + self.options.retry
                return
            except Exception as exc:  # anything else (a file gone, a toolkit error): retry too
                log.error(
                    "batch %s: delivery failed (%s: %s); retried in %g s",
                    batch.name,
                    type(exc).__name__,
                    exc,
                    self.options.retry,
                )
                self._send_at[batch] = time.monotonic() + self.options.retry
                return
            self._send_at.pop(batch, None)
            with self._lock:
                del self._converted[batch]
            if report.ok:
                self.spool.finish(batch)
                continue
            kept = self.spool.fail(batch)
            log.error("batch %s: conversion failed; kept in %s (see its report)", batch.name, kept)

    def _send_loop(self, stop: threading.Event, halt: threading.Event, poll: float) -> None:
        while not (stop.is_set() or halt.is_set()):
            self.deliver()
            self._wake.wait(poll)
            self._wake.clear()

    def _convert(self, batch: Path) -> ConversionReport | None:
        out = self.options.output or batch / "out"
        try:
            report = convert_dicom_folder(batch / "in", out, **self.options.convert)
        except Exception as exc:  # a conversion that cannot start: keep the batch, retry
            log.error(
                "batch %s: conversion did not run (%s: %s)", batch.name, type(exc).__name__, exc
            )
            self._retry_at[batch] = time.monotonic() + self.options.retry
            return None
        self._retry_at.pop(batch, None)
        report.write(batch)
        return report

    def _deliver(self, batch: Path, report: ConversionReport) -> None:
        import json

        for entry in report.series:
            if entry.status not in ("converted", "complete", "incomplete") or not entry.output:
                continue
            folder = Path(entry.output)
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            if self.options.destination is None:
                log.info("series %s: %d slices written", manifest["series_uid"], entry.slices)
                self.delivered += 1
                continue
            done = self.spool.sent(batch)
            sent = send_files(
                [folder / name for name in manifest["files"]],
                self.options.destination,
                calling_aet=self.options.ae_title,
                skip=done,
                on_sent=lambda uid: self.spool.mark_sent(batch, uid),
            )
            self.delivered += 1
            log.info(
                "series %s: %d instance(s) sent to %s",
                manifest["series_uid"],
                sent,
                self.options.destination,
            )
