"""Saving layers the napari way (``layer.save`` / ``viewer.layers.save``), Qt under Xvfb.

napari picks the writer by extension: ``.dcm`` -> derived DICOM series (a folder
of that name), ``.nii.gz`` / ``.nii`` or no extension -> NIfTI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import medidenoise as md

pytestmark = pytest.mark.gui

PLUGIN = "napari-medidenoise"


@pytest.fixture
def nlm_denoised(viewer, ct_layer, denoise_widget, wait_idle):
    """The CT layer denoised in the widget with non-local means (stays in the stored range)."""
    widget = denoise_widget("nlm")
    widget.denoise_volume()
    wait_idle(widget)
    return viewer.layers[f"{ct_layer.name} denoised"]


def _assert_same_geometry(written: md.Volume, source: md.Volume) -> None:
    assert written.shape == source.shape
    np.testing.assert_allclose(written.spacing, source.spacing)
    np.testing.assert_allclose(written.affine, source.affine, atol=1e-6)


def test_selected_dicom_layer_saves_as_a_derived_series(
    viewer, nlm_denoised, dicom_folder: Path, tmp_path: Path
):
    viewer.layers.selection.active = nlm_denoised
    target = tmp_path / "ct_denoised.dcm"
    written = viewer.layers.save(str(target), selected=True, plugin=PLUGIN)
    assert len(written) == 6 and all(Path(p).parent == target for p in written)
    back = md.read_volume(target)
    source = md.read_volume(dicom_folder)
    _assert_same_geometry(back, source)
    np.testing.assert_allclose(back.array, np.round(nlm_denoised.data), atol=1.0)
    assert back.source.series_uid != source.source.series_uid
    # the saved series opens again as a layer on the same voxels
    [again] = viewer.open(target, plugin=PLUGIN)
    np.testing.assert_allclose(again.scale, nlm_denoised.scale)
    np.testing.assert_allclose(again.translate, nlm_denoised.translate)


def test_layer_save_picks_the_writer_by_extension(nlm_denoised, dicom_folder, tmp_path):
    # no plugin named: ".dcm" is this plugin's extension alone
    series = nlm_denoised.save(str(tmp_path / "series.dcm"))
    _assert_same_geometry(md.read_volume(tmp_path / "series.dcm"), md.read_volume(dicom_folder))
    assert len(series) == 6
    [nifti] = nlm_denoised.save(str(tmp_path / "denoised.nii.gz"), plugin=PLUGIN)
    np.testing.assert_array_equal(md.read_volume(nifti).array, nlm_denoised.data)
    # no extension: NIfTI, the first writer's extension is added
    [plain] = nlm_denoised.save(str(tmp_path / "plain"), plugin=PLUGIN)
    assert plain == str(tmp_path / "plain.nii.gz")
    _assert_same_geometry(md.read_volume(plain), md.read_volume(dicom_folder))


def test_saving_a_non_dicom_layer_as_dicom_is_refused_with_a_notification(
    viewer, tmp_path, napari_notes
):
    shown = napari_notes.errors
    layer = viewer.add_image(np.ones((3, 8, 8), np.float32), name="plain")
    with pytest.warns(UserWarning, match="did not return any written paths"):
        assert layer.save(str(tmp_path / "plain.dcm"), plugin=PLUGIN) == []
    assert shown and "save it as NIfTI" in shown[-1]
    assert not (tmp_path / "plain.dcm").exists()


def test_the_result_is_on_top_and_the_removed_noise_is_never_saved_as_dicom(
    viewer, ct_layer, nlm_denoised, tmp_path, napari_notes
):
    shown = napari_notes.errors
    removed = viewer.layers[f"{ct_layer.name} removed noise"]
    # the user sees the result, not the noise, after "Denoise volume": the removed noise
    # is hidden above it
    assert [layer for layer in viewer.layers if layer.visible][-1] is nlm_denoised
    assert viewer.layers[-1] is removed and not removed.visible
    with pytest.warns(UserWarning, match="did not return any written paths"):
        assert removed.save(str(tmp_path / "noise.dcm")) == []
    assert "not an image of the patient" in shown[-1]
    assert not (tmp_path / "noise.dcm").exists()
    # as NIfTI it can still be analysed
    [nifti] = removed.save(str(tmp_path / "noise.nii.gz"), plugin=PLUGIN)
    np.testing.assert_array_equal(md.read_volume(nifti).array, removed.data)


def test_a_saved_series_records_the_model_and_noise_level_of_its_run(nlm_denoised, tmp_path):
    import pydicom

    written = nlm_denoised.save(str(tmp_path / "series.dcm"))
    header = pydicom.dcmread(written[0], stop_before_pixels=True)
    entry = nlm_denoised.metadata["medidenoise"]
    record = md.Provenance.from_dict(entry["provenance"])
    assert header.DerivationDescription == record.describe()
    assert "; model nlm; " in header.DerivationDescription
    assert f"noise level {entry['noise_level']:.4g} HU, estimated" in header.DerivationDescription
