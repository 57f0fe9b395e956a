"""Every public transforms module documents itself with examples.

The examples themselves run with the rest of the package's docstrings: ``medidenoise`` is in
``testpaths`` (pyproject.toml) and the root ``conftest.py`` collects its modules as doctests.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

MODULES = [
    "noise",
    "noise_array",
    "noise_dict",
    "paired",
    "intensity",
    "intensity_transforms",
    "estimate",
]


@pytest.mark.parametrize("name", MODULES)
def test_module_has_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"medidenoise.transforms.{name}")
    examples = sum(len(test.examples) for test in doctest.DocTestFinder().find(module))
    assert examples > 0, f"medidenoise.transforms.{name} has no examples"


def test_the_package_docstrings_run_as_tests(pytestconfig: pytest.Config) -> None:
    assert "medidenoise" in pytestconfig.getini("testpaths")
    collector = Path(__file__).resolve().parents[2] / "conftest.py"
    loaded = {getattr(p, "__file__", None) for p in pytestconfig.pluginmanager.get_plugins()}
    assert str(collector) in loaded, "the root conftest.py (doctest collection) is not loaded"
