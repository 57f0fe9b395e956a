"""Procedural training images and their place in the patch dataset."""

from __future__ import annotations

import numpy as np
import pytest

from medidenoise.config import NoiseConfig
from medidenoise.engine import PatchDataset, SliceSet
from medidenoise.engine.procedural import PROCEDURAL_KINDS, dead_leaves, phantom, procedural_image

NOISE = NoiseConfig.model_validate({"mixture": [{"kind": "correlated", "level": [0.05, 0.1]}]})


@pytest.mark.parametrize("kind", PROCEDURAL_KINDS)
def test_images_are_clean_grey_images_reproducible_from_their_seed(kind: str) -> None:
    a = procedural_image(kind, 64, np.random.default_rng(5))
    b = procedural_image(kind, 64, np.random.default_rng(5))
    c = procedural_image(kind, 64, np.random.default_rng(6))
    assert a.shape == (64, 64) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert float(a.std()) > 0.01  # something to learn from, not a flat field


def test_dead_leaves_have_edges_of_all_sizes_and_real_grey_levels() -> None:
    levels = np.array([0.1, 0.4, 0.8], dtype=np.float32)
    images = [dead_leaves(96, np.random.default_rng(i), levels=levels) for i in range(8)]
    # many distinct regions (the power law gives many small shapes)
    assert all(len(np.unique(np.round(im, 2))) > 3 for im in images)
    # unblurred flat fills take exactly the grey levels given
    values = np.concatenate([im.ravel() for im in images])
    assert np.isin(np.round(values, 4), np.round(levels, 4)).mean() > 0.3


def test_phantoms_have_dark_background_and_a_body() -> None:
    dark = [phantom(128, np.random.default_rng(i)) for i in range(6)]
    assert sum(float((im < 0.12).mean()) > 0.2 for im in dark) >= 3  # large dark backgrounds
    assert all(float(im.max()) > 0.15 for im in dark)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="dead_leaves"):
        procedural_image("clouds", 32, np.random.default_rng(0))


def _slices() -> list[SliceSet]:
    vol = np.random.default_rng(0).random((3, 48, 48), dtype=np.float32)
    return [SliceSet("v", vol, np.arange(3), (0, 48))]


def test_patch_dataset_mixes_procedural_patches_reproducibly_per_epoch_and_index() -> None:
    kw = {"length": 32, "patch_size": 32, "noise_level_input": True, "seed": 3}
    ds = PatchDataset(_slices(), NOISE, procedural=0.5, **kw)
    again = PatchDataset(_slices(), NOISE, procedural=0.5, **kw)
    volume = _slices()[0].volume
    items = [ds[i] for i in range(16)]
    for i, item in enumerate(items):
        np.testing.assert_array_equal(item["image"].numpy(), again[i]["image"].numpy())
        assert item["image"].shape == (2, 32, 32) and item["label"].shape == (1, 32, 32)
    from_volume = sum(bool(np.isin(item["label"].numpy(), volume).all()) for item in items)
    assert 3 <= from_volume <= 13  # about half the items are procedural
    ds.set_epoch(1)
    assert not np.array_equal(ds[0]["label"].numpy(), items[0]["label"].numpy())


def test_patch_dataset_checks_procedural_options() -> None:
    with pytest.raises(ValueError, match="procedural"):
        PatchDataset(_slices(), NOISE, length=4, patch_size=16, procedural=1.5)
    with pytest.raises(ValueError, match="procedural_kinds"):
        PatchDataset(
            _slices(), NOISE, length=4, patch_size=16, procedural=0.5, procedural_kinds=("clouds",)
        )
