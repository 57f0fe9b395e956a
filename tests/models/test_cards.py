"""Model cards: every shipped model has one, its figures stand in BENCHMARKS.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import medidenoise as md
from medidenoise.cli import main
from medidenoise.models.cards import CARD_MODELS, MEASURED

BENCHMARKS = (Path(__file__).resolve().parents[2] / "BENCHMARKS.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", CARD_MODELS)
def test_every_card_model_has_a_card(name: str) -> None:
    card = md.model_card(name)
    assert card.intended_use.startswith("research use, not for diagnosis")
    assert card.training_data and "not recorded" not in card.training_data
    assert card.trained_levels is not None and card.limits
    text = card.text()
    assert "Intended use: research use, not for diagnosis" in text
    assert "Known limits:" in text and "Measured (BENCHMARKS.md):" in text


@pytest.mark.parametrize("name", sorted(MEASURED))
def test_quoted_figures_stand_in_benchmarks(name: str) -> None:
    """No figure is invented: each number a card quotes appears in BENCHMARKS.md, and so
    does the command that measured it."""
    for _, figures, command in MEASURED[name]:
        assert command.split(" --")[0] in BENCHMARKS, command
        for number in re.findall(r"\d+\.\d\d", figures):
            assert number in BENCHMARKS, (name, number)


def test_the_trained_range_comes_from_the_weights() -> None:
    assert md.model_card("white").trained_levels == (0.0003, 0.15)
    assert md.model_card("cae-baseline").trained_levels == (0.03, 0.12)


def test_info_prints_the_card(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "auto"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Model card: auto") and "BM3D" in out and "NLM" in out
    assert "research use, not for diagnosis" in out and "bench_quality.py" in out


def test_info_names_what_it_knows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "no-such-model"]) == 2
    assert "not a shipped model (auto, " in capsys.readouterr().err


def test_a_card_counts_the_images_the_sources_expanded_to(tmp_path: Path) -> None:
    """``pydicom:*`` and ``mvtb`` expand to many images; a volume split into bands of rows is
    listed once per band; the procedural share and the run a fine-tune started from show."""
    from medidenoise.models import build_model
    from medidenoise.models.checkpoint import save_checkpoint

    meta = {
        "data": {
            "train": ["pydicom:*", "mvtb"],
            "train_volumes": ["pydicom:a.dcm", "pydicom:a.dcm", "pydicom:b.dcm", "mvtb:x.png"],
            "train_slices": 7,
            "procedural": 0.35,
            "procedural_kinds": ["vibrant_leaves", "phantom"],
        },
        "train": {"epochs": 3, "init_weights": "training_state/white_cpu_low/best.safetensors"},
    }
    path = tmp_path / "m.safetensors"
    net = build_model({"arch": "unet", "features": [4, 8], "noise_level_input": True})
    save_checkpoint(path, net, metadata=meta)
    card = md.model_card(path)
    assert card.training_data.startswith("mvtb 1, pydicom 2 images (7 training slices)")
    assert "35% of the patches procedural (vibrant_leaves, phantom)" in card.training_data
    assert card.compute.endswith("started from white_cpu_low")
