"""Provenance: each run says which model ran, with what noise level, and what else was done."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import medidenoise as md
from medidenoise.models import build_model, save_checkpoint


@pytest.fixture(scope="module")
def noisy() -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64]
    disk = 200.0 * (((yy - 32) ** 2 + (xx - 32) ** 2) < 400)
    return (disk + rng.normal(0, 8.0, (2, 64, 64))).astype(np.float32)


def test_a_shipped_model_is_named_by_its_name_not_its_class(noisy) -> None:
    result = md.Denoiser("white", device="cpu").run(noisy)
    assert result.model == "white"
    record = result.provenance
    assert record.model == "white" and record.requested == "white" and record.route is None
    assert record.model_file == "white.safetensors" and len(record.model_sha256) == 16
    assert record.noise_level == result.noise_level and record.noise_level_source == "estimated"
    assert record.noise_level_network is not None and record.noise_level_network > 0
    assert not record.rician_bias_removed and record.tile_size is None


def test_auto_records_its_route_and_no_rician_step_it_did_not_take(noisy) -> None:
    record = md.Denoiser(device="cpu").run(noisy - 100.0, noise_level=8.0).provenance
    assert record.requested == "auto" and record.model in ("white", "correlated")
    assert record.route == f"{'correlated' if record.noise_correlated else 'white'} noise"
    assert record.noise_level == 8.0 and record.noise_level_source == "given"
    assert "Rician" not in record.describe() and not record.rician_bias_removed
    assert f"picked by auto for {record.route}" in record.describe()


def test_the_record_round_trips_and_describes_the_numbers() -> None:
    record = md.Provenance(
        "correlated", "auto", route="correlated noise", noise_level=2.74,
        noise_level_source="estimated", noise_level_network=0.004, noise_correlated=True,
        self_ensemble=True, tile_size=512, modality="CT",
    )  # fmt: skip
    assert md.Provenance.from_dict(record.to_dict()) == record
    assert record.to_dict()["intended_use"] == "research use, not for diagnosis"
    text = record.describe()
    assert "noise level 2.74 HU, estimated (0.004 of the normalised range)" in text
    assert "self-ensemble" in text and "tiles of 512 px" in text and "Rician" not in text


def test_identity_and_classical_methods(noisy) -> None:
    plain = md.Denoiser("identity").run(noisy).provenance
    assert plain.noise_level is None and plain.noise_level_source == "none"
    assert plain.model_file is None and "no noise level used" in plain.describe()
    nlm = md.Denoiser("nlm", self_ensemble=True).run(noisy[:1], noise_level=8.0).provenance
    assert nlm.model == "nlm" and not nlm.self_ensemble  # ignored by classical methods


def test_a_checkpoint_is_named_by_its_file_and_hash(tmp_path: Path, noisy) -> None:
    net = build_model({"arch": "unet", "features": [4, 8], "noise_level_input": True})
    path = save_checkpoint(tmp_path / "mine.safetensors", net, metadata={"seed": 1})
    record = md.Denoiser(path, device="cpu").run(noisy[:1]).provenance
    assert record.model == "mine.safetensors" and record.model_file == "mine.safetensors"
    # the file by its name (its folder may name a patient); the hash tells copies apart
    assert record.model_sha256 is not None and record.requested == "mine.safetensors"


def test_a_volume_carries_the_record_in_its_metadata(noisy) -> None:
    vol = md.Volume(noisy, modality="CT")
    result = md.Denoiser("nlm").run(vol, noise_level=8.0)
    assert result.image.metadata["provenance"] == result.provenance.to_dict()
    assert result.provenance.modality == "CT"
