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


def test_run_model_takes_every_kind_load_bench_model_returns(common) -> None:
    # "auto:NETWORK" is a Denoiser that denoise() does not take; bench_correlated and
    # compare_models run every model through run_model, names and Denoisers alike
    import numpy as np

    from medidenoise import Denoiser, denoise

    rng = np.random.default_rng(0)
    clean = np.tile(np.linspace(0.2, 0.8, 64, dtype=np.float32), (64, 1))
    noisy = clean + rng.normal(0, 0.05, clean.shape).astype(np.float32)
    routed = common.load_bench_model("auto:white")
    assert isinstance(routed, Denoiser)
    # "auto" with its own white network on the white route is plain "auto"
    expected = denoise(noisy, "auto", noise_level=0.05)
    np.testing.assert_allclose(common.run_model(routed, noisy, 0.05), expected, atol=1e-6)
    np.testing.assert_allclose(common.run_model("auto", noisy, 0.05), expected, atol=1e-6)
    # a network on the correlated route: white noise still goes to white, and the label
    # names the network that stood in
    swapped = common.load_bench_model("auto-correlated:default")
    np.testing.assert_allclose(common.run_model(swapped, noisy, 0.05), expected, atol=1e-6)
    assert swapped.model.names[True] == "default" and swapped.model.names[False] == "white"
    assert common.run_model("identity", noisy).tolist() == noisy.tolist()
