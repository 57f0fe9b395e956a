"""The job state behind the widgets: the evented status (no Qt) and the one error path."""

from __future__ import annotations

import threading
from collections.abc import Generator

import pytest
from napari_medidenoise._job import BackgroundJob, JobState, JobStatus


def test_the_status_reports_each_change_and_knows_when_a_job_runs():
    status = JobStatus()
    changed: list[str] = []
    status.events.all.connect(lambda info: changed.append(info.signal.name))
    assert status.state is JobState.IDLE and not status.busy
    status.begin("working...", cancellable=True)
    assert status.busy and status.message == "working..." and "state" in changed
    status.advance(7, 5)  # more than the total (a last report counted twice): capped
    assert (status.done, status.total) == (5, 5)
    changed.clear()
    status.end(JobState.FAILED, "failed: disk full", "disk full")
    assert not status.busy and status.error == "disk full"
    assert set(changed) == {"state", "message", "error"}
    status.begin("again")
    assert (status.done, status.error, status.cancellable) == (0, "", False)


def _fails(message: str) -> None:
    raise OSError(message)


def _steps(gate: threading.Event, *, cancel: threading.Event) -> Generator[int, None, str | None]:
    """Yield 1, wait for the gate; ``None`` (cancelled) if cancel was set meanwhile."""
    yield 1
    gate.wait(timeout=30)
    return None if cancel.is_set() else "finished"


@pytest.fixture
def job(notes) -> BackgroundJob:
    return BackgroundJob(notes)


def _wait(qtbot, job: BackgroundJob) -> None:
    qtbot.waitUntil(lambda: not job.status.busy, timeout=10_000)


@pytest.mark.gui
def test_a_failing_worker_is_one_notification_and_a_failed_state(qtbot, job, notes, napari_notes):
    assert job.start(_fails, "disk full", message="saving...", on_done=str)
    assert job.status.state is JobState.RUNNING and not job.status.cancellable
    assert not job.start(_fails, "again", message="x", on_done=str)  # one job at a time
    _wait(qtbot, job)
    assert job.status.state is JobState.FAILED
    assert job.status.message == "failed: disk full" and job.status.error == "disk full"
    assert notes.errors == ["medidenoise: disk full"] and napari_notes.errors == []


@pytest.mark.gui
def test_a_result_that_cannot_be_shown_takes_the_same_path(qtbot, job, notes):
    def show(result: str) -> str:
        raise ValueError(f"cannot show {result}")

    job.start(str.upper, "abc", message="x", on_done=show)
    _wait(qtbot, job)
    assert job.status.state is JobState.FAILED
    assert notes.errors == ["medidenoise: cannot show ABC"]


@pytest.mark.gui
def test_a_generator_job_reports_progress_and_can_be_cancelled(qtbot, job, notes):
    gate, seen = threading.Event(), []
    assert job.start(_steps, gate, message="stepping...", on_done=str, on_progress=seen.append,
                     cancelled="stopped")  # fmt: skip
    assert job.status.cancellable
    qtbot.waitUntil(lambda: seen == [1], timeout=10_000)
    assert job.cancel() and job.status.state is JobState.CANCELLING
    assert not job.cancel()  # asked once is enough
    gate.set()
    _wait(qtbot, job)
    assert job.status.state is JobState.CANCELLED and job.status.message == "stopped"
    assert notes.errors == []
    # not cancelled: done, with the message on_done gives
    gate = threading.Event()
    gate.set()
    job.start(_steps, gate, message="stepping...", on_done=lambda r: f"{r}!")
    _wait(qtbot, job)
    assert job.status.state is JobState.DONE and job.status.message == "finished!"
