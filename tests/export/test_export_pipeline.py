"""The exported pipeline does what ``denoise`` does, step by step and end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from medidenoise import denoise, estimate_noise
from medidenoise.export import build_pipeline
from medidenoise.export.pipeline import (
    _percentile,
    _smooth,
    estimate_noise_torch,
    gaussian_kernel,
)
from medidenoise.inference._robust import robust_stats
from medidenoise.models import build_model


def _volume(depth: int, height: int, width: int, *, sigma: float = 20.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.sin(xx / 6.0) * np.cos(yy / 5.0) * 300 + 600
    vol = np.stack([base + 40 * k + rng.normal(0, sigma, base.shape) for k in range(depth)])
    vol[:, : height // 4, : width // 4] = 0.0  # a constant corner, as air outside a body
    return vol.astype(np.float32)


@pytest.mark.parametrize("shape", [(1, 40, 52), (3, 7, 9), (2, 30, 5)])
def test_smoothing_matches_scipy_reflect(shape: tuple[int, int, int]) -> None:
    vol = _volume(*shape)
    expected = gaussian_filter(vol, sigma=[0.0, 3.0, 3.0], mode="reflect")
    got = _smooth(torch.from_numpy(vol), gaussian_kernel(3.0)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 4097])
def test_percentiles_match_numpy(n: int) -> None:
    values = np.random.default_rng(n).normal(size=n).astype(np.float32)
    for permille in (5, 500, 995):
        expected = np.percentile(values.astype(np.float64), permille / 10)
        got = float(_percentile(torch.from_numpy(values), permille))
        assert got == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("shape", [(1, 64, 64), (5, 33, 47), (40, 24, 20), (2, 3, 3)])
def test_noise_estimate_matches_estimate_noise(shape: tuple[int, int, int]) -> None:
    vol = _volume(*shape, sigma=15.0)
    got = float(estimate_noise_torch(torch.from_numpy(vol)))
    assert got == pytest.approx(estimate_noise(vol, method="highpass"), rel=1e-5)


def test_noise_estimate_of_a_constant_image_is_zero() -> None:
    flat = torch.full((3, 16, 16), 7.0)
    assert float(estimate_noise_torch(flat)) == 0.0
    assert estimate_noise(flat.numpy()) == 0.0


@pytest.mark.parametrize("depth", [1, 6, 40])
def test_normalization_matches_the_denoiser(depth: int) -> None:
    vol = _volume(depth, 36, 44)
    params = robust_stats(vol.copy(), None, None).params
    pipeline = build_pipeline(build_model({"arch": "cae", "features": [4, 8]}))
    low, high = pipeline.normalization(torch.from_numpy(vol))
    assert low == pytest.approx(params.low, rel=1e-5, abs=1e-3)
    assert high == pytest.approx(params.high, rel=1e-5, abs=1e-3)


NETWORKS = [
    {"arch": "cae", "features": [4, 8]},
    {"arch": "unet", "features": [4, 8, 16], "noise_level_input": True, "residual": True},
    {"arch": "unet", "features": [4, 8], "context_slices": 3, "noise_level_input": True},
]


@pytest.mark.parametrize(
    "cfg", NETWORKS, ids=lambda c: f"{c['arch']}-ctx{c.get('context_slices', 1)}"
)
def test_pipeline_equals_denoise(cfg: dict) -> None:
    torch.manual_seed(0)
    net = build_model(cfg).eval()
    vol = _volume(5, 37, 45)  # not a multiple of the size: padding and cropping inside
    pipeline = build_pipeline(net)
    with torch.no_grad():
        auto = pipeline(torch.from_numpy(vol)).numpy()
        given = pipeline(torch.from_numpy(vol), 25.0).numpy()
        ct = pipeline(torch.from_numpy(vol), 25.0, "CT").numpy()
    np.testing.assert_allclose(auto, denoise(vol, net), atol=5e-3)
    np.testing.assert_allclose(given, denoise(vol, net, noise_level=25.0), atol=5e-3)
    from medidenoise.io import Volume

    ct_volume = Volume(array=vol, spacing=(1.0, 1.0, 1.0), affine=np.eye(4), modality="CT")
    np.testing.assert_allclose(ct, denoise(ct_volume, net, noise_level=25.0).array, atol=5e-3)
    assert auto.dtype == np.float32 and auto.shape == vol.shape


def test_pipeline_keeps_the_input_layout_and_takes_integer_images() -> None:
    pipeline = build_pipeline(build_model({"arch": "cae", "features": [4, 8]}))
    image = torch.randint(0, 4000, (30, 34), dtype=torch.int16)
    with torch.no_grad():
        two_d = pipeline(image, 10.0)
        four_d = pipeline(image[None, None], 10.0)
        ranged = pipeline(image, 10.0, "", [0.0, 4000.0])
    assert two_d.shape == (30, 34) and two_d.dtype == torch.float32
    assert four_d.shape == (1, 1, 30, 34)
    torch.testing.assert_close(four_d[0, 0], two_d)
    assert not torch.equal(ranged, two_d)  # a given range replaces the percentiles
    with pytest.raises(ValueError, match="high > low"):
        pipeline(image, 10.0, "", [5.0, 5.0])
    with pytest.raises(ValueError, match="slices"):
        pipeline(torch.zeros(2, 3, 8, 8))
