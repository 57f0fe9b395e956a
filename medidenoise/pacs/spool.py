"""What the DICOM node keeps on disk, so that a restart loses nothing and repeats nothing.

Layout of the work folder::

    WORK/incoming/<StudyUID>/<SeriesUID>/<SOPInstanceUID>.dcm   received, series still open
    WORK/batches/<id>/in/<StudyUID>/<SeriesUID>/...              settled series, being converted
    WORK/batches/<id>/out/                                       its derived series (folder layout)
    WORK/batches/<id>/sent.txt                                   derived instances stored so far
    WORK/failed/<id>/                                            a batch whose conversion failed
    WORK/tmp/                                                    files being received

A received instance is written under ``tmp/``, flushed to disk and renamed into
``incoming/`` before the C-STORE is acknowledged. A settled series moves by one
rename into a batch; a batch is removed only when every derived instance has
been sent (each one is recorded in ``sent.txt`` as soon as the destination
acknowledges it). A killed node therefore restarts with every pending series
and sends each derived instance once (at most the one in flight at the kill is
sent again, with the same UIDs, which a PACS stores once).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
import uuid
from pathlib import Path

__all__ = ["Spool", "is_uid"]

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def is_uid(text: str) -> bool:
    """True for a well-formed DICOM UID (digits and dots, at most 64 characters)."""
    return bool(_UID.match(text)) and len(text) <= 64


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """The node's on-disk queue under ``work`` (see the module's description).

    Parameters
    ----------
    work : pathlib.Path
        The work folder; created if missing. Series found in ``incoming/`` at
        start wait a full settle time again before they are taken.
    """

    def __init__(self, work: Path) -> None:
        self.work = work
        self.incoming = work / "incoming"
        self.batches = work / "batches"
        self.failed = work / "failed"
        self.tmp = work / "tmp"
        for folder in (self.incoming, self.batches, self.failed, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        for stale in self.tmp.iterdir():  # half-received files of a killed run: never acknowledged
            stale.unlink()
        for done in self.batches.glob(".done-*"):
            shutil.rmtree(done, ignore_errors=True)
        self._lock = threading.Lock()
        now = time.monotonic()
        self._last: dict[Path, float] = {f: now for f in self.incoming.glob("*/*") if f.is_dir()}

    def receive(self, study_uid: str, series_uid: str, sop_uid: str, data: bytes) -> None:
        """Keep one received instance durably (flushed, then renamed into ``incoming/``)."""
        part = self.tmp / f"{uuid.uuid4().hex}.part"
        with part.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        with self._lock:
            folder = self.incoming / study_uid / series_uid
            folder.mkdir(parents=True, exist_ok=True)
            os.replace(part, folder / f"{sop_uid}.dcm")
            _fsync_dir(folder)
            self._last[folder] = time.monotonic()

    def open_series(self) -> int:
        """How many series are receiving (not yet settled)."""
        with self._lock:
            return len(self._last)

    def settled(self, settle: float) -> list[Path]:
        """The ``incoming`` series folders that received nothing for ``settle`` seconds."""
        limit = time.monotonic() - settle
        with self._lock:
            return sorted(f for f, last in self._last.items() if last <= limit)

    def take(self, folder: Path) -> Path:
        """Move a settled series into a new batch (one rename); return the batch folder."""
        with self._lock:
            batch = self.batches / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
            study = batch / "in" / folder.parent.name
            study.mkdir(parents=True)
            os.replace(folder, study / folder.name)
            _fsync_dir(study)
            self._last.pop(folder, None)
            try:
                folder.parent.rmdir()  # the study folder, when it held only this series
            except OSError:
                pass
        return batch

    def pending(self) -> list[Path]:
        """The batches not yet finished, oldest first."""
        return sorted(p for p in self.batches.iterdir() if p.is_dir() and p.name[0] != ".")

    def sent(self, batch: Path) -> set[str]:
        """SOP Instance UIDs of the derived instances of ``batch`` already sent."""
        path = batch / "sent.txt"
        if not path.is_file():
            return set()
        return {line.strip() for line in path.read_text(encoding="ascii").splitlines() if line}

    def mark_sent(self, batch: Path, sop_uid: str) -> None:
        """Record (durably) that a derived instance was acknowledged by the destination."""
        with (batch / "sent.txt").open("a", encoding="ascii") as f:
            f.write(sop_uid + "\n")
            f.flush()
            os.fsync(f.fileno())

    def finish(self, batch: Path) -> None:
        """Drop a batch whose every derived instance was delivered."""
        done = batch.with_name(f".done-{batch.name}")
        os.replace(batch, done)
        shutil.rmtree(done, ignore_errors=True)

    def fail(self, batch: Path) -> Path:
        """Move a batch whose conversion failed aside (kept for inspection); return its place."""
        target = self.failed / batch.name
        os.replace(batch, target)
        return target
