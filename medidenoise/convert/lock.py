"""One conversion run per OUTPUT at a time, and one writer per series.

Two runs into one OUTPUT would delete each other's work folders and report
series the other run removed. So a run holds an operating-system lock on
``OUTPUT/.medidenoise.lock`` from its scan to its report: a second run is
refused at once with :class:`OutputLockedError`, naming the run that holds it.
The lock is released by the operating system when the process ends, however
it ends: a killed run never leaves a stale lock to clean up (its small file
may stay behind, holding the holder's description; it is reused). A run that
ends normally removes the file.

The ranks of one ``torchrun`` conversion share OUTPUT on purpose, so they
take the lock *shared*; a plain run takes it *exclusive*, and the two exclude
each other. Inside a run, every series is also *claimed* (an exclusive lock
on ``OUTPUT/.medidenoise-partial/<key>.claim``) before its work folder is
touched: worker processes and ranks never write the same series, even if two
torchrun conversions share OUTPUT.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from medidenoise.errors import ConversionError

__all__ = ["LOCK_NAME", "OutputLockedError", "claim", "output_lock"]

#: the lock file in OUTPUT (a NIfTI-file OUTPUT ``x.nii.gz`` uses ``.x.nii.gz.medidenoise.lock``)
LOCK_NAME = ".medidenoise.lock"


class OutputLockedError(ConversionError):
    """Another conversion run is writing into the same OUTPUT."""


def _try_lock(fh: IO[str], shared: bool) -> bool:
    """Take the lock without waiting; False when someone else holds it."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fh.fileno(), (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_file(fh: IO[str], path: Path) -> bool:
    """True while ``path`` still names the file ``fh`` has open (not removed and re-made)."""
    try:
        return os.path.samestat(os.fstat(fh.fileno()), os.stat(path))
    except OSError:
        return False


def _holder() -> str:
    started = datetime.now().isoformat(timespec="seconds")
    return f"pid {os.getpid()} on {socket.gethostname()}, started {started}"


@contextlib.contextmanager
def output_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold the run lock ``path`` (created if needed) for the ``with`` block.

    An exclusive lock file is removed again on release (a shared one stays:
    other ranks may still hold it).

    Raises
    ------
    OutputLockedError
        Another run holds it; the message names that run and what to do.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fh = open(path, "a+", encoding="utf-8")
        if not _try_lock(fh, shared):
            fh.seek(0)
            other = fh.read().strip() or "another process"
            fh.close()
            raise OutputLockedError(
                f"{path.parent}: another medidenoise conversion is writing into this OUTPUT "
                f"({other}); nothing was done. Wait for it to finish and run again (completed "
                "series are kept), or choose another OUTPUT"
            )
        if _same_file(fh, path):
            break
        fh.close()  # its holder removed it as we opened it: lock the new one
    try:
        if not shared:
            fh.seek(0)
            fh.truncate()
            fh.write(_holder() + "\n")
            fh.flush()
        yield
    finally:
        if not shared:
            with contextlib.suppress(OSError):
                path.unlink()
        fh.close()  # releases the lock


@contextlib.contextmanager
def claim(path: Path) -> Iterator[bool]:
    """Claim one series: yields True when this process holds ``path`` exclusively.

    Yields False (and holds nothing) when another process has claimed it.
    The claim file is removed on release; a claim on a file that was removed
    and made again meanwhile is retried, so two processes never both hold one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fh = open(path, "a+", encoding="utf-8")
        if not _try_lock(fh, shared=False):
            fh.close()
            yield False
            return
        if _same_file(fh, path):
            break
        fh.close()  # the holder removed it as we opened it: take the new one
    try:
        yield True
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        fh.close()
