"""RandNoisyPaird: the supervised training sample (noisy, clean, noise level)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import list_data_collate
from monai.transforms import Compose, EnsureChannelFirstd

from medidenoise.transforms import RandNoisyPairD, RandNoisyPaird, RandNoisyPairDict

KINDS = ("gaussian", "poisson", "rician")
LEVELS = {"gaussian": (0.01, 0.15), "poisson": (20, 500), "rician": (0.01, 0.12)}


def _clean(shape: tuple[int, ...] = (1, 48, 48)) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[-2], 0 : shape[-1]] / shape[-1]
    return np.broadcast_to(0.2 + 0.6 * xx * yy, shape).astype(np.float32).copy()


def test_output_keys_values_and_input_untouched() -> None:
    t = RandNoisyPaird(kinds=KINDS, levels=LEVELS).set_random_state(seed=0)
    clean = _clean()
    data = {"image": clean, "case": "c1"}
    out = t(data)
    assert set(out) == {"image", "label", "noise_level", "noise_kind", "noise_param", "case"}
    assert data["image"] is clean and set(data) == {"image", "case"}
    np.testing.assert_array_equal(clean, _clean())
    np.testing.assert_array_equal(out["label"], clean)
    assert out["image"].shape == clean.shape and out["image"].dtype == np.float32
    assert isinstance(out["noise_level"], np.float32)
    assert out["noise_level"] == np.float32(np.std(out["image"] - out["label"], dtype=np.float64))
    assert out["noise_kind"] in KINDS
    lo, hi = LEVELS[out["noise_kind"]]
    assert lo <= out["noise_param"] <= hi


def test_gaussian_noise_level_is_the_std_in_image_units() -> None:
    t = RandNoisyPaird(kinds="gaussian", levels=(20.0, 20.0)).set_random_state(seed=1)
    out = t({"image": _clean((1, 128, 128)) * 1000 - 500})  # HU-like units
    assert abs(out["noise_level"] / 20.0 - 1) < 0.03


def test_torch_input_gives_torch_image_and_label() -> None:
    t = RandNoisyPaird(kinds=KINDS, levels=LEVELS)
    out_np = t.set_random_state(seed=2)({"image": _clean()})
    out_t = t.set_random_state(seed=2)({"image": torch.as_tensor(_clean())})
    assert isinstance(out_t["image"], torch.Tensor) and isinstance(out_t["label"], torch.Tensor)
    assert out_t["image"].dtype == torch.float32
    np.testing.assert_array_equal(out_t["image"].numpy(), out_np["image"])
    assert out_t["noise_level"] == out_np["noise_level"]


def test_compose_set_random_state_is_reproducible() -> None:
    def pipeline() -> Compose:
        return Compose(
            [
                EnsureChannelFirstd("image", channel_dim="no_channel"),
                RandNoisyPaird(kinds=KINDS, levels=LEVELS, weights=(1, 1, 2)),
            ]
        )

    a, b, c = (pipeline().set_random_state(seed=s) for s in (42, 42, 43))
    samples = [{"image": _clean((40, 40))} for _ in range(4)]
    out_a = [a(s) for s in samples]
    out_b = [b(s) for s in samples]
    out_c = [c(s) for s in samples]
    for x, y in zip(out_a, out_b, strict=True):
        assert x["image"].shape == (1, 40, 40)
        np.testing.assert_array_equal(np.asarray(x["image"]), np.asarray(y["image"]))
        assert x["noise_kind"] == y["noise_kind"] and x["noise_level"] == y["noise_level"]
    assert any(
        not np.array_equal(np.asarray(x["image"]), np.asarray(z["image"]))
        for x, z in zip(out_a, out_c, strict=True)
    )


def test_prob_zero_gives_clean_pair_with_zero_level() -> None:
    out = RandNoisyPaird(prob=0.0)({"image": _clean()})
    np.testing.assert_array_equal(out["image"], out["label"])
    assert out["image"] is not out["label"]
    assert out["noise_level"] == 0 and out["noise_kind"] == "none" and out["noise_param"] == 0


def test_batches_collate_and_optional_keys_can_be_dropped() -> None:
    t = RandNoisyPaird(kinds=KINDS, levels=LEVELS, kind_key=None, param_key=None)
    t.set_random_state(seed=3)
    batch = list_data_collate([t({"image": _clean()}) for _ in range(3)])
    assert set(batch) == {"image", "label", "noise_level"}
    assert tuple(batch["image"].shape) == (3, 1, 48, 48)
    assert tuple(batch["noise_level"].shape) == (3,)
    assert batch["noise_level"].dtype == torch.float32


def test_custom_keys_aliases_and_bad_keys() -> None:
    t = RandNoisyPaird("x", label_key="y", noise_key="s").set_random_state(seed=0)
    out = t({"x": _clean()})
    assert {"x", "y", "s"} <= set(out)
    assert RandNoisyPairD is RandNoisyPaird and RandNoisyPairDict is RandNoisyPaird
    with pytest.raises(ValueError, match="exactly one"):
        RandNoisyPaird(("image", "other"))
    with pytest.raises(ValueError, match="must all differ"):
        RandNoisyPaird("image", label_key="image")
    with pytest.raises(KeyError):
        RandNoisyPaird()({"label": _clean()})
