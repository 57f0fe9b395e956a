"""Run a library call in a helper thread and relay its reports through a generator (no Qt).

napari's ``thread_worker`` runs a generator and passes on what it yields; the
library reports progress through a callback instead. :func:`relay` joins the two:
the call runs in a helper thread, each report goes through a queue as one
:class:`Update`, and the generator yields it, returns the call's result, or
re-raises its error. Setting ``cancel`` (or closing the generator) ends it.
"""

from __future__ import annotations

import enum
import queue
import threading
from collections.abc import Callable, Generator
from typing import Any, TypeVar

__all__ = ["Update", "relay"]

R = TypeVar("R")
T = TypeVar("T")


class Update(enum.Enum):
    """What the helper thread hands to the generator."""

    PROGRESS = enum.auto()  #: a report of the call: yielded
    FAILED = enum.auto()  #: the call raised: re-raised
    DONE = enum.auto()  #: the call returned: returned


def relay(
    work: Callable[[Callable[[T], None]], R],
    *,
    cancel: threading.Event,
    name: str,
) -> Generator[T, None, R | None]:
    """Run ``work(report)`` in a thread named ``name``; yield what it reports, return its result.

    Parameters
    ----------
    work : callable
        Called with one argument, ``report``: ``work`` calls ``report(item)``
        for each update it wants yielded, and returns the result.
    cancel : threading.Event
        When set, the generator returns ``None`` at the next update; ``work`` is
        expected to stop soon after (e.g. through the library's ``should_stop``).
        It is set when the generator ends, so a generator closed early stops
        its helper too.
    name : str
        The helper thread's name.

    Returns
    -------
    object or None
        ``work``'s result, or ``None`` when cancelled.
    """
    events: queue.SimpleQueue[tuple[Update, Any]] = queue.SimpleQueue()

    def report(item: T) -> None:
        events.put((Update.PROGRESS, item))

    def body() -> None:
        try:
            result = work(report)
        except BaseException as exc:  # handed over to the generator, which re-raises it
            events.put((Update.FAILED, exc))
        else:
            events.put((Update.DONE, result))

    thread = threading.Thread(target=body, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, payload = events.get()
            if cancel.is_set():
                return None
            if kind is Update.PROGRESS:
                yield payload
            elif kind is Update.FAILED:
                raise payload
            else:
                return payload
    finally:
        cancel.set()
        thread.join()
