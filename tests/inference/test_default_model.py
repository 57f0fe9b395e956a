"""The shipped default model on images it was not tuned on: it must clearly help.

These use the real shipped weights (medidenoise/weights/*.safetensors),
so they catch regressions anywhere on the path from an array in image units to
the network and back (normalisation, noise-level scaling, padding).
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

import medidenoise as md


@pytest.fixture(scope="module")
def brain_slice() -> np.ndarray:
    datasets = pytest.importorskip("nilearn.datasets")
    data = datasets.load_mni152_template(resolution=1).get_fdata()
    img = data[:, :, 90].astype(np.float32)
    return (img - img.min()) / (img.max() - img.min())


def _psnr(clean: np.ndarray, other: np.ndarray) -> float:
    return float(peak_signal_noise_ratio(clean, other, data_range=1.0))


@pytest.mark.parametrize("sigma", [0.02, 0.05, 0.1])
def test_default_model_gains_at_every_noise_level(brain_slice: np.ndarray, sigma: float) -> None:
    # a large zero background: percentiles of the noisy image sit ~2.5 sigma
    # below zero, which once shifted the network input and lost 5-10 dB
    rng = np.random.default_rng(7)
    noisy = (brain_slice + rng.normal(0, sigma, brain_slice.shape)).astype(np.float32)
    out = md.denoise(noisy)  # noise level estimated
    gain = _psnr(brain_slice, out) - _psnr(brain_slice, noisy)
    assert gain > 5.0, f"sigma {sigma}: only {gain:.2f} dB better than the noisy input"


def test_default_model_ignores_offset_and_units(brain_slice: np.ndarray) -> None:
    rng = np.random.default_rng(3)
    noisy = (brain_slice + rng.normal(0, 0.05, brain_slice.shape)).astype(np.float32)
    ref = md.denoise(noisy, noise_level=0.05)
    # the same image in other units (e.g. raw MR values) gives the same result in those units
    scaled = md.denoise(noisy * 800.0 + 120.0, noise_level=0.05 * 800.0)
    np.testing.assert_allclose((scaled - 120.0) / 800.0, ref, atol=2e-3)


def test_self_ensemble_is_better_than_one_pass(brain_slice: np.ndarray) -> None:
    rng = np.random.default_rng(11)
    noisy = (brain_slice + rng.normal(0, 0.08, brain_slice.shape)).astype(np.float32)
    one = md.denoise(noisy, noise_level=0.08)
    eight = md.denoise(noisy, noise_level=0.08, self_ensemble=True)
    assert eight.shape == noisy.shape and eight.dtype == np.float32
    gain = _psnr(brain_slice, eight) - _psnr(brain_slice, one)
    assert gain > 0.05, f"self-ensemble gained only {gain:.3f} dB"


def _correlated(clean: np.ndarray, level: float, seed: int) -> np.ndarray:
    from medidenoise.transforms import add_correlated_noise

    return add_correlated_noise(clean, level, rng=seed, spectrum="lowpass", width=0.25)


def test_auto_runs_the_white_noise_model_on_white_noise(brain_slice: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    noisy = (brain_slice + rng.normal(0, 0.05, brain_slice.shape)).astype(np.float32)
    auto = md.Denoiser().run(noisy)  # "auto" is what users get without naming a model
    assert auto.model == "auto: white"
    np.testing.assert_array_equal(auto.image, md.denoise(noisy, "white"))


def test_auto_picks_the_correlated_model_where_the_white_one_removes_little(
    brain_slice: np.ndarray,
) -> None:
    """Noise as a CT kernel leaves it: with default settings users get the model for it, not
    the white-noise one."""
    noisy = _correlated(brain_slice, 0.06, seed=2)
    auto = md.Denoiser().run(noisy)
    assert auto.model == "auto: correlated"
    np.testing.assert_array_equal(auto.image, md.denoise(noisy, "correlated"))
    gain = _psnr(brain_slice, auto.image) - _psnr(brain_slice, md.denoise(noisy, "white"))
    assert gain > 1.0, f"auto gained only {gain:.2f} dB over the white-noise model"
    # a given level changes the level, not the pick: that follows the measured noise
    assert md.Denoiser().run(noisy, noise_level=0.06).model == "auto: correlated"


def test_auto_preview_and_volume_name_the_same_pick(brain_slice: np.ndarray) -> None:
    vol = np.stack([_correlated(brain_slice, 0.05, seed=s) for s in range(3)])
    den, volume = md.Denoiser(), md.Volume(vol, modality="MR")
    whole = den.run(volume)
    one = den.denoise_slice(volume, 1)
    assert whole.model == one.model == "auto: correlated"
    assert whole.image.metadata["denoised_by"] == "auto: correlated"
    np.testing.assert_allclose(one.image, whole.image.array[1], atol=1e-5)


def test_rician_option_removes_the_bias_of_the_dark_background(brain_slice: np.ndarray) -> None:
    """Magnitude MR: the plain run leaves the Rician mean in the air around the head."""
    noisy = md.add_noise(brain_slice, "rician", 0.05, rng=np.random.default_rng(4))
    plain = md.denoise(noisy, "white")  # a network named (zero-mean noise only): no Rician step
    unbiased = md.Denoiser(rician=True).run(noisy)
    assert unbiased.noise_level == pytest.approx(0.05, rel=0.1)  # measured where there is signal
    gain = _psnr(brain_slice, unbiased.image) - _psnr(brain_slice, plain)
    assert gain > 3.0, f"the Rician option gained only {gain:.2f} dB"
    air = brain_slice == 0
    assert float(plain[air].mean()) > 0.02 > float(np.abs(unbiased.image[air]).mean()) * 10
    # a given level is used as the Rician sigma; an image that is not a magnitude is refused
    assert md.Denoiser(rician=True).run(noisy, noise_level=0.05).noise_level == 0.05
    with pytest.raises(md.InvalidImageError, match="not a magnitude image"):
        md.denoise(noisy - 0.5, rician=True, noise_level=0.05)
    with pytest.raises(md.InvalidImageError, match="not a magnitude image"):
        md.denoise(noisy - 0.5, rician=True)


def test_auto_removes_the_rician_bias_of_what_it_takes_for_a_magnitude_image(
    brain_slice: np.ndarray,
) -> None:
    """``auto`` on a magnitude image gives what ``rician=True`` gives, and says so; on the
    same slice with Gaussian noise (clipped at 0, as stored images are) it does not."""
    noisy = md.add_noise(brain_slice, "rician", 0.05, rng=np.random.default_rng(4))
    auto = md.Denoiser().run(noisy)
    told = md.Denoiser(rician=True).run(noisy)
    assert auto.model == "auto: white, Rician bias removed"
    assert told.model == "auto: white"  # the user's own setting is not auto's decision
    np.testing.assert_array_equal(auto.image, told.image)
    assert auto.noise_level == told.noise_level
    gaussian = np.clip(md.add_noise(brain_slice, "gaussian", 0.05, rng=4), 0, None)
    white = md.Denoiser().run(gaussian)
    assert white.model == "auto: white"
    np.testing.assert_array_equal(white.image, md.Denoiser("white").run(gaussian).image)
    # a named network is run as it is: no bias removed unless asked
    named = md.Denoiser("white")
    plain = named.run(noisy)
    assert plain.model == named.name and not np.array_equal(plain.image, auto.image)


def test_default_is_one_pattern_free_network_with_autos_rician_step(
    brain_slice: np.ndarray,
) -> None:
    """``"default"`` (issue 26): the ``correlated`` network whatever the noise, with the
    Rician bias removed where the background shows a magnitude image, and saying so."""
    import torch

    net = md.load_model("default")
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in net.modules())
    noisy = md.add_noise(brain_slice, "rician", 0.05, rng=np.random.default_rng(4))
    default = md.Denoiser("default").run(noisy)
    told = md.Denoiser("correlated", rician=True).run(noisy)
    assert default.model == "default, Rician bias removed"
    assert default.provenance.rician_bias_removed
    np.testing.assert_array_equal(default.image, told.image)
    plain = md.Denoiser("correlated").run(noisy)  # named as itself: run as it is
    air = brain_slice == 0
    assert float(plain.image[air].mean()) > 0.02 > float(np.abs(default.image[air]).mean()) * 10
    gain = _psnr(brain_slice, default.image) - _psnr(brain_slice, plain.image)
    assert gain > 3.0, f"the Rician step gained only {gain:.2f} dB"
    # Gaussian noise (clipped at 0, as stored images are): the network alone
    gaussian = np.clip(md.add_noise(brain_slice, "gaussian", 0.05, rng=4), 0, None)
    white = md.Denoiser("default").run(gaussian)
    assert white.model == "default" and not white.provenance.rician_bias_removed
    np.testing.assert_array_equal(white.image, md.denoise(gaussian, "correlated"))
    assert _psnr(brain_slice, white.image) - _psnr(brain_slice, gaussian) > 5.0


def test_mixed_precision_is_as_good_as_float32_and_can_be_turned_off(
    brain_slice: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On CPUs with bfloat16 the U-Net's inner levels run in bfloat16: the result moves by
    rounding only; ``precision="float32"`` (or MEDIDENOISE_PRECISION) gives float32."""
    import torch

    from medidenoise.inference._network import use_bf16

    noisy = md.add_noise(brain_slice, "gaussian", 0.05, rng=6)
    mixed, plain = md.Denoiser("white"), md.Denoiser("white", precision="float32")
    a, b = mixed(noisy, noise_level=0.05), plain(noisy, noise_level=0.05)
    assert abs(_psnr(brain_slice, a) - _psnr(brain_slice, b)) < 0.05
    np.testing.assert_allclose(a, b, atol=0.02)
    has_bf16 = torch.cpu._is_avx512_bf16_supported()
    assert use_bf16(mixed.model, mixed.device, mixed.precision) == has_bf16  # type: ignore[arg-type]
    assert not use_bf16(plain.model, plain.device, plain.precision)  # type: ignore[arg-type]
    cae = md.Denoiser("cae-baseline")  # not a U-Net: float32 as before
    assert not use_bf16(cae.model, cae.device, cae.precision)  # type: ignore[arg-type]
    if has_bf16:
        assert not np.array_equal(a, b)
    monkeypatch.setenv("MEDIDENOISE_PRECISION", "float32")
    np.testing.assert_array_equal(md.denoise(noisy, "white", noise_level=0.05), b)
    monkeypatch.setenv("MEDIDENOISE_PRECISION", "half")
    with pytest.raises(ValueError, match=r"precision must be one of auto, float32.*MEDIDENOISE"):
        md.Denoiser("white")
    with pytest.raises(ValueError, match="precision must be one of"):
        md.Denoiser("white", precision="bf16")
