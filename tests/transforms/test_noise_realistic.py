"""Correlated and Poisson-Gaussian noise: the statistics users and training rely on."""

from __future__ import annotations

import numpy as np
import pytest

from medidenoise.transforms import (
    RandAddCorrelatedNoise,
    RandAddCorrelatedNoised,
    RandAddPoissonGaussianNoise,
    RandAddPoissonGaussianNoised,
    RandNoisyPaird,
    add_correlated_noise,
    add_poisson_gaussian_noise,
)


def _lag1(noise: np.ndarray, axis: int) -> float:
    a = np.moveaxis(noise, axis, -1)
    return float(np.corrcoef(a[..., :-1].ravel(), a[..., 1:].ravel())[0, 1])


@pytest.mark.parametrize(
    ("spectrum", "width"),
    [("lowpass", 0.1), ("lowpass", 0.3), ("bandpass", 0.3), ("bandpass", 0.6), ("vertical", 0.1)],
)
def test_correlated_noise_keeps_its_per_pixel_std(spectrum: str, width: float) -> None:
    clean = np.full((4, 128, 128), 0.5, dtype=np.float32)
    noisy = add_correlated_noise(clean, 0.05, rng=0, spectrum=spectrum, width=width)  # type: ignore[arg-type]
    assert float((noisy - clean).std()) == pytest.approx(0.05, rel=0.1)
    assert abs(float((noisy - clean).mean())) < 0.005


def test_correlation_follows_the_spectrum() -> None:
    clean = np.zeros((256, 256), dtype=np.float32)
    narrow = add_correlated_noise(clean, 1.0, rng=1, spectrum="lowpass", width=0.1)
    wide = add_correlated_noise(clean, 1.0, rng=1, spectrum="lowpass", width=0.4)
    assert _lag1(narrow, 0) > 0.8 and _lag1(narrow, 1) > 0.8  # a narrow low-pass: blobs
    assert _lag1(wide, 0) < _lag1(narrow, 0)
    # only along rows: neighbours in a row are alike, neighbours in a column are not
    rows = add_correlated_noise(clean, 1.0, rng=1, spectrum="horizontal", width=0.1)
    assert _lag1(rows, 1) > 0.8 and abs(_lag1(rows, 0)) < 0.1
    # the CT-like band-pass (a ramp) has no power at zero frequency: no slow drift
    ramp = add_correlated_noise(clean, 1.0, rng=1, spectrum="bandpass", width=0.5)
    assert abs(float(np.fft.fft2(ramp)[0, 0].real)) < 1e-6 * ramp.size


def test_random_spectrum_is_drawn_from_rng_and_reproducible() -> None:
    clean = np.zeros((64, 64), dtype=np.float32)
    a = add_correlated_noise(clean, 0.1, rng=3)
    np.testing.assert_array_equal(a, add_correlated_noise(clean, 0.1, rng=3))
    assert not np.array_equal(a, add_correlated_noise(clean, 0.1, rng=4))


def test_correlated_noise_bad_arguments() -> None:
    with pytest.raises(ValueError, match="spectrum must be one of"):
        add_correlated_noise(np.zeros((8, 8)), 0.1, spectrum="pink")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="width"):
        add_correlated_noise(np.zeros((8, 8)), 0.1, spectrum="lowpass", width=0)
    with pytest.raises(ValueError, match="2D slices"):
        add_correlated_noise(np.zeros(16), 0.1)


def test_poisson_gaussian_noise_grows_with_the_signal() -> None:
    ramp = np.tile(np.linspace(0.0, 1.0, 512, dtype=np.float32), (512, 1))
    before = ramp.copy()
    noisy = add_poisson_gaussian_noise(ramp, 0.05, rng=0, signal_fraction=0.8)
    np.testing.assert_array_equal(ramp, before)
    dark, bright = (noisy - ramp)[:, :32].std(), (noisy - ramp)[:, -32:].std()
    # variance: 0.05**2 * (0.8 * x / mean + 0.2) -> std sqrt(0.2) * 0.05 at 0, sqrt(1.8) * 0.05 at 1
    assert dark == pytest.approx(0.05 * np.sqrt(0.2 + 0.8 * 0.03), rel=0.15)
    assert bright == pytest.approx(0.05 * np.sqrt(1.8 - 0.8 * 0.03), rel=0.1)
    assert float((noisy - ramp).std()) == pytest.approx(0.05, rel=0.05)  # per-pixel std = sigma


def test_monai_transforms_and_training_pairs_use_the_new_kinds() -> None:
    image = np.full((1, 64, 64), 0.5, dtype=np.float32)
    for array_cls, dict_cls, kind in [
        (RandAddCorrelatedNoise, RandAddCorrelatedNoised, "correlated"),
        (RandAddPoissonGaussianNoise, RandAddPoissonGaussianNoised, "poisson_gaussian"),
    ]:
        t = array_cls(sigma=(0.05, 0.05)).set_random_state(seed=0)
        out = t(image)
        assert t.kind == kind and out.shape == image.shape
        d = dict_cls(keys="image", sigma=(0.05, 0.05)).set_random_state(seed=0)
        np.testing.assert_array_equal(d({"image": image})["image"], out)
    pair = RandNoisyPaird(kinds="correlated", levels=(0.08, 0.08)).set_random_state(seed=1)
    sample = pair({"image": image})
    # the noise-level channel of training is the per-pixel std of the added noise
    assert float(sample["noise_level"]) == pytest.approx(0.08, rel=0.15)
