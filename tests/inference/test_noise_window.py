"""The Denoiser's noise floor: low noise for the range is shown to the network at 0.004."""

from __future__ import annotations

import numpy as np
import pytest

import medidenoise as md
from medidenoise.inference._prepare import prepare
from medidenoise.inference._robust import NOISE_FLOOR, Excess, merge_excess


def _head_ct(noise: float, seed: int = 0) -> np.ndarray:
    """(2, 160, 160) HU: air, a skull ring at 1000 HU, brain at 30 HU with white noise."""
    yy, xx = np.mgrid[0:160, 0:160] - 80.0
    r = np.hypot(yy, xx)
    img = np.full(r.shape, -1000.0)
    img[r < 70] = 1000.0
    img[r < 62] = 30.0
    rng = np.random.default_rng(seed)
    return (img[None] + rng.normal(0, noise, (2, 160, 160))).astype(np.float32)


def test_a_ct_with_a_few_hu_of_noise_gets_a_window_narrowed_around_the_brain() -> None:
    vol = _head_ct(3.0)
    ready = prepare(vol.copy(), "CT", 3.0, None)
    p = ready.stats.params
    assert p.method == "window+noise"
    assert ready.sigma / p.scale == pytest.approx(NOISE_FLOOR)
    # the brain keeps its place in network units: (30 + 1000) / 2000 of the CT window
    assert (30.0 - p.low) / p.scale == pytest.approx(0.515, abs=0.01)
    # air and the skull are beyond the window's margins: they pass around the network
    assert ready.stats.low > -1000.0 and ready.stats.high < 1000.0
    assert ready.excess.index.size > 0


def test_noise_already_large_for_the_range_leaves_the_window_alone() -> None:
    vol = _head_ct(12.0)  # 12 HU of a 2000 HU window: 0.006 > the floor
    ready = prepare(vol.copy(), "CT", 12.0, None)
    assert ready.stats.params.method == "window"


def test_the_narrowed_window_is_undone_exactly_where_nothing_was_denoised() -> None:
    vol = _head_ct(3.0)
    out = md.Denoiser("identity").run(vol, noise_level=3.0).image
    np.testing.assert_array_equal(out, vol)
    # a network run puts air and bone back at their values (within the noise)
    result = md.Denoiser("white").run(md.Volume(vol, modality="CT"), noise_level=3.0)
    den = np.asarray(result.image.array)
    yy, xx = np.mgrid[0:160, 0:160] - 80.0
    r = np.hypot(yy, xx)
    assert abs(float(den[:, r > 75].mean()) + 1000.0) < 1.0
    assert abs(float(den[:, (r > 63) & (r < 69)].mean()) - 1000.0) < 1.0
    brain = den[:, r < 55]
    assert abs(float(brain.mean()) - 30.0) < 0.3  # 0.1 of the noise std
    assert float(brain.std()) < 0.7 * 3.0


def test_a_pixel_clipped_twice_carries_both_parts_of_its_excess() -> None:
    first = Excess(np.array([3, 7]), np.array([10.0, -2.0]))
    second = Excess(np.array([7, 9]), np.array([-5.0, 1.0]))
    merged = merge_excess(first, second)
    assert merged.index.tolist() == [3, 7, 9]
    assert merged.value.tolist() == [10.0, -7.0, 1.0]
