"""The package keeps one import direction and a small, explicit public API."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import medidenoise

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "medidenoise"

# lower layers first; a module may import its own layer or any layer before it
LAYERS = [
    {"errors", "_version", "_noise_kinds", "_validate", "config"},
    {"io"},
    {"transforms"},
    {"models"},
    {"engine"},
    {"inference"},
    {"evaluation", "convert", "export"},
    {"cli", "demo", "__main__", "__init__"},
]
FORBIDDEN = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "superqt")


def _layer_of(part: str) -> int:
    for i, names in enumerate(LAYERS):
        if part in names:
            return i
    raise AssertionError(f"medidenoise.{part} is not assigned to a layer in this test")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "weights" not in p.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_point_down_only(path: Path) -> None:
    rel = path.relative_to(PKG)
    own = _layer_of(rel.parts[0].removesuffix(".py"))
    for name in _imports(path):
        top = name.split(".")[0]
        assert top not in FORBIDDEN, f"{rel} imports {name}: the library must not need a GUI"
        if top == "medidenoise" and "." in name:
            target = _layer_of(name.split(".")[1])
            assert target <= own, f"{rel} (layer {own}) imports {name} (layer {target})"


def test_public_names_resolve() -> None:
    for name in medidenoise.__all__:
        assert getattr(medidenoise, name) is not None, name


def test_subpackages_declare_all() -> None:
    for sub in (
        "io",
        "transforms",
        "models",
        "engine",
        "inference",
        "evaluation",
        "convert",
        "export",
    ):
        module = importlib.import_module(f"medidenoise.{sub}")
        assert module.__all__, f"medidenoise.{sub}.__all__ is empty"
        for name in module.__all__:
            assert hasattr(module, name), f"medidenoise.{sub}.__all__ names missing {name}"
