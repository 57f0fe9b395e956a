"""MONAI array and dictionary noise transforms: reproducibility, types, arguments."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose

from medidenoise.transforms import (
    NOISE_KINDS,
    RandAddGaussianNoise,
    RandAddGaussianNoised,
    RandAddNoise,
    RandAddNoiseD,
    RandAddNoised,
    RandAddNoiseDict,
    RandAddPoissonNoise,
    RandAddPoissonNoised,
    RandAddRicianNoise,
    RandAddRicianNoised,
    RandAddSaltAndPepperNoise,
    RandAddSaltAndPepperNoised,
    RandAddSpeckleNoise,
    RandAddSpeckleNoised,
)

MIXTURE = {"gaussian": (0.01, 0.15), "poisson": (20, 500), "rician": (0.01, 0.12)}


def _image(shape: tuple[int, ...] = (1, 32, 32)) -> np.ndarray:
    return np.linspace(0.1, 0.9, int(np.prod(shape)), dtype=np.float32).reshape(shape)


def test_seeded_transform_is_reproducible_and_seeds_differ() -> None:
    t = RandAddNoise(kinds=tuple(MIXTURE), levels=MIXTURE)
    first = t.set_random_state(seed=3)(_image())
    again = t.set_random_state(seed=3)(_image())
    other = t.set_random_state(seed=4)(_image())
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    # successive calls draw new noise
    assert not np.array_equal(t(_image()), t(_image()))


def test_numpy_torch_and_metatensor_keep_their_type() -> None:
    t = RandAddNoise("gaussian", 0.1).set_random_state(seed=0)
    image = _image()
    out_np = t(image)
    assert isinstance(out_np, np.ndarray) and out_np.dtype == np.float32
    np.testing.assert_array_equal(image, _image())  # input untouched
    out_t = t.set_random_state(seed=0)(torch.as_tensor(image, dtype=torch.float64))
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float32
    np.testing.assert_array_equal(out_t.numpy(), out_np)
    meta = MetaTensor(torch.as_tensor(image), meta={"filename_or_obj": "x.nii"})
    out_m = t(meta)
    assert isinstance(out_m, MetaTensor) and out_m.meta["filename_or_obj"] == "x.nii"
    out_int = RandAddNoise("gaussian", 1.0)((image * 100).astype(np.int16))
    assert out_int.dtype == np.float32


def test_prob_zero_returns_float32_unchanged() -> None:
    t = RandAddNoise("speckle", 0.5, prob=0.0).set_random_state(seed=0)
    image = (_image() * 10).astype(np.int16)
    out = t(image)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, image)
    assert t.kind is None and t.level is None


def test_mixture_draws_kinds_by_weight_and_levels_in_range() -> None:
    t = RandAddNoise(kinds=tuple(MIXTURE), levels=MIXTURE, weights=(0.6, 0.3, 0.1))
    t.set_random_state(seed=1)
    seen: dict[str, list[float]] = {k: [] for k in MIXTURE}
    for _ in range(600):
        t.randomize(None)
        assert t.kind is not None and t.level is not None
        seen[t.kind].append(t.level)
    counts = np.array([len(seen[k]) for k in MIXTURE]) / 600
    np.testing.assert_allclose(counts, (0.6, 0.3, 0.1), atol=0.05)
    for kind, levels in seen.items():
        lo, hi = MIXTURE[kind]
        assert lo <= min(levels) and max(levels) <= hi
        assert max(levels) - min(levels) > 0.5 * (hi - lo)  # spread over the range


def test_noise_statistics_follow_the_drawn_level() -> None:
    t = RandAddGaussianNoise(sigma=(0.05, 0.2)).set_random_state(seed=2)
    image = np.zeros((1, 128, 128), np.float32)
    out = t(image)
    assert t.level is not None and 0.05 <= t.level <= 0.2
    assert abs(out.std() / t.level - 1) < 0.03


@pytest.mark.parametrize(
    ("array_cls", "dict_cls", "kind"),
    [
        (RandAddGaussianNoise, RandAddGaussianNoised, "gaussian"),
        (RandAddSaltAndPepperNoise, RandAddSaltAndPepperNoised, "salt_and_pepper"),
        (RandAddPoissonNoise, RandAddPoissonNoised, "poisson"),
        (RandAddRicianNoise, RandAddRicianNoised, "rician"),
        (RandAddSpeckleNoise, RandAddSpeckleNoised, "speckle"),
    ],
)
def test_per_kind_transforms(array_cls, dict_cls, kind: str) -> None:
    t = array_cls().set_random_state(seed=0)
    out = t(_image())
    assert t.kind == kind and out.shape == (1, 32, 32)
    d = dict_cls(keys="image").set_random_state(seed=0)
    out_d = d({"image": _image()})
    np.testing.assert_array_equal(out_d["image"], out)  # same seed, same noise as the array one


def test_channel_wise_uses_each_channel_range() -> None:
    image = np.stack([np.linspace(0, 1, 400), np.linspace(0, 100, 400)]).reshape(2, 20, 20)
    image = image.astype(np.float32)
    t = RandAddSaltAndPepperNoise(amount=0.5, channel_wise=True).set_random_state(seed=0)
    out = t(image)
    assert set(np.unique(out[0][out[0] != image[0]]).tolist()) <= {0.0, 1.0}
    assert set(np.unique(out[1][out[1] != image[1]]).tolist()) <= {0.0, 100.0}
    assert (out[0] == 1.0).sum() > 50 and (out[1] == 100.0).sum() > 50


def test_dict_transform_same_noise_for_keys_and_reproducible() -> None:
    t = RandAddNoised(keys=("a", "b"), kinds=tuple(MIXTURE), levels=MIXTURE)
    data = {"a": _image(), "b": torch.as_tensor(_image()), "other": "kept"}
    out = t.set_random_state(seed=5)(data)
    again = t.set_random_state(seed=5)(data)
    assert out["other"] == "kept"
    assert isinstance(out["b"], torch.Tensor) and isinstance(out["a"], np.ndarray)
    np.testing.assert_array_equal(out["a"], out["b"].numpy())
    np.testing.assert_array_equal(out["a"], again["a"])
    np.testing.assert_array_equal(data["a"], _image())
    assert RandAddNoiseD is RandAddNoised and RandAddNoiseDict is RandAddNoised


def test_dict_transform_in_compose_and_missing_keys() -> None:
    def pipeline() -> Compose:
        return Compose([RandAddNoised("image", kinds=tuple(MIXTURE), levels=MIXTURE)])

    a = pipeline().set_random_state(seed=11)({"image": _image()})
    b = pipeline().set_random_state(seed=11)({"image": _image()})
    np.testing.assert_array_equal(a["image"], b["image"])
    with pytest.raises(KeyError):
        RandAddNoised("image")({"label": _image()})
    assert "image" not in RandAddNoised("image", allow_missing_keys=True)({"x": _image()})
    skipped = RandAddNoised("image", prob=0.0)({"image": (_image() * 5).astype(np.uint8)})
    assert skipped["image"].dtype == np.float32


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"kinds": "blur"}, ["kinds", "'blur'", *NOISE_KINDS]),
        ({"kinds": ()}, ["kinds", "at least one"]),
        ({"kinds": ("gaussian", "gaussian")}, ["repeat"]),
        ({"kinds": "gaussian", "levels": {"poisson": 10}}, ["'poisson'", "not in kinds"]),
        ({"kinds": "gaussian", "levels": (0.2, 0.1)}, ["low <= high"]),
        ({"kinds": "gaussian", "levels": (0.1, 0.2, 0.3)}, ["(low, high)"]),
        ({"kinds": "poisson", "levels": (0, 10)}, ["photons", "0"]),
        ({"kinds": ("gaussian", "rician"), "levels": 0.1}, ["mapping"]),
        ({"kinds": ("gaussian", "rician"), "weights": (1.0,)}, ["one entry per kind"]),
        ({"kinds": ("gaussian", "rician"), "weights": (0, 0)}, ["all be zero"]),
        ({"kinds": "gaussian", "weights": (-1.0,)}, ["weights[0]", "-1"]),
        ({"prob": 1.5}, ["prob", "1.5"]),
    ],
)
def test_constructor_fails_early_naming_the_argument(kwargs: dict, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        RandAddNoise(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_call_without_randomize_first_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="randomize"):
        RandAddNoise("gaussian")(_image(), randomize=False)


def test_log_levels_train_each_decade_as_often() -> None:
    """log_levels: a kind's level drawn log-uniformly, so the 0.03-0.3 % of the range that
    real CT noise sits at is drawn as often as the benchmark's 3-30 %."""

    def draws(**kw) -> np.ndarray:
        t = RandAddNoise("gaussian", (0.0003, 0.3), **kw)
        t.set_random_state(seed=0)
        out = []
        for _ in range(3000):
            t.randomize(None)
            out.append(t.level)
        return np.array(out)

    uniform, log = draws(), draws(log_levels=["gaussian"])
    assert 0.0003 <= log.min() and log.max() <= 0.3
    low, high = np.mean(log < 0.003), np.mean(log > 0.03)
    assert 0.28 < low < 0.39 and 0.28 < high < 0.39  # a third per decade
    assert np.mean(uniform < 0.003) < 0.02
    with pytest.raises(ValueError, match="low > 0"):
        RandAddNoise("gaussian", (0.0, 0.1), log_levels=["gaussian"])


def test_a_noise_component_can_ask_for_log_draws() -> None:
    from medidenoise.config import NoiseConfig
    from medidenoise.engine.datasets import make_noise_transform

    cfg = NoiseConfig.model_validate(
        {"mixture": [{"kind": "gaussian", "level": [0.0003, 0.15], "draw": "log"}]}
    )
    assert make_noise_transform(cfg).noiser.log_levels == {"gaussian"}
    with pytest.raises(ValueError, match="draw: log"):
        NoiseConfig.model_validate(
            {"mixture": [{"kind": "gaussian", "level": [0.0, 0.15], "draw": "log"}]}
        )
