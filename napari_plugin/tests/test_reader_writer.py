"""Reader and writers as napari calls them (plain functions, no Qt needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from factories import data_file
from napari_medidenoise import napari_get_reader
from napari_medidenoise._layers import META_KEY, ROLE_DENOISED, difference_limits
from napari_medidenoise._writer import write_dicom, write_nifti

import medidenoise as md


def _read(path) -> list:
    reader = napari_get_reader(str(path))
    assert callable(reader), f"no reader for {path}"
    return reader(str(path))


def _denoised(kwargs: dict, *, model: str = "nlm", noise_level: float = 3.0) -> dict:
    """The layer state of a denoising result of the layer ``kwargs`` describes."""
    entry = {**kwargs["metadata"][META_KEY], "role": ROLE_DENOISED, "derived_from": "source"}
    entry.update(model=model, noise_level=noise_level, self_ensemble=False)
    return {**kwargs, "name": f"{kwargs['name']} denoised", "metadata": {META_KEY: entry}}


def test_reader_declines_what_is_not_dicom_or_nifti(tmp_path: Path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert napari_get_reader(str(text)) is None
    assert napari_get_reader(str(empty)) is None
    assert napari_get_reader(str(tmp_path / "missing.nii.gz")) is None


def test_reader_returns_none_for_a_broken_dicom_file(tmp_path: Path):
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
    reader = napari_get_reader(str(broken))
    assert reader is not None
    assert reader(str(broken)) is None


def test_dicom_folder_becomes_a_layer_with_its_spacing(dicom_folder: Path):
    [(data, kwargs, kind)] = _read(dicom_folder)
    assert kind == "image" and data.shape == (6, 64, 64)
    assert kwargs["scale"] == pytest.approx((2.5, 1.0, 1.0))
    volume = kwargs["metadata"][META_KEY]["volume"]
    assert volume.source is not None and len(volume.source.slices) == 6
    assert kwargs["colormap"] == "gray"
    # world = DICOM patient mm (z, y, x): voxel (0, 0, 0) sits at the first slice's position
    np.testing.assert_allclose(kwargs["affine"][:3, 3], (0.0, -32.0, -32.0))


def _layer(data, kwargs):
    from napari.layers import Image

    return Image(data, **{k: v for k, v in kwargs.items() if k != "metadata"})


def test_the_same_scan_from_dicom_and_nifti_overlays_in_patient_space(
    dicom_folder: Path, tmp_path: Path
):
    """A NIfTI copy stored in RAS+ voxel order (x and y flipped, as dcm2niix writes) overlays."""
    import nibabel as nib

    plain = md.write_nifti(md.read_volume(dicom_folder), tmp_path / "plain.nii.gz")
    canonical = nib.as_closest_canonical(nib.load(plain))
    nib.save(canonical, tmp_path / "ras.nii.gz")
    [(dicom_data, dicom_kw, _)] = _read(dicom_folder)
    [(nifti_data, nifti_kw, _)] = _read(tmp_path / "ras.nii.gz")
    assert not np.array_equal(dicom_data, nifti_data)  # other voxel order on disk
    a, b = _layer(dicom_data, dicom_kw), _layer(nifti_data, nifti_kw)
    np.testing.assert_allclose(a.extent.world, b.extent.world, atol=1e-6)
    rng = np.random.default_rng(0)
    for index in zip(*(rng.integers(0, n, 20) for n in dicom_data.shape), strict=True):
        other = np.round(b.world_to_data(a.data_to_world(index))).astype(int)
        assert nifti_data[tuple(other)] == dicom_data[index]


def test_one_layer_per_series(tmp_path: Path, series_writer):
    folder = tmp_path / "study"
    series_writer(folder / "a", depth=4, seed=1)
    series_writer(folder / "b", depth=3, seed=2)
    layers = _read(folder)
    assert sorted(data.shape[0] for data, _, _ in layers) == [3, 4]
    assert len({kw["name"] for _, kw, _ in layers}) == 2


def test_nifti_becomes_a_layer_with_its_spacing(nifti_file: Path):
    [(data, kwargs, _)] = _read(nifti_file)
    volume = md.read_volume(nifti_file)
    assert data.shape == volume.shape
    assert kwargs["scale"] == pytest.approx(volume.spacing)
    assert kwargs["name"] == "volume"


def test_dicom_layer_saves_as_a_derived_series(dicom_folder: Path, tmp_path: Path):
    [(data, kwargs, _)] = _read(dicom_folder)
    before = {p: p.read_bytes() for p in dicom_folder.iterdir()}
    smoothed = np.round(data * 0.5)
    written = write_dicom(str(tmp_path / "out"), smoothed, _denoised(kwargs))
    assert len(written) == 6
    header = pydicom.dcmread(written[0], stop_before_pixels=True)
    # the derivation names the run that made the layer, as the command line writes it
    assert header.DerivationDescription == md.derivation_description("nlm", 3.0)
    back = md.read_volume(tmp_path / "out")
    np.testing.assert_allclose(back.array, smoothed, atol=1)
    assert back.source.series_uid != kwargs["metadata"][META_KEY]["volume"].source.series_uid
    assert before == {p: p.read_bytes() for p in dicom_folder.iterdir()}


def test_any_layer_saves_as_nifti_and_reads_back_exactly(nifti_file: Path, tmp_path: Path):
    [(data, kwargs, _)] = _read(nifti_file)
    [path] = write_nifti(str(tmp_path / "copy.nii.gz"), data, kwargs)
    back = md.read_volume(path)
    np.testing.assert_array_equal(back.array, data)
    np.testing.assert_allclose(back.affine, md.read_volume(nifti_file).affine)
    plain = {"name": "plain", "scale": (2.0, 0.5, 0.5), "translate": (1, 2, 3), "metadata": {}}
    [path] = write_nifti(str(tmp_path / "plain.nii"), np.ones((3, 4, 5)), plain)
    assert md.read_volume(path).spacing == pytest.approx((2.0, 0.5, 0.5))


@pytest.fixture
def shown(napari_notes) -> list[str]:
    """The napari error notifications shown during the test."""
    return napari_notes.errors


def test_non_dicom_layer_is_not_saved_as_dicom(nifti_file: Path, tmp_path: Path, shown):
    [(data, kwargs, _)] = _read(nifti_file)
    assert write_dicom(str(tmp_path / "out.dcm"), data, kwargs) == []
    assert "save it as NIfTI" in shown[-1]
    assert not (tmp_path / "out.dcm").exists()


@pytest.mark.parametrize(
    ("role", "why"),
    [
        ("removed noise", "not an image of the patient"),
        ("noisy", "noise added on purpose"),
        ("source", "as it was read"),
        ("derived", "not made by medidenoise's Denoise widget"),
    ],
)
def test_only_denoised_layers_are_saved_as_dicom(
    dicom_folder: Path, tmp_path: Path, shown, role: str, why: str
):
    [(data, kwargs, _)] = _read(dicom_folder)
    state = _denoised(kwargs)
    state["metadata"][META_KEY]["role"] = role
    assert write_dicom(str(tmp_path / "out.dcm"), data, state) == []
    assert why in shown[-1] and "NIfTI" in shown[-1]
    assert not (tmp_path / "out.dcm").exists()


def test_the_layer_as_read_is_not_saved_as_a_derived_series(dicom_folder, tmp_path, shown):
    [(data, kwargs, _)] = _read(dicom_folder)
    assert write_dicom(str(tmp_path / "out.dcm"), data, kwargs) == []
    assert "denoise it first" in shown[-1]


def test_dicom_writer_refuses_a_same_size_layer_of_another_shape(
    dicom_folder: Path, tmp_path: Path, shown
):
    [(data, kwargs, _)] = _read(dicom_folder)
    reshaped = np.asarray(data).reshape(3, 128, 64)  # as many voxels, other shape
    assert write_dicom(str(tmp_path / "out.dcm"), reshaped, _denoised(kwargs)) == []
    assert "(3, 128, 64)" in shown[-1] and "(6, 64, 64)" in shown[-1]
    assert not (tmp_path / "out.dcm").exists()


def test_dicom_writer_refuses_a_folder_that_holds_files(dicom_folder: Path, tmp_path: Path, shown):
    [(data, kwargs, _)] = _read(dicom_folder)
    target = tmp_path / "taken.dcm"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    assert write_dicom(str(target), data, _denoised(kwargs)) == []
    assert "not an empty folder" in shown[-1]
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_one_slice_dicom_layer_is_2d_and_saves_back(tmp_path: Path, series_writer):
    folder = series_writer(tmp_path / "single", depth=1)
    [(data, kwargs, _)] = _read(folder)
    assert data.ndim == 2
    [written] = write_dicom(str(tmp_path / "single_out.dcm"), data, _denoised(kwargs))
    back = md.read_volume(written)
    assert back.shape == (1, *data.shape)
    np.testing.assert_allclose(back.array[0], data, atol=1)


def test_nifti_writer_refuses_an_rgb_layer(tmp_path: Path, shown):
    meta = {"name": "photo", "rgb": True, "metadata": {}}
    assert write_nifti(str(tmp_path / "photo.nii.gz"), np.zeros((8, 8, 3)), meta) == []
    assert "grayscale" in shown[-1]


def test_a_series_split_into_stacks_opens_one_layer_per_stack(napari_notes):
    """pydicom's MR700: one SeriesInstanceUID, seven single-image stacks of their own geometry."""
    shown = napari_notes.warnings

    folder = data_file("dicomdirtests/98892003/MR700")
    stacks = md.find_dicom_series(folder)
    assert len(stacks) == 7
    layers = _read(folder)
    assert len(layers) == len(stacks) and shown == []
    assert len({kw["name"] for _, kw, _ in layers}) == len(layers)
    keys = {kw["metadata"][META_KEY]["volume"].metadata["series_key"] for _, kw, _ in layers}
    assert keys == {info.key for info in stacks}


def test_ct_opens_with_the_window_of_its_header():
    """pydicom-data's 693 CT: a brain window (40/100 HU) in the header, padding at -3024 HU."""
    [(data, kwargs, _)] = _read(data_file("693_UNCR.dcm"))
    assert data.min() == -3024
    assert kwargs["contrast_limits"] == pytest.approx((-10.0, 90.0))


def test_padding_outside_the_field_of_view_is_kept_out_of_the_limits(tmp_path: Path):
    yy, xx = np.mgrid[:64, :64]
    inside = (yy - 32) ** 2 + (xx - 32) ** 2 < 28**2
    rng = np.random.default_rng(0)
    body = rng.normal(40, 10, (4, 64, 64)).astype(np.float32)
    volume = md.Volume(np.where(inside, body, -3024.0), modality="CT")  # no window in the header
    path = md.write_nifti(volume, tmp_path / "padded.nii.gz")
    [(_, kwargs, _)] = _read(path)
    low, high = kwargs["contrast_limits"]
    assert 0 < low < 40 < high < 80  # the tissue's range, not -3024..80


def test_a_difference_image_gets_limits_symmetric_around_zero():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 2, (4, 64, 64)).astype(np.float32)
    noise[0, 0, :8] = 500.0  # a few outliers do not set the range
    low, high = difference_limits(noise)
    assert low == -high and 4 < high < 7
    # a residual that is not centred keeps 0 in the middle
    low, high = difference_limits(noise + 3.0)
    assert low == -high and high > 7
    assert difference_limits(np.zeros((2, 8, 8), np.float32)) == (-1.0, 1.0)
