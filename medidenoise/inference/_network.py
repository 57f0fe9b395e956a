"""Run a denoising network over a normalised volume: slice batches, padding, tiling."""

from __future__ import annotations

import contextlib
import copy
import itertools
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from monai.inferers import sliding_window_inference

from medidenoise.errors import ModelError
from medidenoise.models.network import contract_of

__all__ = ["mixed_precision", "optimise_for_inference", "run_network", "use_bf16"]

ProgressFn = Callable[[int, int], None]

# pixels per forward pass: on CPU one 512x512 slice, as bigger batches thrash the caches
# (measured: BENCHMARKS.md, "CPU batch and tile size")
_CPU_PIXELS_PER_BATCH = 1 << 18
_GPU_PIXELS_PER_BATCH = 1 << 23


def optimise_for_inference(network: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """An eval-mode copy with BatchNorm folded into the convolution before it.

    In eval mode a BatchNorm after a convolution is an affine map, so it can be
    merged into the convolution's weights: same outputs (to float rounding),
    one pass over memory less per layer. The weights are stored channels-last,
    the layout the CPU convolution kernels prefer. The caller's model is left
    untouched.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    fused = copy.deepcopy(network).eval()
    for module in fused.modules():
        if not isinstance(module, torch.nn.Sequential):
            continue
        names = list(module._modules)
        for conv_name, norm_name in itertools.pairwise(names):
            conv, norm = module._modules[conv_name], module._modules[norm_name]
            if (
                type(conv) is torch.nn.Conv2d
                and type(norm) is torch.nn.BatchNorm2d
                and norm.track_running_stats
            ):
                module._modules[conv_name] = fuse_conv_bn_eval(conv, norm)
                module._modules[norm_name] = torch.nn.Identity()
    fused = fused.to(device)
    if device.type == "cpu":
        fused = fused.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return fused


class _Float32(torch.nn.Module):
    """Runs ``module`` in float32 inside a CPU bfloat16 autocast region."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", enabled=False):
            return self.module(x.float())


def mixed_precision(network: torch.nn.Module) -> torch.nn.Module:
    """Mark a U-Net (an inference copy: changed in place) for CPU bfloat16.

    :class:`~medidenoise.models.unet.UNet`: its full-resolution ends, the first encoder
    block, the last decoder block and the 1x1 head, stay float32; the rest runs under
    bfloat16 autocast when :func:`run_network` is asked for it. The image and the noise the
    network takes from it keep their precision where it matters: on the hold-out images
    bfloat16 everywhere cost up to 0.16 dB, this split at most 0.012 dB, for 0.65-0.69x
    the network's float32 time (BENCHMARKS.md, "Mixed precision on the CPU").

    :class:`~medidenoise.models.fast_unet.FastUNet`: everything at half resolution runs in
    bfloat16; the way back to full resolution (``lift``) and the full-resolution head,
    which subtracts the predicted noise from the image, stay float32 (on the hold-out
    crops no measurable cost, ~0.55x the float32 time: BENCHMARKS.md, issue 29).

    Other networks are returned as they are (float32)."""
    from medidenoise.models.fast_unet import FastUNet
    from medidenoise.models.unet import UNet

    if getattr(network, "bf16_inner", False):
        return network
    if type(network) is UNet:
        network.down[0] = _Float32(network.down[0])
        network.merge[-1] = _Float32(network.merge[-1])
        network.head = _Float32(network.head)  # type: ignore[assignment]
    elif type(network) is FastUNet:
        network.lift = _Float32(network.lift)  # type: ignore[assignment]
        network.head = _Float32(network.head)  # type: ignore[assignment]
    else:
        return network
    network.bf16_inner = True  # type: ignore[assignment]
    return network


def use_bf16(network: torch.nn.Module, device: torch.device, precision: str) -> bool:
    """Whether :func:`run_network` runs ``network``'s inner levels in bfloat16."""
    return (
        precision == "auto"
        and device.type == "cpu"
        and bool(getattr(network, "bf16_inner", False))
        and torch.cpu._is_avx512_bf16_supported()
    )


def check_output(y: object, x: torch.Tensor) -> None:
    """Refuse a network output that is not one (N, C, H, W) tensor matching input ``x``."""
    if not isinstance(y, torch.Tensor):
        raise ModelError(
            f"the model returned a {type(y).__name__}, not a tensor; a denoising network's "
            f"forward() must return one (N, 1, H, W) tensor (for input {tuple(x.shape)}); "
            "wrap it so that it returns only the denoised image"
        )
    if y.dim() != 4 or y.shape[0] != x.shape[0] or y.shape[-2:] != x.shape[-2:] or y.shape[1] < 1:
        raise ModelError(
            f"the model returned shape {tuple(y.shape)} for input {tuple(x.shape)}; a denoising "
            f"network must return (N, 1, H, W) = ({x.shape[0]}, 1, {x.shape[2]}, {x.shape[3]}): "
            "the same slices and size (pad inside the network, or give it a size_multiple "
            "attribute so that medidenoise pads its input)"
        )


def _default_batch_size(device: torch.device, height: int, width: int) -> int:
    budget = _GPU_PIXELS_PER_BATCH if device.type == "cuda" else _CPU_PIXELS_PER_BATCH
    return max(1, budget // max(1, height * width))


def _stacks(volume: np.ndarray, context: int) -> np.ndarray:
    """(D, H, W) -> (D, context, H, W): each slice with its neighbours, edges repeated."""
    if context == 1:
        return volume[:, np.newaxis]
    half = context // 2
    padded = np.pad(volume, ((half, half), (0, 0), (0, 0)), mode="edge")
    index = np.arange(volume.shape[0])[:, None] + np.arange(context)[None, :]
    return padded[index]


def _pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        # reflect needs the pad to be smaller than the size; replicate always works
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def _blend_weights(roi: tuple[int, int], overlap: float) -> torch.Tensor:
    """Tile weights that fall to ~0 over the outer half of the overlap.

    A tile's border pixels are computed from padding instead of real
    neighbours; giving them (almost) no weight where another tile covers the
    same pixels removes seams. Gaussian maps keep too much weight there.
    """
    axes = []
    for n in roi:
        margin = max(1, int(n * overlap / 2))
        dist = np.minimum(np.arange(n), np.arange(n)[::-1]).astype(np.float32)
        axes.append(np.clip((dist + 1) / (margin + 1), 1e-3, 1.0) ** 3)
    return torch.from_numpy(np.outer(axes[0], axes[1]))[None, None]


def _autocast(device: torch.device, bf16: bool = False) -> contextlib.AbstractContextManager:
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    if bf16:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


#: the eight flips/rotations of the self-ensemble: (quarter turns, mirror left-right)
_DIHEDRAL = tuple((turns, mirror) for turns in range(4) for mirror in (False, True))


def _self_ensemble(predict: Callable[[torch.Tensor], torch.Tensor]) -> Callable:
    """``predict`` averaged over the eight flips and rotations of its input.

    The self-ensemble (why it helps: :class:`~medidenoise.inference.Denoiser`). Each
    transformed copy is denoised and turned back before averaging. Shapes need not be
    square: a quarter turn swaps the axes and the turn back restores them.
    """

    def averaged(x: torch.Tensor) -> torch.Tensor:
        total: torch.Tensor | None = None
        for turns, mirror in _DIHEDRAL:
            t = x.flip(-1) if mirror else x
            y = torch.rot90(predict(torch.rot90(t, turns, dims=(-2, -1))), -turns, dims=(-2, -1))
            y = y.flip(-1) if mirror else y
            total = y if total is None else total + y
        assert total is not None
        return total / len(_DIHEDRAL)

    return averaged


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def run_network(
    network: torch.nn.Module,
    volume: np.ndarray,
    *,
    sigma: float | None,
    device: torch.device,
    batch_size: int | None = None,
    tile_size: int = 1024,
    tile_overlap: float = 0.125,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    self_ensemble: bool = False,
    outputs: slice | None = None,
    bf16: bool = False,
) -> np.ndarray:
    """Denoise a normalised (D, H, W) float32 volume slice by slice.

    Slices are sent in batches; 2.5D networks get their neighbours (edge slices
    repeated). Images larger than ``tile_size`` along either axis are processed
    in tiles overlapping by ``tile_overlap`` of their size and averaged with
    weights (:func:`_blend_weights`) that rise as a cubic ramp from ~0 at a tile's
    edge to 1 at half the overlap inside it (the outer product of one ramp per
    axis), so a tile's border pixels, computed from padding, barely count and
    no seams appear.
    ``self_ensemble`` averages each tile over its eight flips and rotations.
    ``outputs`` denoises only those slices (the others serve as 2.5D context).
    ``bf16``: CPU bfloat16 autocast (for a network :func:`mixed_precision` marked).
    """
    contract = contract_of(network)
    context, wants_sigma = contract.context_slices, contract.noise_level_input
    multiple = contract.size_multiple
    if wants_sigma and sigma is None:
        raise ValueError("this model needs a noise level; pass noise_level= or let it be estimated")
    depth, height, width = volume.shape
    if batch_size is None:
        batch_size = _default_batch_size(device, min(height, tile_size), min(width, tile_size))
    tiled = height > tile_size or width > tile_size
    # tiles need not be multiples of the network's size: predict() pads each one
    roi = (min(tile_size, height), min(tile_size, width))
    weights = _blend_weights(roi, tile_overlap).to(device) if tiled else None

    def predict(x: torch.Tensor) -> torch.Tensor:
        if wants_sigma:
            level = torch.full_like(x[:, :1], float(sigma))  # type: ignore[arg-type]
            x = torch.cat([x, level], dim=1)
        x, (h, w) = _pad_to_multiple(x, multiple)
        with _autocast(device, bf16):
            y = network(x.contiguous(memory_format=torch.channels_last))
        check_output(y, x)
        return y[..., :h, :w].float()

    if self_ensemble:
        predict = _self_ensemble(predict)
    stacks = _stacks(volume, context)
    if outputs is not None:
        stacks = stacks[outputs]
        depth = stacks.shape[0]
    out = np.empty((depth, height, width), dtype=np.float32)
    network = network.to(device).eval()
    done = 0
    with torch.inference_mode():
        for part in _batches(depth, batch_size):
            if should_stop is not None and should_stop():
                raise InterruptedError("denoising was cancelled")
            x = torch.from_numpy(np.ascontiguousarray(stacks[part])).to(device, non_blocking=True)
            if tiled:
                y = sliding_window_inference(
                    x,
                    roi_size=roi,
                    sw_batch_size=max(1, batch_size),
                    predictor=predict,
                    overlap=tile_overlap,
                    roi_weight_map=weights,
                )
            else:
                y = predict(x)
            if not bool(torch.isfinite(torch.as_tensor(y)).all()):
                raise ModelError(
                    f"the model returned NaN or infinite values for slices {part.start}.."
                    f"{part.stop - 1} (input in [0, 1] network units, finite); medidenoise "
                    "never hands such a result back: check the network's weights and its "
                    "forward() (a division by zero, a log of 0...)"
                )
            out[part] = torch.as_tensor(y)[:, 0].cpu().numpy()
            done = part.stop
            if progress is not None:
                progress(done, depth)
    return out
