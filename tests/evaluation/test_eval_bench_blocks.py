"""benchmarks/_common.update_block rewrites only its own block of its own section."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DOC = """# medidenoise benchmarks

Intro.

## Inference speed and quality (default model)

_(section owned by benchmarks/bench_quality.py and benchmarks/bench_speed.py)_

## Training throughput

Figures of another script.
"""


@pytest.fixture
def common(tmp_path: Path, monkeypatch):
    spec = importlib.util.spec_from_file_location("_bench_common", ROOT / "benchmarks/_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text(DOC)
    monkeypatch.setattr(module, "BENCHMARKS_MD", doc)
    return module


def test_blocks_are_added_in_order_and_replaced(common) -> None:
    common.update_block("bench_speed", "### Speed\n\nfast")
    common.update_block("bench_quality", "### Quality\n\ngood")
    text = common.BENCHMARKS_MD.read_text()
    assert "_(section owned" not in text
    assert text.index("### Quality") < text.index("### Speed") < text.index("## Training")
    common.update_block("bench_speed", "### Speed\n\nfaster")
    text = common.BENCHMARKS_MD.read_text()
    assert "faster" in text and "fast\n" not in text
    assert text.count("<!-- bench_speed:start -->") == 1
    assert text.endswith("## Training throughput\n\nFigures of another script.\n")
    assert text.startswith("# medidenoise benchmarks\n\nIntro.\n\n## Inference speed")


def test_the_real_file_has_the_section(common) -> None:
    assert common.SECTION in (ROOT / "BENCHMARKS.md").read_text()
