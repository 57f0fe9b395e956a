"""``denoise``: the one function behind the CLI, the napari plugin and scripts."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, overload

import numpy as np
import torch

from medidenoise._validate import check_finite, check_ndim, check_real, check_size
from medidenoise.errors import InvalidImageError
from medidenoise.inference._network import optimise_for_inference, run_network
from medidenoise.inference._robust import (
    RobustStats,
    fill_padding,
    from_network,
    robust_stats,
    split_outliers,
    to_network,
)
from medidenoise.inference.meta_input import is_meta_tensor, spatial_view, wrap_like
from medidenoise.inference.onnx_model import OnnxModel, is_onnx_path
from medidenoise.io import Volume
from medidenoise.models import load_model
from medidenoise.models.checkpoint import SHIPPED_MODELS, shipped_weights_path
from medidenoise.models.device import pick_device
from medidenoise.transforms import estimate_noise

__all__ = ["CLASSICAL", "Denoiser", "denoise"]

log = logging.getLogger(__name__)

_F32_MAX = float(np.finfo(np.float32).max)

#: names accepted as ``model=`` that run a classical (non-learned) method
CLASSICAL = ("nlm", "tv", "wavelet", "bm3d")

ModelLike = str | os.PathLike | torch.nn.Module
Progress = bool | Callable[[int, int], None]


@functools.lru_cache(maxsize=4)
def _cached_model(key: str, mtime: float, device: str) -> torch.nn.Module:
    del mtime  # part of the cache key only: a rewritten checkpoint is loaded again
    model = load_model(key, device=device)
    fast = optimise_for_inference(model, torch.device(device))
    fast.metadata = getattr(model, "metadata", {})  # type: ignore[assignment]
    return fast


def _resolve_model(model: ModelLike, device: torch.device) -> torch.nn.Module | OnnxModel | str:
    if is_onnx_path(model):
        if device.type != "cpu":
            log.info("%s: an .onnx model runs on the CPU through onnxruntime", model)
        return OnnxModel(model)  # type: ignore[arg-type]
    if isinstance(model, torch.nn.Module):
        fast = optimise_for_inference(model, device)
        for attr in ("metadata", "context_slices", "noise_level_input", "size_multiple"):
            if hasattr(model, attr):
                setattr(fast, attr, getattr(model, attr))
        return fast
    name = os.fspath(model)
    if name == "identity" or name in CLASSICAL:
        return name
    path = shipped_weights_path(name) if name in SHIPPED_MODELS else Path(name)
    mtime = path.stat().st_mtime if path.is_file() else 0.0
    return _cached_model(name, mtime, str(device))


def _as_array(image: Volume | np.ndarray | torch.Tensor) -> tuple[np.ndarray, str | None]:
    if isinstance(image, Volume):
        return image.array, image.modality
    arr = np.asarray(image)
    check_real(arr, "image must have a real dtype, got {dtype}")
    check_ndim(
        arr,
        (2, 3),
        "image must be 2D (H, W) or 3D (D, H, W), got shape {shape}; "
        "for colour or 4D data pick one channel or volume first",
    )
    check_size(arr, "image has an empty axis: shape {shape}")
    return arr, None


def _across_axis(
    array: np.ndarray, axis: int | None, run: Callable[[np.ndarray], Any]
) -> np.ndarray:
    """``run`` on ``array`` with its slice axis moved first, the result moved back."""
    if axis is None or array.ndim == 2:
        return np.asarray(run(array))
    moved = np.ascontiguousarray(np.moveaxis(array, axis, 0))
    return np.moveaxis(np.asarray(run(moved)), 0, axis)


def _noise_level(vol: np.ndarray, noise_level: float | None, stats: RobustStats) -> float:
    """The noise std in image units: the caller's (bounded), or estimated on the clipped image."""
    bound = stats.span
    if noise_level is None:
        estimate = estimate_noise(vol)
        if bound > 0 and estimate > bound:
            log.warning("estimated noise %.4g capped at the image range %.4g", estimate, bound)
        return min(estimate, bound) if bound > 0 else estimate
    if noise_level > max(bound, stats.params.scale):
        raise ValueError(
            f"noise_level={noise_level:g} is larger than the image's whole intensity range "
            f"(about {max(bound, stats.params.scale):.4g} in its own units), which no noise "
            "can be; give the noise standard deviation in the image's units (HU for CT), or "
            "leave noise_level out to estimate it"
        )
    return float(noise_level)


def _progress_callback(progress: Progress, total: int) -> tuple[Callable | None, Any]:
    if callable(progress):
        return progress, None
    if not progress:
        return None, None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="slice", desc="denoise")

    def update(done: int, _total: int) -> None:
        bar.update(done - bar.n)

    return update, bar


def _run_classical(
    method: str, vol: np.ndarray, sigma: float, report: Callable | None
) -> np.ndarray:
    from medidenoise.evaluation.baselines import CLASSICAL_METHODS

    fn = CLASSICAL_METHODS[method]
    out = np.empty_like(vol)
    for k in range(vol.shape[0]):
        out[k] = fn(vol[k], sigma)
        if report is not None:
            report(k + 1, vol.shape[0])
    return out


class Denoiser:
    """A model bound to a device, ready to denoise images and volumes.

    Parameters
    ----------
    model : str, path or torch.nn.Module
        ``"default"`` (the shipped model), ``"correlated"``, ``"cae-baseline"``, a checkpoint
        file, an ``.onnx``
        file written by ``medidenoise export`` (run by onnxruntime on the CPU), a loaded
        network, ``"identity"`` (returns the input unchanged, to verify I/O
        paths) or a classical method: ``"nlm"``, ``"tv"``, ``"wavelet"``,
        ``"bm3d"``.
    device : str, optional
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; default CUDA when present.
    batch_size : int, optional
        Slices per forward pass; default from the image size and device.
    tile_size : int, optional
        Images larger than this along an axis are denoised in overlapping
        tiles blended without seams; default 512 on CPU (larger activations
        no longer fit the caches: a 2000x2000 radiograph took 1.6x as long
        with 1024 tiles) and 1024 on CUDA. A 2.5D ``.onnx`` model takes whole slices.
    self_ensemble : bool
        Denoise each slice in its eight flips and rotations and average the
        results: a little better (0.1-0.5 dB PSNR on the hold-out set, see
        BENCHMARKS.md) for eight times the time. Networks only; ignored by
        ``"identity"`` and the classical methods, refused for 2.5D ``.onnx`` models.

    Examples
    --------
    >>> import numpy as np
    >>> den = Denoiser("identity")
    >>> den(np.zeros((8, 8), np.uint16)).dtype
    dtype('float32')
    """

    def __init__(
        self,
        model: ModelLike = "default",
        *,
        device: str | torch.device | None = None,
        batch_size: int | None = None,
        tile_size: int | None = None,
        self_ensemble: bool = False,
    ) -> None:
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.device = pick_device(device)
        if tile_size is None:
            tile_size = 1024 if self.device.type == "cuda" else 512
        if tile_size < 32:
            raise ValueError(f"tile_size must be at least 32 pixels, got {tile_size}")
        self.model = _resolve_model(model, self.device)
        if self_ensemble and isinstance(self.model, OnnxModel) and self.model.context_slices > 1:
            raise ValueError(
                f"{model}: self_ensemble is not available for 2.5D .onnx models; use the "
                "checkpoint for the self-ensemble, or drop it"
            )
        self.batch_size = batch_size
        self.tile_size = tile_size
        self.self_ensemble = bool(self_ensemble)

    @property
    def name(self) -> str:
        """A short description of the model, for reports and DICOM provenance."""
        if isinstance(self.model, str):
            return self.model
        meta = getattr(self.model, "metadata", {}) or {}
        return str(meta.get("name", type(self.model).__name__))

    @overload
    def __call__(
        self,
        image: Volume,
        *,
        noise_level: float | None = ...,
        progress: Progress = ...,
        should_stop: Callable[[], bool] | None = ...,
        slice_axis: int | None = ...,
    ) -> Volume: ...
    @overload
    def __call__(
        self,
        image: np.ndarray,
        *,
        noise_level: float | None = ...,
        progress: Progress = ...,
        should_stop: Callable[[], bool] | None = ...,
        slice_axis: int | None = ...,
    ) -> np.ndarray: ...

    @overload
    def __call__(
        self,
        image: torch.Tensor,
        *,
        noise_level: float | None = ...,
        progress: Progress = ...,
        should_stop: Callable[[], bool] | None = ...,
        slice_axis: int | None = ...,
    ) -> torch.Tensor: ...

    def __call__(
        self,
        image: Volume | np.ndarray | torch.Tensor,
        *,
        noise_level: float | None = None,
        progress: Progress = False,
        should_stop: Callable[[], bool] | None = None,
        slice_axis: int | None = None,
    ) -> Volume | np.ndarray | torch.Tensor:
        """Denoise ``image``; see :func:`denoise` for the parameters."""
        run = functools.partial(
            self.__call__, noise_level=noise_level, progress=progress, should_stop=should_stop
        )
        if is_meta_tensor(image):
            spatial, axis, channels = spatial_view(image, slice_axis)
            kind = str(getattr(image, "meta", {}).get("modality") or "OT")
            out = _across_axis(spatial, axis, lambda a: run(Volume(a, modality=kind)).array)
            return wrap_like(image, out, channels=channels, denoised_by=self.name)
        if slice_axis is not None and slice_axis != 0:
            if isinstance(image, Volume):
                raise ValueError(
                    f"slice_axis={slice_axis}: a Volume's slices are its first axis (D, H, W); "
                    "leave slice_axis out"
                )
            arr = np.asarray(image)
            if arr.ndim != 3 or not -3 <= slice_axis < 3:
                raise ValueError(
                    f"slice_axis={slice_axis} needs a 3D array and an axis in -3..2, got shape "
                    f"{arr.shape}"
                )
            return _across_axis(arr, slice_axis % 3, run)
        arr, modality = _as_array(image)
        squeeze = arr.ndim == 2
        if arr.dtype.kind == "f" and arr.dtype.itemsize > 4:
            big = np.abs(arr).max(initial=0.0)
            if big > _F32_MAX:
                raise InvalidImageError(
                    f"image holds values up to {big:.3g}, beyond the float32 range (+-3.4e38) "
                    "the denoiser computes in; rescale the image (e.g. divide it by a power "
                    "of ten) first"
                )
        vol = np.array(arr, dtype=np.float32, copy=True).reshape((-1, *arr.shape[-2:]))
        check_finite(
            vol, "image contains NaN or infinite values; replace them (e.g. np.nan_to_num) first"
        )
        if noise_level is not None and not (noise_level >= 0 and np.isfinite(noise_level)):
            raise ValueError(f"noise_level must be a finite number >= 0, got {noise_level}")
        padding = image.padding if isinstance(image, Volume) else None
        report, bar = _progress_callback(progress, vol.shape[0])
        try:
            out = self._denoise(vol, modality, noise_level, report, should_stop, padding)
        finally:
            if bar is not None:
                bar.close()
        if padding is not None:  # padding is not image: exactly the caller's values
            out[padding] = arr.reshape(out.shape)[padding]
        out = out[0] if squeeze else out
        if isinstance(image, Volume):
            meta = {**image.metadata, "denoised_by": self.name}
            return image.with_array(out, metadata=meta)
        return out

    def _denoise(
        self,
        vol: np.ndarray,
        modality: str | None,
        noise_level: float | None,
        report: Callable | None,
        should_stop: Callable[[], bool] | None,
        padding: np.ndarray | None = None,
    ) -> np.ndarray:
        if self.model == "identity":
            if report is not None:
                report(vol.shape[0], vol.shape[0])
            return vol
        # ``vol`` is this call's own float32 copy: filled, clipped and normalised in place, a
        # long series costs three volumes of memory: the caller's, this copy and the result
        if padding is not None:
            fill_padding(vol, padding)
        stats = robust_stats(vol, modality, padding)
        excess = split_outliers(vol, stats.low, stats.high)
        sigma_units = _noise_level(vol, noise_level, stats)
        norm = to_network(vol, stats)
        params = stats.params
        sigma = float(params.scale_sigma(sigma_units))
        log.debug("noise level %.4g (image units) = %.4g (network units)", sigma_units, sigma)
        if isinstance(self.model, str):
            result = _run_classical(self.model, norm, sigma, report)
        elif isinstance(self.model, OnnxModel) and self.model.context_slices > 1:
            result = self.model.denoise_normalized(
                norm, sigma, batch_size=self.batch_size, progress=report, should_stop=should_stop
            )
        else:
            network = self.model.as_network() if isinstance(self.model, OnnxModel) else self.model
            result = run_network(
                network,  # type: ignore[arg-type]
                norm,
                sigma=sigma,
                device=self.device,
                batch_size=self.batch_size,
                tile_size=self.tile_size,
                progress=report,
                should_stop=should_stop,
                self_ensemble=self.self_ensemble,
            )
        # both runners return a new float32 array: scale it back in place
        return from_network(result, stats, excess)


def denoise(
    image: Volume | np.ndarray | torch.Tensor,
    model: ModelLike = "default",
    *,
    noise_level: float | None = None,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    progress: Progress = False,
    self_ensemble: bool = False,
    slice_axis: int | None = None,
) -> Volume | np.ndarray | torch.Tensor:
    """Denoise a 2D image or a 3D volume, slice by slice.

    The networks denoise 2D slices (2.5D models also look at the slices
    next to each one). Which axis the slices lie across:

    * a :class:`~medidenoise.Volume` or a NumPy array: the first axis,
      ``(D, H, W)`` (``slice_axis=`` picks another axis of an array);
    * a MONAI ``MetaTensor`` (``LoadImage``/``LoadImaged`` output, ``(H, W, D)``
      or channel-first ``(1, H, W, D)``): found from its affine (a single
      slice; else the axis with the thickest voxels; else, for isotropic
      voxels, the axis along head-foot, i.e. axial slices). When the affine
      cannot tell, an ``InvalidImageError`` asks for ``slice_axis=``.

    Parameters
    ----------
    image : Volume, numpy.ndarray or monai.data.MetaTensor
        A :class:`~medidenoise.Volume`, an array of shape (H, W) or
        (D, H, W) of any real dtype, in its own units (HU for CT...), or a
        MONAI ``MetaTensor`` (2D or 3D, at most one channel axis first).
    model : str, path or torch.nn.Module
        ``"default"`` (the shipped model), ``"correlated"`` (the shipped model
        fine-tuned for spatially correlated noise, as CT kernels and MR
        interpolation leave it: far better there, worse on Rician MR noise),
        ``"cae-baseline"`` (the shipped classic convolutional auto-encoder), a
        checkpoint path
        (``.safetensors``), an ``.onnx`` file from ``medidenoise export``
        (needs ``medidenoise[onnx]``), a loaded model, ``"identity"`` (the input
        unchanged: checks the I/O path) or a classical method (``"nlm"``,
        ``"tv"``, ``"wavelet"``, ``"bm3d"``): every name the command line's
        ``--model`` takes.
    noise_level : float, optional
        Noise standard deviation in the image's units; estimated when omitted.
    device : str, optional
        ``"cpu"``, ``"cuda"``...; default CUDA when present.
    batch_size : int, optional
        Slices per forward pass.
    progress : bool or callable
        ``True`` shows a progress bar; a callable gets ``(done, total)``.
    self_ensemble : bool
        Average the network's output over the eight flips and rotations of
        each slice: slightly better images for eight times the time.
    slice_axis : int, optional
        The axis of ``image`` across which its slices are taken (see above);
        counts a MetaTensor's channel axis.

    Returns
    -------
    Volume, numpy.ndarray or monai.data.MetaTensor
        The same kind and shape as ``image``, float32, in the same units; a
        MetaTensor keeps its metadata (affine included). The input is never
        modified.

    Raises
    ------
    InvalidImageError
        NaN or infinite values, a shape that is not 2D/3D, several channels,
        or a MetaTensor whose slice axis the affine does not tell.

    Examples
    --------
    >>> import numpy as np
    >>> noisy = np.random.default_rng(0).normal(100, 5, (64, 64))
    >>> denoise(noisy, "identity").shape
    (64, 64)
    """
    runner = Denoiser(model, device=device, batch_size=batch_size, self_ensemble=self_ensemble)
    return runner(image, noise_level=noise_level, progress=progress, slice_axis=slice_axis)
