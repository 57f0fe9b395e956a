"""Images and noises an evaluation runs on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medidenoise.errors import InvalidImageError
from medidenoise.evaluation import (
    DEFAULT_NOISES,
    HOLDOUT_NAMES,
    NoiseSpec,
    holdout_paths,
    load_images,
    parse_noises,
)


def test_holdout_set_is_found_offline() -> None:
    paths = holdout_paths()
    assert [p.stem for p in paths] == list(HOLDOUT_NAMES)
    assert all(p.is_file() and p.suffix == ".dcm" for p in paths)


@pytest.mark.slow
def test_default_images_are_the_holdout_set_scaled_and_cropped() -> None:
    imgs = load_images(None, crop=64)
    assert [im.name for im in imgs] == list(HOLDOUT_NAMES)
    assert [im.modality for im in imgs] == ["CR", "MR", "CT"]
    for im in imgs:
        assert im.array.shape == (64, 64)
        assert im.array.dtype == np.float32
        assert im.array.min() == 0.0 and im.array.max() == 1.0


def test_arrays_volumes_and_crops() -> None:
    vol = np.zeros((3, 40, 50), np.float32)
    vol[1] = np.arange(50)  # only the middle slice is not constant, and it is the one used
    ramp = np.arange(30 * 20, dtype=np.uint16).reshape(30, 20)
    imgs = load_images({"vol": vol, "ramp": ramp}, crop=24)
    assert imgs[0].array.shape == (24, 24)  # centre crop of 40 x 50
    np.testing.assert_allclose(imgs[0].array[0], np.linspace(0, 1, 24), atol=1e-6)
    assert imgs[1].array.shape == (24, 20)  # never larger than the image
    whole = load_images([ramp], crop=0)[0]
    assert whole.name == "image0" and whole.array.shape == (30, 20)
    np.testing.assert_allclose(whole.array, ramp / ramp.max(), atol=1e-6)


def test_bad_images_are_explained() -> None:
    with pytest.raises(InvalidImageError, match="flat: the image"):
        load_images({"flat": np.ones((32, 32))})
    with pytest.raises(InvalidImageError, match="2D image or a 3D volume"):
        load_images([np.ones((4, 4))])
    with pytest.raises(ValueError, match="crop"):
        load_images([np.ones((32, 32))], crop=-1)


def test_files_are_read_and_duplicate_names_made_unique(tmp_path: Path) -> None:
    ramp = (np.arange(32 * 32).reshape(32, 32) % 256).astype(np.uint8)
    paths = []
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        paths.append(tmp_path / folder / "a.png")
        Image.fromarray(ramp).save(paths[-1])
    imgs = load_images(paths, crop=0)
    assert [im.name for im in imgs] == ["a", "a_1"]
    assert imgs[0].array.shape == (32, 32)
    assert imgs[0].source == str(paths[0])


def test_noise_specs() -> None:
    assert parse_noises(None) == DEFAULT_NOISES
    assert [n.label for n in DEFAULT_NOISES] == [
        "gaussian 0.05",
        "gaussian 0.1",
        "poisson 200",
        "rician 0.05",
    ]
    assert parse_noises(["Gaussian:0.2", ("rician", 0.1)]) == (
        NoiseSpec("gaussian", 0.2),
        NoiseSpec("rician", 0.1),
    )
    assert NoiseSpec("poisson", 200.0).slug == "poisson-200"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gaussian", "KIND:LEVEL"),
        ("gaussian:x", "not a number"),
        ("blur:1", "one of"),
        ("gaussian:-1", "positive"),
    ],
)
def test_bad_noise_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_noises([spec])
