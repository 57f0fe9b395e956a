"""mvtb-data's and scikit-image's photographs as training sources (never downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medidenoise.config import DataConfig
from medidenoise.engine.data import load_sources
from medidenoise.engine.photographs import (
    MAX_SIDE,
    mvtb_folder,
    mvtb_photographs,
    read_photograph,
)
from medidenoise.errors import ConfigError

pytest.importorskip("mvtbdata", reason="mvtb-data is the `train` extra (in `dev`)")


def _cfg() -> DataConfig:
    return DataConfig.model_validate({"train": ["x"], "min_foreground": 0.0})


def test_mvtb_lists_photographs_not_targets_or_masks() -> None:
    names = mvtb_photographs()
    assert len(names) >= 80  # 121 images in the wheel, 14 calibration views and drawings among them
    assert "campus/P1070491.png" in names and "flowers1.png" in names
    # calibration checkerboards, fiducial markers, binary masks and tiny drawings are left out
    for synthetic in ("calibration/left01.jpg", "apriltag12.png", "shark1.png", "wally.png"):
        assert (mvtb_folder() / synthetic).is_file()
        assert synthetic not in names
    assert all(n.lower().endswith((".png", ".jpg")) for n in names)


def test_one_mvtb_photograph_loads_as_a_normalised_grey_volume() -> None:
    (vol,) = load_sources(["mvtb:walls-l.png"], _cfg())  # 3264 x 2448 colour
    assert vol.name == "mvtb:walls-l.png"
    assert vol.volume.dtype == np.float32 and vol.volume.ndim == 3
    assert vol.volume.shape[0] == 1 and max(vol.volume.shape[1:]) <= MAX_SIDE
    assert 0.0 <= vol.volume.min() and vol.volume.max() <= 1.0
    assert vol.volume.std() > 0.05  # a picture, not a constant


def test_mvtb_names_are_checked() -> None:
    with pytest.raises(ConfigError, match="no such image"):
        load_sources(["mvtb:nope.png"], _cfg())
    with pytest.raises(ConfigError, match="no such image"):
        load_sources(["mvtb:../__init__.py"], _cfg())
    with pytest.raises(ConfigError, match="too small"):
        load_sources(["mvtb:wally.png"], _cfg())


def test_read_photograph_gives_luminance_and_shrinks_by_area(tmp_path: Path) -> None:
    from skimage.io import imsave

    img = np.zeros((200, 300, 3), np.uint8)
    img[:, :150] = (255, 0, 0)  # red half: luminance 0.2125 * 255
    imsave(tmp_path / "red.png", img, check_contrast=False)
    out = read_photograph(tmp_path / "red.png", max_side=100)
    assert out.shape == (66, 100) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, :40], 0.2125 * 255, rtol=1e-3)
    np.testing.assert_allclose(out[:, 60:], 0.0, atol=1e-6)
