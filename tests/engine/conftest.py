"""Small synthetic volumes for the training tests (written once per session)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from factories import random_discs


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("volumes")
    for i in range(2):
        arr = np.transpose(random_discs(i), (2, 1, 0))  # NIfTI stores (x, y, z)
        nib.save(nib.Nifti1Image(arr, np.eye(4)), folder / f"phantom{i}.nii.gz")
    return folder


@pytest.fixture
def tiny_config(synthetic_dir: Path) -> dict:
    return {
        "name": "tiny",
        "seed": 1,
        "model": {"arch": "unet", "features": [4, 8], "residual": True, "noise_level_input": True},
        "data": {
            "train": [str(synthetic_dir / "phantom0.nii.gz")],
            "val": [str(synthetic_dir / "phantom1.nii.gz")],
            "patch_size": 16,
            "val_crop": 16,
            "val_max_slices": 2,
            "min_foreground": 0.0,
            "normalization": "minmax",
        },
        "noise": {"mixture": [{"kind": "gaussian", "level": [0.05, 0.1]}]},
        "train": {
            "epochs": 1,
            "batch_size": 2,
            "patches_per_epoch": 4,
            "loss": {"mse": 0.5, "ssim": 0.5},
            "tensorboard": False,
        },
    }
