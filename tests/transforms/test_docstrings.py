"""Every public transforms module documents itself with examples.

The examples themselves run with the rest of the package's docstrings: ``--doctest-modules``
over ``medidenoise/`` in ``[tool.pytest.ini_options]`` (pyproject.toml).
"""

from __future__ import annotations

import doctest
import importlib

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
    assert pytestconfig.getoption("doctestmodules")
