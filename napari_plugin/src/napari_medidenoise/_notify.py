"""Where the widgets' messages go: napari's notifications, or whatever a caller passes in.

The widgets take a ``notifier`` so that a test (or an embedding application) can
receive the messages a user would see, without patching napari.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["NapariNotifier", "Notifier"]


class Notifier(Protocol):
    """Receives the messages a widget shows the user: errors, warnings and news."""

    def error(self, message: str) -> None:
        """Something the user asked for failed."""

    def warning(self, message: str) -> None:
        """A result the user should look at with care."""

    def info(self, message: str) -> None:
        """News about a finished job."""


class NapariNotifier:
    """The default :class:`Notifier`: napari's notification pop-ups."""

    def error(self, message: str) -> None:
        from napari.utils.notifications import show_error

        show_error(message)

    def warning(self, message: str) -> None:
        from napari.utils.notifications import show_warning

        show_warning(message)

    def info(self, message: str) -> None:
        from napari.utils.notifications import show_info

        show_info(message)
