"""Write the API reference: one page per name in ``medidenoise.__all__``, an index, and the
napari plugin's contributions (from its napari.yaml). Run by mkdocs-gen-files at build time,
so a name added to ``__all__`` gets its page without anyone editing the docs."""

from __future__ import annotations

import inspect
from pathlib import Path

import mkdocs_gen_files
import yaml

import medidenoise as md

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "napari_plugin/src/napari_medidenoise/napari.yaml"

# subpackage -> section title, in reading order; a subpackage not listed gets its own section
SECTIONS = {
    "inference": "Denoising",
    "io": "Reading and writing images",
    "transforms": "Noise and intensity",
    "convert": "DICOM folder conversion",
    "models": "Models and checkpoints",
    "config": "Configuration",
    "engine": "Training",
    "adaptation": "Adapting to your scans",
    "export": "Export",
    "evaluation": "Evaluation and quality",
    "errors": "Errors",
    "_version": "Version",
}


def home_module(name: str) -> str:
    """The subpackage a public name comes from (``medidenoise.io._volume`` -> ``io``)."""
    table: dict[str, str] = getattr(md, "_EXPORTS", {})
    module = table.get(name) or getattr(getattr(md, name), "__module__", None) or "medidenoise"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "_version"


def page_name(name: str, taken: set[str]) -> str:
    """A file name that differs from every other one even on a case-insensitive file system
    (``denoise`` and ``Denoise`` both exist). docs/_gen/hooks.py names the pages the same way."""
    stem = name.lower()
    if stem in taken:
        stem += "-class" if inspect.isclass(getattr(md, name)) else "-value"
    taken.add(stem)
    return f"{stem}.md"


def kind(obj: object) -> str:
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if callable(obj):
        return "function"
    return "constant"


def summary(obj: object) -> str:
    if kind(obj) == "constant":
        return f"`{obj!r}`" if len(repr(obj)) < 60 else "a constant"
    doc = inspect.getdoc(obj) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ").replace("|", "\\|")


def api_pages() -> dict[str, list[tuple[str, str]]]:
    """Write every page; return section -> [(name, page file)] for the index and the nav."""
    sections: dict[str, list[tuple[str, str]]] = {title: [] for title in SECTIONS.values()}
    taken: set[str] = set()
    # functions and classes whose names differ only in case: the function takes the plain name
    for name in sorted(md.__all__, key=lambda n: (inspect.isclass(getattr(md, n)), n)):
        section = SECTIONS.get(home_module(name), home_module(name).capitalize())
        page = page_name(name, taken)
        with mkdocs_gen_files.open(f"reference/api/{page}", "w") as f:
            f.write(f"::: medidenoise.{name}\n")
        sections.setdefault(section, []).append((name, page))
    return {
        title: sorted(items, key=lambda item: item[0].lower())
        for title, items in sections.items()
        if items
    }


def api_index(sections: dict[str, list[tuple[str, str]]]) -> None:
    lines = [
        "# Python API",
        "",
        "Everything below is importable from the package itself (`import medidenoise as md`,",
        "then `md.denoise(...)`); these are the names of `medidenoise.__all__`, each on its own",
        "page generated from its docstring. Anything else is internal and may change.",
        "",
    ]
    for title, items in sections.items():
        lines += [f"## {title}", "", "| name | kind | summary |", "|---|---|---|"]
        for name, page in items:
            obj = getattr(md, name)
            lines.append(f"| [`{name}`]({page}) | {kind(obj)} | {summary(obj)} |")
        lines.append("")
    with mkdocs_gen_files.open("reference/api/index.md", "w") as f:
        f.write("\n".join(lines))


def napari_page() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    contrib = manifest["contributions"]
    commands = {c["id"]: c for c in contrib["commands"]}
    lines = [
        "# napari plugin",
        "",
        f"The plugin `{manifest['name']}` (menu name *{manifest['display_name']}*) declares these",
        "contributions in its `napari.yaml`; each links to the Python object napari calls.",
        "How to use them: the [napari walkthrough](../tutorials/napari.md).",
        "",
    ]
    groups = [
        ("Widgets", "widgets", "display_name"),
        ("Readers", "readers", "filename_patterns"),
        ("Writers", "writers", "filename_extensions"),
        ("Sample data", "sample_data", "display_name"),
    ]
    for title, key, detail in groups:
        lines += [f"## {title}", ""]
        for item in contrib.get(key, []):
            command = commands[item["command"]]
            shown = item.get(detail)
            shown = ", ".join(f"`{s}`" for s in shown) if isinstance(shown, list) else shown
            lines += [f"### {command['title']}", "", f"{shown} (command `{command['id']}`)", ""]
            module, _, attr = command["python_name"].partition(":")
            lines += [
                f"::: {module}.{attr}",
                "    options:",
                "      heading_level: 4",
                "      show_root_heading: true",
                "      show_root_full_path: true",
                "",
            ]
    with mkdocs_gen_files.open("reference/napari.md", "w") as f:
        f.write("\n".join(lines))


# The site's navigation (mkdocs-literate-nav): the hand-written pages in reading order, the
# API pages by section. Written here because only this script knows the sections.
NAV_HEAD = """\
* [Home](index.md)
* [Getting started](getting-started.md)
* Tutorials
    * [Denoise a CT and an MR](tutorials/denoise_ct_mr.md)
    * [Convert a DICOM folder](tutorials/convert_folder.md)
    * [Train a model from a config](tutorials/train.md)
    * [Adapt to your own scans](tutorials/adapt.md)
    * [Export and run elsewhere](tutorials/export.md)
    * [napari walkthrough](tutorials/napari.md)
* How-to
    * [Choose a model](howto/choose-model.md)
    * [Noise levels and units](howto/noise-levels.md)
    * [CT windows](howto/ct-windows.md)
    * [Folders with many series](howto/multi-series.md)
    * [Conversion details](howto/conversion.md)
    * [Many machines with Dask](howto/dask.md)
    * [From and to a PACS](howto/pacs.md)
    * [MONAI pipelines](howto/monai.md)
* Reference
    * [Python API](reference/api/index.md)
"""

NAV_TAIL = """\
    * [Command line](reference/cli.md)
    * [napari plugin](reference/napari.md)
* [Benchmarks](benchmarks.md)
* [Model cards](model_cards.md)
* [Internals](internals.md)
* [Changelog](changelog.md)
* [License](license.md)
"""


def write_nav(sections: dict[str, list[tuple[str, str]]]) -> None:
    lines = [NAV_HEAD.rstrip("\n")]
    for title, items in sections.items():
        lines.append(f"        * {title}")
        lines += [f"            * [{name}](reference/api/{page})" for name, page in items]
    with mkdocs_gen_files.open("SUMMARY.md", "w") as f:
        f.write("\n".join(lines) + "\n" + NAV_TAIL)


sections = api_pages()
api_index(sections)
napari_page()
write_nav(sections)
