"""``Denoiser.run`` (progress, cancel, the noise level used) and ``Denoiser.denoise_slice``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medidenoise import DenoiseProgress, Denoiser, Volume, build_model


@pytest.fixture(scope="module")
def net_25d() -> torch.nn.Module:
    """An untrained 2.5D U-Net (3 context slices, noise-level input): fast and deterministic."""
    torch.manual_seed(0)
    return build_model(
        {"arch": "unet", "features": [4, 8], "residual": True, "context_slices": 3,
         "noise_level_input": True}
    )  # fmt: skip


@pytest.fixture
def volume() -> np.ndarray:
    rng = np.random.default_rng(1)
    clean = np.zeros((7, 40, 36), np.float32)
    clean[:, 10:30, 8:28] = 200.0
    noisy = clean + rng.normal(0, 12, clean.shape).astype(np.float32)
    noisy[3, 5, 5] = 1e6  # a hot pixel: the volume's robust handling must apply to the slice too
    return noisy


@pytest.mark.parametrize("index", [0, 3, 6])
def test_a_slice_equals_that_slice_of_the_whole_volume(net_25d, volume, index) -> None:
    den = Denoiser(net_25d, device="cpu", batch_size=2)
    assert den.context_slices == 3
    whole = den.run(volume)
    one = den.denoise_slice(volume, index)
    assert one.image.shape == volume.shape[1:] and one.image.dtype == np.float32
    np.testing.assert_allclose(one.image, whole.image[index], rtol=1e-5, atol=1e-3)
    assert one.noise_level == whole.noise_level


def test_a_slice_across_another_axis_and_of_a_padded_volume(net_25d, volume) -> None:
    den = Denoiser(net_25d, device="cpu")
    sideways = den.denoise_slice(volume, 20, axis=1, noise_level=12.0)
    whole = den(volume, noise_level=12.0, slice_axis=1)
    np.testing.assert_allclose(sideways.image, whole[:, 20], rtol=1e-5, atol=1e-3)
    padding = np.zeros(volume.shape, bool)
    padding[:, :, :4] = True
    array = np.where(padding, -3024.0, volume).astype(np.float32)
    vol = Volume(array, modality="CT", padding=padding)
    one = den.denoise_slice(vol, 2)
    np.testing.assert_allclose(one.image, den(vol).array[2], rtol=1e-5, atol=1e-3)
    assert np.all(one.image[:, :4] == -3024.0)


def test_a_2d_image_and_a_slice_outside_the_volume(net_25d, volume) -> None:
    den = Denoiser(net_25d, device="cpu")
    np.testing.assert_allclose(
        den.denoise_slice(volume[2]).image, den(volume[2]), rtol=1e-5, atol=1e-3
    )
    with pytest.raises(IndexError, match="outside"):
        den.denoise_slice(volume, 7)
    with pytest.raises(IndexError, match="2D image"):
        den.denoise_slice(volume[0], 1)


def test_progress_counts_up_with_the_noise_level_used(net_25d, volume) -> None:
    seen: list[DenoiseProgress] = []
    result = Denoiser(net_25d, device="cpu", batch_size=2).run(volume, progress=seen.append)
    assert [p.done for p in seen] == [0, 2, 4, 6, 7]
    assert {p.total for p in seen} == {7}
    assert {p.noise_level for p in seen} == {result.noise_level}
    assert result.model == Denoiser(net_25d).name


def test_the_reported_noise_level_is_the_one_used(net_25d, volume) -> None:
    den = Denoiser(net_25d, device="cpu")
    auto = den.run(volume)
    assert auto.noise_level is not None and 6.0 < auto.noise_level < 24.0  # true std 12
    again = den(volume, noise_level=auto.noise_level)
    np.testing.assert_array_equal(auto.image, again)
    other = den(volume, noise_level=2 * auto.noise_level)
    assert not np.allclose(other, auto.image)
    assert den.run(volume, noise_level=5.0).noise_level == 5.0
    assert Denoiser("identity").run(volume).noise_level is None


def test_cancel_stops_the_run(net_25d, volume) -> None:
    seen: list[int] = []

    def stop_after_two_batches() -> bool:
        return len(seen) >= 3  # the opening report and two batches

    den = Denoiser(net_25d, device="cpu", batch_size=1)
    with pytest.raises(InterruptedError):
        den.run(volume, progress=lambda p: seen.append(p.done), should_stop=stop_after_two_batches)
    assert seen == [0, 1, 2]


def test_cancel_stops_a_classical_method_too(volume) -> None:
    seen: list[int] = []
    with pytest.raises(InterruptedError):
        Denoiser("tv").run(
            volume, progress=lambda p: seen.append(p.done), should_stop=lambda: len(seen) >= 2
        )
    assert seen == [0, 1]


def test_slice_after_slice_of_one_volume_and_then_of_a_changed_one(net_25d, volume) -> None:
    den = Denoiser(net_25d, device="cpu")
    padding = np.zeros(volume.shape, bool)
    padding[:, -3:, :] = True
    vol = Volume(np.where(padding, -1000.0, volume).astype(np.float32), padding=padding)
    whole = den(vol).array
    for index in (1, 5, 1):  # the whole-volume figures are measured once, then reused
        np.testing.assert_allclose(
            den.denoise_slice(vol, index).image, whole[index], rtol=1e-5, atol=1e-3
        )
    louder = volume.copy()
    louder[:, :20] += np.random.default_rng(5).normal(0, 30, louder[:, :20].shape)
    first, second = den.denoise_slice(volume, 2), den.denoise_slice(louder, 2)
    assert second.noise_level == den.run(louder).noise_level != first.noise_level
