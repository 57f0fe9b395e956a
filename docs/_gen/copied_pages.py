"""Copy the repository's own documents into the site: BENCHMARKS.md, CHANGELOG.md and LICENSE
stay where GitHub readers look for them and are still pages of the site."""

from __future__ import annotations

from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[2]

with mkdocs_gen_files.open("benchmarks.md", "w") as f:
    f.write((ROOT / "BENCHMARKS.md").read_text())
with mkdocs_gen_files.open("changelog.md", "w") as f:
    f.write((ROOT / "CHANGELOG.md").read_text().replace("(BENCHMARKS.md)", "(benchmarks.md)"))
with mkdocs_gen_files.open("license.md", "w") as f:
    f.write("# License\n\n```text\n" + (ROOT / "LICENSE").read_text().rstrip() + "\n```\n")
