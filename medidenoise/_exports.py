"""One list of public names per package, from which ``__all__`` (and lazy loading) derive.

Two kinds of package ``__init__``:

- **eager** (``adaptation``, ``convert``, ``engine``, ``evaluation``, ``export``,
  ``inference``, ``models``): the ``from ... import name`` lines are the list;
  ``__all__ = public_names(globals())`` derives from them at the end of the ``__init__`` (so
  anything else an ``__init__`` imports takes a leading underscore, e.g. ``public_names as
  _public_names``).
- **lazy** (``medidenoise`` itself, ``io``, ``transforms``): a ``{name: module}`` table is
  the list (eager names may sit beside it); ``lazy_attributes`` builds the module's
  ``__getattr__``/``__dir__`` from it, so a heavy module (torch, MONAI) loads on first use.
  Type checkers cannot read the table, so the ``__init__`` repeats those imports under
  ``TYPE_CHECKING``; ``tests/test_architecture.py`` checks that the two agree name for name.

Layer 0: standard library only.
"""

from __future__ import annotations
import __future__

import importlib
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

__all__ = ["lazy_attributes", "public_names"]


def public_names(namespace: Mapping[str, Any]) -> list[str]:
    """The names a package ``__init__`` imported or defined for its users, sorted.

    Leaves out private names (leading underscore), submodules (the import system binds them
    in the package as it loads them), ``from __future__`` features and ``TYPE_CHECKING``.

    Examples
    --------
    >>> from math import pi, sqrt
    >>> import os
    >>> public_names({"pi": pi, "sqrt": sqrt, "os": os, "_hidden": 1})
    ['pi', 'sqrt']
    """
    return sorted(
        name
        for name, value in namespace.items()
        if not name.startswith("_")
        and name != "TYPE_CHECKING"
        and not isinstance(value, (ModuleType, __future__._Feature))
    )


def lazy_attributes(
    package: str, table: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a package whose names ``table`` maps to their modules.

    The first access to a name imports its module and keeps the value in ``namespace`` (the
    package's globals), so later accesses cost nothing.

    Examples
    --------
    >>> ns = {"__all__": ["sqrt"]}
    >>> getattr_, dir_ = lazy_attributes("demo", {"sqrt": "math"}, ns)
    >>> getattr_("sqrt")(9.0), "sqrt" in ns, dir_()
    (3.0, True, ['sqrt'])
    >>> getattr_("cbrt")
    Traceback (most recent call last):
    AttributeError: module 'demo' has no attribute 'cbrt'
    """

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(namespace["__all__"])

    return __getattr__, __dir__
