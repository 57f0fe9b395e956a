"""Fixtures for the io tests: a factory of synthetic DICOM series and shipped data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from factories import data_file, make_series


@pytest.fixture
def series_factory(tmp_path: Path) -> Callable[..., list[Path]]:
    """``series_factory(subfolder, n, **options)`` -> paths (see :func:`make_series`)."""

    def factory(sub: str = "series", n: int = 5, **kwargs) -> list[Path]:
        return make_series(tmp_path / sub, n, **kwargs)

    return factory


@pytest.fixture(scope="session")
def dicomdirtests() -> Path:
    """pydicom's bundled dicomdirtests folder."""
    return data_file("CT_small.dcm").parent / "dicomdirtests"
