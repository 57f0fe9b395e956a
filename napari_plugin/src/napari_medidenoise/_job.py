"""The job a widget runs in the background: an explicit state, an evented status, one error path.

:class:`JobStatus` is plain data with psygnal events and no Qt: the widgets observe it
and draw their buttons, progress bar and status line from it, and tests read it.
:class:`BackgroundJob` runs one napari worker at a time and keeps the status true:
every failure, in the worker or while its result is published, ends in
:attr:`JobState.FAILED` with one error notification; a worker that returns ``None``
was cancelled.
"""

from __future__ import annotations

import enum
import inspect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from psygnal import SignalGroupDescriptor

from napari_medidenoise._notify import Notifier

log = logging.getLogger(__name__)

__all__ = ["BackgroundJob", "JobState", "JobStatus"]


class JobState(enum.Enum):
    """Where a widget's background job stands."""

    IDLE = "idle"  #: nothing has run yet
    RUNNING = "running"
    CANCELLING = "cancelling"  #: Cancel was pressed; the worker stops at its next step
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def busy(self) -> bool:
        """A worker is running (whether or not it was asked to stop)."""
        return self in (JobState.RUNNING, JobState.CANCELLING)


@dataclass
class JobStatus:
    """The status of a widget's job; each field change is a psygnal event (``.events``).

    Attributes
    ----------
    state : JobState
        Where the job stands.
    message : str
        What the status line says ("denoising volume...", "cancelled", "failed: ...").
    done, total : int
        Progress of the running (or last) job, in the job's own steps.
    cancellable : bool
        Whether the running job can be stopped (a volume run or an adaptation can,
        a one-slice preview cannot).
    error : str
        The error of the last failed job ("" otherwise).
    """

    state: JobState = JobState.IDLE
    message: str = ""
    done: int = 0
    total: int = 1
    cancellable: bool = False
    error: str = ""
    #: one psygnal signal per field (``events.state``, ...) and ``events.all`` for any change
    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor()

    @property
    def busy(self) -> bool:
        """A worker is running."""
        return self.state.busy

    def begin(self, message: str, *, cancellable: bool = False) -> None:
        """A job starts: progress back to 0."""
        self.done, self.total, self.error = 0, 1, ""
        self.cancellable, self.message = cancellable, message
        self.state = JobState.RUNNING

    def advance(self, done: int, total: int) -> None:
        """``done`` of ``total`` steps are finished."""
        self.total = max(1, int(total))
        self.done = min(int(done), self.total)

    def end(self, state: JobState, message: str, error: str = "") -> None:
        """The job is over: ``state`` is DONE, CANCELLED or FAILED."""
        self.error, self.message = error, message
        self.state = state


class BackgroundJob:
    """Runs one napari worker at a time for a widget and keeps :attr:`status` up to date.

    Parameters
    ----------
    notifier : Notifier
        Receives ``"medidenoise: <error>"`` when a job fails.
    """

    def __init__(self, notifier: Notifier) -> None:
        self.status = JobStatus()
        self.notifier = notifier
        self._cancel = threading.Event()
        self._worker: Any = None
        self._ending: tuple[JobState, str, str] | None = None

    def start(
        self,
        body: Callable[..., Any],
        *args: Any,
        message: str,
        on_done: Callable[[Any], str],
        on_progress: Callable[[Any], None] | None = None,
        cancelled: str = "cancelled",
    ) -> bool:
        """Run ``body(*args)`` in a worker unless a job is running; ``False`` if one is.

        A generator ``body`` is cancellable: it gets ``cancel=`` (a
        :class:`threading.Event`) and each item it yields goes to ``on_progress``.
        ``on_done(result)`` publishes the result in the GUI thread and returns the
        status message; a result of ``None`` means the job was cancelled (the status
        says ``cancelled``).
        """
        from napari.qt.threading import create_worker
        from superqt.utils import FunctionWorker, GeneratorWorker

        if self.status.busy:
            return False
        generator = inspect.isgeneratorfunction(body)
        self._cancel = threading.Event()
        kwargs: dict[str, Any] = {"cancel": self._cancel} if generator else {}
        connect: dict[str, Any] = {
            "returned": partial(self._returned, on_done, cancelled),
            "errored": self._failed,  # this connection keeps the error out of napari's relay
            "finished": self._finished,
        }
        if on_progress is not None:
            connect["yielded"] = on_progress
        # superqt's worker classes: napari's own would also pop up the raw exception
        worker_class = GeneratorWorker if generator else FunctionWorker
        self._ending = None
        self._worker = create_worker(
            body,
            *args,
            _start_thread=False,
            _connect=connect,
            _worker_class=worker_class,
            **kwargs,
        )
        self.status.begin(message, cancellable=generator)
        self._worker.start()
        return True

    def cancel(self, message: str = "cancelling...") -> bool:
        """Ask the running job to stop at its next step; ``False`` if nothing can be stopped."""
        if self.status.state is not JobState.RUNNING or not self.status.cancellable:
            return False
        self._cancel.set()
        self.status.message = message
        self.status.state = JobState.CANCELLING
        return True

    def _returned(self, on_done: Callable[[Any], str], cancelled: str, result: Any) -> None:
        if result is None:
            self._ending = (JobState.CANCELLED, cancelled, "")
            return
        try:
            message = on_done(result)
        except Exception as exc:  # publishing failed: the same path as a worker's error
            log.exception("medidenoise: the result could not be shown")
            self._failed(exc)
            return
        self._ending = (JobState.DONE, message, "")

    def _failed(self, exc: BaseException) -> None:
        self.notifier.error(f"medidenoise: {exc}")
        self._ending = (JobState.FAILED, f"failed: {exc}", str(exc))

    def _finished(self) -> None:
        # a worker stopped from napari's activity panel returns nothing: cancelled
        state, message, error = self._ending or (JobState.CANCELLED, "cancelled", "")
        self._ending, self._worker = None, None
        self.status.end(state, message, error)
