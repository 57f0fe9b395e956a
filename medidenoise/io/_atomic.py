"""Writes that are whole or absent: a temporary name beside the target, renamed when complete.

A full disk, a read-only folder or an interrupted run must never leave a truncated file
that looks complete. :func:`atomic_target` yields the temporary path to write; only when
the block ends without error is it renamed onto the target (``os.replace``, atomic on one
file system). On an error the temporary file goes, and an :class:`OSError` becomes an
:class:`~medidenoise.errors.OutputWriteError` that names the target and says what to do.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from medidenoise.errors import MedidenoiseError, OutputWriteError

__all__ = ["atomic_target", "remove_quietly", "write_error"]

#: what to do about each operating-system error a writer meets
_ADVICE = {
    errno.ENOSPC: "no space left on the device; free some space or write elsewhere",
    errno.EDQUOT: "disk quota exceeded; free some space or write elsewhere",
    errno.EROFS: "the file system is read-only; choose a writable output location",
    errno.EACCES: "permission denied; choose a folder you can write to",
    errno.EPERM: "permission denied; choose a folder you can write to",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another output path",
    errno.EISDIR: "a folder stands at that name; choose another output path",
    errno.ENAMETOOLONG: "the name is too long; choose a shorter output path",
}


def write_error(exc: OSError, target: str | os.PathLike) -> OutputWriteError:
    """An :class:`OutputWriteError` naming ``target`` for the operating-system error ``exc``."""
    if isinstance(exc, MedidenoiseError):
        return exc  # type: ignore[return-value]  # already ours
    advice = _ADVICE.get(exc.errno or 0)
    reason = advice or f"{exc.strerror or exc}; check the output location"
    err = OutputWriteError(f"{target}: cannot write: {reason} (nothing was written there)")
    err.errno = exc.errno
    err.filename = os.fspath(target)
    return err


def remove_quietly(path: Path) -> None:
    """Remove a file or folder left by a failed write; errors are ignored."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink()
    except OSError:
        pass


def _temporary(target: Path) -> Path:
    """A hidden name beside ``target`` that no other writer of it picks; same suffixes, so
    that writers which choose the format by the name (nibabel's ``.nii.gz``) still do."""
    return target.with_name(f".partial-{os.getpid()}-{target.name}")


@contextmanager
def atomic_target(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` when the block ends.

    Raises
    ------
    OutputWriteError
        Writing or renaming failed (full disk, read-only, permission...): the temporary file
        is removed and ``target`` is as it was.
    """
    target = Path(target)
    tmp = _temporary(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        remove_quietly(tmp)
        raise write_error(exc, target) from exc
    except BaseException:
        remove_quietly(tmp)
        raise
