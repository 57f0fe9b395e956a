"""``train.objective`` recorrupt / blindspot: noisy scans through the same MONAI engines."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from medidenoise.config import validate_config
from medidenoise.engine import train
from medidenoise.errors import ConfigError
from medidenoise.models import load_model


@pytest.fixture(scope="module")
def noisy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two noisy phantom volumes with streaky (row-correlated) noise, as a scanner leaves."""
    folder = tmp_path_factory.mktemp("noisy")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64] / 64
    for i in range(2):
        clean = np.stack([100 + 300 * ((yy - 0.5) ** 2 + (xx - 0.4 - 0.05 * k) ** 2 < 0.08)
                          for k in range(4)])  # fmt: skip
        streaks = ndimage.uniform_filter1d(rng.normal(0, 1, clean.shape), 5, axis=-1)
        vol = (clean + 20 * streaks / streaks.std()).astype(np.float32)
        nib.save(nib.Nifti1Image(np.transpose(vol, (2, 1, 0)), np.eye(4)), folder / f"n{i}.nii.gz")
    return folder


def _config(noisy_dir: Path, objective: str) -> dict:
    return {
        "name": f"ss-{objective}",
        "seed": 3,
        "model": {"arch": "unet", "features": [4, 8], "residual": True, "noise_level_input": True},
        "data": {
            "train": [str(noisy_dir / "n0.nii.gz")],
            "val": [str(noisy_dir / "n1.nii.gz")],
            "patch_size": 32,
            "val_crop": 48,
            "val_max_slices": 2,
            "min_foreground": 0.0,
            "normalization": "minmax",
        },
        "train": {
            "epochs": 2,
            "batch_size": 2,
            "patches_per_epoch": 4,
            "objective": objective,
            "tensorboard": False,
        },
    }


@pytest.mark.parametrize("objective", ["recorrupt", "blindspot"])
def test_self_supervised_objective_trains_validates_and_checkpoints(
    noisy_dir: Path, tmp_path: Path, objective: str
) -> None:
    result = train(_config(noisy_dir, objective), output_dir=tmp_path, progress=False)
    assert [row["epoch"] for row in result.metrics] == [1, 2]
    # val_psnr is the estimated PSNR: a finite number on the usual scale
    assert all(np.isfinite(row["val_psnr"]) for row in result.metrics)
    assert all(5 < row["val_psnr"] < 80 for row in result.metrics)
    model = load_model(result.best_checkpoint)
    assert model.metadata["train"]["objective"] == objective
    assert model.metadata["noise"]["self_supervised"] == objective
    assert f"best estimated ({objective}) PSNR" in result.summary()


def test_self_supervised_resume_continues(noisy_dir: Path, tmp_path: Path) -> None:
    cfg = _config(noisy_dir, "recorrupt")
    first = train(cfg, output_dir=tmp_path, overrides=["train.epochs=1"], progress=False)
    resumed = train(cfg, resume=first.output_dir, progress=False)
    assert [row["epoch"] for row in resumed.metrics] == [1, 2]


def test_self_supervised_objectives_train_on_squared_error_only(noisy_dir: Path) -> None:
    cfg = _config(noisy_dir, "recorrupt")
    cfg["train"]["loss"] = "l1"
    with pytest.raises(ConfigError, match=r"train\.loss or set it to mse"):
        validate_config(cfg)
