"""DenoiseOptions: validated once where a caller hands options in, and the same run either way."""

from __future__ import annotations

import numpy as np
import pytest

import medidenoise as md
from medidenoise.convert.unit import COMPARED_SETTINGS
from medidenoise.inference.options import check_noise_level


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"noise_level": -1.0}, "noise_level must be a finite number >= 0"),
        ({"noise_level": float("nan")}, "noise_level must be a finite number >= 0"),
        ({"noise_level": "5"}, "a float, not a string"),
        ({"noise_level": True}, "noise_level must be one number"),
        ({"self_ensemble": "False"}, "self_ensemble must be True or False"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"tile_size": 16}, "tile_size must be a whole number of at least 32"),
        ({"precision": "float16"}, "precision must be one of auto, float32"),
    ],
)
def test_bad_options_are_refused_with_the_option_named(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        md.DenoiseOptions(**kwargs)


def test_every_entry_point_refuses_a_bad_level_with_the_same_message() -> None:
    image = np.zeros((8, 8), np.float32)
    calls = [
        lambda: md.denoise(image, "identity", noise_level=-1),
        lambda: md.Denoiser("identity").run(image, noise_level=-1),
        lambda: md.Denoiser("identity").denoise_slice(image, noise_level=-1),
        lambda: md.Denoise("identity", noise_level=-1),
        lambda: md.Denoised(keys="image", model="identity", noise_level=-1),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="noise_level must be a finite number >= 0"):
            call()


def test_options_and_keywords_give_the_same_run() -> None:
    noisy = np.random.default_rng(0).normal(100, 5, (2, 32, 32)).astype(np.float32)
    opts = md.DenoiseOptions(noise_level=5.0, batch_size=1)
    by_options = md.denoise(noisy, "nlm", options=opts)
    by_keywords = md.denoise(noisy, "nlm", noise_level=5.0, batch_size=1)
    np.testing.assert_array_equal(by_options, by_keywords)
    result = md.Denoiser("nlm", options=opts).run(noisy)
    assert result.noise_level == 5.0  # the options' level, reported by the result
    np.testing.assert_array_equal(result.image, by_options)
    assert md.Denoiser("nlm", options=opts).run(noisy, noise_level=2.0).noise_level == 2.0


def test_options_and_single_keywords_are_not_mixed() -> None:
    with pytest.raises(TypeError, match=r"options= or the single options \(rician\)"):
        md.Denoiser("identity", options=md.DenoiseOptions(), rician=True)
    with pytest.raises(TypeError, match="options must be a DenoiseOptions"):
        md.Denoiser("identity", options={"rician": True})  # type: ignore[arg-type]


def test_options_are_frozen_and_replace_revalidates() -> None:
    opts = md.DenoiseOptions(noise_level=3)
    assert opts.noise_level == 3.0 and isinstance(opts.noise_level, float)
    with pytest.raises(AttributeError):
        opts.noise_level = 4.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="tile_size"):
        opts.replace(tile_size=1)


def test_a_conversion_compares_every_option_that_changes_the_values() -> None:
    compared = md.DenoiseOptions().compared_settings()
    assert set(compared) == {"noise_level", "self_ensemble", "rician"}
    assert set(compared) <= set(COMPARED_SETTINGS)


def test_zero_is_refused_where_the_caller_says_why() -> None:
    assert check_noise_level(0) == 0.0
    with pytest.raises(ValueError, match="must be a positive number, got 0: no noise"):
        check_noise_level(0, zero="no noise")


def test_precision_comes_from_the_environment_when_not_given(monkeypatch) -> None:
    monkeypatch.setenv("MEDIDENOISE_PRECISION", "float32")
    assert md.Denoiser("identity").precision == "float32"
    assert md.Denoiser("identity", precision="auto").precision == "auto"
    monkeypatch.setenv("MEDIDENOISE_PRECISION", "half")
    with pytest.raises(ValueError, match="from MEDIDENOISE_PRECISION"):
        md.Denoiser("identity")
