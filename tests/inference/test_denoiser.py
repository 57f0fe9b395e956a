"""denoise(): shapes, dtypes, units, tiling, batching and determinism."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
import torch
from torch import nn

from medidenoise import InvalidImageError, Volume, denoise
from medidenoise.inference import Denoiser


class BoxFilterNet(nn.Module):
    """A fixed 5x5 mean filter obeying the network contract (noise channel ignored)."""

    context_slices = 1
    noise_level_input = True
    size_multiple = 8

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 5, padding=2, bias=False, padding_mode="replicate")
        nn.init.constant_(self.conv.weight, 1 / 25)
        self.seen: list[tuple[int, ...]] = []
        self.metadata = {"name": "box5"}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(tuple(x.shape))
        assert x.shape[-1] % 8 == 0 and x.shape[-2] % 8 == 0
        return self.conv(x[:, :1])


class CentreOf3(nn.Module):
    """A 2.5D network returning its centre channel, to check neighbour stacking."""

    context_slices = 3
    noise_level_input = False
    size_multiple = 1
    metadata: ClassVar[dict] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1] == 3
        return x[:, 1:2] * 0.5 + (x[:, 0:1] + x[:, 2:3]) * 0.25


def _smooth(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[-2], : shape[-1]]
    img = 500 + 300 * np.sin(xx / 17.0) * np.cos(yy / 23.0)
    img = np.broadcast_to(img, shape).astype(np.float32)
    return img + rng.normal(0, 20, shape).astype(np.float32)


@pytest.mark.parametrize("shape", [(64, 64), (3, 61, 75), (1, 33, 200)])
def test_shape_dtype_units_and_input_untouched(shape: tuple[int, ...]) -> None:
    img = _smooth(shape).astype(np.int16)
    before = img.copy()
    out = denoise(img, BoxFilterNet(), noise_level=20.0)
    assert out.shape == img.shape and out.dtype == np.float32
    np.testing.assert_array_equal(img, before)
    # a mean filter keeps the image's units: the mean intensity stays ~500 HU-like
    assert abs(float(out.mean()) - float(img.mean())) < 5
    assert out.std() < img.std()  # and it removed noise


def test_identity_returns_the_same_values_as_float32() -> None:
    img = (np.arange(5 * 7 * 9) % 4096).reshape(5, 7, 9).astype(np.uint16)
    out = denoise(img, "identity")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, img.astype(np.float32))


def test_volume_in_volume_out_keeps_geometry() -> None:
    vol = Volume(_smooth((4, 40, 48)), spacing=(2.5, 0.7, 0.7), modality="MR")
    out = denoise(vol, BoxFilterNet(), noise_level=20.0)
    assert isinstance(out, Volume)
    assert out.spacing == vol.spacing and np.array_equal(out.affine, vol.affine)
    assert out.modality == "MR" and out.metadata["denoised_by"] == "box5"


def test_tiled_large_image_has_no_seams() -> None:
    img = _smooth((300, 340))
    whole = Denoiser(BoxFilterNet(), tile_size=1024)(img, noise_level=20.0)
    tiled = Denoiser(BoxFilterNet(), tile_size=128)(img, noise_level=20.0)
    scale = float(img.max() - img.min())
    diff = np.abs(tiled - whole)
    # inside the image, tile borders (padding instead of real neighbours) must be blended away
    assert diff[4:-4, 4:-4].max() < 0.002 * scale
    # the outer border may differ slightly (reflect padding to the size multiple vs none)
    assert diff.max() < 0.05 * scale
    assert diff.mean() < 0.001 * scale


def test_slices_are_batched() -> None:
    den = Denoiser(BoxFilterNet(), batch_size=4)
    den(_smooth((10, 32, 32)), noise_level=1.0)
    seen = den.model.seen  # the Denoiser runs its own optimised copy of the network
    assert [s[0] for s in seen] == [4, 4, 2]
    assert all(s[1] == 2 for s in seen)  # image + noise-level channel


def test_context_slices_see_their_neighbours() -> None:
    vol = np.stack([np.full((16, 16), v, np.float32) for v in (0.0, 10.0, 20.0, 30.0)])
    out = denoise(vol, CentreOf3(), noise_level=0.0)
    # interior slices are a weighted mean of neighbours; edges repeat themselves
    np.testing.assert_allclose(out[:, 0, 0], [2.5, 10.0, 20.0, 27.5], atol=1e-3)


class Lopsided(nn.Module):
    """A network that is not symmetric under flips/rotations: x + a ramp to the right."""

    context_slices = 1
    noise_level_input = False
    size_multiple = 1
    metadata: ClassVar[dict] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ramp = torch.arange(x.shape[-1], dtype=x.dtype).expand_as(x[:, :1])
        return x[:, :1] + ramp


@pytest.mark.parametrize("shape", [(24, 24), (2, 20, 36)])
def test_self_ensemble_averages_the_eight_flips_and_rotations(shape: tuple[int, ...]) -> None:
    img = _smooth(shape)
    out = Denoiser(Lopsided(), self_ensemble=True)(img)
    assert out.shape == img.shape  # quarter turns of a non-square image are turned back
    plain = Denoiser(Lopsided())
    by_hand = []
    for turns in range(4):
        for mirror in (False, True):
            t = img[..., ::-1] if mirror else img
            y = np.rot90(
                plain(np.ascontiguousarray(np.rot90(t, turns, axes=(-2, -1)))),
                -turns,
                axes=(-2, -1),
            )
            by_hand.append(y[..., ::-1] if mirror else y)
    np.testing.assert_allclose(out, np.mean(by_hand, axis=0), rtol=1e-5, atol=1e-3)
    # the ramp added along each of the eight orientations averages out to a constant
    added = out - img
    assert np.ptp(added) < 1e-3 * np.ptp(img) < np.ptp(plain(img) - img)


def test_self_ensemble_works_tile_by_tile() -> None:
    # a 5x5 mean filter looks the same in every orientation, so the eight-way average must
    # give the single pass back, also over non-square 100 x 128 tiles
    img = _smooth((100, 340))
    plain = Denoiser(BoxFilterNet(), tile_size=128)(img, noise_level=20.0)
    both = Denoiser(BoxFilterNet(), tile_size=128, self_ensemble=True)(img, noise_level=20.0)
    scale = float(np.ptp(img))
    # inside; at the outer border the padding to the size multiple lands on another side in
    # each orientation (as in the tiling test above)
    np.testing.assert_allclose(both[4:-4, 4:-4], plain[4:-4, 4:-4], atol=1e-3 * scale)
    assert np.abs(both - plain).max() < 0.05 * scale


def test_self_ensemble_is_ignored_by_identity_and_classical_methods() -> None:
    img = _smooth((32, 32))
    np.testing.assert_array_equal(denoise(img, "identity", self_ensemble=True), img)
    np.testing.assert_array_equal(
        denoise(img, "tv", noise_level=20.0, self_ensemble=True),
        denoise(img, "tv", noise_level=20.0),
    )


def test_progress_callback_and_cancel() -> None:
    calls: list[tuple[int, int]] = []
    Denoiser(BoxFilterNet(), batch_size=2)(
        _smooth((5, 16, 16)), noise_level=1.0, progress=lambda d, t: calls.append((d, t))
    )
    assert calls == [(2, 5), (4, 5), (5, 5)]
    with pytest.raises(InterruptedError):
        Denoiser(BoxFilterNet())(_smooth((3, 16, 16)), noise_level=1.0, should_stop=lambda: True)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((2, 2, 2, 2)), "2D"),
        (np.array([[1.0, np.nan]]), "NaN"),
        (np.zeros((4, 4), complex), "real"),
    ],
)
def test_bad_input_is_refused_clearly(bad: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidImageError, match=message):
        denoise(bad, "identity")


def test_classical_method_improves_psnr() -> None:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:96, :96]
    clean = (0.5 + 0.3 * np.sin(xx / 9) * np.cos(yy / 13)).astype(np.float32)
    noisy = clean + rng.normal(0, 0.08, clean.shape).astype(np.float32)
    out = denoise(noisy, "nlm", noise_level=0.08)
    assert np.mean((out - clean) ** 2) < 0.5 * np.mean((noisy - clean) ** 2)


def test_batchnorm_folding_keeps_the_outputs() -> None:
    from medidenoise.inference._network import optimise_for_inference
    from medidenoise.models import build_model

    torch.manual_seed(0)
    net = build_model(
        {"arch": "unet", "features": [8, 16, 32], "residual": True, "noise_level_input": True}
    )
    net.train()
    with torch.no_grad():  # give the BatchNorms non-trivial running statistics
        for _ in range(3):
            net(torch.rand(4, 2, 32, 32) * 3)
    net.eval()
    fast = optimise_for_inference(net, torch.device("cpu"))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())  # caller's model untouched
    x = torch.rand(2, 2, 48, 40)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), net(x), rtol=1e-4, atol=1e-4)


def test_a_long_volume_costs_few_copies_of_itself() -> None:
    """numpy memory of one call: this call's copy and the result, no float64 temporaries."""
    import tracemalloc

    vol = _smooth((64, 96, 96))  # long enough that the normalisation looks at a sample
    den = Denoiser(BoxFilterNet())
    den(vol[:1], noise_level=20.0)  # model copy, kernels: not part of the per-call cost
    tracemalloc.start()
    try:
        den(vol, noise_level=20.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2.6 * vol.nbytes, f"peak {peak / vol.nbytes:.2f} x the volume"
