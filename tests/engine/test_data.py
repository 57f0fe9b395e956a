"""Training data: sources, hold-out refusal, split by volume, patch and validation sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from medidenoise.config import DataConfig, NoiseConfig
from medidenoise.engine import PatchDataset, SliceSet, ValidationDataset, check_not_holdout
from medidenoise.engine.data import load_sources, split_volumes
from medidenoise.errors import ConfigError

NOISE = NoiseConfig.model_validate({"mixture": [{"kind": "gaussian", "level": [0.05, 0.1]}]})


def _cfg(**kw) -> DataConfig:
    return DataConfig.model_validate({"train": ["x"], "min_foreground": 0.0, **kw})


def _slices(n: int, shape=(5, 40, 32)) -> list[SliceSet]:
    rng = np.random.default_rng(0)
    return [
        SliceSet(f"v{i}", rng.random(shape, dtype=np.float32), np.arange(shape[0]), (0, shape[1]))
        for i in range(n)
    ]


@pytest.mark.parametrize(
    "source", ["pydicom-data:RG3_UNCR", "pydicom:MR2_UNCR", "/data/693_UNCR.dcm", "a/rg3_x/b.nii"]
)
def test_holdout_images_are_refused(source: str) -> None:
    with pytest.raises(ConfigError, match="hold-out"):
        check_not_holdout(source)


def test_holdout_inside_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "MR2_UNCR.dcm").write_bytes(b"")
    with pytest.raises(ConfigError, match="hold-out"):
        load_sources([str(tmp_path)], _cfg())


def test_unknown_sources_fail_clearly() -> None:
    with pytest.raises(ConfigError, match="no such file, folder or named source"):
        load_sources(["/nonexistent/volume.nii"], _cfg())
    with pytest.raises(ConfigError, match="pydicom-data"):
        load_sources(["pydicom:NO_SUCH_FILE"], _cfg())


def test_nifti_sources_are_normalised(synthetic_dir: Path) -> None:
    (vol,) = load_sources([str(synthetic_dir / "phantom0.nii.gz")], _cfg(normalization="minmax"))
    assert vol.volume.shape == (4, 48, 40)  # (D, H, W): slices along the NIfTI z axis
    assert vol.volume.dtype == np.float32
    assert 0.0 <= vol.volume.min() and vol.volume.max() <= 1.0
    assert vol.normalization


def test_npz_cache_round_trip(synthetic_dir: Path, tmp_path: Path) -> None:
    cfg = _cfg(normalization="minmax", cache_dir=str(tmp_path))
    first = load_sources([str(synthetic_dir / "phantom1.nii.gz")], cfg)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    again = load_sources([str(synthetic_dir / "phantom1.nii.gz")], cfg)
    np.testing.assert_array_equal(first[0].volume, again[0].volume)


def test_split_is_by_volume() -> None:
    vols = _slices(4)
    train, val, what = split_volumes(vols, _cfg(val_fraction=0.25), seed=0, min_rows=8)
    assert len(train) == 3 and len(val) == 1
    assert not {v.name for v in train} & {v.name for v in val}
    assert "by volume" in what


def test_single_volume_is_split_spatially(caplog: pytest.LogCaptureFixture) -> None:
    (vol,) = _slices(1)
    train, val, what = split_volumes([vol], _cfg(val_fraction=0.25), seed=0, min_rows=8)
    assert train[0].rows == (0, 30) and val[0].rows == (30, 40)
    assert "spatial" in what and "spatial" in caplog.text


def test_patch_dataset_shapes_and_determinism() -> None:
    ds = PatchDataset(
        _slices(2), NOISE, length=6, patch_size=16, context_slices=3, noise_level_input=True
    )
    torch.manual_seed(0)
    a = [ds[i] for i in range(3)]
    torch.manual_seed(0)
    b = [ds[i] for i in range(3)]
    for x, y in zip(a, b, strict=True):
        assert x["image"].shape == (4, 16, 16) and x["label"].shape == (1, 16, 16)
        torch.testing.assert_close(x["image"], y["image"])
    item = a[0]
    level = item["image"][3]
    assert torch.all(level == level[0, 0]) and 0.02 < float(level[0, 0]) < 0.2
    # the label is the clean centre slice; the noisy centre differs from it by the noise
    residual = item["image"][1] - item["label"][0]
    assert abs(float(residual.std()) - float(level[0, 0])) < 0.05


def test_patch_dataset_pads_small_slices() -> None:
    ds = PatchDataset(_slices(1, shape=(2, 10, 12)), NOISE, length=1, patch_size=16)
    assert ds[0]["image"].shape == (1, 16, 16)


def test_validation_set_is_fixed_and_cropped_to_a_multiple() -> None:
    kw = {"crop": 30, "size_multiple": 8, "max_items": 3, "seed": 5}
    a, b = ValidationDataset(_slices(2), NOISE, **kw), ValidationDataset(_slices(2), NOISE, **kw)
    assert len(a) == 3
    assert a[0]["image"].shape == (1, 24, 24)
    torch.testing.assert_close(a[2]["image"], b[2]["image"])
    whole = ValidationDataset(_slices(1), NOISE, crop=0, size_multiple=16, max_items=1, seed=0)
    assert whole[0]["image"].shape == (1, 48, 32)


def test_skimage_photographs_are_a_source() -> None:
    colour, gray = load_sources(["skimage:astronaut.png", "skimage:camera.png"], _cfg())
    for vol in (colour, gray):
        assert vol.volume.shape == (1, 512, 512) and vol.volume.dtype == np.float32
        assert 0.0 <= vol.volume.min() and vol.volume.max() <= 1.0
        assert vol.volume.std() > 0.1  # a real picture, not a constant
    with pytest.raises(ConfigError, match=r"skimage:nope\.png.*camera\.png"):
        load_sources(["skimage:nope.png"], _cfg())
    with pytest.raises(ConfigError, match="no such image"):
        load_sources(["skimage:../data/camera.png"], _cfg())
