"""docs/model_cards.md holds every shipped model's card as `medidenoise info` prints it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from medidenoise.models import CARD_MODELS

ROOT = Path(__file__).resolve().parents[2]


def test_the_model_cards_page_is_the_cards_of_today() -> None:
    spec = importlib.util.spec_from_file_location(
        "write_model_cards", ROOT / "scripts" / "write_model_cards.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (ROOT / "docs" / "model_cards.md").read_text(encoding="utf-8")
    assert page == module.cards_markdown(), "run python scripts/write_model_cards.py"
    for name in CARD_MODELS:
        assert f"## {name}\n" in page
    assert page.count("research use, not for diagnosis") >= len(CARD_MODELS)
