"""Fixtures of the PACS tests: a real Orthanc per test, synthetic CT series."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import make_series
from orthanc_server import Orthanc, require_orthanc


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[Orthanc]:
    """A running Orthanc with DICOMweb, on free loopback ports, stopped after the test."""
    require_orthanc()
    server = Orthanc(tmp_path / "orthanc").start()
    try:
        yield server
    finally:
        server.stop(graceful=False)


@pytest.fixture
def ct(tmp_path: Path) -> list[Path]:
    """A synthetic 4-slice 64x64 CT series (one study)."""
    return make_series(tmp_path / "ct", 4, shape=(64, 64), description="pacs CT")
