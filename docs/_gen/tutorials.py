"""Run the tutorials at build time and write their pages with the output and figures they made.

A tutorial is a Python script in ``docs/tutorials/`` split into cells by ``# %%`` lines:
``# %% [markdown]`` cells are prose (each line a comment), the others are code. Code cells run
in order in one namespace, inside a scratch folder (files they write land there); what they
print follows the code on the page, and each matplotlib figure they leave open becomes a PNG
shown under it. A cell that raises fails the build, so every page shows a run that worked.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import time
import traceback
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mkdocs_gen_files

HERE = Path(__file__).resolve().parents[1] / "tutorials"
log = logging.getLogger("mkdocs.plugins.medidenoise.tutorials")


def cells(source: str) -> list[tuple[str, str]]:
    """``[(kind, text)]`` with kind ``"markdown"`` or ``"code"``; text before the first
    ``# %%`` (the module docstring, the file's own header) is left out."""
    found: list[tuple[str, str]] = []
    kind, lines = None, []
    for line in source.splitlines():
        if line.startswith("# %%"):
            if kind is not None:
                found.append((kind, "\n".join(lines).strip("\n")))
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        elif kind == "markdown":
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        elif kind is not None:
            lines.append(line)
    if kind is not None:
        found.append((kind, "\n".join(lines).strip("\n")))
    return [(k, t) for k, t in found if t]


def run(script: Path) -> str:
    """Execute one tutorial and return its page."""
    stem = script.stem
    namespace: dict[str, object] = {"__name__": "__main__", "__file__": str(script)}
    parts: list[str] = []
    figures = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"tutorial-{stem}-") as scratch:
        old_cwd = os.getcwd()
        os.chdir(scratch)
        try:
            for number, (kind, text) in enumerate(cells(script.read_text()), 1):
                if kind == "markdown":
                    parts.append(text)
                    continue
                parts.append(f"```python\n{text}\n```")
                out = io.StringIO()
                try:
                    with contextlib.redirect_stdout(out):
                        exec(compile(text, f"{script.name} (cell {number})", "exec"), namespace)
                except Exception as exc:
                    detail = traceback.format_exc()
                    message = f"tutorial {script.name}, cell {number} failed:\n{detail}"
                    raise RuntimeError(message) from exc
                if out.getvalue().strip():
                    parts.append(f"```text\n{out.getvalue().rstrip()}\n```")
                for fig_number in plt.get_fignums():
                    figures += 1
                    name = f"{stem}_{figures}.png"
                    with mkdocs_gen_files.open(f"tutorials/{name}", "wb") as f:
                        plt.figure(fig_number).savefig(f, format="png", dpi=80, bbox_inches="tight")
                    parts.append(f"![figure {figures} of this tutorial]({name})")
                plt.close("all")
        finally:
            os.chdir(old_cwd)
    seconds = time.perf_counter() - start
    log.info("tutorial %s ran in %.1f s (%d figures)", script.name, seconds, figures)
    parts.append(
        f"<small>This page ran at build time in {seconds:.0f} s on the machine that built the "
        f"site; its source is `docs/tutorials/{script.name}`.</small>"
    )
    return "\n\n".join(parts) + "\n"


for script in sorted(HERE.glob("*.py")):
    page = run(script)
    with mkdocs_gen_files.open(f"tutorials/{script.stem}.md", "w") as f:
        f.write(page)
