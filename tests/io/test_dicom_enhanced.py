"""Derived enhanced multi-frame objects follow their IOD (checked by rule and by dciodvfy).

pydicom-data's eCT_Supplemental (Enhanced CT, functional groups) and emri_small
(Enhanced MR without functional groups). The rules are asserted directly; when
dicom3tools' ``dciodvfy`` is installed (``scripts/install-system-deps.sh``; CI
sets MEDIDENOISE_REQUIRE_TOOLS=1 so that it must be) the output may add no error
to those the source already has.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file

from medidenoise.io import read_volume, write_dicom_series
from medidenoise.io.dicom._write_attrs import MR_ACQUISITION_ONLY

ENHANCED = ["eCT_Supplemental.dcm", "emri_small.dcm"]
CLASSIC_DERIVATION = ("DerivationDescription", "DerivationCodeSequence", "SourceImageSequence")


def _source(name: str) -> Path:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.fail(f"{name} not found: install pydicom-data (pip install 'medidenoise[data]')")
    return Path(path)


def _derived(name: str, out: Path) -> tuple[Path, Path]:
    src = _source(name)
    vol = read_volume(src)
    (written,) = write_dicom_series(vol, vol.array, out, derivation_description="model m; sigma 3")
    return src, written


@pytest.mark.parametrize("name", ENHANCED)
def test_image_type_value_2_keeps_its_enumerated_value(name: str, tmp_path: Path) -> None:
    src, out = _derived(name, tmp_path)
    before, after = dcmread(src).ImageType, dcmread(out).ImageType
    # Enhanced CT/MR define value 2 as PRIMARY only: SECONDARY is not allowed there
    assert list(after) == ["DERIVED", before[1], *list(before)[2:]]
    assert after[1] == "PRIMARY"


def test_enhanced_ct_derivation_is_in_each_frame(tmp_path: Path) -> None:
    src, out = _derived("eCT_Supplemental.dcm", tmp_path)
    ds, orig = dcmread(out), dcmread(src)
    for keyword in CLASSIC_DERIVATION:  # not defined at the top level of Enhanced CT
        assert keyword not in ds, keyword
    for frame, group in enumerate(ds.PerFrameFunctionalGroupsSequence, start=1):
        (derivation,) = group.DerivationImageSequence
        assert derivation.DerivationDescription == "model m; sigma 3"
        assert derivation.DerivationCodeSequence[0].CodeValue == "113087"
        (source,) = derivation.SourceImageSequence
        assert source.ReferencedSOPInstanceUID == orig.SOPInstanceUID
        assert source.ReferencedFrameNumber == frame
        assert source.PurposeOfReferenceCodeSequence[0].CodeValue == "121322"
    # Source Image Evidence: every source instance, by study and series (hierarchical macro)
    (study,) = ds.SourceImageEvidenceSequence
    assert study.StudyInstanceUID == orig.StudyInstanceUID
    (series,) = study.ReferencedSeriesSequence
    assert series.SeriesInstanceUID == orig.SeriesInstanceUID
    (instance,) = series.ReferencedSOPSequence
    assert (instance.ReferencedSOPClassUID, instance.ReferencedSOPInstanceUID) == (
        orig.SOPClassUID,
        orig.SOPInstanceUID,
    )


def test_enhanced_mr_drops_what_only_an_original_image_may_hold(tmp_path: Path) -> None:
    src, out = _derived("emri_small.dcm", tmp_path)
    orig, ds = dcmread(src), dcmread(out)
    held = [k for k in MR_ACQUISITION_ONLY if k in orig]
    assert held, "emri_small should carry MR Pulse Sequence attributes"
    assert [k for k in MR_ACQUISITION_ONLY if k in ds] == []
    # this source has no functional groups: none is invented, the classic references stay
    assert "PerFrameFunctionalGroupsSequence" not in ds
    assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID == orig.SOPInstanceUID


def _errors(path: Path, dciodvfy: str) -> set[str]:
    done = subprocess.run(
        [dciodvfy, "-new", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    lines = (done.stdout + done.stderr).splitlines()
    return {re.sub(r"\s+", " ", line) for line in lines if line.startswith("Error")}


@pytest.mark.parametrize("name", ENHANCED)
def test_dciodvfy_finds_no_new_error(name: str, tmp_path: Path) -> None:
    dciodvfy = shutil.which("dciodvfy")
    if dciodvfy is None:
        message = "dciodvfy not installed (apt-get install dicom3tools)"
        if os.environ.get("MEDIDENOISE_REQUIRE_TOOLS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    src, out = _derived(name, tmp_path)
    new = _errors(out, dciodvfy) - _errors(src, dciodvfy)
    assert new == set(), "\n".join(sorted(new))
