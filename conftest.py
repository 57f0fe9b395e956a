"""Checks that hold for every test, and doctest collection.

The Examples sections of the package's docstrings run as tests through pytest's own
``--doctest-modules`` (pyproject.toml: ``addopts``, ``doctest_optionflags``; a module whose
optional dependency is missing is skipped by ``--doctest-ignore-import-errors``).
"""

from __future__ import annotations

import pytest

# --doctest-modules would import the conftest.py of each test folder a second time as a module
# named "conftest", which clashes with the others; they hold fixtures, not examples
collect_ignore_glob = ["*/conftest.py"]


@pytest.fixture(autouse=True)
def _autograd_is_left_on():
    """Fail the test that leaves autograd switched off for the process (every later test that
    trains would break far from the cause)."""
    import torch

    yield
    if not torch.is_grad_enabled():
        torch.set_grad_enabled(True)
        pytest.fail("this test left torch's autograd switched off for the whole process")
