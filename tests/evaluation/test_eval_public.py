"""The public evaluate(model, ...) and the ``medidenoise evaluate`` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medidenoise.cli import main
from medidenoise.evaluation.evaluate_model import evaluate


@pytest.fixture
def ramp(make_smooth) -> dict[str, np.ndarray]:
    return {"smooth": make_smooth(48)}


def test_identity_model_equals_noisy(ramp, tmp_path: Path) -> None:
    res = evaluate(
        "identity",
        ramp,
        noises=["gaussian:0.05", "rician:0.05"],
        methods=["noisy", "model", "tv"],
        output_dir=tmp_path,
        figures=False,
        progress=False,
    )
    means = res.means()
    assert means["model"] == means["noisy"]
    assert res.settings["model"]["name"] == "identity"
    assert "| model |" in res.summary()


def test_cae_row_uses_the_shipped_baseline(ramp, tmp_path: Path) -> None:
    res = evaluate(
        "identity",
        ramp,
        noises=["gaussian:0.1"],
        methods=["noisy", "model", "cae"],
        output_dir=tmp_path,
        figures=False,
        progress=False,
    )
    assert res.methods == ["noisy", "model", "cae"]
    means = res.means()
    assert means["cae"]["gaussian 0.1"][0] > means["noisy"]["gaussian 0.1"][0]  # it denoises


def test_cae_row_is_skipped_with_a_note_without_checkpoint(
    ramp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import medidenoise.evaluation.evaluate_model as em

    monkeypatch.setattr(em, "shipped_weights_path", lambda name: tmp_path / "absent.safetensors")
    res = evaluate(
        "identity",
        ramp,
        noises=["gaussian:0.1"],
        methods=["noisy", "model", "cae"],
        output_dir=tmp_path,
        figures=False,
        progress=False,
    )
    assert res.methods == ["noisy", "model"]
    assert any("CAE baseline skipped" in n for n in res.notes)


def test_classical_model_name_runs_through_denoise(ramp, tmp_path: Path) -> None:
    res = evaluate(
        "tv",
        ramp,
        noises=["gaussian:0.1"],
        methods=["noisy", "model"],
        output_dir=tmp_path,
        figures=False,
        progress=False,
    )
    means = res.means()
    assert means["model"]["gaussian 0.1"][0] > means["noisy"]["gaussian 0.1"][0] + 3


def test_cli_evaluate_writes_a_report(tmp_path: Path, capsys, make_smooth) -> None:
    image = tmp_path / "img.npy"
    np.save(image, make_smooth(48))
    out = tmp_path / "report"
    # a .npy is not an image format read_volume knows: the CLI reports it cleanly
    rc = main(["evaluate", "--model", "identity", "--images", str(image), "--output", str(out)])
    assert rc == 2
    assert "img.npy" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_evaluate_on_the_holdout_set(tmp_path: Path, capsys) -> None:
    out = tmp_path / "report"
    rc = main(
        [
            "evaluate",
            "--model",
            "identity",
            "--output",
            str(out),
            "--noise",
            "gaussian:0.1",
            "--methods",
            "noisy",
            "model",
            "tv",
            "--crop",
            "64",
        ]
    )
    assert rc == 0
    assert "| model |" in capsys.readouterr().out
    doc = json.loads((out / "summary.json").read_text())
    assert [im["name"] for im in doc["settings"]["images"]] == ["RG3_UNCR", "MR2_UNCR", "693_UNCR"]


def test_self_ensemble_runs_the_model_eight_ways_and_is_recorded(
    ramp, tmp_path: Path, capsys
) -> None:
    kw = {"noises": ["gaussian:0.1"], "methods": ["noisy", "model"], "figures": False}
    one = evaluate("default", ramp, output_dir=tmp_path / "one", progress=False, **kw)
    eight = evaluate(
        "default", ramp, output_dir=tmp_path / "eight", progress=False, self_ensemble=True, **kw
    )
    assert one.settings["model"]["self_ensemble"] is False
    assert eight.settings["model"]["self_ensemble"] is True
    p1, p8 = (r.means()["model"]["gaussian 0.1"][0] for r in (one, eight))
    assert p1 != p8 and p8 > one.means()["noisy"]["gaussian 0.1"][0] + 3
    from skimage.io import imsave

    image = tmp_path / "img.png"
    imsave(image, (ramp["smooth"] * 255).astype(np.uint8), check_contrast=False)
    out = tmp_path / "report"
    args = ["evaluate", "--images", str(image), "--output", str(out), "--self-ensemble"]
    assert main([*args, "--methods", "noisy", "model", "--noise", "gaussian:0.1"]) == 0
    assert "| model |" in capsys.readouterr().out
    doc = json.loads((out / "summary.json").read_text())
    assert doc["settings"]["model"]["self_ensemble"] is True
