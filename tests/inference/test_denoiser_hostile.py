"""denoise() on extreme values and CT padding: one pixel must not spoil an image.

A fixed 5x5 mean filter stands in for the network: every pixel it outputs depends on its
neighbours, so a hot pixel, a -3024 HU padding or an overflow that reached the network's input
would show in the pixels around it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pydicom
import pytest
import torch
from factories import data_file
from torch import nn

from medidenoise import InvalidImageError, Volume, read_volume
from medidenoise.inference import Denoiser


class MeanNet(nn.Module):
    """A 5x5 mean filter obeying the network contract; records its inputs.

    The Denoiser runs a copy: read ``den.model.largest`` / ``den.model.sigmas``.
    """

    context_slices = 1
    noise_level_input = True
    size_multiple = 1

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 5, padding=2, bias=False, padding_mode="replicate")
        nn.init.constant_(self.conv.weight, 1 / 25)
        self.metadata = {"name": "mean5"}
        self.largest = 0.0
        self.sigmas: list[float] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.largest = max(self.largest, float(x[:, :1].abs().max()))
        self.sigmas.append(float(x[0, -1, 0, 0]))
        return self.conv(x[:, :1])


def _mr_like(seed: int = 0, size: int = 96) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    img = 400 + 250 * np.sin(xx / 11.0) * np.cos(yy / 15.0)
    return (img + rng.normal(0, 15, img.shape)).astype(np.float32)


def test_one_hot_pixel_keeps_its_value_and_leaves_its_neighbours_alone() -> None:
    img = _mr_like()
    hot = img.copy()
    hot[48, 48] = 1e6
    den = Denoiser(MeanNet())
    a = den(img, noise_level=15.0)
    den.model.largest = 0.0
    b = den(hot, noise_level=15.0)
    assert 0.5 < den.model.largest < 3.0  # it saw the image in [0, 1]-ish units, not 1e6
    away = np.ones(img.shape, bool)
    away[46:51, 46:51] = False  # the hot pixel's own 5x5 window
    np.testing.assert_allclose(b[away], a[away], atol=1e-3)
    assert b[48, 48] == pytest.approx(1e6, rel=1e-3)  # passed through, not smeared
    near = ~away
    near[48, 48] = False
    spread = (hot[48, 48] - img[48, 48]) / 25  # what a mean filter would give each neighbour
    assert np.abs(b - a)[near].max() < 0.001 * spread


def test_a_dark_frame_with_one_hot_pixel() -> None:
    dark = np.random.default_rng(1).normal(0, 2, (64, 64)).astype(np.float32)
    dark[10, 10] = 1e6
    den = Denoiser(MeanNet())
    out = den(dark)
    # the estimate saw the noise (std 2, about 2 network units here), not the hot pixel (~1e5)
    assert 0.5 < den.model.sigmas[-1] < 5.0
    assert out[10, 10] == pytest.approx(1e6, rel=1e-3)
    rest = np.delete(out.ravel(), 10 * 64 + 10)
    assert np.abs(rest).max() < 10.0  # no background of -7.7e5


def test_estimated_noise_ignores_the_hot_pixel() -> None:
    img = np.zeros((64, 64), np.float32)
    img[5, 5] = 1e6  # a flat image: there is no noise to estimate
    den = Denoiser(MeanNet())
    out = den(img)
    assert den.model.sigmas[-1] == 0.0
    assert out[5, 5] == pytest.approx(1e6) and np.abs(np.delete(out.ravel(), 5 * 64 + 5)).max() < 1


def test_absurd_noise_levels_are_refused() -> None:
    den = Denoiser(MeanNet())
    img = _mr_like()
    with pytest.raises(ValueError, match="larger than the image's whole intensity range"):
        den(img, noise_level=1e9)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="noise_level"):
            den(img, noise_level=bad)
    assert np.isfinite(den(img, noise_level=200.0)).all()  # large but sensible: accepted


@pytest.mark.parametrize("scale", [3.3e38, -3.3e38, 1e-38])
def test_finite_input_near_the_float32_limits_gives_finite_output(scale: float) -> None:
    rng = np.random.default_rng(2)
    img = (rng.random((40, 40)) * scale).astype(np.float32)
    out = Denoiser(MeanNet())(img)
    assert np.isfinite(out).all() and out.dtype == np.float32
    mixed = rng.normal(0, 1, (40, 40)).astype(np.float32)
    mixed[0, 0], mixed[-1, -1] = 3.4e38, -3.4e38
    out = Denoiser(MeanNet())(mixed)
    assert np.isfinite(out).all() and out[0, 0] == pytest.approx(3.4e38, rel=1e-3)


def test_float64_beyond_float32_is_refused_clearly() -> None:
    img = np.ones((16, 16)) * 1e300
    with pytest.raises(InvalidImageError, match="float32 range"):
        Denoiser(MeanNet())(img)


def _ct_with_padding() -> Volume:
    path = data_file("693_UNCR.dcm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_volume(path)


def test_the_reader_carries_ct_padding() -> None:
    vol = _ct_with_padding()
    raw = pydicom.dcmread(vol.path).pixel_array
    assert vol.padding is not None
    np.testing.assert_array_equal(vol.padding[0], raw == -2000)
    assert vol.with_array(vol.array * 0).padding is vol.padding


def test_ct_padding_is_kept_out_of_the_network_and_restored_exactly() -> None:
    vol = _ct_with_padding()
    pad = vol.padding[0]
    crop = (slice(0, 256), slice(0, 256))  # a corner: field-of-view edge and padding
    small = Volume(
        vol.array[:, crop[0], crop[1]], modality="CT", padding=vol.padding[:, crop[0], crop[1]]
    )
    out = Denoiser(MeanNet())(small, noise_level=20.0).array[0]
    src, mask = small.array[0], pad[crop]
    assert mask.any() and (~mask).any()
    np.testing.assert_array_equal(out[mask], src[mask])  # padding exact
    inside = ~mask
    # without the fill, the mean filter pulls edge pixels towards -3024 HU (a dark ring)
    assert (out[inside] < -1100).sum() == 0
    no_mask = Denoiser(MeanNet())(Volume(small.array, modality="CT"), noise_level=20.0)
    assert (no_mask.array[0][inside] < -1100).sum() > 100  # the ring the mask prevents
