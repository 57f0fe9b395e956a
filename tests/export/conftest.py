"""Exported models compute in float32: compare them with medidenoise run in float32 too
(``Denoiser(precision="float32")``; the default runs a U-Net's inner levels in bfloat16 on
CPUs that have it, within 0.01 dB but not to the last digit)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _float32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIDENOISE_PRECISION", "float32")
