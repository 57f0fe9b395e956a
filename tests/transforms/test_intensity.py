"""normalize_intensity / NormalizationParams: methods, exact inverse, sigma scaling, JSON."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from medidenoise.transforms import CT_WINDOW, NormalizationParams, normalize_intensity


def _ct(shape: tuple[int, ...] = (4, 64, 64)) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(-1024, 3071, shape).astype(np.float32)


@pytest.mark.parametrize("method", ["window", "percentile", "minmax", "none"])
@pytest.mark.parametrize("shape", [(64, 64), (4, 64, 64)])
def test_round_trip_is_exact_to_float32(method: str, shape: tuple[int, ...]) -> None:
    image = _ct(shape)
    before = image.copy()
    norm, params = normalize_intensity(image, method=method)  # type: ignore[arg-type]
    assert norm.dtype == np.float32 and norm.shape == shape
    np.testing.assert_array_equal(image, before)
    back = params.inverse(norm)
    assert back.dtype == np.float32
    # at most a few float32 ulps of the magnitudes involved
    tol = 4 * np.finfo(np.float32).eps * (np.abs(image).max() + abs(params.low) + params.scale)
    assert np.abs(back - image).max() <= tol


def test_auto_uses_the_ct_window_for_ct_and_percentiles_otherwise() -> None:
    image = _ct()
    _, ct = normalize_intensity(image, modality="ct")
    assert (ct.method, ct.low, ct.high) == ("window", *CT_WINDOW)
    _, mr = normalize_intensity(image, modality="MR")
    assert mr.method == "percentile"
    lo, hi = np.percentile(image, (0.5, 99.5))
    assert mr.low == pytest.approx(lo) and mr.high == pytest.approx(hi)
    _, unknown = normalize_intensity(image)
    assert unknown.method == "percentile"


def test_not_clipped_and_window_maps_to_unit_range() -> None:
    image = np.array([-1000.0, 0.0, 1000.0, 3000.0, -2048.0], dtype=np.float32)
    norm, _ = normalize_intensity(image, method="window")
    np.testing.assert_allclose(norm[:3], [0.0, 0.5, 1.0])
    assert norm[3] > 1 and norm[4] < 0
    norm2, _ = normalize_intensity(image, method="window", window=(-160, 240))
    assert norm2[1] == pytest.approx(0.4)
    mm, _ = normalize_intensity(image, method="minmax")
    assert mm.min() == 0.0 and mm.max() == 1.0
    ident, p = normalize_intensity(image, method="none")
    np.testing.assert_array_equal(ident, image)
    assert (p.low, p.high) == (0.0, 1.0)


def test_percentiles_ignore_hot_pixels() -> None:
    image = np.random.default_rng(1).uniform(0, 100, (100, 100)).astype(np.float32)
    image[0, 0] = 1e6
    norm, params = normalize_intensity(image, method="percentile")
    assert params.high < 101
    assert np.percentile(norm, 50) == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("method", ["percentile", "minmax", "auto"])
def test_constant_image_does_not_divide_by_zero(method: str) -> None:
    image = np.full((8, 8), 42.0, dtype=np.float32)
    norm, params = normalize_intensity(image, method=method)  # type: ignore[arg-type]
    assert np.all(np.isfinite(norm)) and np.all(norm == 0)
    assert params.scale == 1.0
    np.testing.assert_array_equal(params.inverse(norm), image)
    assert params.scale_sigma(3.0) == 3.0


def test_mostly_constant_image_falls_back_to_the_range() -> None:
    image = np.zeros((100, 100), dtype=np.float32)
    image[0, :3] = 5.0  # fewer than 0.5 % non-zero: the percentiles coincide
    norm, params = normalize_intensity(image, method="percentile")
    assert (params.low, params.high) == (0.0, 5.0)
    assert norm.max() == 1.0


def test_sigma_scaling_round_trips() -> None:
    _, params = normalize_intensity(_ct(), modality="CT")
    assert params.scale_sigma(20.0) == pytest.approx(0.01)
    assert params.unscale_sigma(params.scale_sigma(13.7)) == pytest.approx(13.7)
    # a noise std measured in image units matches the std after normalising
    rng = np.random.default_rng(2)
    noise = rng.normal(0, 25.0, (64, 64)).astype(np.float32)
    n_norm = params.apply(noise + 100) - params.apply(np.full_like(noise, 100))
    assert n_norm.std() == pytest.approx(params.scale_sigma(noise.std()), rel=1e-4)


def test_torch_tensors_pass_through_inverse_and_apply() -> None:
    params = NormalizationParams(-1000.0, 1000.0, "window")
    x = torch.tensor([0.0, 0.5, 1.0])
    back = params.inverse(x)
    assert isinstance(back, torch.Tensor)
    torch.testing.assert_close(back, torch.tensor([-1000.0, 0.0, 1000.0]))
    torch.testing.assert_close(params.apply(back), x)


def test_dict_is_json_safe_and_rebuilds() -> None:
    _, params = normalize_intensity(_ct(), modality="MR")
    text = json.dumps(params.to_dict())
    again = NormalizationParams.from_dict(json.loads(text))
    assert again == params
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.low = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="missing \\['high'\\]"):
        NormalizationParams.from_dict({"low": 0.0})
    with pytest.raises(ValueError, match="unexpected \\['gain'\\]"):
        NormalizationParams.from_dict({"low": 0.0, "high": 1.0, "gain": 2})
    with pytest.raises(ValueError, match="high must be >= low"):
        NormalizationParams(1.0, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"method": "zscore"}, ["method", "'zscore'", "window", "percentile", "minmax"]),
        ({"method": "window", "window": (100, 100)}, ["window", "low < high"]),
        ({"method": "window", "window": (0,)}, ["window", "pair"]),
        ({"method": "percentile", "percentiles": (50, 10)}, ["percentiles", "(50, 10)"]),
        ({"method": "percentile", "percentiles": (0, 101)}, ["percentiles", "100"]),
    ],
)
def test_bad_arguments(kwargs: dict, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        normalize_intensity(_ct((8, 8)), **kwargs)
    for word in words:
        assert word in str(info.value)


def test_monai_wrappers_record_invertible_params() -> None:
    from medidenoise.transforms import (
        NormalizeIntensityRange,
        NormalizeIntensityRangeD,
        NormalizeIntensityRanged,
    )

    image = _ct((1, 16, 16))
    t = NormalizeIntensityRange(modality="CT")
    out_t = t(torch.as_tensor(image))
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float32
    assert t.params is not None and t.params.method == "window"
    np.testing.assert_allclose(t.params.inverse(out_t.numpy()), image, rtol=1e-6, atol=1e-3)
    d = NormalizeIntensityRanged(("image", "label"), modality_key="modality")
    out = d({"image": image, "label": image * 0.5, "modality": "MR"})
    params = NormalizationParams.from_dict(out["label_norm"])
    assert params.method == "percentile"
    np.testing.assert_allclose(params.inverse(out["label"]), image * 0.5, rtol=1e-6, atol=1e-3)
    assert NormalizeIntensityRangeD is NormalizeIntensityRanged
    with pytest.raises(ValueError, match="method"):
        NormalizeIntensityRange(method="zscore")  # type: ignore[arg-type]


def test_in_place_mapping_matches_the_copying_one() -> None:
    rng = np.random.default_rng(4)
    img = rng.normal(300.0, 80.0, (3, 40, 50)).astype(np.float32)
    _, params = normalize_intensity(img, method="percentile")
    work = img.copy()
    assert params.apply_inplace(work) is work  # no new array
    np.testing.assert_allclose(work, params.apply(img), rtol=1e-6, atol=1e-6)
    assert params.inverse_inplace(work) is work
    np.testing.assert_allclose(work, img, rtol=1e-6, atol=1e-3)
