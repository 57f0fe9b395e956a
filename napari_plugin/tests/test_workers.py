"""The Qt-free compute behind the widgets, on the real library."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from napari_medidenoise import DenoiseJob, DenoiseSettings, denoise_slice, denoise_volume_steps
from napari_medidenoise._workers import add_noise_to

import medidenoise as md


@pytest.fixture
def volume() -> np.ndarray:
    rng = np.random.default_rng(0)
    clean = np.zeros((6, 48, 40), np.float32)
    clean[:, 12:36, 10:30] = 100.0
    return clean + rng.normal(0, 10, clean.shape).astype(np.float32)


def _run(steps):
    """Drive a generator to its end; return (yielded items, returned value)."""
    seen = []
    while True:
        try:
            seen.append(next(steps))
        except StopIteration as stop:
            return seen, stop.value


def test_denoise_slice_matches_that_slice(volume, tiny_checkpoint):
    job = DenoiseJob(model=str(tiny_checkpoint), noise_level=None, device="cpu")
    result = denoise_slice(volume, 2, job)
    assert result.denoised.shape == (48, 40)
    assert result.denoised.dtype == np.float32
    # the preview is that slice of the whole-volume run, with the Denoiser's own noise level
    _, whole = _run(denoise_volume_steps(volume, job))
    assert result.noise_level == whole.noise_level
    np.testing.assert_allclose(result.denoised, whole.denoised[2], rtol=1e-5, atol=1e-3)
    identity = denoise_slice(volume, 4, DenoiseJob(model="identity", noise_level=1.0))
    np.testing.assert_array_equal(identity.denoised, volume[4])
    sideways = denoise_slice(volume, 7, DenoiseJob(model="identity", noise_level=1.0), axis=2)
    np.testing.assert_array_equal(sideways.denoised, volume[:, :, 7])


def test_denoise_slice_rejects_a_slice_outside_the_volume(volume):
    with pytest.raises(IndexError, match="outside"):
        denoise_slice(volume, 6, DenoiseJob(model="identity"))


def test_volume_steps_report_progress_and_split_input_into_denoised_plus_noise(
    volume, tiny_checkpoint
):
    job = DenoiseJob(model=str(tiny_checkpoint), noise_level=10.0, batch_size=2)
    seen, result = _run(denoise_volume_steps(volume, job))
    assert [p.done for p in seen] == [0, 2, 4, 6]
    assert {p.total for p in seen} == {6} and {p.noise_level for p in seen} == {10.0}
    assert result.denoised.shape == volume.shape
    np.testing.assert_allclose(result.denoised + result.removed_noise, volume, atol=1e-4)
    assert not np.allclose(result.removed_noise, 0)


def test_volume_steps_stop_when_cancelled(volume, tiny_checkpoint):
    cancel = threading.Event()
    job = DenoiseJob(model=str(tiny_checkpoint), noise_level=10.0, batch_size=1)
    steps = denoise_volume_steps(volume, job, cancel=cancel)
    first = next(steps)
    assert first.done == 0
    cancel.set()
    seen, result = _run(steps)
    assert result is None
    assert len(seen) < volume.shape[0]
    assert not any(t.name == "medidenoise-volume" for t in threading.enumerate())


def test_volume_steps_closed_early_stop_the_helper_thread(volume, tiny_checkpoint):
    steps = denoise_volume_steps(volume, DenoiseJob(model=str(tiny_checkpoint), batch_size=1))
    next(steps)
    next(steps)
    steps.close()
    assert not any(t.name == "medidenoise-volume" for t in threading.enumerate())


def test_volume_steps_raise_library_errors(volume, tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(md.MedidenoiseError):
        _run(denoise_volume_steps(volume, DenoiseJob(model=str(broken), noise_level=1.0)))


def test_a_rician_job_removes_the_background_bias_of_a_magnitude_volume():
    rng = np.random.default_rng(0)
    clean = np.zeros((4, 64, 64), np.float32)
    clean[:, 16:48, 16:48] = 1.0
    noisy = md.add_noise(clean, "rician", 0.05, rng=rng)
    _, plain = _run(denoise_volume_steps(noisy, DenoiseJob(model="nlm", noise_level=0.05)))
    job = DenoiseJob(model="nlm", noise_level=0.05, rician=True)
    _, unbiased = _run(denoise_volume_steps(noisy, job))
    air = clean == 0
    assert plain.denoised[air].mean() > 0.05 > 4 * unbiased.denoised[air].mean()


def test_settings_describe_the_job(tmp_path, tiny_checkpoint):
    assert DenoiseSettings().job() == DenoiseJob(model="auto", noise_level=None)
    manual = DenoiseSettings(model="nlm", auto_noise=False, noise_level=3.5).job()
    assert (manual.model, manual.noise_level) == ("nlm", 3.5)
    assert DenoiseSettings(self_ensemble=True).job().self_ensemble
    assert DenoiseSettings(rician=True).job().rician
    chosen = DenoiseSettings(model="checkpoint", checkpoint=tiny_checkpoint).job()
    assert chosen.model == str(tiny_checkpoint)
    with pytest.raises(ValueError, match="checkpoint file"):
        DenoiseSettings(model="checkpoint", checkpoint=tmp_path / "missing.safetensors").job()
    with pytest.raises(ValueError, match="noise_level must be a finite number >= 0"):
        DenoiseSettings(auto_noise=False, noise_level=-1.0).job()


def test_add_noise_is_seeded_and_checks_the_kind(volume):
    a = add_noise_to(volume, "gaussian", 5.0, seed=3)
    assert np.array_equal(a, add_noise_to(volume, "gaussian", 5.0, seed=3))
    assert not np.array_equal(a, add_noise_to(volume, "gaussian", 5.0, seed=4))
    with pytest.raises(ValueError, match="not one of"):
        add_noise_to(volume, "blur", 1.0, seed=0)


def test_an_onnx_export_runs_like_its_checkpoint(volume, tiny_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDIDENOISE_PRECISION", "float32")  # what the export computes
    pytest.importorskip("onnxruntime", reason="medidenoise[onnx] is not installed")
    onnx_path = md.export_model(str(tiny_checkpoint), tmp_path / "tiny.onnx")
    settings = DenoiseSettings(model="checkpoint", checkpoint=onnx_path, auto_noise=False)
    settings.noise_level = 10.0
    job = settings.job()
    reference = DenoiseJob(model=str(tiny_checkpoint), noise_level=10.0, device="cpu")
    got = denoise_slice(volume, 0, job).denoised  # a 2.5D model: the edge slice's neighbours
    np.testing.assert_allclose(got, denoise_slice(volume, 0, reference).denoised, atol=1e-3)
    onnx_job = DenoiseJob(model=str(onnx_path), noise_level=10.0, device="cpu", batch_size=2)
    _, whole = _run(denoise_volume_steps(volume, onnx_job))
    _, expected = _run(denoise_volume_steps(volume, reference))
    np.testing.assert_allclose(whole.denoised, expected.denoised, atol=1e-3)


def test_a_volume_run_returns_its_record_and_quality_in_the_source_units(volume):
    ct = md.Volume(volume, modality="CT")
    job = DenoiseJob(model="nlm")
    _, done = _run(denoise_volume_steps(volume, job, source=ct))
    record = done.provenance
    assert (record.model, record.noise_level_source, record.modality) == ("nlm", "estimated", "CT")
    assert record.noise_level == pytest.approx(done.noise_level)
    assert "HU" in record.noise_text()
    assert done.quality.std_ratio < 0.5 and done.quality.units == "HU"
    _, bare = _run(denoise_volume_steps(volume, job))  # no source: units unknown
    assert bare.provenance.modality == "" and bare.quality.units == "image units"


def test_a_preview_warns_of_8_bit_data_and_stays_silent_on_an_ordinary_volume():
    rng = np.random.default_rng(3)
    ordinary = (100 + rng.normal(0, 10, (3, 80, 72))).astype(np.float32)
    job = DenoiseJob(model="nlm", noise_level=10.0)
    assert denoise_slice(ordinary, 1, job).warnings == []
    eight_bit = np.clip(np.round(ordinary), 0, 255).astype(np.uint8)
    said = denoise_slice(eight_bit, 1, job).warnings
    assert len(said) == 1 and "grey levels (8-bit data)" in said[0]


def test_every_model_choice_but_a_file_is_a_library_model_name():
    from napari_medidenoise._state import MODEL_CHOICES

    import medidenoise as md

    named = [c for c in MODEL_CHOICES if c != "checkpoint"]
    assert named and all(c in md.MODELS for c in named)
