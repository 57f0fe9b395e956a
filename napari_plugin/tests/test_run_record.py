"""What the Denoise widget says of a run and what napari saves keep of it: provenance,
quality figures, out-of-distribution warnings and the model card (Qt under Xvfb)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from napari_medidenoise._layers import META_KEY
from napari_medidenoise._writer import sidecar_path

import medidenoise as md

pytestmark = pytest.mark.gui


@pytest.fixture
def nlm_run(viewer, ct_layer, denoise_widget, wait_idle):
    """The CT layer denoised in the widget with non-local means: (widget, denoised layer)."""
    widget = denoise_widget("nlm")
    widget.denoise_volume()
    wait_idle(widget)
    return widget, viewer.layers[f"{ct_layer.name} denoised"]


def test_a_denoised_ct_says_what_was_done_and_how_well(nlm_run) -> None:
    widget, denoised = nlm_run
    entry = denoised.metadata[META_KEY]
    record = entry["provenance"]
    assert (record["model"], record["noise_level_source"], record["modality"]) == (
        "nlm",
        "estimated",
        "CT",
    )
    assert record["noise_level"] == pytest.approx(entry["noise_level"])
    assert entry["quality"]["std_ratio"] < 1 and entry["quality"]["units"] == "HU"
    shown = widget.run_report.value
    assert f"noise level {record['noise_level']:.4g} HU, estimated" in shown
    assert "research use, not for diagnosis" in shown and "flat-region noise" in shown


def test_saves_keep_the_record_of_the_run(nlm_run, tmp_path: Path) -> None:
    import pydicom

    _, denoised = nlm_run
    entry = denoised.metadata[META_KEY]
    written = denoised.save(str(tmp_path / "series.dcm"))
    header = pydicom.dcmread(written[0], stop_before_pixels=True)
    record = md.Provenance.from_dict(entry["provenance"])
    assert header.DerivationDescription == record.describe()
    assert f"noise level {record.noise_level:.4g} HU" in header.DerivationDescription
    [nifti] = denoised.save(str(tmp_path / "ct.nii.gz"), plugin="napari-medidenoise")
    sidecar = json.loads(sidecar_path(nifti).read_text())
    assert sidecar_path(nifti) == tmp_path / "ct.json"
    assert sidecar["provenance"] == entry["provenance"] and sidecar["role"] == "denoised"
    assert sidecar["quality"]["std_ratio"] == entry["quality"]["std_ratio"]
    assert sidecar["provenance"]["intended_use"] == "research use, not for diagnosis"


def test_a_layer_without_a_run_gets_no_sidecar(viewer, tmp_path: Path) -> None:
    layer = viewer.add_image(np.ones((3, 8, 8), np.float32), name="plain")
    [nifti] = layer.save(str(tmp_path / "plain.nii.gz"), plugin="napari-medidenoise")
    assert Path(nifti).is_file() and not sidecar_path(nifti).exists()


def test_an_8_bit_scan_warns_on_preview_and_an_ordinary_one_does_not(
    viewer, denoise_widget, wait_idle, notes
) -> None:
    warned = notes.warnings
    rng = np.random.default_rng(0)
    ordinary = (100 + rng.normal(0, 10, (3, 80, 72))).astype(np.float32)
    widget = denoise_widget("nlm")
    widget["image"].value = viewer.add_image(ordinary, name="ordinary")
    widget.preview_slice()
    wait_idle(widget)
    assert warned == [] and "WARNING" not in widget.run_report.value
    eight_bit = np.clip(np.round(ordinary), 0, 255).astype(np.uint8)
    widget["image"].value = viewer.add_image(eight_bit, name="screen export")
    widget.preview_slice()
    wait_idle(widget)
    assert len(warned) == 1 and "screen export: WARNING" in warned[0] and "8-bit" in warned[0]
    widget.preview_slice()  # the same warning about the same layer is not notified again
    wait_idle(widget)
    assert len(warned) == 1 and "WARNING" in widget.run_report.value
    assert "WARNING: the image holds only" in widget.run_report.value
    preview = viewer.layers["screen export preview"]
    assert "8-bit data" in preview.metadata[META_KEY]["warnings"][0]


def test_the_model_card_of_the_chosen_model(denoise_widget) -> None:
    widget = denoise_widget("white")
    text = widget.show_model_card()
    assert text.startswith("Model card: white") and "research use, not for diagnosis" in text
    assert widget.run_report.value == text
    widget["model"].value = "nlm"
    assert "no model card for 'nlm'" in widget.show_model_card()
