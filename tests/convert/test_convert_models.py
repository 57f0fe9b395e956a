"""Conversion with a real network, lossless re-encoding, and a third-party reader of the output."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, JPEGLSLossless, RLELossless

from medidenoise.cli import main
from medidenoise.convert import convert_dicom_folder
from medidenoise.convert.unit import MANIFEST
from medidenoise.errors import MissingDecoderError
from medidenoise.models import build_model
from medidenoise.models.checkpoint import save_checkpoint


@pytest.fixture
def tiny_checkpoint(tmp_path: Path) -> Path:
    """An untrained residual U-Net that takes the noise level as input.

    Built with the transposed upsampling of checkpoints before 0.9 (a user's older file):
    with these random weights its output stays inside the 12-bit stored range, which the
    format checks below rely on (the resize form's random output does not)."""
    torch.manual_seed(0)
    net = build_model(
        {
            "arch": "unet",
            "features": [4, 8],
            "residual": True,
            "noise_level_input": True,
            "upsample": "transpose",
        }
    )
    net.train()
    net(torch.rand(4, 2, 16, 16))  # BatchNorm statistics off their defaults
    return save_checkpoint(tmp_path / "tiny.safetensors", net.eval())


def twelve_bit(paths: list[Path]) -> None:
    """Make a synthetic CT series unsigned with Bits Stored 12 (values stay 0..2999)."""
    for path in paths:
        ds = dcmread(path)
        ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 0
        ds.save_as(path, enforce_file_format=True)


def test_real_model_with_noise_level(tmp_path: Path, ct_series, tiny_checkpoint: Path) -> None:
    paths = ct_series(tmp_path / "in" / "CT", 4, size=64)
    twelve_bit(paths)
    report = convert_dicom_folder(tmp_path / "in", tmp_path / "out", model=tiny_checkpoint,
                                  noise_level=25.0, device="cpu")  # fmt: skip
    assert report.ok, report.summary()
    (entry,) = report.series
    sources = {dcmread(p).SOPInstanceUID: dcmread(p) for p in paths}
    changed = 0
    for f in sorted(Path(entry.output).glob("*.dcm")):
        out = dcmread(f)
        src = sources[out.SourceImageSequence[0].ReferencedSOPInstanceUID]
        text = out.DerivationDescription
        assert "tiny.safetensors (sha256 " in text and "noise level 25" in text, text
        assert (out.BitsStored, out.PixelRepresentation) == (12, 0)
        raw = out.pixel_array
        assert raw.dtype == np.uint16
        assert 0 <= raw.min() and raw.max() <= 2**12 - 1  # inside the stored range
        changed += int(np.count_nonzero(raw != src.pixel_array))
    assert changed > 0.5 * 4 * 64 * 64  # a network ran: most values moved
    assert report.settings["noise_level"] == 25.0
    assert report.settings["model"].startswith("tiny.safetensors (sha256 ")


@pytest.mark.parametrize(
    ("compression", "syntax"),
    [("rle", RLELossless), ("jpeg-ls", JPEGLSLossless), ("jpeg2000", JPEG2000Lossless)],
    ids=["rle", "jpeg-ls", "jpeg2000"],
)
def test_lossless_reencode_matches_the_uncompressed_output(
    clean_export: Path, tmp_path: Path, compression: str, syntax: str
) -> None:
    """CT (signed), CR (MONOCHROME1, slope), MR and enhanced MR (multi-frame)."""
    plain = convert_dicom_folder(clean_export, tmp_path / "plain", model="identity")
    packed = convert_dicom_folder(clean_export, tmp_path / "packed", model="identity",
                                  compression=compression)  # fmt: skip
    assert packed.settings["compression"] == compression
    pairs = 0
    for a_entry, b_entry in zip(plain.series, packed.series, strict=True):
        if compression == "jpeg2000" and a_entry.source.endswith("CR"):  # 16x16: refused
            assert b_entry.status == "failed" and "too small" in b_entry.reason
            assert not Path(b_entry.output).exists()
            continue
        assert b_entry.status == "converted", b_entry.reason
        for a_file in sorted(Path(a_entry.output).glob("*.dcm")):
            a, b = dcmread(a_file), dcmread(Path(b_entry.output) / a_file.name)
            assert a.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
            assert b.file_meta.TransferSyntaxUID == syntax
            assert b.pixel_array.dtype == a.pixel_array.dtype
            np.testing.assert_array_equal(b.pixel_array, a.pixel_array)
            pairs += 1
    # files: CT 5, MR 1, enhanced MR 1 (10 frames), CR 1 (not with JPEG 2000)
    assert pairs == (7 if compression == "jpeg2000" else 8)


def test_cli_compression_and_missing_encoder(
    clean_export: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    args = ["denoise", str(clean_export), str(tmp_path / "o"), "--model", "identity"]
    assert main([*args, "--compression", "rle"]) == 0
    f = next((tmp_path / "o").rglob("00001.dcm"))
    assert dcmread(f, stop_before_pixels=True).file_meta.TransferSyntaxUID == RLELossless

    from medidenoise.io.dicom import _write_compress as dicom_write_compress

    monkeypatch.setattr(dicom_write_compress, "_encoder_available", lambda uid: False)
    with pytest.raises(MissingDecoderError, match="pyjpegls"):
        convert_dicom_folder(clean_export, tmp_path / "x", compression="jpeg-ls")
    assert main([*args[:2], str(tmp_path / "y"), "--compression", "jpeg2000"]) == 2
    assert "pylibjpeg-openjpeg" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    with pytest.raises(ValueError, match="DICOM output only"):
        convert_dicom_folder(clean_export, tmp_path / "z", output_format="nifti",
                             compression="rle")  # fmt: skip


def test_dicom2nifti_accepts_the_converted_export(export: Path, tmp_path: Path, caplog) -> None:
    """The derived CT series of the messy export, as a user would hand it on."""
    dicom2nifti = pytest.importorskip("dicom2nifti")
    report = convert_dicom_folder(export, tmp_path / "out", model="identity")
    ct = next(e for e in report.series if e.source.endswith("CT"))
    assert ct.status == "converted"
    nii = tmp_path / "ct.nii.gz"
    with caplog.at_level(logging.WARNING), warnings.catch_warnings():
        warnings.simplefilter("error")
        result = dicom2nifti.dicom_series_to_nifti(ct.output, str(nii), reorient_nifti=False)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("dicom2nifti")] == []
    data = np.asarray(result["NII"].dataobj)
    assert data.shape == (128, 128, 5)
    from medidenoise.io import read_volume

    # dicom2nifti applies the rescale too: the same HU values, slice for slice
    ours = read_volume(ct.output).array
    theirs = np.sort(data.reshape(-1))
    np.testing.assert_allclose(theirs, np.sort(ours.reshape(-1)))


@pytest.mark.slow  # ~12 s idle, ~23 s loaded: three conversions, one with two worker processes
def test_self_ensemble_from_the_command_line(
    tmp_path: Path, ct_series, tiny_checkpoint: Path
) -> None:
    ct_series(tmp_path / "in" / "a", 2, size=48, number=2)
    ct_series(tmp_path / "in" / "b", 2, size=48, number=3)
    common = ["denoise", str(tmp_path / "in"), "--model", str(tiny_checkpoint)]
    common += ["--noise-level", "25", "--device", "cpu"]
    assert main([*common, str(tmp_path / "one")]) == 0
    # two worker processes: each builds its denoiser with the flag
    assert main([*common, str(tmp_path / "eight"), "--self-ensemble", "--jobs", "2"]) == 0
    one = sorted((tmp_path / "one").rglob("*.dcm"))
    eight = sorted((tmp_path / "eight").rglob("*.dcm"))
    assert len(one) == len(eight) == 4
    differ = 0
    for a, b in zip(one, eight, strict=True):
        da, db = dcmread(a), dcmread(b)
        assert "self-ensemble of 8 flips/rotations" in db.DerivationDescription
        assert "flips" not in da.DerivationDescription
        assert da.SeriesInstanceUID != db.SeriesInstanceUID  # another derivation, other UIDs
        differ += int(np.count_nonzero(da.pixel_array != db.pixel_array))
    assert differ > 0.5 * 4 * 48 * 48  # an untrained network is far from flip-symmetric
    # the finished series remember the setting: the plain run's output is not reused
    assert main([*common, str(tmp_path / "one"), "--self-ensemble"]) == 1


def test_auto_records_the_network_it_ran_per_series(tmp_path: Path, ct_series) -> None:
    """The default model ("auto") picks per series; each derived series says which ran,
    and whether it took the series for a magnitude image and removed the Rician bias."""
    from medidenoise.transforms import add_correlated_noise, add_noise

    ct_series(tmp_path / "in" / "white", 3, size=96, number=2)  # white noise
    streaky = ct_series(tmp_path / "in" / "streaky", 3, size=96, number=3)
    yy, xx = np.mgrid[0:96, 0:96] / 96.0
    body = 1000.0 + 800.0 * (((yy - 0.5) ** 2 + (xx - 0.5) ** 2) < 0.12)
    for k, path in enumerate(streaky):  # smooth anatomy under noise a CT kernel leaves
        ds = dcmread(path)
        noisy = add_correlated_noise(body, 60.0, rng=k, spectrum="lowpass", width=0.2)
        ds.PixelData = np.clip(noisy, 0, 2999).astype(np.int16).tobytes()
        ds.save_as(path, enforce_file_format=True)
    magnitude = ct_series(tmp_path / "in" / "magnitude", 3, size=96, number=4)
    head = np.where(body > 1000, 800.0, 0.0)  # a magnitude image: air around the head
    for k, path in enumerate(magnitude):  # stored values as they are, Rician noise
        ds = dcmread(path)
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        noisy = add_noise(head, "rician", 40.0, rng=k)
        ds.PixelData = np.clip(np.round(noisy), 0, 2999).astype(np.int16).tobytes()
        ds.save_as(path, enforce_file_format=True)
    report = convert_dicom_folder(tmp_path / "in", tmp_path / "out", device="cpu")
    assert report.ok, report.summary()
    assert report.settings["model"].startswith("auto: white (sha256 ")
    assert "Rician" not in report.settings["model"]  # auto's policy is not what was done
    saved = json.loads((tmp_path / "out" / "medidenoise-report.json").read_text())
    text = (tmp_path / "out" / "medidenoise-report.txt").read_text()
    picked = {}
    for entry, kept in zip(report.series, saved["series"], strict=True):
        name = Path(entry.source).name
        record = entry.provenance
        assert kept["provenance"] == record  # the JSON report holds the same record
        state = json.loads((Path(entry.output) / MANIFEST).read_text())
        assert state["provenance"] == record  # ... and so does the state file
        assert record["requested"] == "auto" and record["noise_level_source"] == "estimated"
        level = record["noise_level"]
        assert level > 0 and record["route"] in ("white noise", "correlated noise")
        texts = {dcmread(f).DerivationDescription for f in Path(entry.output).glob("*.dcm")}
        (header,) = texts
        assert f"noise level {level:.4g} HU, estimated" in header  # the number, in its units
        assert f"picked by auto for {record['route']}" in header
        assert "not for diagnosis" in header
        assert f"noise level {level:.4g} HU, estimated" in text
        assert ("Rician" in header) == record["rician_bias_removed"]
        picked[name] = record["model"] + (", Rician" if record["rician_bias_removed"] else "")
        # its quality figures and PNG
        assert entry.quality["flat_std_after"] < entry.quality["flat_std_before"], entry.quality
        assert entry.quality["nps_before"]["power"] and Path(entry.figure).is_file()
        assert Path(entry.figure).read_bytes()[:4] == b"\x89PNG"
    assert picked == {"white": "white", "streaky": "correlated", "magnitude": "white, Rician"}
    assert "research use, not for diagnosis" in text


def test_rician_from_the_command_line(tmp_path: Path, ct_series) -> None:
    """--rician is recorded in the header and the settings; a series with negative values
    (CT in HU) fails with the reason while the others are converted."""
    from medidenoise.convert.unit import MANIFEST

    ct_series(tmp_path / "in" / "hu", 2, size=48, number=2)  # rescaled to HU: negative
    magnitude = ct_series(tmp_path / "in" / "mag", 2, size=48, number=3)
    for path in magnitude:  # stored values as they are: a magnitude image
        ds = dcmread(path)
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.save_as(path, enforce_file_format=True)
    out = tmp_path / "out"
    common = ["denoise", str(tmp_path / "in"), str(out), "--model", "nlm", "--device", "cpu"]
    assert main([*common, "--rician"]) == 1  # one series failed
    report = json.loads((out / "medidenoise-report.json").read_text())
    assert report["settings"]["rician"] is True
    status = {Path(e["source"]).name: e for e in report["series"]}
    assert status["hu"]["status"] == "failed" and "not a magnitude image" in status["hu"]["reason"]
    assert status["mag"]["status"] == "converted"
    for f in Path(status["mag"]["output"]).glob("*.dcm"):
        assert dcmread(f).DerivationDescription.endswith("; Rician bias removed")
    assert (Path(status["mag"]["output"]) / MANIFEST).is_file()
    # the same command without the option would make another output: not reused
    assert main([*common]) == 1
