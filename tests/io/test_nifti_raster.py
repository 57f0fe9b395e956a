"""NIfTI read/write and PNG/TIFF reading."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from dicom_factory import data_file, make_series
from PIL import Image

from medidenoise.errors import InvalidImageError, UnsupportedImageError
from medidenoise.io import Volume, read_volume, write_volume


@pytest.fixture(scope="module")
def mni_path(tmp_path_factory):
    from nilearn.datasets import load_mni152_template

    img = load_mni152_template(resolution=1)
    path = tmp_path_factory.mktemp("mni") / "mni152.nii.gz"
    nib.save(img, str(path))
    return path


def assert_same(a: Volume, b: Volume) -> None:
    np.testing.assert_array_equal(a.array, b.array)
    assert a.spacing == b.spacing
    np.testing.assert_array_equal(a.affine, b.affine)


def test_mni152_layout_and_world_coordinates(mni_path):
    img = nib.load(str(mni_path))
    vol = read_volume(mni_path)
    data = np.asarray(img.dataobj, dtype=np.float32)
    assert vol.shape == data.shape[::-1] and vol.array.dtype == np.float32
    assert vol.spacing == pytest.approx((1.0, 1.0, 1.0))
    # voxel (i, j, k) of the file is array[k, j, i] and lands at the same RAS point
    i, j, k = 90, 110, 70
    assert vol.array[k, j, i] == data[i, j, k]
    np.testing.assert_allclose(vol.affine @ [k, j, i, 1], img.affine @ [i, j, k, 1])
    assert np.linalg.det(vol.affine[:3, :3]) < 0
    assert vol.metadata["nifti"]["shape"] == data.shape


def test_nifti_round_trip_is_exact(mni_path, tmp_path):
    vol = read_volume(mni_path)
    out = write_volume(vol, tmp_path / "out" / "copy.nii.gz")
    assert out == tmp_path / "out" / "copy.nii.gz" and out.exists()
    assert_same(read_volume(out), vol)


def test_dicom_to_nifti_round_trip_keeps_float64_affine(tmp_path):
    make_series(tmp_path / "s", 4, iop=(0.8, 0.6, 0.0, -0.6, 0.8, 0.0), z0=-3.3, dz=1.7)
    vol = read_volume(tmp_path / "s")
    back = read_volume(write_volume(vol, tmp_path / "s.nii"))
    assert_same(back, vol)
    assert back.modality == "CT"


def test_arbitrary_volume_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    vol = Volume(rng.normal(size=(3, 4, 5)).astype(np.float32), spacing=(2.0, 0.5, 0.25),
                 affine=np.diag([2.0, 0.5, 0.25, 1.0]))  # fmt: skip
    assert_same(read_volume(write_volume(vol, tmp_path / "v.nii.gz")), vol)


def test_positive_determinant_nifti_is_flipped_along_d(tmp_path):
    data = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)  # (i, j, k)
    # (d, h, w) columns of this affine are (-2z, y, x): determinant > 0, so D is flipped
    affine = np.diag([1.0, 1.0, -2.0, 1.0])
    nib.save(nib.Nifti1Image(data, affine), str(tmp_path / "f.nii"))
    vol = read_volume(tmp_path / "f.nii")
    assert np.linalg.det(vol.affine[:3, :3]) < 0
    for d in range(4):
        for j, i in ((0, 0), (2, 1)):
            k = 3 - d  # flipped
            assert vol.array[d, j, i] == data[i, j, k]
            np.testing.assert_allclose(vol.affine @ [d, j, i, 1], affine @ [i, j, k, 1])


def test_4d_nifti_needs_volume_index(tmp_path):
    data = np.stack([np.full((3, 4, 5), v, np.float32) for v in (1, 2, 3)], axis=-1)
    path = tmp_path / "fmri.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    with pytest.raises(InvalidImageError) as info:
        read_volume(path)
    msg = str(info.value)
    assert str(path) in msg and "3 volumes" in msg and "volume_index=" in msg
    vol = read_volume(path, volume_index=2)
    assert vol.shape == (5, 4, 3) and np.all(vol.array == 3)
    with pytest.raises(InvalidImageError, match="out of range"):
        read_volume(path, volume_index=3)


def test_nan_nifti_names_the_file(tmp_path):
    data = np.ones((3, 4, 5), np.float32)
    data[1, 2, 3] = np.nan
    path = tmp_path / "nan.nii"
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    with pytest.raises(InvalidImageError, match=r"nan\.nii: 1 voxel\(s\) are NaN"):
        read_volume(path)


def test_write_volume_requires_nifti_suffix(tmp_path):
    vol = Volume(np.zeros((1, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"\.nii or \.nii\.gz"):
        write_volume(vol, tmp_path / "x.png")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_gray(tmp_path, dtype):
    arr = (np.arange(12 * 10).reshape(12, 10) * (3 if dtype == np.uint8 else 500)).astype(dtype)
    path = tmp_path / "img.png"
    Image.fromarray(arr).save(path)
    vol = read_volume(path)
    assert vol.shape == (1, 12, 10) and vol.array.dtype == np.float32
    np.testing.assert_array_equal(vol.array[0], arr.astype(np.float32))


def test_tiff_16bit_and_gray_rgb(tmp_path):
    import tifffile

    arr = (np.arange(30).reshape(5, 6) * 1000).astype(np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", arr)
    np.testing.assert_array_equal(read_volume(tmp_path / "a.tif").array[0], arr)
    gray_rgb = np.repeat((arr // 256).astype(np.uint8)[..., None], 3, axis=-1)
    Image.fromarray(gray_rgb).save(tmp_path / "g.png")
    np.testing.assert_array_equal(read_volume(tmp_path / "g.png").array[0], gray_rgb[..., 0])


def test_true_colour_png_is_refused(tmp_path):
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 255
    Image.fromarray(rgb).save(tmp_path / "red.png")
    with pytest.raises(UnsupportedImageError, match=r"red\.png: true-colour"):
        read_volume(tmp_path / "red.png")


def test_unknown_file_type(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UnsupportedImageError, match="unknown file type"):
        read_volume(tmp_path / "notes.txt")
    assert read_volume(data_file("CT_small.dcm")).modality == "CT"
