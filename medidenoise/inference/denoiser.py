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

from medidenoise.errors import InvalidImageError
from medidenoise.inference._network import optimise_for_inference, pick_device, run_network
from medidenoise.inference.onnx_model import OnnxModel, is_onnx_path
from medidenoise.io import Volume
from medidenoise.models import load_model
from medidenoise.models.checkpoint import SHIPPED_MODELS, shipped_weights_path
from medidenoise.transforms import NormalizationParams, estimate_noise, normalization_params

__all__ = ["CLASSICAL", "Denoiser", "denoise"]

log = logging.getLogger(__name__)

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


#: in-plane Gaussian smoothing (pixels) before taking the normalisation percentiles
_NORM_SMOOTHING = 3.0
#: at most this many slices are looked at to choose the normalisation
_NORM_MAX_SLICES = 16


def _noise_robust_normalization(vol: np.ndarray, modality: str | None) -> NormalizationParams:
    """Normalisation parameters as they would be for the clean image.

    The networks were trained on images normalised by the percentiles of the
    *clean* image. Percentiles of a noisy image sit about 2.5 sigma further
    out, which shifts the background away from where the network saw it and
    costs several dB. Percentiles of a smoothed copy (noise std divided by
    about 10) are close to the clean ones. CT keeps its fixed HU window.
    """
    params = normalization_params(vol[:1, :1, :1], modality=modality)
    if params.method != "percentile":
        return params
    from scipy.ndimage import gaussian_filter

    step = max(1, vol.shape[0] // _NORM_MAX_SLICES)
    sigma = [0.0, _NORM_SMOOTHING, _NORM_SMOOTHING]
    smooth = gaussian_filter(vol[::step], sigma=sigma, mode="reflect")  # a new array
    return normalization_params(smooth, method="percentile")


def _as_array(image: Volume | np.ndarray) -> tuple[np.ndarray, str | None]:
    if isinstance(image, Volume):
        return image.array, image.modality
    arr = np.asarray(image)
    if arr.dtype.kind not in "fiub" or arr.dtype.kind == "c":
        raise InvalidImageError(f"image must have a real dtype, got {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise InvalidImageError(
            f"image must be 2D (H, W) or 3D (D, H, W), got shape {arr.shape}; "
            "for colour or 4D data pick one channel or volume first"
        )
    if min(arr.shape) < 1:
        raise InvalidImageError(f"image has an empty axis: shape {arr.shape}")
    return arr, None


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
        ``"default"`` (the shipped model), ``"cae-baseline"``, a checkpoint file, an ``.onnx``
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
    ) -> Volume: ...
    @overload
    def __call__(
        self,
        image: np.ndarray,
        *,
        noise_level: float | None = ...,
        progress: Progress = ...,
        should_stop: Callable[[], bool] | None = ...,
    ) -> np.ndarray: ...

    def __call__(
        self,
        image: Volume | np.ndarray,
        *,
        noise_level: float | None = None,
        progress: Progress = False,
        should_stop: Callable[[], bool] | None = None,
    ) -> Volume | np.ndarray:
        """Denoise ``image``; see :func:`denoise` for the parameters."""
        arr, modality = _as_array(image)
        squeeze = arr.ndim == 2
        vol = np.array(arr, dtype=np.float32, copy=True).reshape((-1, *arr.shape[-2:]))
        if not np.isfinite(vol).all():
            raise InvalidImageError(
                "image contains NaN or infinite values; replace them (e.g. np.nan_to_num) first"
            )
        if noise_level is not None and not noise_level >= 0:
            raise ValueError(f"noise_level must be a non-negative number, got {noise_level}")
        report, bar = _progress_callback(progress, vol.shape[0])
        try:
            out = self._denoise(vol, modality, noise_level, report, should_stop)
        finally:
            if bar is not None:
                bar.close()
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
    ) -> np.ndarray:
        if self.model == "identity":
            if report is not None:
                report(vol.shape[0], vol.shape[0])
            return vol
        params = _noise_robust_normalization(vol, modality)
        sigma_units = estimate_noise(vol) if noise_level is None else float(noise_level)
        # ``vol`` is this call's own float32 copy: normalised in place, a long series costs
        # three volumes of memory: the caller's, this copy and the result
        norm = params.apply_inplace(vol)
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
        return params.inverse_inplace(result)


def denoise(
    image: Volume | np.ndarray,
    model: ModelLike = "default",
    *,
    noise_level: float | None = None,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    progress: Progress = False,
    self_ensemble: bool = False,
) -> Volume | np.ndarray:
    """Denoise a 2D image or a 3D volume.

    Parameters
    ----------
    image : Volume or numpy.ndarray
        A :class:`~medidenoise.Volume`, or an array of shape (H, W) or
        (D, H, W) of any real dtype, in its own units (HU for CT...).
    model : str, path or torch.nn.Module
        ``"default"``, a checkpoint path, an ``.onnx`` file from ``medidenoise export``
        (needs ``medidenoise[onnx]``), a loaded model, ``"identity"`` or a
        classical method (``"nlm"``, ``"tv"``, ``"wavelet"``, ``"bm3d"``).
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

    Returns
    -------
    Volume or numpy.ndarray
        The same kind and shape as ``image``, float32, in the same units. The
        input is never modified.

    Examples
    --------
    >>> import numpy as np
    >>> noisy = np.random.default_rng(0).normal(100, 5, (64, 64))
    >>> denoise(noisy, "identity").shape
    (64, 64)
    """
    runner = Denoiser(model, device=device, batch_size=batch_size, self_ensemble=self_ensemble)
    return runner(image, noise_level=noise_level, progress=progress)
