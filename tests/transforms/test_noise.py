"""The noise models: statistics at fixed seeds, dtype and shape, purity, argument checks."""

from __future__ import annotations

import numpy as np
import pytest

from medidenoise.errors import InvalidImageError, MedidenoiseError
from medidenoise.transforms import (
    NOISE_KINDS,
    add_correlated_noise,
    add_gaussian_noise,
    add_noise,
    add_poisson_gaussian_noise,
    add_poisson_noise,
    add_rician_noise,
    add_salt_and_pepper_noise,
    add_speckle_noise,
)

LEVELS = {
    "gaussian": 0.1,
    "salt_and_pepper": 0.05,
    "poisson": 50.0,
    "rician": 0.1,
    "speckle": 0.2,
    "correlated": 0.1,
    "poisson_gaussian": 0.1,
}


def _ramp(shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
    return np.linspace(0.0, 1.0, int(np.prod(shape)), dtype=np.float64).reshape(shape).astype(dtype)


@pytest.mark.parametrize("kind", NOISE_KINDS)
@pytest.mark.parametrize("shape", [(32, 40), (5, 16, 24)])
def test_shape_dtype_and_input_untouched(kind: str, shape: tuple[int, ...]) -> None:
    image = _ramp(shape)
    before = image.copy()
    out = add_noise(image, kind, LEVELS[kind], rng=0)
    assert out.shape == shape
    assert out.dtype == np.float32
    assert out is not image
    np.testing.assert_array_equal(image, before)
    assert not np.array_equal(out, image)


@pytest.mark.parametrize("kind", NOISE_KINDS)
@pytest.mark.parametrize("dtype", [np.float64, np.int16, np.uint8])
def test_other_real_dtypes_become_float32(kind: str, dtype: type) -> None:
    image = (_ramp((16, 16)) * 100).astype(dtype)
    out = add_noise(image, kind, LEVELS[kind], rng=0)
    assert out.dtype == np.float32


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_same_seed_same_noise_and_generator_accepted(kind: str) -> None:
    image = _ramp((32, 32))
    a = add_noise(image, kind, LEVELS[kind], rng=7)
    b = add_noise(image, kind, LEVELS[kind], rng=np.random.default_rng(7))
    c = add_noise(image, kind, LEVELS[kind], rng=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dispatcher_matches_each_function() -> None:
    image = _ramp((24, 24))
    funcs = {
        "gaussian": add_gaussian_noise,
        "salt_and_pepper": add_salt_and_pepper_noise,
        "poisson": add_poisson_noise,
        "rician": add_rician_noise,
        "speckle": add_speckle_noise,
        "correlated": add_correlated_noise,
        "poisson_gaussian": add_poisson_gaussian_noise,
    }
    assert set(funcs) == set(NOISE_KINDS)
    for kind, func in funcs.items():
        np.testing.assert_array_equal(
            add_noise(image, kind, LEVELS[kind], rng=3), func(image, LEVELS[kind], rng=3)
        )


def test_gaussian_std_matches_sigma() -> None:
    image = _ramp((256, 256)) * 50
    for sigma in (0.5, 5.0):
        noise = add_gaussian_noise(image, sigma, rng=1) - image
        assert abs(noise.std() / sigma - 1) < 0.02
        assert abs(noise.mean()) < 0.02 * sigma
    np.testing.assert_array_equal(add_gaussian_noise(image, 0.0, rng=1), image)


def test_salt_and_pepper_fractions_and_values() -> None:
    image = _ramp((256, 256)) * 2 - 1  # range [-1, 1]
    out = add_salt_and_pepper_noise(image, 0.1, salt_fraction=0.3, rng=2)
    changed = out != image
    assert abs(changed.mean() - 0.1) < 0.005
    salt = out[changed] == 1.0
    assert np.all((out[changed] == 1.0) | (out[changed] == -1.0))
    assert abs(salt.mean() - 0.3) < 0.02
    custom = add_salt_and_pepper_noise(image, 0.2, low=-5.0, high=5.0, rng=2)
    assert set(np.unique(custom[custom != image]).tolist()) == {-5.0, 5.0}
    everything = add_salt_and_pepper_noise(image, 1.0, salt_fraction=1.0, rng=0)
    assert np.all(everything == 1.0)
    np.testing.assert_array_equal(add_salt_and_pepper_noise(image, 0.0, rng=0), image)


def test_poisson_variance_proportional_to_mean() -> None:
    levels = np.linspace(0.1, 1.0, 10)
    image = np.repeat(levels, 20_000).reshape(10, 20_000).astype(np.float32)
    photons = 100.0
    noisy = add_poisson_noise(image, photons, rng=3)
    means, variances = noisy.mean(axis=1), noisy.var(axis=1)
    np.testing.assert_allclose(means, levels, rtol=0.01)
    slope = float(np.sum(means * variances) / np.sum(means * means))  # fit var = k * mean
    assert abs(slope * photons - 1) < 0.03  # k = max / photons
    np.testing.assert_allclose(variances / means, 1 / photons, rtol=0.06)


def test_poisson_more_photons_less_noise_and_offset_images() -> None:
    image = np.full((200, 200), 1000.0, dtype=np.float32)
    image[:, :100] = -1000.0  # CT-like: air and soft-tissue-ish halves, in HU
    low = add_poisson_noise(image, 50, rng=4) - image
    high = add_poisson_noise(image, 5000, rng=4) - image
    # negative images are shifted by their minimum: the minimum gets no photons, no noise
    assert np.all(low[:, :100] == 0)
    # at the maximum, std = (max - min) / sqrt(photons)
    assert abs(low[:, 100:].std() / (2000 / np.sqrt(50)) - 1) < 0.05
    assert abs(high[:, 100:].std() / (2000 / np.sqrt(5000)) - 1) < 0.05
    constant = np.full((8, 8), 3.0, dtype=np.float32)
    np.testing.assert_array_equal(add_poisson_noise(constant * 0, 10, rng=0), constant * 0)


def test_rician_bias_at_zero_signal_and_gaussian_at_high_snr() -> None:
    sigma = 0.1
    zero = add_rician_noise(np.zeros((300, 300), np.float32), sigma, rng=5)
    assert zero.min() >= 0
    assert abs(zero.mean() / (sigma * np.sqrt(np.pi / 2)) - 1) < 0.01
    bright = add_rician_noise(np.full((300, 300), 5.0, np.float32), sigma, rng=5)
    assert abs(bright.mean() - 5.0) < 0.01
    assert abs(bright.std() / sigma - 1) < 0.03


def test_speckle_std_proportional_to_intensity() -> None:
    intensities = np.array([0.0, 1.0, 2.0, 4.0])
    image = np.repeat(intensities, 40_000).reshape(4, 40_000).astype(np.float32)
    noisy = add_speckle_noise(image, 0.1, rng=6)
    stds = (noisy - image).std(axis=1)
    assert stds[0] == 0
    np.testing.assert_allclose(stds[1:] / intensities[1:], 0.1, rtol=0.03)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda im: add_gaussian_noise(im, -0.1), ["sigma", "-0.1", "[0"]),
        (lambda im: add_gaussian_noise(im, float("nan")), ["sigma", "nan"]),
        (lambda im: add_gaussian_noise(im, True), ["sigma", "True"]),
        (lambda im: add_salt_and_pepper_noise(im, 1.5), ["amount", "1.5", "1]"]),
        (lambda im: add_salt_and_pepper_noise(im, 0.1, salt_fraction=2), ["salt_fraction", "2"]),
        (lambda im: add_salt_and_pepper_noise(im, 0.1, low=1, high=0), ["low", "high"]),
        (lambda im: add_poisson_noise(im, 0), ["photons", "0", "(0"]),
        (lambda im: add_noise(im, "blur", 1), ["kind", "'blur'", *NOISE_KINDS]),
        (lambda im: add_noise(im, "rician", -1), ["level", "rician", "-1"]),
    ],
)
def test_bad_arguments_say_what_and_what_is_allowed(call, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        call(np.zeros((8, 8), np.float32))
    for word in words:
        assert word in str(info.value)


def test_bad_images_and_rng() -> None:
    bad = np.zeros((8, 8), np.float32)
    bad[0, 0] = np.nan
    with pytest.raises(InvalidImageError, match="NaN"):
        add_gaussian_noise(bad, 0.1)
    with pytest.raises(MedidenoiseError, match="complex"):
        add_gaussian_noise(np.zeros((4, 4), np.complex64), 0.1)
    with pytest.raises(ValueError, match="non-empty"):
        add_speckle_noise(np.zeros((0, 4)), 0.1)
    with pytest.raises(TypeError, match="rng"):
        add_gaussian_noise(np.zeros((4, 4)), 0.1, rng="seed")  # type: ignore[arg-type]
