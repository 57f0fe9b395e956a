"""The MONAI bundle passes MONAI's own checks and runs like ``medidenoise denoise`` (issue 15)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from medidenoise import export_model
from medidenoise.cli import main
from medidenoise.config import load_config
from medidenoise.errors import ConfigError
from medidenoise.models import build_model, load_model

pytest.importorskip("fire", reason="medidenoise[monai-bundle] (MONAI's CLI needs fire)")
pytest.importorskip("jsonschema", reason="medidenoise[monai-bundle]")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_model(
        "default", tmp_path_factory.mktemp("b") / "medidenoise_default", format="monai-bundle"
    )


def _monai(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "monai.bundle", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_bundle_layout_and_metadata(bundle: Path) -> None:
    for rel in (
        "configs/metadata.json",
        "configs/inference.json",
        "models/model.pt",
        "models/model.ts",
        "docs/README.md",
        "docs/license.txt",
    ):
        assert (bundle / rel).is_file(), rel
    meta = json.loads((bundle / "configs/metadata.json").read_text())
    assert meta["monai_version"] and meta["pytorch_version"] and meta["version"]
    image = meta["network_data_format"]["inputs"]["image"]
    multiple = load_model("default").size_multiple  # the network's own (fast_unet: 16)
    assert image["spatial_shape"] == [f"{multiple}*n", f"{multiple}*m"]
    assert image["num_channels"] == 2 and image["format"] == "magnitude"
    assert "CT" in image["modality"]
    # the bundle's config is MONAI's format, with expressions: medidenoise's loader refuses it
    with pytest.raises(ConfigError, match="expressions are not evaluated"):
        load_config(bundle / "configs/inference.json")
    # model.pt holds tensors only and rebuilds the network from the metadata's config
    state = torch.load(bundle / "models/model.pt", weights_only=True)
    net = build_model(meta["medidenoise"]["model"])
    net.load_state_dict(state)


@pytest.mark.slow
def test_verify_metadata_offline(bundle: Path, tmp_path: Path) -> None:
    done = _monai(
        "verify_metadata",
        "--meta_file",
        str(bundle / "configs/metadata.json"),
        "--filepath",
        str(bundle / "docs/metadata_schema.json"),
        cwd=tmp_path,
    )
    assert "verified with no error" in done.stdout + done.stderr
    # the schema does check: metadata without network_data_format is refused
    from monai.bundle import verify_metadata

    meta = json.loads((bundle / "configs/metadata.json").read_text())
    del meta["network_data_format"]
    broken = tmp_path / "metadata.json"
    broken.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="network_data_format"):
        verify_metadata(meta_file=str(broken), filepath=str(bundle / "docs/metadata_schema.json"))


CASES = {
    # 34 slices: the normalisation takes every 2nd one, so the slice order must be medidenoise's
    "LAS-34-slices": (34, -0.8, None),
    "RAS-5-slices-level-given": (5, 0.8, 25.0),
    "2D": (0, 0.8, None),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_bundle_run_matches_medidenoise_denoise(bundle: Path, tmp_path: Path, case: str) -> None:
    depth, x_step, level = CASES[case]
    rng = np.random.default_rng(1)
    xx = np.mgrid[0:52, 0:44][0]
    slices = [
        np.sin(xx / 6 + k / 3) * 300 + 500 + rng.normal(0, 25, xx.shape) for k in range(depth)
    ]
    vol = (np.stack(slices, axis=-1) if depth else _slice_2d(xx, rng)).astype(np.float32)
    affine = np.diag([x_step, 0.7, 2.5, 1.0])
    affine[:3, 3] = [30.0, -12.0, 4.0]
    nib.save(nib.Nifti1Image(vol, affine), tmp_path / "IN.nii.gz")
    given = [] if level is None else ["--noise_level", str(level)]
    _monai(
        "run",
        "--bundle_root",
        str(bundle),
        "--config_file",
        str(bundle / "configs/inference.json"),
        "--input",
        str(tmp_path / "IN.nii.gz"),
        "--output_dir",
        str(tmp_path / "OUT"),
        *given,
        cwd=tmp_path,
    )
    given = [] if level is None else ["--noise-level", str(level)]
    ref = ["denoise", str(tmp_path / "IN.nii.gz"), str(tmp_path / "REF.nii.gz")]
    args = [*ref, "--model", "default", *given]  # the network the bundle holds
    assert main(args) == 0
    got, ref = nib.load(tmp_path / "OUT" / "IN_denoised.nii.gz"), nib.load(tmp_path / "REF.nii.gz")
    assert got.shape == vol.shape  # a 2D file stays 2D (medidenoise writes it as H x W x 1)
    np.testing.assert_allclose(got.affine, affine, atol=1e-5)
    np.testing.assert_allclose(got.get_fdata(), ref.get_fdata().reshape(vol.shape), atol=1e-2)
    assert np.abs(got.get_fdata() - vol).mean() > 5  # it denoised


def _slice_2d(xx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.cos(xx / 5) * 300 + 500 + rng.normal(0, 25, xx.shape)
