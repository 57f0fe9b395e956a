"""The VibrantLeaves-style generator: textured, soft-edged, depth-blurred leaves."""

from __future__ import annotations

import numpy as np
import pytest

from medidenoise.engine.procedural import procedural_image
from medidenoise.engine.vibrant_leaves import _leaf_alpha, vibrant_leaves


def _block_std(img: np.ndarray, block: int = 8) -> np.ndarray:
    n = img.shape[0] // block
    return img[: n * block, : n * block].reshape(n, block, n, block).std(axis=(1, 3))


def test_is_a_procedural_kind_reproducible_from_its_seed() -> None:
    a = procedural_image("vibrant_leaves", 96, np.random.default_rng(3))
    b = vibrant_leaves(96, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == (96, 96)
    assert 0.0 <= a.min() and a.max() <= 1.0
    with pytest.raises(ValueError, match="size must be >= 8"):
        vibrant_leaves(4, np.random.default_rng(0))


def test_images_hold_flat_regions_and_texture() -> None:
    images = [vibrant_leaves(128, np.random.default_rng(i)) for i in range(8)]
    stds = np.concatenate([_block_std(im).ravel() for im in images])
    assert np.mean(stds < 0.003) > 0.03  # flat areas, where a denoiser must add nothing
    assert np.mean(stds > 0.02) > 0.3  # and busy ones: textures, edges
    # images differ in contrast and busyness, not only in layout
    spread = [float(im.std()) for im in images]
    assert max(spread) > 2 * min(spread)


def test_base_tones_come_from_the_levels_given() -> None:
    levels = np.array([0.2, 0.7], dtype=np.float32)
    img = vibrant_leaves(96, np.random.default_rng(1), levels=levels)
    unconstrained = vibrant_leaves(96, np.random.default_rng(1))
    assert not np.array_equal(img, unconstrained)
    # a contrast factor pulls the tones towards the median, never outside [0.2, 0.7]
    assert 0.2 - 0.4 <= float(np.percentile(img, 5)) and float(np.percentile(img, 95)) <= 0.7 + 0.4


def test_edges_range_from_sharp_to_soft() -> None:
    rng = np.random.default_rng(0)
    sharp = _leaf_alpha((41, 41), (20.0, 20.0), 15.0, 0.05, rng)
    soft = _leaf_alpha((41, 41), (20.0, 20.0), 15.0, 3.0, np.random.default_rng(0))
    ramp_sharp = int(((sharp > 0.05) & (sharp < 0.95)).sum())
    ramp_soft = int(((soft > 0.05) & (soft < 0.95)).sum())
    assert ramp_soft > 10 * ramp_sharp  # the same leaf with a much wider edge
    assert sharp[20, 20] == pytest.approx(1.0) and sharp[0, 0] == pytest.approx(0.0)
    # whole images: many step edges (a large jump within one pixel) in some, few in others
    steps = [
        float(
            (np.abs(np.diff(vibrant_leaves(128, np.random.default_rng(i)), axis=1)) > 0.15).mean()
        )
        for i in range(8)
    ]
    assert max(steps) > 0.01 and max(steps) > 10 * min(steps)
