"""The docs tests' gate: a test that needs a display (napari) or Chromium is skipped where they
are missing, but fails instead under ``MEDIDENOISE_REQUIRE_GUI=1`` / ``MEDIDENOISE_REQUIRE_TOOLS=1``
(CI, ``make test``), so the site and its screenshots are never left unchecked unnoticed."""

from __future__ import annotations

import os

import pytest


def require(missing: str | None, variable: str) -> None:
    """Skip the calling test because of ``missing``, or fail it when ``variable`` is ``1``."""
    if missing is None:
        return
    if os.environ.get(variable) == "1":
        pytest.fail(f"{missing}, but {variable}=1 (as in CI): it must run", pytrace=False)
    pytest.skip(missing)
