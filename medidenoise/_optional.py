"""Optional packages: the one way medidenoise imports or probes a package it can run without.

``require`` imports a package a feature needs and turns its absence into an error that says
what to install; ``optional`` gives ``None`` instead; ``available`` asks without importing.
Every optional import of the library goes through these three, so the message and the error
type are chosen at the call site and the try/except lives here once.

Layer 0: standard library and :mod:`medidenoise.errors` only.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from medidenoise.errors import MissingPackageError

__all__ = ["available", "optional", "require"]


def available(name: str) -> bool:
    """Whether the package ``name`` is installed, without importing it.

    Examples
    --------
    >>> available("json"), available("no_such_package_here")
    (True, False)
    """
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a dotted name whose parent is missing
        return False


def optional(name: str) -> ModuleType | None:
    """The module ``name``, or ``None`` when it (or a package it needs) is not installed.

    Examples
    --------
    >>> optional("json").__name__, optional("no_such_package_here")
    ('json', None)
    """
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def require(name: str, message: str, *, error: type[Exception] = MissingPackageError) -> ModuleType:
    """The module ``name``; when it cannot be imported, ``error(message)`` is raised instead
    (from the original ``ImportError``, which stays readable as ``__cause__``).

    ``message`` names the feature and the command that installs the package;
    :class:`~medidenoise.errors.MissingPackageError` (an ``ImportError``) unless the caller's
    layer has its own error for it (``ConversionError`` for a conversion option).

    Examples
    --------
    >>> require("json", "never raised").__name__
    'json'
    >>> require("no_such_package_here", "this needs it: pip install it")
    Traceback (most recent call last):
    ...
    medidenoise.errors.MissingPackageError: this needs it: pip install it
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise error(message) from exc
