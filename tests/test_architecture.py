"""The package keeps one import direction and a small, explicit public API."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import medidenoise

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "medidenoise"

# lower layers first; a module may import its own layer or any layer before it
LAYERS = [
    {"errors", "_version", "_exports", "_noise_kinds", "_model_names", "_validate", "config"},
    {"io"},
    {"transforms"},
    {"models"},
    {"engine", "inference"},  # side by side: neither imports the other (checked below)
    {"adaptation", "evaluation", "convert", "export", "pacs"},
    {"cli", "demo", "__main__", "__init__"},
]
FORBIDDEN = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "superqt")


def _layer_of(part: str) -> int:
    for i, names in enumerate(LAYERS):
        if part in names:
            return i
    raise AssertionError(f"medidenoise.{part} is not assigned to a layer in this test")


def _module_name(rel: Path) -> str:
    """``io/nifti.py`` -> ``medidenoise.io.nifti``; ``io/__init__.py`` -> ``medidenoise.io``."""
    parts = ["medidenoise", *rel.with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exported_module(name: str) -> str:
    """``medidenoise.<name>``: the module behind a public name (``_EXPORTS``) or a submodule."""
    return medidenoise._EXPORTS.get(name, f"medidenoise.{name}")


def imported_modules(source: str, rel: Path) -> list[str]:
    """Every medidenoise-or-other module that ``source`` (the file ``rel`` under medidenoise/)
    imports, absolute: relative imports are resolved to their package, and
    ``from medidenoise import name`` to the module that defines ``name``."""
    package = _module_name(rel).split(".")
    if rel.name != "__init__.py":
        package = package[:-1]
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module == "medidenoise":
                names.extend(_exported_module(alias.name) for alias in node.names)
            elif node.level and not node.module:  # from . import x: x is a module of the package
                names.extend(f"{module}.{alias.name}" for alias in node.names)
            else:
                names.append(module)
    return names


def layer_violations(source: str, rel: Path) -> list[str]:
    """What in ``source`` (the file ``rel`` under medidenoise/) breaks the import direction."""
    own = _layer_of(rel.parts[0].removesuffix(".py"))
    problems = []
    for name in imported_modules(source, rel):
        top = name.split(".")[0]
        if top in FORBIDDEN:
            problems.append(f"{rel} imports {name}: the library must not need a GUI")
        if top == "medidenoise" and "." in name:
            target = _layer_of(name.split(".")[1])
            if target > own:
                problems.append(f"{rel} (layer {own}) imports {name} (layer {target})")
    return problems


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "weights" not in p.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_point_down_only(path: Path) -> None:
    rel = path.relative_to(PKG)
    assert layer_violations(path.read_text(encoding="utf-8"), rel) == []


#: packages of one layer that must not import each other
INDEPENDENT = ("engine", "inference")


def independence_violations(source: str, rel: Path) -> list[str]:
    """Imports in ``source`` (the file ``rel``) from a package that must stay independent of
    the file's own (``inference`` <-> ``engine``: inference runs on a server without training)."""
    own = rel.parts[0].removesuffix(".py")
    if own not in INDEPENDENT:
        return []
    return [
        f"{rel} imports {name}: {own} must not depend on {name.split('.')[1]}"
        for name in imported_modules(source, rel)
        if name.startswith("medidenoise.")
        and name.split(".")[1] in INDEPENDENT
        and name.split(".")[1] != own
    ]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_engine_and_inference_import_nothing_from_each_other(path: Path) -> None:
    rel = path.relative_to(PKG)
    assert independence_violations(path.read_text(encoding="utf-8"), rel) == []


def test_the_independence_check_catches_a_violation() -> None:
    assert independence_violations("from ..engine import train", Path("inference/adapt.py"))
    assert independence_violations("import medidenoise.inference", Path("engine/data.py"))
    assert not independence_violations("from ..engine import train", Path("adaptation/_run.py"))


@pytest.mark.parametrize(
    ("source", "rel"),
    [
        ("from medidenoise.inference import Denoiser", "io/read.py"),
        ("import medidenoise.engine.data", "models/networks.py"),
        ("from ..evaluation import psnr", "io/read.py"),
        ("from .. import cli", "transforms/noise.py"),
        ("from .. import evaluation", "inference/denoiser.py"),
        ("from ..convert.folder import convert_dicom_folder", "io/read.py"),
        ("from medidenoise import Denoiser", "io/read.py"),
        ("from medidenoise import evaluate", "inference/denoiser.py"),
        ("import napari", "io/read.py"),
    ],
)
def test_the_layer_check_catches_a_violation(source: str, rel: str) -> None:
    assert layer_violations(source, Path(rel)), f"{source!r} in {rel} was not caught"


def test_relative_and_package_imports_resolve() -> None:
    rel = Path("io/read.py")
    assert imported_modules("from .formats import is_nifti_path", rel) == ["medidenoise.io.formats"]
    assert imported_modules("from . import nifti", rel) == ["medidenoise.io.nifti"]
    assert imported_modules("from .. import errors", rel) == ["medidenoise.errors"]
    assert imported_modules("from . import x", Path("io/__init__.py")) == ["medidenoise.io.x"]
    assert imported_modules("from medidenoise import psnr", rel) == ["medidenoise.evaluation"]
    assert layer_violations("from .. import errors\nfrom .formats import image_stem", rel) == []


# --- the napari plugin uses only the public API --------------------------------------------

PLUGIN = ROOT / "napari_plugin" / "src"
PUBLIC = set(medidenoise.__all__)


def private_uses(source: str) -> list[str]:
    """Uses of medidenoise in ``source`` that go past ``medidenoise.__all__``: a submodule
    import, ``from medidenoise import <private>``, or ``md.<private>`` on the imported package."""
    problems, aliases = [], set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("medidenoise."):
                    problems.append(f"import {alias.name}")
                elif alias.name == "medidenoise":
                    aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("medidenoise."):
                problems.append(f"from {node.module} import ...")
            elif node.module == "medidenoise":
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
        "import medidenoise.io",
        "from medidenoise.inference import Denoiser",
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
