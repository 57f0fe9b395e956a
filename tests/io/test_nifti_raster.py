"""NIfTI read/write and PNG/TIFF reading."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from factories import data_file, make_series
from PIL import Image

from medidenoise.errors import InvalidImageError, UnsupportedImageError
from medidenoise.io import Volume, read_volume, write_nifti


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
    out = write_nifti(vol, tmp_path / "out" / "copy.nii.gz")
    assert out == tmp_path / "out" / "copy.nii.gz" and out.exists()
    assert_same(read_volume(out), vol)


def test_dicom_to_nifti_round_trip_keeps_float64_affine(tmp_path):
    make_series(tmp_path / "s", 4, iop=(0.8, 0.6, 0.0, -0.6, 0.8, 0.0), z0=-3.3, dz=1.7)
    vol = read_volume(tmp_path / "s")
    back = read_volume(write_nifti(vol, tmp_path / "s.nii"))
    assert_same(back, vol)
    assert back.modality == "CT"


def test_arbitrary_volume_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    vol = Volume(rng.normal(size=(3, 4, 5)).astype(np.float32), spacing=(2.0, 0.5, 0.25),
                 affine=np.diag([2.0, 0.5, 0.25, 1.0]))  # fmt: skip
    assert_same(read_volume(write_nifti(vol, tmp_path / "v.nii.gz")), vol)


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


def test_write_nifti_requires_nifti_suffix(tmp_path):
    vol = Volume(np.zeros((1, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"\.nii or \.nii\.gz"):
        write_nifti(vol, tmp_path / "x.png")


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


def _scanner_nifti(path, *, flip: bool = False):
    """int16 data with scaling, distinct qform/sform, units, intent, descrip and dim_info."""
    data = (np.arange(5 * 4 * 3).reshape(5, 4, 3) * 7 - 30).astype(np.int16)
    sform = np.array([[0.9, 0, 0, -20.0], [0, 1.1, 0, 5.0], [0, 0, 2.0, 7.5], [0, 0, 0, 1]])
    if flip:
        sform[2, 2] = -2.0  # D of the volume runs the other way: read flips it
    img = nib.Nifti1Image(data, sform)
    hdr = img.header
    hdr.set_data_dtype(np.int16)
    img.set_sform(sform, code="mni")
    qform = sform.copy()
    qform[:3, 3] += [1.0, -2.0, 0.5]
    img.set_qform(qform, code="scanner")
    hdr.set_slope_inter(0.5, 10.0)
    hdr.set_xyzt_units("mm", "sec")
    hdr["descrip"] = b"T1 MPRAGE site 3"
    hdr.set_intent("estimate", name="T1w")
    hdr.set_dim_info(freq=0, phase=1, slice=2)
    nib.save(img, str(path))
    return nib.load(str(path))


@pytest.mark.parametrize("flip", [False, True], ids=["as-stored", "flipped-on-read"])
def test_nifti_header_is_kept(tmp_path, flip):
    src = _scanner_nifti(tmp_path / "src.nii.gz", flip=flip)
    vol = read_volume(tmp_path / "src.nii.gz")
    out = nib.load(str(write_nifti(vol, tmp_path / "out.nii.gz")))
    a, b = src.header, out.header
    assert (int(b["qform_code"]), int(b["sform_code"])) == (1, 4)  # before: forced to 1 and 1
    assert b["descrip"].tobytes().rstrip(b"\0") == b"T1 MPRAGE site 3"
    assert b.get_xyzt_units() == ("mm", "sec")
    assert b.get_intent() == a.get_intent() == ("estimate", (), "T1w")
    assert b.get_dim_info() == (0, 1, 2)
    assert out.get_data_dtype() == np.int16
    assert (out.dataobj.slope, out.dataobj.inter) == (0.5, 10.0)
    # the same voxels in the same order on disk, and both transforms
    np.testing.assert_array_equal(np.asarray(out.dataobj.get_unscaled()),
                                  np.asarray(src.dataobj.get_unscaled()))  # fmt: skip
    np.testing.assert_allclose(out.get_sform(), src.get_sform(), atol=1e-5)
    np.testing.assert_allclose(out.get_qform(), src.get_qform(), atol=1e-5)
    assert_same(read_volume(tmp_path / "out.nii.gz"), vol)  # affine still exact


def test_nifti_dtype_falls_back_to_float_when_values_do_not_fit(tmp_path):
    _scanner_nifti(tmp_path / "src.nii.gz")
    vol = read_volume(tmp_path / "src.nii.gz")
    big = vol.with_array(vol.array * 1e4 + 0.25)  # beyond int16 after the source's scaling
    out = nib.load(str(write_nifti(big, tmp_path / "big.nii.gz")))
    assert out.get_data_dtype() == np.float32
    np.testing.assert_array_equal(read_volume(tmp_path / "big.nii.gz").array, big.array)
    assert int(out.header["sform_code"]) == 4


def test_mni_template_keeps_uint8_and_its_codes(mni_path, tmp_path):
    src = nib.load(str(mni_path))
    out = nib.load(str(write_nifti(read_volume(mni_path), tmp_path / "m.nii.gz")))
    assert out.get_data_dtype() == src.get_data_dtype() == np.uint8
    assert int(out.header["qform_code"]) == int(src.header["qform_code"])
    assert int(out.header["sform_code"]) == int(src.header["sform_code"])


def test_monochrome1_volume_to_nifti_warns(tmp_path, caplog):
    vol = read_volume(data_file("dicomdirtests/77654033/CR1/6154"))
    assert vol.photometric == "MONOCHROME1"
    path = tmp_path / "cr.nii.gz"
    with caplog.at_level("WARNING", logger="medidenoise.io.nifti"):
        write_nifti(vol, path)
    (record,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert str(path) in record.getMessage() and "MONOCHROME1" in record.getMessage()
    assert "inverted" in record.getMessage()
    back = read_volume(path)
    np.testing.assert_array_equal(back.array, vol.array)  # values unchanged
    assert back.photometric == "MONOCHROME1"
    caplog.clear()
    with caplog.at_level("WARNING", logger="medidenoise.io.nifti"):
        write_nifti(read_volume(data_file("CT_small.dcm")), tmp_path / "ct.nii.gz")
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_write_volume_is_the_earlier_name_of_write_nifti(tmp_path):
    import medidenoise
    from medidenoise.io import write_volume

    vol = Volume(np.arange(24, dtype=np.float32).reshape(2, 3, 4), spacing=(2.0, 1.0, 0.5))
    a, b = write_nifti(vol, tmp_path / "a.nii.gz"), write_volume(vol, tmp_path / "b.nii.gz")
    assert_same(read_volume(a), read_volume(b))
    with pytest.raises(ValueError, match=r"\.nii or \.nii\.gz"):
        write_volume(vol, tmp_path / "x.png")
    assert {"write_nifti", "write_volume"} <= set(medidenoise.__all__)
    assert "NIfTI" in (write_volume.__doc__ or "") and "write_nifti" in (write_volume.__doc__ or "")
