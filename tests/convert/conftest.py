"""Fixtures for the conversion tests: a messy PACS-like export built in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import build_export, hash_tree, write_ct_series


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """A messy export (with broken files) under tmp_path/in."""
    return build_export(tmp_path / "in")


@pytest.fixture
def clean_export(tmp_path: Path) -> Path:
    """The same export without broken files."""
    return build_export(tmp_path / "in", broken=False)


@pytest.fixture
def tree_hash():
    """``tree_hash(root) -> {relative path: sha256}`` of every file under root."""
    return hash_tree


@pytest.fixture
def ct_series():
    """``ct_series(folder, n=5, size=128, number=2) -> paths``: a synthetic CT series."""
    return write_ct_series


@pytest.fixture
def make_export():
    """``make_export(root, broken=True) -> root``: build a messy export anywhere."""
    return build_export
