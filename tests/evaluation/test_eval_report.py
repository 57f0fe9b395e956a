"""evaluate_denoisers and evaluate(): every report file, fixed seeds, identity = noisy."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medidenoise.evaluation import EvaluationResult, evaluate_denoisers
from medidenoise.models import classical as baselines_module

NOISES = ["gaussian:0.1", "poisson:200"]
METHODS = ["noisy", "model", "tv", "wavelet"]


def _identity(noisy: np.ndarray, sigma: float) -> np.ndarray:
    return noisy


@pytest.fixture
def images(make_smooth) -> dict[str, np.ndarray]:
    img = make_smooth(48)
    return {"a": img, "b": img.T.copy()}


def _run(images, out: Path, **kw) -> EvaluationResult:
    kw.setdefault("methods", METHODS)
    return evaluate_denoisers(
        {"model": _identity}, images, noises=NOISES, output_dir=out, progress=False, **kw
    )


def test_writes_every_report_file(images, tmp_path: Path) -> None:
    res = _run(images, tmp_path / "rep")
    out = tmp_path / "rep"
    assert res.output_dir == out

    with open(out / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(images) * len(NOISES) * len(METHODS) == len(res.rows)
    assert {r["method"] for r in rows} == set(METHODS)
    assert all(math.isfinite(float(r["psnr"])) for r in rows)

    doc = json.loads((out / "summary.json").read_text())
    assert {"methods", "noises", "mean", "notes", "settings", "files", "n_rows"} <= set(doc)
    assert doc["methods"] == METHODS
    assert doc["noises"] == ["gaussian 0.1", "poisson 200"]
    assert set(doc["mean"]["tv"]) == set(doc["noises"])
    assert doc["settings"]["data_range"] == 1.0
    assert any("oracle" in note for note in doc["notes"])  # poisson gets the measured sigma

    md = (out / "summary.md").read_text()
    assert res.summary() in md
    assert "| tv |" in md and "gaussian 0.1" in md

    figures = out / "figures"
    pngs = sorted(p.name for p in figures.glob("*.png"))
    assert {"psnr_hist.png", "ssim_hist.png", "method_comparison.png"} <= set(pngs)
    assert len([p for p in pngs if p.startswith("grid_")]) == len(images) * len(NOISES)
    for name in pngs:
        with Image.open(figures / name) as im:
            im.verify()
            assert im.format == "PNG"
    for rel in doc["files"]:
        assert (out / rel).is_file(), rel
    assert not list(out.rglob(".*.tmp"))


def test_identity_model_scores_like_the_noisy_input(images, tmp_path: Path) -> None:
    res = _run(images, tmp_path, figures=False)
    by_key = {(r["image"], r["noise"], r["method"]): r for r in res.rows}
    for (image, noise, method), row in by_key.items():
        if method == "model":
            noisy = by_key[(image, noise, "noisy")]
            assert row["psnr"] == noisy["psnr"]
            assert row["ssim"] == noisy["ssim"]
    means = res.means()
    assert means["tv"]["gaussian 0.1"][0] > means["noisy"]["gaussian 0.1"][0] + 3


def test_fixed_seed_gives_the_same_rows(images, tmp_path: Path) -> None:
    first = _run(images, tmp_path / "1", methods=["noisy"], figures=False)
    second = _run(images, tmp_path / "2", methods=["noisy"], figures=False)
    other = _run(images, tmp_path / "3", methods=["noisy"], seed=1, figures=False)
    assert not (tmp_path / "1" / "figures").exists()  # figures=False: tables only
    assert (tmp_path / "1" / "summary.json").is_file()
    assert [r["psnr"] for r in first.rows] == [r["psnr"] for r in second.rows]
    assert [r["psnr"] for r in first.rows] != [r["psnr"] for r in other.rows]


def test_the_denoiser_gets_the_noise_level(images, tmp_path: Path) -> None:
    seen: list[float] = []

    def spy(noisy: np.ndarray, sigma: float) -> np.ndarray:
        seen.append(sigma)
        noisy[:] = 0  # a denoiser that scribbles on its input must not affect others
        return np.zeros_like(noisy)

    res = evaluate_denoisers(
        {"spy": spy},
        {"a": images["a"]},
        noises=["gaussian:0.07", "rician:0.05"],
        methods=["spy", "noisy"],
        output_dir=tmp_path,
        figures=False,
        progress=False,
    )
    assert seen[0] == 0.07  # nominal for gaussian
    assert 0.02 < seen[1] < 0.08 and seen[1] != 0.05  # measured std(noisy - clean) for rician
    noisy_rows = [r for r in res.rows if r["method"] == "noisy"]
    assert all(r["psnr"] > 15 for r in noisy_rows)
    assert res.methods == ["noisy", "spy"]  # table order


def test_bad_methods_and_missing_bm3d(images, tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ValueError, match="unknown method"):
        _run(images, tmp_path, methods=["noisy", "magic"])
    monkeypatch.setattr(baselines_module, "bm3d_available", lambda: False)
    res = _run(images, tmp_path, methods=["noisy", "bm3d"], figures=False)
    assert res.methods == ["noisy"]
    assert any("BM3D skipped" in n for n in res.notes)


def test_max_grids_limits_the_image_grids(images, tmp_path: Path) -> None:
    _run(images, tmp_path, methods=["noisy"], max_grids=1)
    assert len(list((tmp_path / "figures").glob("grid_*.png"))) == 1


def test_wrong_output_shape_is_reported(images, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="returned shape"):
        evaluate_denoisers(
            {"bad": lambda x, s: x[:-1]},
            images,
            noises=["gaussian:0.1"],
            output_dir=tmp_path,
            progress=False,
        )
