"""mkdocs hook: the docstrings cross-reference in Sphinx's style (``:func:`~medidenoise.denoise```),
which Markdown shows as a literal role. On every page, such a reference becomes the name as
Sphinx would print it, linked to its API page when it is a public name of ``medidenoise``."""

from __future__ import annotations

import inspect
import re
from typing import Any

import medidenoise as md

ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj):\s*<code>(~?)([\w.]+)</code>")


def api_pages() -> dict[str, str]:
    """Public name -> its page under reference/api/, named as docs/_gen/api_pages.py names it."""
    pages: dict[str, str] = {}
    taken: set[str] = set()
    for name in sorted(md.__all__, key=lambda n: (inspect.isclass(getattr(md, n)), n)):
        stem = name.lower()
        if stem in taken:
            stem += "-class" if inspect.isclass(getattr(md, name)) else "-value"
        taken.add(stem)
        pages[name] = stem
    return pages


PAGES = api_pages()


def on_page_content(html: str, page: Any, **_: Any) -> str:
    depth = page.url.count("/")  # directory URLs: "reference/api/denoise/" is 3 deep
    up = "../" * depth

    def replace(match: re.Match[str]) -> str:
        tilde, target = match.groups()
        shown = target.rsplit(".", 1)[-1] if tilde else target
        last = target.rsplit(".", 1)[-1]
        if target.startswith("medidenoise") and last in PAGES:
            return f'<a href="{up}reference/api/{PAGES[last]}/"><code>{shown}</code></a>'
        return f"<code>{shown}</code>"

    return ROLE.sub(replace, html)
