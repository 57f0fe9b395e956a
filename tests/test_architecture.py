"""The package keeps one import direction and a small, explicit public API."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import medidenoise

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "medidenoise"
PLUGIN = ROOT / "napari_plugin" / "src"

# --- the import direction: import-linter contracts in pyproject.toml ([tool.importlinter]) ----


def lint_imports(*path: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter with the project's contracts on ``medidenoise`` and
    ``napari_medidenoise`` as found first on ``path``."""
    code = (
        "import sys\n"
        "from importlinter.cli import lint_imports\n"
        f"sys.exit(lint_imports({str(ROOT / 'pyproject.toml')!r}, no_cache=True, no_logo=True))"
    )
    env = {**os.environ, "COLUMNS": "400", "PYTHONPATH": os.pathsep.join(map(str, path))}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=path[0],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _copy_packages(dest: Path) -> Path:
    """The two packages' Python files, copied to ``dest`` (the import graph needs no data)."""
    skip = shutil.ignore_patterns("__pycache__", "*.safetensors")
    for src in (PKG, PLUGIN / "napari_medidenoise"):
        shutil.copytree(src, dest / src.name, ignore=skip)
    return dest


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT, PLUGIN)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


#: (file under the copied tree, line appended, what the report must name)
VIOLATIONS = [
    ("medidenoise/io/read.py", "from medidenoise.inference import Denoiser",
     "medidenoise.io.read -> medidenoise.inference"),
    ("medidenoise/transforms/noise.py", "from .. import cli",
     "medidenoise.transforms.noise -> medidenoise.cli"),
    ("medidenoise/inference/denoiser.py", "from ..engine import data",
     "medidenoise.inference.denoiser -> medidenoise.engine.data"),
    ("medidenoise/engine/data.py", "def late():\n    import medidenoise.inference.denoiser",
     "medidenoise.engine.data -> medidenoise.inference.denoiser"),
    ("medidenoise/models/cae.py", "from medidenoise import evaluate",
     "medidenoise.models.cae -> medidenoise"),
    ("medidenoise/io/nifti.py", "import napari", "medidenoise.io.nifti -> napari"),
    ("medidenoise/evaluation/plots.py", "from qtpy import QtWidgets",
     "medidenoise.evaluation.plots -> qtpy"),
    ("napari_medidenoise/_reader.py", "from medidenoise.io import read_volume",
     "napari_medidenoise._reader -> medidenoise.io"),
]  # fmt: skip


def test_the_import_contracts_catch_every_kind_of_violation(tmp_path: Path) -> None:
    """Upward (absolute, relative, inside a function), engine <-> inference, the facade
    imported from inside, a GUI toolkit, and a plugin import past the public API."""
    tree = _copy_packages(tmp_path)
    for rel, line, _ in VIOLATIONS:
        with open(tree / rel, "a", encoding="utf-8") as fp:
            fp.write(f"\n\n{line}\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "0 kept, 4 broken" in result.stdout, result.stdout
    for _, _, report in VIOLATIONS:
        assert report in result.stdout, f"{report!r} not reported:\n{result.stdout}"


# --- the napari plugin uses only the public API --------------------------------------------
# (a plugin import of a medidenoise submodule is an import-linter contract; what it cannot
# see is a private name taken from the facade: ``from medidenoise import _EXPORTS``, ``md._x``)

PUBLIC = set(medidenoise.__all__)


def private_uses(source: str) -> list[str]:
    """Uses of the facade in ``source`` that go past ``medidenoise.__all__``:
    ``from medidenoise import <private>``, or ``md.<private>`` on the imported package."""
    problems, aliases = [], set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases.update(a.asname or a.name for a in node.names if a.name == "medidenoise")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "medidenoise":
                problems.extend(
                    f"from medidenoise import {a.name}" for a in node.names if a.name not in PUBLIC
                )
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr not in PUBLIC
        ):
            problems.append(f"{node.value.id}.{node.attr}")
    return problems


@pytest.mark.parametrize(
    "path", sorted(PLUGIN.rglob("*.py")), ids=lambda p: str(p.relative_to(PLUGIN))
)
def test_the_plugin_imports_only_public_names(path: Path) -> None:
    assert private_uses(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "from medidenoise import _EXPORTS",
        "import medidenoise as md\nmd.inference.Denoiser",
        "import medidenoise\nmedidenoise.models.checkpoint",
    ],
)
def test_the_public_api_check_catches_a_private_use(source: str) -> None:
    assert private_uses(source), f"{source!r} was not caught"


def test_public_uses_pass_the_check() -> None:
    assert private_uses("import medidenoise as md\nfrom medidenoise import Denoiser\nmd.psnr") == []


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
        "adaptation",
        "evaluation",
        "convert",
        "export",
        "pacs",
    ):
        module = importlib.import_module(f"medidenoise.{sub}")
        assert module.__all__, f"medidenoise.{sub}.__all__ is empty"
        for name in module.__all__:
            assert hasattr(module, name), f"medidenoise.{sub}.__all__ names missing {name}"


def _type_checking_imports(package: str) -> dict[str, str]:
    """``{name: module}`` of the imports under ``if TYPE_CHECKING:`` in a package ``__init__``."""
    init = PKG.joinpath(*package.split(".")[1:], "__init__.py")
    found: dict[str, str] = {}
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module, ast.dump(imp)
                found.update({alias.name: imp.module for alias in imp.names})
    return found


@pytest.mark.parametrize(
    ("package", "table"),
    [
        ("medidenoise", "_EXPORTS"),
        ("medidenoise.io", "_LAZY"),
        ("medidenoise.transforms", "_LAZY"),
        ("medidenoise.pacs", "_LAZY"),
    ],
)
def test_lazy_names_are_listed_once_and_typed_the_same(package: str, table: str) -> None:
    """The name -> module table is the list; the TYPE_CHECKING imports must match it exactly."""
    module = importlib.import_module(package)
    names = getattr(module, table)
    assert _type_checking_imports(package) == names
    assert set(names) <= set(module.__all__)
    for name in names:
        assert getattr(module, name) is getattr(importlib.import_module(names[name]), name)
    assert sorted(module.__all__) == sorted(set(module.__all__)), "a name is listed twice"


def test_all_holds_no_private_names_nor_submodules() -> None:
    for sub in ("", *(f".{s}" for s in ("io", "transforms", "models", "engine", "inference",
                                         "adaptation", "evaluation", "convert", "export",
                                         "pacs"))):  # fmt: skip
        module = importlib.import_module(f"medidenoise{sub}")
        for name in module.__all__:
            assert not name.startswith("_") or name == "__version__", f"{module.__name__}: {name}"
            assert not inspect.ismodule(getattr(module, name)), f"{module.__name__}.{name}"
