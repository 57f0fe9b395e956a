"""denoise() on MONAI MetaTensors: slices across the right axis, metadata kept."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import LoadImage, LoadImaged
from test_denoiser import BoxFilterNet

import medidenoise as md
from medidenoise.inference.meta_input import slice_axis_from_affine


@pytest.fixture
def thick_slices(tmp_path: Path) -> Path:
    """A NIfTI volume of 5 axial slices, 0.8 x 0.9 mm in plane, 3 mm thick."""
    rng = np.random.default_rng(3)
    data = (100 + rng.normal(0, 5, (24, 32, 5))).astype(np.float32)  # (x, y, z)
    affine = np.diag([0.8, 0.9, 3.0, 1.0])
    path = tmp_path / "thick.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), path)
    return path


def _per_slice(array: np.ndarray, axis: int) -> np.ndarray:
    """The box filter applied slice by slice across ``axis`` (the reference)."""
    moved = np.moveaxis(array, axis, 0)
    out = md.denoise(np.ascontiguousarray(moved), BoxFilterNet(), noise_level=1.0, device="cpu")
    return np.moveaxis(out, 0, axis)


def test_load_image_output_is_denoised_across_its_slice_axis(thick_slices: Path) -> None:
    image = LoadImage(image_only=True)(thick_slices)  # (x, y, z) = (24, 32, 5)
    before = image.clone()
    out = md.denoise(image, BoxFilterNet(), noise_level=1.0, device="cpu")
    assert isinstance(out, MetaTensor) and tuple(out.shape) == (24, 32, 5)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(np.asarray(out), _per_slice(np.asarray(image), 2), atol=1e-4)
    # not the sagittal slices the array's first axis would give
    assert not np.allclose(np.asarray(out), _per_slice(np.asarray(image), 0), atol=1e-2)
    torch.testing.assert_close(out.affine, image.affine)
    assert out.meta["filename_or_obj"] == image.meta["filename_or_obj"]
    assert out.meta["denoised_by"] == "box5"
    torch.testing.assert_close(image, before)  # the input is not modified


def test_dictionary_pipelines_keep_the_channel_axis(thick_slices: Path) -> None:
    load = LoadImaged(keys="image", ensure_channel_first=True, image_only=True)
    item = load({"image": str(thick_slices)})
    out = md.denoise(item["image"], BoxFilterNet(), noise_level=1.0, device="cpu")
    assert tuple(out.shape) == (1, 24, 32, 5)
    np.testing.assert_allclose(
        np.asarray(out)[0], _per_slice(np.asarray(item["image"])[0], 2), atol=1e-4
    )
    torch.testing.assert_close(out.affine, item["image"].affine)
    # the caller may name the axis, counting the channel axis
    other = md.denoise(item["image"], BoxFilterNet(), noise_level=1.0, device="cpu", slice_axis=1)
    np.testing.assert_allclose(
        np.asarray(other)[0], _per_slice(np.asarray(item["image"])[0], 0), atol=1e-4
    )
    with pytest.raises(ValueError, match="slice_axis=0 is not a spatial axis"):
        md.denoise(item["image"], "identity", slice_axis=0)


def test_an_isotropic_oblique_volume_asks_for_slice_axis() -> None:
    rotation = np.array([[0.8, -0.6, 0.0], [0.36, 0.48, -0.8], [0.48, 0.64, 0.6]])
    affine = np.eye(4)
    affine[:3, :3] = rotation  # unit voxels, no axis within 25 degrees of head-foot
    image = MetaTensor(torch.ones((8, 8, 8)), affine=torch.as_tensor(affine))
    with pytest.raises(md.InvalidImageError, match="pass slice_axis="):
        md.denoise(image, "identity")
    out = md.denoise(image, "identity", slice_axis=1)
    assert tuple(out.shape) == (8, 8, 8)


def test_several_channels_are_refused() -> None:
    image = MetaTensor(torch.ones((2, 8, 8, 4)), affine=torch.diag(torch.tensor([1.0, 1, 3, 1])))
    with pytest.raises(md.InvalidImageError, match="2 channels"):
        md.denoise(image, "identity")


@pytest.mark.parametrize(
    ("diagonal", "shape", "axis"),
    [
        ((0.7, 0.7, 2.5), (64, 64, 30), 2),  # thick axial slices last, as LoadImage gives
        ((3.0, 0.9, 0.9), (20, 64, 64), 0),  # this project's (D, H, W) DICOM reader
        ((1.0, 1.0, 1.0), (64, 64, 64), 2),  # isotropic: axial
        ((1.0, 1.0, 1.0), (64, 1, 64), 1),  # one slice
    ],
)
def test_slice_axis_from_affine(diagonal, shape, axis) -> None:
    assert slice_axis_from_affine(np.diag([*diagonal, 1.0]), shape) == axis


def test_arrays_take_slice_axis_too() -> None:
    rng = np.random.default_rng(0)
    volume = rng.normal(0, 1, (16, 16, 4)).astype(np.float32)
    out = md.denoise(volume, BoxFilterNet(), noise_level=1.0, device="cpu", slice_axis=2)
    np.testing.assert_allclose(out, _per_slice(volume, 2), atol=1e-5)
    with pytest.raises(ValueError, match="first axis"):
        md.denoise(md.Volume(volume), "identity", slice_axis=2)


def test_help_names_the_slice_axis_and_every_model() -> None:
    doc = md.denoise.__doc__ or ""
    assert "slice_axis" in doc and "(D, H, W)" in doc and "MetaTensor" in doc
    for name in ("default", "cae-baseline", "identity", "nlm", "tv", "wavelet", "bm3d"):
        assert f'"{name}"' in doc, name


def test_monai_pipelines_take_the_denoise_transforms(thick_slices: Path) -> None:
    from monai.transforms import Compose

    pipeline = Compose(
        [
            LoadImaged(keys="image", ensure_channel_first=True, image_only=True),
            md.Denoised(keys="image", model=BoxFilterNet(), noise_level=1.0, device="cpu"),
        ]
    )
    item = pipeline({"image": str(thick_slices)})
    loaded = LoadImaged(keys="image", ensure_channel_first=True, image_only=True)(
        {"image": str(thick_slices)}
    )["image"]
    assert isinstance(item["image"], MetaTensor)
    np.testing.assert_allclose(
        np.asarray(item["image"])[0], _per_slice(np.asarray(loaded)[0], 2), atol=1e-4
    )
    torch.testing.assert_close(item["image"].affine, loaded.affine)
    array = md.Denoise("identity")(np.asarray(loaded)[0])
    np.testing.assert_array_equal(array, np.asarray(loaded)[0])
    with pytest.raises(ValueError, match="noise_level"):
        md.Denoise("identity", noise_level=-1.0)
    # the Rician option travels through the transforms: a magnitude stays >= 0, air goes dark
    clean = np.zeros((2, 64, 64), np.float32)
    clean[:, 16:48, 16:48] = 1.0
    noisy = md.add_noise(clean, "rician", 0.05, rng=np.random.default_rng(0))
    out = md.Denoised(keys="image", model="nlm", noise_level=0.05, rician=True)({"image": noisy})
    assert float(out["image"].min()) >= 0 and float(out["image"][clean == 0].mean()) < 0.01


def test_docstring_examples_run() -> None:
    import doctest

    from medidenoise.convert import provenance
    from medidenoise.inference import monai_transforms

    for module in (monai_transforms, provenance):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0, module.__name__
