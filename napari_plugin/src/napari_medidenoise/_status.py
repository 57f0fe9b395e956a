"""A status line that never widens its dock: long text is cut, the whole of it is the tooltip."""

from __future__ import annotations

from typing import Any

from magicgui.widgets import Label, TextEdit

__all__ = ["StatusLabel", "elide", "text_box"]

#: characters shown on the line; the rest is in the tooltip (and the notification)
STATUS_CHARS = 48


def elide(text: str, limit: int = STATUS_CHARS) -> str:
    """The first line of ``text``, cut to ``limit`` characters with an ellipsis."""
    lines = text.strip().splitlines() or [""]
    first = lines[0]
    if len(first) <= limit and len(lines) == 1:
        return first
    return first[: limit - 1].rstrip() + "\u2026"


class StatusLabel(Label):
    """A :class:`magicgui.widgets.Label` for status messages of any length.

    ``value`` returns the full message; the label shows it cut to one short
    line and the tooltip holds all of it. A long error (a path, a traceback
    summary) would otherwise stretch the dock and the whole window.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._full = str(kwargs.pop("value", ""))
        super().__init__(value=elide(self._full), **kwargs)

    @property  # type: ignore[override]
    def value(self) -> str:
        """The full message (the label shows it elided)."""
        return self._full

    @value.setter
    def value(self, text: Any) -> None:
        self._full = str(text)
        Label.value.fset(self, elide(self._full))  # type: ignore[attr-defined]
        self.tooltip = self._full if elide(self._full) != self._full else None


def text_box(**kwargs: Any) -> TextEdit:
    """A read-only, wrapping text box for reports too long for a label (a model card, the
    figures of a run with its warnings): it scrolls instead of widening the dock."""
    box = TextEdit(**kwargs)
    box.read_only = True
    return box
