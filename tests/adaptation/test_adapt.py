"""``adapt``: self-supervised fine-tuning on the user's own noisy images."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import ndimage

import medidenoise as md
from medidenoise.engine.selfsupervised import BlindSpot, Recorrupt, measured_noise, stein_excess
from medidenoise.errors import InvalidImageError
from medidenoise.transforms.noise_covariance import coloured_noise, measure_noise_model


def _tiny_model() -> torch.nn.Module:
    net = md.build_model(
        {"arch": "unet", "features": [8, 16], "residual": True, "noise_level_input": True}
    )
    net.metadata = {"name": "tiny", "description": "a small test network"}  # type: ignore[assignment]
    return net.eval()


def _noisy(shape: tuple[int, ...] = (96, 96), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[-2], 0 : shape[-1]] / shape[-1]
    clean = 0.4 + 0.3 * np.sin(4 * xx) * np.cos(3 * yy)
    streaks = ndimage.uniform_filter1d(rng.normal(0, 1, shape), 5, axis=-1)
    return (clean + 0.05 * streaks / streaks.std()).astype(np.float32)


def test_adapted_model_denoises_saves_and_reloads(tmp_path) -> None:
    noisy = _noisy()
    before = noisy.copy()
    adapted = md.adapt(noisy, _tiny_model(), minutes=0.03, rng=1)
    assert np.array_equal(noisy, before)  # the input is never modified
    info = adapted.metadata["adaptation"]
    assert info["method"] in ("recorrupt", "blindspot")
    assert info["budget_minutes"] == 0.03
    assert info["base_model"] == "tiny"
    assert info["images"][0]["shape"] == [96, 96]
    assert info["estimated_psnr_adapted"] >= info["estimated_psnr_base"]
    assert info["kept"] in ("adapted", "base")
    out = md.denoise(noisy, adapted)
    assert out.shape == noisy.shape and out.dtype == np.float32
    path = md.save_checkpoint(tmp_path / "adapted.safetensors", adapted)
    reloaded = md.load_model(path)
    assert reloaded.metadata["adaptation"]["method"] == info["method"]
    assert np.allclose(md.denoise(noisy, reloaded), out, atol=1e-5)
    # the description of the data names no file, folder or patient
    text = json.dumps(reloaded.metadata["adaptation"])
    assert "tmp" not in text and "Patient" not in text


def test_budget_is_wall_clock_and_seed_reproducible() -> None:
    import time

    noisy = _noisy(seed=3)
    start = time.monotonic()
    a = md.adapt(noisy, _tiny_model(), minutes=0.02, rng=5)
    assert time.monotonic() - start < 0.02 * 60 + 10  # setup and the final state only beyond it
    assert a.metadata["adaptation"]["seconds"] <= 0.02 * 60 + 10


def test_volume_and_list_inputs_are_accepted() -> None:
    vol = md.Volume(array=_noisy((3, 64, 80)), spacing=(2.0, 0.5, 0.5), modality="MR")
    adapted = md.adapt([vol, _noisy((72, 72), seed=4)], _tiny_model(), minutes=0.02)
    images = adapted.metadata["adaptation"]["images"]
    assert [im["shape"] for im in images] == [[3, 64, 80], [72, 72]]
    assert images[0]["modality"] == "MR" and images[0]["spacing"] == [2.0, 0.5, 0.5]
    assert md.denoise(vol, adapted).array.shape == (3, 64, 80)


def test_cancel_raises_and_returns_nothing() -> None:
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(InterruptedError, match="cancelled"):
        md.adapt(_noisy(), _tiny_model(), minutes=1.0, should_stop=stop)


def test_progress_callable_reaches_the_budget() -> None:
    seen: list[tuple[int, int]] = []
    md.adapt(_noisy(), _tiny_model(), minutes=0.02, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1][0] == seen[-1][1] > 0
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (np.full((96, 96), 7.0, np.float32), InvalidImageError, "constant"),
        (
            np.tile(np.linspace(0, 1, 96, dtype=np.float32), (96, 1)),
            InvalidImageError,
            "noise",
        ),
        (np.random.default_rng(0).random((32, 32), np.float32), InvalidImageError, "too small"),
        (np.full((96, 96), np.inf, np.float32), InvalidImageError, "NaN or infinite"),
        (np.zeros((2, 3, 96, 96), np.float32), InvalidImageError, "2D"),
    ],
)
def test_bad_images_get_clear_errors_and_stay_untouched(image, error, match) -> None:
    before = image.copy()
    with pytest.raises(error, match=match):
        md.adapt(image, _tiny_model(), minutes=0.02)
    assert np.array_equal(image, before, equal_nan=True)


def test_auto_adapts_the_network_denoise_would_pick() -> None:
    streaky = _noisy()  # noise correlated along rows: "auto" denoises it with "correlated"
    white = (0.5 + np.random.default_rng(2).normal(0, 0.05, (96, 96))).astype(np.float32)
    for image, picked in ((streaky, "correlated"), (white, "white")):
        adapted = md.adapt(image, minutes=0.02, rng=0)  # the base model is "auto" by default
        assert adapted.metadata["adaptation"]["base_model"] == picked
    with pytest.raises(InvalidImageError, match="constant"):  # the usual checks still speak
        md.adapt(np.full((96, 96), 7.0, np.float32), minutes=0.02)


@pytest.mark.parametrize("minutes", [0, -1.0, float("nan"), float("inf")])
def test_budget_must_be_positive(minutes: float) -> None:
    with pytest.raises(ValueError, match="minutes"):
        md.adapt(_noisy(), _tiny_model(), minutes=minutes)


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="recorrupt"):
        md.adapt(_noisy(), _tiny_model(), minutes=0.02, method="noise2magic")


def test_recorrupted_input_and_target_noises_are_uncorrelated() -> None:
    # correlated noise on a flat image: the pair's noises must be independent,
    # which only holds when the drawn noise has the measured covariance
    rng = np.random.default_rng(0)
    n = ndimage.uniform_filter1d(rng.normal(0, 1, (4, 128, 128)), 5, axis=-1)
    y = (0.5 + 0.05 * n / n.std()).astype(np.float32)
    obj = Recorrupt(measure_noise_model(y))
    x, target = obj(torch.from_numpy(y)[:, None], torch.Generator().manual_seed(0))
    nx = (x - 0.5).numpy().ravel()
    nt = (target[:, :1] - 0.5).numpy().ravel()
    assert abs(np.corrcoef(nx, nt)[0, 1]) < 0.05
    # the image's own noise would be strongly correlated with itself
    assert np.corrcoef(nx, (y - 0.5).ravel())[0, 1] > 0.8


def test_blind_spot_hides_the_correlated_neighbours_of_each_masked_pixel() -> None:
    rng = np.random.default_rng(1)
    n = ndimage.uniform_filter1d(rng.normal(0, 1, (2, 128, 128)), 5, axis=-1)
    y = torch.from_numpy((0.5 + 0.05 * n / n.std()).astype(np.float32))[:, None]
    obj = BlindSpot(measure_noise_model(y[:, 0].numpy()))
    x, target = obj(y, torch.Generator().manual_seed(0))
    centres = target[:, 1:2] > 0
    assert 0.005 < centres.float().mean() < 0.05
    changed = x != y
    # every masked centre and its neighbours along the rows (the streak axis) are replaced
    assert changed[centres].all()
    right = torch.zeros_like(centres)
    right[..., 1:] = centres[..., :-1]
    assert changed[right].float().mean() > 0.95
    # neighbours across the streaks carry independent noise and stay
    below = torch.zeros_like(centres)
    below[..., 1:, :] = centres[..., :-1, :]
    only_below = below & ~ndimage_dilate_rows(centres)
    assert changed[only_below].float().mean() < 0.1


def ndimage_dilate_rows(mask: torch.Tensor) -> torch.Tensor:
    """Mask dilated by 3 pixels along the last axis (the masked streak extent)."""
    arr = ndimage.binary_dilation(mask.numpy(), structure=np.ones((1, 1, 1, 7), bool))
    return torch.from_numpy(arr)


def _stein_case(strength: float, variance_scale: float = 1.0) -> tuple[float, float, float, float]:
    """(Stein estimate of the MSE, its tr(C J) per pixel, the true MSE, the true tr(C J))
    for a Gaussian smoothing of streaky noise, with the noise variance told ``variance_scale``
    times the truth."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:256, 0:256] / 256
    squares = ((np.arange(256) // 8)[:, None] + (np.arange(256) // 8)[None, :]) % 2
    clean = (0.4 + 0.3 * np.sin(6 * xx) * np.cos(5 * yy) + 0.08 * squares).astype(np.float32)
    n = ndimage.uniform_filter1d(rng.normal(0, 1, (256, 256)), 5, axis=-1)
    noisy = (clean + 0.05 * n / n.std()).astype(np.float32)
    model = measure_noise_model(noisy - clean + 0.5)  # the noise's own correlation
    scale = 0.05**2 * variance_scale / model.std**2  # the true variance, times the scale
    model = type(model)(model.autocorrelation, model.offset * scale, 0.0, 0.05, 9, 9)

    def smooth(a: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(ndimage.gaussian_filter(a.numpy(), (0, 0, strength, strength)))

    y = torch.from_numpy(noisy)[None, None]
    z, var = measured_noise(model, y, torch.Generator().manual_seed(0))
    eps = 0.02
    est, div, count = stein_excess(smooth(y), smooth(y + eps * z), y, z, var, eps)
    true_mse = float(((smooth(y)[0, 0].numpy() - clean) ** 2).mean())
    # the true tr(C J) of a linear filter: the correlation of its output noise with the noise
    noise = torch.from_numpy(noisy - clean)[None, None]
    true_div = float((noise * smooth(noise)).mean())
    return est / count, div / count, true_mse, true_div


@pytest.mark.parametrize("strength", [0.7, 1.5, 3.0])
def test_stein_estimate_matches_the_true_error_of_a_filter(strength: float) -> None:
    """The guard of ``adapt`` scores networks without the clean image: it must find a
    filter's real error, under correlated noise too."""
    est, div, true_mse, true_div = _stein_case(strength)
    assert est == pytest.approx(true_mse, rel=0.15)
    assert div == pytest.approx(true_div, rel=0.25)


@pytest.mark.parametrize("variance_scale", [0.85, 1.0, 1.15])
def test_guard_refuses_over_smoothing_and_takes_a_real_gain(variance_scale: float) -> None:
    """With the noise variance measured up to 15 % off, ``adapt``'s guard never takes a
    filter that smooths away detail for one that is better, and still takes a filter that
    is really better (2.5 dB) than an under-smoothing base."""
    from medidenoise.adaptation._run import Score

    cases = {s: _stein_case(s, variance_scale) for s in (0.5, 1.0, 2.0, 4.0)}
    score = {s: Score(est, div) for s, (est, div, _, _) in cases.items()}
    true = {s: mse for s, (_, _, mse, _) in cases.items()}
    assert true[2.0] > true[1.0] and true[4.0] > true[1.0] and true[1.0] < 0.6 * true[0.5]
    assert score[2.0].worst_gain(score[1.0]) < 0
    assert score[4.0].worst_gain(score[1.0]) < 0
    assert score[1.0].worst_gain(score[0.5]) > 0


def test_coloured_noise_unit_variance_through_recorrupt_scaling() -> None:
    ac = np.zeros((13, 13))
    ac[6, 6] = 1.0
    z = coloured_noise((64, 64), ac, rng=0)
    assert z.std() == pytest.approx(1.0, rel=0.05)


@pytest.mark.slow
def test_adapting_the_default_model_removes_streaks_it_was_not_trained_on() -> None:
    """A user-visible gain: correlated noise the shipped model leaves behind is removed."""
    from medidenoise.evaluation import psnr

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:160, 0:160] / 160
    clean = (0.3 + 0.4 * (((yy - 0.5) ** 2 + (xx - 0.5) ** 2) < 0.1) + 0.1 * xx).astype(np.float32)
    streaks = ndimage.uniform_filter1d(rng.normal(0, 1, clean.shape), 5, axis=-1)
    noisy = (clean + 0.06 * streaks / streaks.std()).astype(np.float32)
    before = psnr(clean, md.denoise(noisy, "default"), data_range=1.0)
    # a minute: the guard takes a state only when it is surely better with the variance 15 %
    # off, and half a minute on a busy machine gave it too few states (+3.1..+3.2 dB in a
    # minute with two runs at once)
    adapted = md.adapt(noisy, "default", minutes=1.0, rng=0)
    after = psnr(clean, md.denoise(noisy, adapted), data_range=1.0)
    assert after > before + 1.0, adapted.metadata["adaptation"]["reason"]
