"""The one optional-import helper: what a missing package turns into."""

from __future__ import annotations

import sys

import pytest

from medidenoise._optional import available, optional, require
from medidenoise.errors import ConversionError, MissingPackageError


def test_a_missing_package_becomes_the_callers_error_with_its_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "json", None)  # as if json were not installed
    with pytest.raises(MissingPackageError, match="pip install thing") as caught:
        require("json", "this needs json: pip install thing")
    assert isinstance(caught.value, ImportError)
    assert isinstance(caught.value.__cause__, ImportError)  # the original stays readable
    with pytest.raises(ConversionError, match="dask"):
        require("json", "scheduler= needs dask", error=ConversionError)
    assert optional("json") is None


def test_present_packages_are_returned_and_probing_imports_nothing() -> None:
    assert require("math", "unused").sqrt(4.0) == 2.0
    assert optional("math") is sys.modules["math"]
    name = "xml.dom.pulldom"
    sys.modules.pop(name, None)
    assert available(name) and name not in sys.modules
    assert not available("no_such_package_here.sub")
