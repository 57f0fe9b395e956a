"""``denoise`` misused as a hostile new user would (issue 33, items 7 and 8): arguments of the
wrong type, tensors straight from a training loop, ragged lists, custom networks that return the
wrong thing. Each ends in a message naming the argument and the fix, or in a correct result;
never a numpy/torch traceback, never NaN handed back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from medidenoise import denoise
from medidenoise.errors import InvalidImageError, MedidenoiseError, ModelError
from medidenoise.transforms import add_poisson_noise


def _image() -> np.ndarray:
    return np.random.default_rng(0).random((24, 24)).astype(np.float32)


@pytest.mark.parametrize("level", ["0.1", [0.1], (0.1,), np.array([0.1]), True])
def test_noise_level_of_the_wrong_type_is_named(level: object) -> None:
    with pytest.raises(ValueError, match=r"noise_level must be one number.*noise_level=0\.05"):
        denoise(_image(), "nlm", noise_level=level)  # type: ignore[arg-type]


@pytest.mark.parametrize("model", [None, 3, 2.5, ["nlm"], ""])
def test_model_of_the_wrong_type_is_named(model: object) -> None:
    with pytest.raises(ModelError, match=r"model .*'auto'"):
        denoise(_image(), model)  # type: ignore[arg-type]


def test_tensors_that_require_grad_or_hold_bfloat16_are_converted() -> None:
    img = _image()
    expected = denoise(img, "nlm", noise_level=0.05)
    grad = torch.from_numpy(img.copy()).requires_grad_()
    np.testing.assert_allclose(denoise(grad, "nlm", noise_level=0.05), expected)
    assert grad.grad is None
    half = torch.from_numpy(img).to(torch.bfloat16)
    out = denoise(half, "nlm", noise_level=0.05)
    assert out.dtype == np.float32 and out.shape == img.shape and np.isfinite(out).all()
    with pytest.raises(InvalidImageError, match="real dtype"):
        denoise(torch.ones(8, 8, dtype=torch.complex64), "nlm")


@pytest.mark.parametrize(
    "ragged", [[[1.0, 2.0], [3.0]], [np.zeros((4, 4)), np.zeros((4, 5))], [[1, 2], "ab"]]
)
def test_ragged_or_mixed_lists_are_refused_by_name(ragged: list) -> None:
    with pytest.raises(InvalidImageError, match=r"image .*\(H, W\) or \(D, H, W\)"):
        denoise(ragged, "nlm")  # type: ignore[arg-type]


class _Cropping(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., :-2, :]


class _Pair(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, x


class _NaN(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * float("nan")


class _Flat(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0]  # (N, H, W): the channel axis dropped


@pytest.mark.parametrize(
    ("net", "match"),
    [
        (_Cropping(), r"returned shape \(1, 1, 22, 24\) for input \(1, 1, 24, 24\)"),
        (_Pair(), "returned a tuple, not a tensor"),
        (_Flat(), r"returned shape \(1, 24, 24\)"),
        (_NaN(), "returned NaN or infinite values"),
    ],
)
def test_a_custom_network_returning_the_wrong_thing_is_named(net: nn.Module, match: str) -> None:
    with pytest.raises(ModelError, match=match) as info:
        denoise(_image(), net, noise_level=0.05)
    assert isinstance(info.value, MedidenoiseError) and isinstance(info.value, ValueError)


def test_poisson_noise_with_any_photon_count() -> None:
    clean = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    for photons in (1e19, 1e25, 1e300):
        noisy = add_poisson_noise(clean, photons, rng=0)
        assert np.isfinite(noisy).all()
        np.testing.assert_allclose(noisy, clean, atol=1e-6)  # that many photons: no noise
    # below the switch to the normal limit, the exact draw (the same seeds give the same noise)
    np.testing.assert_array_equal(
        add_poisson_noise(clean, 400, rng=1), add_poisson_noise(clean, 400, rng=1)
    )
    with pytest.raises(ValueError, match="photons"):
        add_poisson_noise(clean, float("inf"))
