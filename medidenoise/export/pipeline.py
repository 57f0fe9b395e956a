"""The denoising pipeline as one TorchScript-compatible module: image units in, image units out.

:class:`DenoisePipeline` wraps a network with everything ``medidenoise.denoise`` does around it,
written in plain torch so that ``torch.jit.script`` and the ONNX exporter can carry it:

1. **normalisation** to network units: a given intensity range (the CT window in HU for CT), or
   the 0.5 / 99.5 percentiles of an in-plane Gaussian-smoothed copy (sigma 3 px, scipy's
   ``reflect`` borders) of at most 16 evenly stepped slices, falling back to that copy's
   min / max (as ``Denoiser`` chooses it, see ``inference._robust.robust_stats``);
2. **noise level**: given in image units, or estimated as ``estimate_noise`` does (MAD of the
   ``outer([1, -2, 1], [1, -2, 1])`` high-pass over non-constant 3x3 neighbourhoods, median over
   at most 32 evenly spaced slices);
3. **network input**: each slice with its neighbours (edges repeated) for 2.5D networks, the
   constant noise-level channel last, padding to the size multiple (reflect, or replicate where
   reflect cannot), the network, cropping back;
4. **inverse normalisation** to image units.

The batch is the volume: its slices are consecutive (for 2.5D networks) and the normalisation
and noise level are computed over the whole batch, as ``denoise`` computes them over a volume.
The unit tests hold each step against the numpy/scipy code it mirrors.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from medidenoise._network_window import NORM_SMOOTHING

__all__ = ["CT_WINDOW", "MAX_SLICE_PIXELS", "DenoisePipeline", "gaussian_kernel"]

#: (low, high) HU mapped to 0 and 1 for CT, as ``normalize_intensity(modality="CT")``
CT_WINDOW = (-1000.0, 1000.0)
#: the largest slice (pixels) an exported model denoises in one piece: a 3000 x 3000 slice
#: needs over 4 GiB in the network; ``medidenoise`` tiles larger ones, the exported files
#: refuse them (TorchScript) or document the limit (ONNX, which cannot raise)
MAX_SLICE_PIXELS = 2048 * 2048


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """scipy.ndimage's 1D Gaussian: radius ``int(truncate * sigma + 0.5)``, sum 1, float32."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).to(torch.float32)


def _symmetric_index(n: int, pad: int, device: torch.device) -> torch.Tensor:
    """Indices of scipy's ``reflect`` border (d c b a | a b c d | d c b a), any pad width."""
    i = torch.arange(-pad, n + pad, device=device)
    i = torch.remainder(i, 2 * n)
    return torch.where(i >= n, 2 * n - 1 - i, i)


def _smooth(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable in-plane Gaussian of (S, H, W) slices with scipy's ``reflect`` borders."""
    pad = (kernel.shape[0] - 1) // 2
    h, w = x.shape[-2], x.shape[-1]
    y = x.unsqueeze(1)
    y = y.index_select(3, _symmetric_index(w, pad, x.device))
    y = F.conv2d(y, kernel.view(1, 1, 1, -1))
    y = y.index_select(2, _symmetric_index(h, pad, x.device))
    y = F.conv2d(y, kernel.view(1, 1, -1, 1))
    return y.squeeze(1)


def _percentile(values: torch.Tensor, permille: int) -> torch.Tensor:
    """numpy's default (linear) percentile of a flat tensor, ``permille`` / 10 percent."""
    ordered = torch.sort(values)[0]
    n = ordered.shape[0]
    scaled = (n - 1) * permille
    lo = scaled // 1000
    frac = float(scaled - lo * 1000) / 1000.0
    hi = min(lo + 1, n - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * frac


def _masked_median(values: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row-wise numpy median of ``values`` where ``valid``, and the count of valid entries.

    Invalid entries sort last (+inf), so no data-dependent shape is needed.
    """
    filled = torch.where(valid, values, torch.full_like(values, math.inf))
    ordered = torch.sort(filled, dim=1)[0]
    count = valid.sum(dim=1)
    upper = torch.clamp(count // 2, max=values.shape[1] - 1).unsqueeze(1)
    lower = torch.clamp((count - 1) // 2, min=0).unsqueeze(1)
    mid = 0.5 * (ordered.gather(1, lower) + ordered.gather(1, upper))
    return mid.squeeze(1), count


def _even_slices(depth: int, count: int, device: torch.device) -> torch.Tensor:
    """``np.unique(np.linspace(0, depth - 1, count).round())`` for ``depth >= count``, else all."""
    if depth <= count:
        return torch.arange(depth, device=device)
    steps = torch.linspace(0.0, float(depth - 1), count, dtype=torch.float64, device=device)
    return torch.round(steps).to(torch.long)


def estimate_noise_torch(volume: torch.Tensor, max_slices: int = 32) -> torch.Tensor:
    """``medidenoise.estimate_noise`` of a (S, H, W) float32 tensor, as a 0-d tensor.

    Slices under 3x3 have no high-pass: 0 (``estimate_noise`` refuses them; the TorchScript
    module refuses them too, the ONNX graph, which cannot raise, runs with no noise level).
    """
    if volume.shape[-2] < 3 or volume.shape[-1] < 3:
        return torch.zeros((), dtype=volume.dtype, device=volume.device)
    picked = volume.index_select(0, _even_slices(volume.shape[0], max_slices, volume.device))
    d2 = picked[:, :-2] - 2 * picked[:, 1:-1] + picked[:, 2:]
    hp = d2[:, :, :-2] - 2 * d2[:, :, 1:-1] + d2[:, :, 2:]
    neighbourhood = picked.unsqueeze(1)
    high = F.max_pool2d(neighbourhood, 3, stride=1)
    low = -F.max_pool2d(-neighbourhood, 3, stride=1)
    varying = (high > low).squeeze(1).flatten(1)
    per_slice, count = _masked_median(hp.abs().flatten(1), varying)
    # median(|N(0, 1)|) and the norm of the 3x3 high-pass kernel, as in transforms/estimate.py
    # (literals: TorchScript cannot read module-level numbers)
    sigma = per_slice / 0.6744897501960817 / 6.0
    usable = count > 0
    median, kept = _masked_median(sigma.unsqueeze(0), usable.unsqueeze(0))
    return torch.where(kept[0] > 0, median[0], torch.zeros_like(median[0]))


class DenoisePipeline(nn.Module):
    """A network and its pre- and post-processing: a slice batch in image units, denoised.

    Parameters
    ----------
    network : torch.nn.Module
        A medidenoise network (scriptable), in eval mode.
    context_slices, noise_level_input, size_multiple
        The network's contract (``docs/internals.md``).
    norm_smoothing : float
        In-plane Gaussian sigma (pixels) before taking the normalisation percentiles.
    norm_max_slices, noise_max_slices : int
        At most this many slices choose the normalisation / estimate the noise.

    Notes
    -----
    ``forward(image, noise_level=None, modality="", intensity_range=None)``: ``image`` of
    shape (B, H, W), (B, 1, H, W) or (H, W), any real dtype; returns float32 of the same shape.
    ``noise_level`` in image units (estimated when ``None`` or negative); ``modality="CT"`` uses
    the fixed HU window; ``intensity_range=[low, high]`` fixes the normalisation (values mapped to
    0 and 1) and wins over both.
    """

    def __init__(
        self,
        network: nn.Module,
        *,
        context_slices: int,
        noise_level_input: bool,
        size_multiple: int,
        norm_smoothing: float = NORM_SMOOTHING,
        norm_max_slices: int = 16,
        noise_max_slices: int = 32,
    ) -> None:
        super().__init__()
        self.network = network
        self.context_slices = int(context_slices)
        self.noise_level_input = bool(noise_level_input)
        self.size_multiple = int(size_multiple)
        self.norm_max_slices = int(norm_max_slices)
        self.noise_max_slices = int(noise_max_slices)
        self.ct_window: list[float] = list(CT_WINDOW)
        self.max_slice_pixels = int(MAX_SLICE_PIXELS)
        self.register_buffer("smoothing", gaussian_kernel(norm_smoothing), persistent=False)

    def normalization(self, volume: torch.Tensor) -> tuple[float, float]:
        """(low, high) from the smoothed percentiles of a (S, H, W) float32 volume."""
        step = max(1, volume.shape[0] // self.norm_max_slices)
        picked = volume[::step]
        smooth = _smooth(picked, self.smoothing).flatten()  # type: ignore[arg-type]
        low = float(_percentile(smooth, 5))
        high = float(_percentile(smooth, 995))
        if high <= low:
            low, high = float(smooth.min()), float(smooth.max())
        return low, high

    def denoise_normalized(self, volume: torch.Tensor, sigma: float) -> torch.Tensor:
        """The network over a (S, H, W) volume in network units, noise level in network units."""
        depth = volume.shape[0]
        if self.context_slices > 1:
            half = self.context_slices // 2
            index = torch.arange(depth, device=volume.device).unsqueeze(1) + torch.arange(
                -half, half + 1, device=volume.device
            ).unsqueeze(0)
            x = volume[torch.clamp(index, 0, depth - 1)]
        else:
            x = volume.unsqueeze(1)
        if self.noise_level_input:
            x = torch.cat([x, torch.full_like(x[:, :1], sigma)], dim=1)
        h, w = x.shape[-2], x.shape[-1]
        ph = (self.size_multiple - h % self.size_multiple) % self.size_multiple
        pw = (self.size_multiple - w % self.size_multiple) % self.size_multiple
        if ph > 0 or pw > 0:
            if ph < h and pw < w:
                x = F.pad(x, [0, pw, 0, ph], mode="reflect")
            else:
                x = F.pad(x, [0, pw, 0, ph], mode="replicate")
        # channels-last input: the layout the CPU convolution kernels prefer (1.6x at 512 x 512)
        y = self.network(x.contiguous(memory_format=torch.channels_last))
        return y[:, 0, :h, :w].float()

    def forward(
        self,
        image: torch.Tensor,
        noise_level: float | None = None,
        modality: str = "",
        intensity_range: list[float] | None = None,
    ) -> torch.Tensor:
        """Denoise a slice batch given in the image's own units; see the class notes."""
        shape = image.shape
        if image.dim() == 2:
            volume = image.unsqueeze(0)
        elif image.dim() == 3:
            volume = image
        elif image.dim() == 4 and image.shape[1] == 1:
            volume = image[:, 0]
        else:
            raise ValueError(
                "image must be (H, W), (B, H, W) or (B, 1, H, W) slices, got " + str(list(shape))
            )
        if image.is_complex():
            raise ValueError(
                "image must be real-valued, got a complex tensor; pass its magnitude "
                "(image.abs()) or its real part"
            )
        if image.shape[-2] * image.shape[-1] > self.max_slice_pixels:
            raise ValueError(
                "slices of "
                + str(image.shape[-2])
                + " x "
                + str(image.shape[-1])
                + " pixels exceed the "
                + str(self.max_slice_pixels)
                + " pixels (2048 x 2048) this exported model denoises in one piece; cut them "
                + "into overlapping tiles, or denoise with medidenoise, which tiles"
            )
        volume = volume.to(torch.float32)
        if not bool(torch.isfinite(volume).all()):
            raise ValueError(
                "image contains NaN or infinite values; replace them (e.g. torch.nan_to_num) "
                "first, as medidenoise.denoise asks"
            )
        estimate = noise_level is None or noise_level < 0
        if estimate and (volume.shape[-2] < 3 or volume.shape[-1] < 3):
            raise ValueError(
                "slices must be at least 3x3 to estimate noise, got "
                + str(list(shape))
                + "; pass noise_level= (the noise standard deviation in image units)"
            )
        if intensity_range is not None:
            if len(intensity_range) != 2 or not intensity_range[1] > intensity_range[0]:
                raise ValueError("intensity_range must be [low, high] with high > low")
            low, high = intensity_range[0], intensity_range[1]
        elif modality.strip().upper() == "CT":
            low, high = self.ct_window[0], self.ct_window[1]
        else:
            low, high = self.normalization(volume)
        scale = high - low if high > low else 1.0
        if noise_level is None or noise_level < 0:
            sigma_units = float(estimate_noise_torch(volume, self.noise_max_slices))
        else:
            sigma_units = noise_level
        out = self.denoise_normalized((volume - low) / scale, sigma_units / scale)
        return (out * scale + low).reshape(shape)
