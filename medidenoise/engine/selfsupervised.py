"""Self-supervised objectives: training pairs made from noisy images alone.

Both objectives turn a batch of noisy patches ``y`` (B, C, H, W) in network
units (C = context slices, the centre one is the target) into

* ``x``: the network input (without the noise-level channel), and
* ``target``: (B, 3, H, W) = [target values, pixel weights, target noise variance],

so that ``sum(w * (f(x) - t)^2) / sum(w)`` is, in expectation, the mean
squared error of ``f`` against the clean image plus the mean target noise
variance (the third channel). :class:`SelfSupervisedLoss` returns the first,
:func:`estimated_psnr` subtracts the second: a PSNR against the unseen clean
image, estimated without it.

``recorrupt`` (Recorrupted-to-Recorrupted, Pang et al. 2021): with ``z`` drawn
from the measured noise model (same covariance as the noise ``n``),
``x = y + alpha z`` and ``t = y - z / alpha`` have noises whose cross-covariance
is ``Cov(n) - Cov(z) = 0``, so ``t`` is an unbiased, independent target for the
denoised ``x``: correct for correlated and signal-dependent noise as far as the
measured model is right.

``blindspot`` (Noise2Void / Noise2Self, with the mask shaped like StructN2V):
random pixels and every neighbour whose noise correlates with theirs (from the
measured autocorrelation) are replaced by values from elsewhere in the patch;
the loss is taken at the masked centres only, where the input carries no
information about the target's noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from medidenoise.transforms.noise_covariance import NoiseModel, _psd_from_autocorrelation

__all__ = [
    "OBJECTIVES",
    "BlindSpot",
    "Recorrupt",
    "SelfSupervisedLoss",
    "estimated_psnr",
    "make_objective",
    "measured_noise",
    "stein_excess",
]

ObjectiveName = Literal["recorrupt", "blindspot"]
OBJECTIVES: tuple[str, ...] = ("recorrupt", "blindspot")

#: local mean window (pixels) for the signal-dependent noise variance
_MEAN_WINDOW = 5


def _local_variance(noise: NoiseModel, y: torch.Tensor) -> torch.Tensor:
    """Noise variance map for each plane of ``y`` from its local mean."""
    if noise.gain <= 0:
        return torch.full_like(y, float(noise.variance(0.0)))
    pad = _MEAN_WINDOW // 2
    mean = F.avg_pool2d(F.pad(y, (pad, pad, pad, pad), mode="replicate"), _MEAN_WINDOW, stride=1)
    floor = float(max(noise.floor, 1e-12))
    return (noise.offset + noise.gain * mean).clamp_min(floor)


def measured_noise(
    noise: NoiseModel,
    y: torch.Tensor,
    generator: torch.Generator | None = None,
    spectrum: Callable[[int, int, torch.device], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(z, var)``: a draw ``z`` of the measured noise for every plane of ``y`` (B, C, H, W)
    (its spatial correlation, its variance at the local mean of ``y``) and that variance map."""
    b, c, h, w = y.shape
    if spectrum is None:
        psd = _psd_from_autocorrelation(noise.autocorrelation, (h, w))
        amp = torch.from_numpy(np.sqrt(psd)).float().to(y.device)
    else:
        amp = spectrum(h, w, y.device)
    white = torch.randn((b, c, h, w), generator=generator, device="cpu").to(y.device)
    z = torch.fft.irfft2(torch.fft.rfft2(white) * amp, s=(h, w))
    var = _local_variance(noise, y)
    return z * var.sqrt(), var


def stein_excess(
    denoised: torch.Tensor,
    probed: torch.Tensor,
    noisy: torch.Tensor,
    probe: torch.Tensor,
    variance: torch.Tensor,
    eps: float,
    weight: torch.Tensor | None = None,
) -> tuple[float, float, float]:
    """``(estimated sum of squared errors against the clean image, estimated tr(C J_f),
    pixel count)`` by Stein's unbiased risk estimate, for a denoiser run on the noisy
    image itself.

    ``denoised = f(noisy)`` and ``probed = f(noisy + eps * probe)`` (the probe added to
    the target plane only), with ``probe`` drawn from the noise model (covariance ``C``)
    and ``variance`` its per-pixel variance. For Gaussian noise of covariance ``C``,
    ``E|f(y) - x|^2 = E|f(y) - y|^2 - tr C + 2 tr(C J_f)``, and
    ``probe . (probed - denoised) / eps`` is a Monte-Carlo estimate of ``tr(C J_f)``
    (Ramani et al. 2008, generalised to coloured noise). Unlike the recorrupted
    pairs, it scores the network at the operating point ``denoise`` uses (the
    image's own noise, the level it is told). A relative error ``r`` in the measured
    noise variance moves the estimate by ``r (tr C - 2 tr(C J_f))``: by nearly the same
    amount for two networks, the difference being ``2 r`` times the difference of their
    ``tr(C J_f)`` (the second value returned), which bounds what it can do to a
    comparison.

    ``weight`` (0 or 1 per pixel, the shape of ``noisy``) scores only some pixels;
    the probe must still cover the whole image, so that the divergence term
    counts every input pixel whose noise correlates with a scored one.
    """
    d, p, y = denoised.float(), probed.float(), noisy.float()
    z, v = probe.float(), variance.float()
    w = torch.ones_like(y) if weight is None else weight.float()
    divergence = float((w * z * (p - d)).sum()) / eps
    fidelity = float((w * (d - y) ** 2).sum())
    return fidelity - float((w * v).sum()) + 2.0 * divergence, divergence, float(w.sum())


@dataclass
class Recorrupt:
    """Recorrupted pairs drawn from a measured :class:`NoiseModel`.

    Parameters
    ----------
    noise : NoiseModel
        Measured in network units.
    alpha : float
        Share of the extra noise on the input; the input's noise std grows by
        ``sqrt(1 + alpha^2)``, the target's by ``sqrt(1 + 1/alpha^2)``.
    """

    noise: NoiseModel
    alpha: float = 0.5
    name: str = "recorrupt"

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= 2:
            raise ValueError(f"alpha must be in (0, 2], got {self.alpha}")
        self._amp: dict[tuple[int, int], torch.Tensor] = {}

    @property
    def input_noise_factor(self) -> float:
        """How much noisier the network's input is than the image."""
        return float(np.sqrt(1 + self.alpha**2))

    def _spectrum(self, h: int, w: int, device: torch.device) -> torch.Tensor:
        key = (h, w)
        if key not in self._amp:
            psd = _psd_from_autocorrelation(self.noise.autocorrelation, (h, w))
            self._amp[key] = torch.from_numpy(np.sqrt(psd)).float()
        return self._amp[key].to(device)

    def __call__(
        self, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, target)`` for a batch ``y`` of shape (B, C, H, W)."""
        z, var = measured_noise(self.noise, y, generator, self._spectrum)
        x = y + self.alpha * z
        mid = y.shape[1] // 2
        t = y[:, mid : mid + 1] - z[:, mid : mid + 1] / self.alpha
        weight = torch.ones_like(t)
        target_var = var[:, mid : mid + 1] * (1 + 1 / self.alpha**2)
        return x, torch.cat([t, weight, target_var], dim=1)


@dataclass
class BlindSpot:
    """Masked pixels (and their correlated neighbours) replaced; loss at the masked pixels.

    Parameters
    ----------
    noise : NoiseModel
        Gives the mask's shape (lags whose correlation exceeds ``threshold``)
        and the target noise variance.
    fraction : float
        Share of pixels that are mask centres.
    threshold : float
        Correlation above which a neighbour is masked too.
    """

    noise: NoiseModel
    fraction: float = 0.02
    threshold: float = 0.2
    name: str = "blindspot"

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 0.5:
            raise ValueError(f"fraction must be in (0, 0.5), got {self.fraction}")
        shape = np.abs(self.noise.autocorrelation) > self.threshold
        k = shape.shape[0] // 2
        shape[k, k] = True
        self.kernel = torch.from_numpy(shape.astype(np.float32))[None, None]

    input_noise_factor = 1.0

    def __call__(
        self, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, target)`` for a batch ``y`` of shape (B, C, H, W)."""
        b, c, h, w = y.shape
        mid = c // 2
        centre = y[:, mid : mid + 1]
        picks = torch.rand((b, 1, h, w), generator=generator) < self.fraction
        centres = picks.to(y.device, y.dtype)
        k = self.kernel.shape[-1] // 2
        blind = F.conv2d(centres, self.kernel.to(y.device), padding=k) > 0
        # replacement values: pixels of the same patch at random places
        flat = centre.reshape(b, -1)
        idx = torch.randint(0, h * w, (b, h * w), generator=generator).to(y.device)
        donors = torch.gather(flat, 1, idx).reshape(b, 1, h, w)
        x = y.clone()
        x[:, mid : mid + 1] = torch.where(blind, donors, centre)
        target_var = _local_variance(self.noise, centre)
        return x, torch.cat([centre, centres, target_var], dim=1)


def make_objective(name: str, noise: NoiseModel) -> Recorrupt | BlindSpot:
    """The objective called ``name`` (``"recorrupt"`` or ``"blindspot"``) for a noise model."""
    if name == "recorrupt":
        return Recorrupt(noise)
    if name == "blindspot":
        return BlindSpot(noise)
    raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}; got {name!r}")


class SelfSupervisedLoss(nn.Module):
    """Weighted squared error against a (B, 3, H, W) self-supervised target, in float32."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=pred.device.type, enabled=False):
            t, w = target[:, :1].float(), target[:, 1:2].float()
            err = (pred.float() - t) ** 2 * w
            return err.sum() / w.sum().clamp_min(1.0)


def estimated_psnr(pred: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    """``(sum of (error^2 - target variance) * w, sum of w)`` for an estimated clean MSE.

    Summed over batches, ``-10 log10(first / second)`` is the PSNR (data range
    1) the prediction would have against the clean image, estimated from the
    noisy target alone (unbiased when the noise model is right).
    """
    t, w, v = target[:, :1].float(), target[:, 1:2].float(), target[:, 2:3].float()
    excess = ((pred.float() - t) ** 2 - v) * w
    return float(excess.sum()), float(w.sum())
