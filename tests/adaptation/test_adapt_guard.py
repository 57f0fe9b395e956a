"""``adapt`` cannot be fooled: its noise model, its held-out tiles and its guard (issue 27)."""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest
import torch
from scipy import ndimage

import medidenoise as md
from medidenoise.adaptation._holdout import TILE, choose_tiles
from medidenoise.adaptation._run import Score
from medidenoise.transforms.noise_covariance import NoiseModel, measure_noise_model


def head_phantom(
    depth: int = 6, side: int = 128, seed: int = 0, texture: float = 0.04
) -> np.ndarray:
    """A mostly dark head-like volume on [0, 1]: skull ring, brain with texture, ventricles.

    Slices shrink toward the ends, as an axial head does; a third of each slice or more is
    background."""
    rng = np.random.default_rng(seed)
    yy, xx = (np.mgrid[0:side, 0:side] - side / 2) / (side / 2)
    out = []
    for z in np.linspace(-0.8, 0.8, depth):
        scale = np.sqrt(max(0.15, 1 - z**2))
        r = np.sqrt((yy / (0.8 * scale)) ** 2 + (xx / (0.65 * scale)) ** 2)
        sl = np.where(r < 1.0, 0.85, 0.0)  # skull
        sl = np.where(r < 0.88, 0.45, sl)  # brain
        sl = np.where(((yy / 0.25) ** 2 + (np.abs(xx) - 0.12) ** 2 / 0.08**2) < scale, 0.2, sl)
        noise = ndimage.gaussian_filter(rng.normal(0, 1, (side, side)), 3)
        sl = sl + np.where(r < 0.88, texture * noise / noise.std(), 0.0)
        out.append(ndimage.gaussian_filter(sl, 0.8))
    return np.clip(np.stack(out), 0, 1).astype(np.float32)


def shaped_noise(kind: str, shape: tuple[int, ...], std: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    white = rng.normal(0, 1, shape)
    if kind == "rows":  # correlated along each row (streaks)
        white = ndimage.uniform_filter1d(white, 5, axis=-1, mode="wrap")
    elif kind == "columns":  # correlated down each column (MR phase encoding)
        white = ndimage.gaussian_filter1d(white, 1.5, axis=-2, mode="wrap")
    return (std * white / white.std()).astype(np.float32)


@pytest.mark.parametrize("kind", ["rows", "columns", "white"])
@pytest.mark.parametrize("depth", [1, 8])
def test_signal_independent_noise_gets_no_signal_dependence(kind: str, depth: int) -> None:
    clean = head_phantom(depth)
    noisy = clean + shaped_noise(kind, clean.shape, 0.06)
    model = measure_noise_model(noisy)
    assert model.gain == 0 and not model.signal_dependent
    # the variance is that of the noise everywhere: at the top of the range too (the old
    # model, reading anatomy in bright blocks as noise, said up to 10x there)
    for level in (0.0, 0.5, 1.0):
        assert float(model.variance(level)) == pytest.approx(0.06**2, rel=0.15)
    expected = {"rows": (0, 3), "columns": (3, 0), "white": (0, 0)}[kind]
    rows, cols = model.correlation_length()
    assert (rows > 0, cols > 0) == (expected[0] > 0, expected[1] > 0)


def test_signal_dependent_noise_is_found_where_flat_tissue_shows_it() -> None:
    rng = np.random.default_rng(3)
    clean = head_phantom(4, side=256, texture=0.0)  # flat tissue at three intensities
    noisy = clean + rng.normal(0, 1, clean.shape).astype(np.float32) * np.sqrt(
        0.0004 + 0.004 * clean
    )
    model = measure_noise_model(noisy.astype(np.float32))
    assert model.signal_dependent
    assert float(model.variance(0.85)) / float(model.variance(0.0)) > 3  # truth: 9.5x


@pytest.mark.parametrize("depth", [1, 8])
def test_held_out_tiles_sit_in_the_object_spread_over_it(depth: int) -> None:
    vol = head_phantom(depth) + shaped_noise("white", (depth, 128, 128), 0.05)
    held = choose_tiles(vol, gap=4, multiple=8)
    assert len(held.tiles) >= 2 and held.inside >= 0.6  # anatomy, not background
    # and a few in the background, which a fine-tune must not stain either
    fg = ndimage.gaussian_filter(vol, (0, 2, 2)) > 0.1
    dark = [t for t in held.tiles if t.background]
    assert 1 <= len(dark) <= len(held.tiles) // 3
    for t in held.tiles:
        top, left = t.top + t.tile_top, t.left + t.tile_left
        share = fg[t.slice, top : top + TILE, left : left + TILE].mean()
        assert share <= 0.4 if t.background else share >= 0.5
    for t in held.tiles:
        top, left = t.top + t.tile_top, t.left + t.tile_left
        window = vol[t.slice, t.top : t.top + held.window[0], t.left : t.left + held.window[1]]
        assert window.shape == held.window and held.window[0] % 8 == 0
        assert 0 <= t.tile_top <= held.window[0] - TILE
        # the tile and its gap are out of the training loss
        assert held.excluded[t.slice, top - 4 if top >= 4 else 0, left : left + TILE].all()
    # not one strip: the tiles of a slice are apart, and on several slices of a volume
    by_slice: dict[int, list[tuple[int, int]]] = {}
    for t in held.tiles:
        by_slice.setdefault(t.slice, []).append((t.top + t.tile_top, t.left + t.tile_left))
    for spots in by_slice.values():
        for i, a in enumerate(spots):
            for b in spots[i + 1 :]:
                assert max(abs(a[0] - b[0]), abs(a[1] - b[1])) >= TILE
    if depth > 1:
        assert len(by_slice) >= 4
    assert held.excluded.mean() < 0.6


def test_an_impossible_risk_estimate_is_never_believed() -> None:
    assert not Score(-1e-4, 0.001).plausible(0.0036)
    assert not Score(float("nan"), 0.0).plausible(0.0036)
    assert not Score(1e-6, 0.0).plausible(0.0036)  # 35 dB below the noise: not on anatomy
    assert Score(4e-4, 0.001).plausible(0.0036)


def _tiny() -> torch.nn.Module:
    net = md.build_model(
        {"arch": "unet", "features": [8, 16], "residual": True, "noise_level_input": True}
    )
    net.metadata = {"name": "tiny"}  # type: ignore[assignment]
    return net.eval()


def test_disagreeing_noise_measurements_keep_the_base_weights(monkeypatch) -> None:
    clean = head_phantom(4)
    noisy = clean + shaped_noise("rows", clean.shape, 0.06)
    # the level estimate denoise() uses, made 1.6x too high
    prepare_module = importlib.import_module("medidenoise.inference._prepare")
    real = prepare_module.measure_noise
    monkeypatch.setattr(
        prepare_module,
        "measure_noise",
        lambda v, **kw: dataclasses.replace(real(v, **kw), sigma=1.6 * real(v, **kw).sigma),
    )
    base = _tiny()
    adapted = md.adapt(noisy, base, minutes=0.5)
    info = adapted.metadata["adaptation"]
    assert info["kept"] == "base" and info["steps"] == 0 and info["stopped"] == "refused"
    assert "differ by 1.6" in info["reason"] and "noise_level" in info["reason"]
    for a, b in zip(adapted.state_dict().values(), base.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # a level the caller gives is taken as true: the model is rescaled to it and training runs
    told = md.adapt(noisy, base, minutes=0.05, noise_level=0.06)
    assert told.metadata["adaptation"]["stopped"] != "refused"
    noise = told.metadata["adaptation"]["images"][0]["noise"]
    assert noise["std"] == pytest.approx(
        told.metadata["adaptation"]["images"][0]["noise_level_fed"]
    )


def test_an_implausible_score_during_training_is_never_kept(monkeypatch) -> None:
    from medidenoise.adaptation import _run as _adapt_run

    clean = head_phantom(4)
    noisy = clean + shaped_noise("white", clean.shape, 0.06)
    scores = iter([(Score(4e-4, 1e-3), None)] + [(Score(-1e-3, 5e-3), None)] * 100)
    monkeypatch.setattr(_adapt_run.Run, "validate", lambda self: next(scores))
    info = md.adapt(noisy, _tiny(), minutes=0.1).metadata["adaptation"]
    assert info["kept"] == "base" and info["steps"] > 0
    assert info["guard"]["implausible_validations"] >= 1
    assert info["estimated_psnr_adapted"] == info["estimated_psnr_base"]


def test_no_background_tiles_where_there_is_no_background() -> None:
    rng = np.random.default_rng(2)
    texture = ndimage.gaussian_filter(rng.normal(0, 1, (1, 128, 128)), (0, 4, 4))
    vol = (0.5 + 0.1 * texture / texture.std()).astype(np.float32)  # tissue everywhere
    held = choose_tiles(vol + shaped_noise("white", vol.shape, 0.05), gap=4)
    assert held.tiles and sum(t.background for t in held.tiles) <= 1


def test_better_anatomy_with_a_worse_background_is_never_kept(monkeypatch) -> None:
    from medidenoise.adaptation import _run as _adapt_run

    clean = head_phantom(4)
    noisy = clean + shaped_noise("white", clean.shape, 0.06)
    base = (Score(4e-4, 1e-3), Score(2e-5, 1e-4))
    anatomy_better_background_worse = (Score(2e-4, 1e-3), Score(3e-4, 1e-4))
    scores = iter([base] + [anatomy_better_background_worse] * 100)
    monkeypatch.setattr(_adapt_run.Run, "validate", lambda self: next(scores))
    info = md.adapt(noisy, _tiny(), minutes=0.1).metadata["adaptation"]
    assert info["kept"] == "base" and info["steps"] > 0
    assert info["guard"]["background_worse_validations"] >= 1
    assert "background" in info["reason"]
    # the same gain in the anatomy with the background unchanged is taken
    scores = iter([base] + [(Score(2e-4, 1e-3), Score(2e-5, 1e-4))] * 100)
    info = md.adapt(noisy, _tiny(), minutes=0.1).metadata["adaptation"]
    assert info["kept"] == "adapted" and info["guard"]["background_worse_validations"] == 0


def test_adapt_sees_the_noise_at_the_scale_denoise_feeds_it() -> None:
    """A CT with 3 HU of noise: denoise narrows the window so that the noise is
    NOISE_FLOOR in network units; adapt must train and judge at that same scale (it
    normalised by the whole range, so the network it kept left the brain's noise in)."""
    from medidenoise.inference._robust import NOISE_FLOOR

    yy, xx = np.mgrid[0:128, 0:128] - 64.0
    r = np.hypot(yy, xx)
    img = np.where(r < 56, 1000.0, -1000.0)
    img = np.where(r < 50, 30.0 + 8.0 * (xx > 0), img)  # brain: grey and white matter
    vol = np.repeat(img[None], 4, axis=0)
    ct = md.Volume(
        (vol + np.random.default_rng(0).normal(0, 3.0, vol.shape)).astype(np.float32),
        modality="CT",
    )
    info = md.adapt(ct, _tiny(), minutes=0.05, noise_level=3.0).metadata["adaptation"]
    image = info["images"][0]
    assert image["normalization"]["method"].endswith("+noise")
    assert image["noise_level_fed"] == pytest.approx(NOISE_FLOOR, rel=1e-3)
    assert image["noise"]["std"] == pytest.approx(NOISE_FLOOR, rel=1e-3)


def test_a_reference_level_keeps_smooth_anatomy_out_of_the_noise_model() -> None:
    """Few structure-free blocks (smooth anatomy over 80 % of every slice): the flatness test
    lets smooth blocks through and the noise reads ~1.7x too high; with the level estimate as
    a reference, blocks far above it are left out. A reference far too low is ignored."""
    rng = np.random.default_rng(4)
    field = ndimage.gaussian_filter(rng.normal(0, 1, (10, 128, 128)), (0, 5, 5))
    columns = np.arange(128)[None, None, :] / 128.0
    clean = 0.5 + 0.2 * field / field.std() * (columns > 0.2)
    noisy = (clean + shaped_noise("rows", clean.shape, 0.06)).astype(np.float32)
    plain = measure_noise_model(noisy)
    helped = measure_noise_model(noisy, reference_std=0.06)
    assert plain.std > 1.5 * 0.06
    assert helped.std < 1.3 * 0.06 and helped.flat_blocks >= 8
    ignored = measure_noise_model(noisy, reference_std=0.02)  # no block is that quiet
    assert ignored.std == pytest.approx(plain.std)


def _model_with(ac: np.ndarray) -> NoiseModel:
    return NoiseModel(ac, offset=0.01, gain=0.0, std=0.1, flat_blocks=50, blocks=100)


def test_a_white_noise_model_with_correlated_neighbours_is_not_trusted() -> None:
    """Anatomy read as white noise (every lag below 0.2, but a broad pedestal around the
    centre, as on a whole head shrunk to 128 px) keeps the base model; true white noise and
    correlated noise are trusted."""
    from medidenoise.adaptation._adapt import _structured_white

    k = 6
    lag = np.hypot(*np.meshgrid(np.arange(-k, k + 1), np.arange(-k, k + 1), indexing="ij"))
    pedestal = np.where(lag == 0, 1.0, 0.12 * np.exp(-lag / 4))
    reason = _structured_white(_model_with(pedestal))
    assert reason is not None and "base model is kept" in reason
    delta = (lag == 0).astype(float)
    assert _structured_white(_model_with(delta)) is None
    rows = np.where(lag == 0, 1.0, 0.0)
    rows[k, k - 2 : k + 3] = [0.3, 0.6, 1.0, 0.6, 0.3]  # correlated along rows: not "white"
    assert _structured_white(_model_with(rows)) is None
