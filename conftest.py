"""Run the Examples sections of the package's docstrings as tests (doctests).

Only the modules under ``medidenoise/`` are collected as doctests: ``--doctest-modules`` would
also import every test file and conftest.py a second time as a doctest module, which clashes
with the several ``conftest.py`` of the test folders. A module whose optional dependency is
missing is skipped (``--doctest-ignore-import-errors`` in pyproject.toml); the flags come from
``doctest_optionflags`` there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _pytest.doctest import DoctestModule  # not re-exported by pytest; stable since pytest 7

PACKAGE = Path(__file__).resolve().parent / "medidenoise"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if (
        file_path.suffix == ".py"
        and PACKAGE in file_path.resolve().parents
        and file_path.name != "__main__.py"  # importing it runs the CLI
        and not parent.config.getoption("doctestmodules")  # pytest's own collection is on
    ):
        return DoctestModule.from_parent(parent, path=file_path)
    return None


@pytest.fixture(autouse=True)
def _autograd_is_left_on():
    """Fail the test that leaves autograd switched off for the process (every later test that
    trains would break far from the cause)."""
    import torch

    yield
    if not torch.is_grad_enabled():
        torch.set_grad_enabled(True)
        pytest.fail("this test left torch's autograd switched off for the whole process")
