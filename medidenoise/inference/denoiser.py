"""``denoise``: the one function behind the CLI, the napari plugin and scripts."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, overload

import numpy as np
import torch

from medidenoise._model_names import MODELS
from medidenoise.errors import InvalidImageError
from medidenoise.inference._inputs import across_axis, as_array, float32_copy
from medidenoise.inference._methods import ModelLike, Routed, resolve_model, run_classical
from medidenoise.inference._network import run_network, use_bf16
from medidenoise.inference._prepare import prepare
from medidenoise.inference._robust import from_network, to_network
from medidenoise.inference.meta_input import is_meta_tensor, spatial_view, wrap_like
from medidenoise.inference.onnx_model import OnnxModel
from medidenoise.inference.options import DenoiseOptions, check_noise_level
from medidenoise.inference.progress import DenoiseProgress, DenoiseResult, LegacyProgress, Progress
from medidenoise.inference.provenance import Provenance, model_source
from medidenoise.io import Volume
from medidenoise.models.checkpoint import AUTO_MODEL, AUTO_RICIAN, model_label
from medidenoise.models.classical import CLASSICAL
from medidenoise.models.device import pick_device
from medidenoise.models.network import contract_of
from medidenoise.transforms import rician_unbias_denoised

__all__ = ["CLASSICAL", "DenoiseProgress", "DenoiseResult", "Denoiser", "denoise"]

log = logging.getLogger(__name__)

Report = Callable[[DenoiseProgress], None]


class Denoiser:
    """A model bound to a device, ready to denoise images and volumes.

    Parameters
    ----------
    model : str, path or torch.nn.Module
        ``"auto"`` (the default: the shipped ``"white"`` model for white noise,
        ``"correlated"`` when the measured noise is spatially correlated, picked per
        image, and on white noise the Rician bias removed
        where the dark background holds the Rayleigh noise of a magnitude image
        (:func:`~medidenoise.transforms.detect_rician`); a result's ``.model`` says what
        ran: ``"auto: white, Rician bias removed"``), ``"white"``, ``"correlated"``,
        ``"default"`` (one network for every noise: the ``"correlated"`` network, with the
        Rician step of ``"auto"`` where it sees a magnitude image; before 0.9 the first
        shipped U-Net), ``"cae-baseline"``, a checkpoint file, an ``.onnx``
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
        no longer fit the caches; BENCHMARKS.md, "CPU batch and tile size") and
        1024 on CUDA. A 2.5D ``.onnx`` model takes whole slices.
    self_ensemble : bool
        The self-ensemble: denoise each slice in its eight flips and rotations,
        turn each result back and average them. The network's errors differ
        from copy to copy while the image content agrees, so the average is a
        little better (BENCHMARKS.md: 0.1-0.5 dB PSNR on the hold-out set), for
        eight times the time. Networks only; ignored by ``"identity"`` and the
        classical methods, refused for 2.5D ``.onnx`` models.
    rician : bool
        The image is a magnitude image with Rician noise (MR, mostly): the noise level is
        the Gaussian std of each channel, estimated where there is signal
        (:func:`~medidenoise.transforms.rician_sigma`) unless given, and the denoised
        image is mapped through the inverse of the Rician mean
        (:func:`~medidenoise.transforms.rician_unbias_denoised`), which removes the bias
        that lifts dark regions (``sigma * sqrt(pi / 2)`` where there is no signal)
        without reading the network's own small errors near that floor as signal. An image
        with negative values is refused. On MNI152 slices it gained 2-6 dB over the
        plain run (BENCHMARKS.md, "Known noise family"). ``"auto"`` and ``"default"`` do
        this unasked where :func:`~medidenoise.transforms.detect_rician` sees a magnitude
        image; the
        option forces it, for any model and any background (one masked to zero).
    precision : {"auto", "float32"}, optional
        ``"auto"`` (the default): on CPUs with bfloat16 instructions (avx512_bf16, AMX) a
        U-Net runs its inner, lower-resolution levels in bfloat16 and its full-resolution
        ends in float32: 0.65-0.69x the network's float32 time, within 0.012 dB on the
        hold-out set (BENCHMARKS.md, "Mixed precision on the CPU"); float16 autocast on
        CUDA.
        ``"float32"``: float32 throughout on the CPU, digit for digit what an exported
        model computes. Unset, the ``MEDIDENOISE_PRECISION`` environment variable decides
        (for the command line, conversions and napari), else ``"auto"``.
    options : DenoiseOptions, optional
        The options above (and a ``noise_level`` every call uses unless it passes its
        own) as one object, validated when it was made; pass it or those keywords.

    Examples
    --------
    >>> import numpy as np
    >>> den = Denoiser("identity")
    >>> den(np.zeros((8, 8), np.uint16)).dtype
    dtype('float32')
    """

    def __init__(
        self,
        model: ModelLike = "auto",
        *,
        device: str | torch.device | None = None,
        batch_size: int | None = None,
        tile_size: int | None = None,
        self_ensemble: bool = False,
        rician: bool = False,
        precision: str | None = None,
        options: DenoiseOptions | None = None,
    ) -> None:
        opts = DenoiseOptions.of(
            options, batch_size=batch_size, tile_size=tile_size, self_ensemble=self_ensemble,
            rician=rician, precision=precision,
        )  # fmt: skip
        self.device = pick_device(device)
        if opts.tile_size is None:
            opts = opts.replace(tile_size=1024 if self.device.type == "cuda" else 512)
        #: the options every call uses (``noise_level``: unless the call gives its own)
        self.options = opts.replace(precision=opts.resolved_precision())
        self.model = resolve_model(model, self.device)
        #: what the caller asked for: a name or path as given (a result names what ran)
        self.requested = os.fspath(model) if isinstance(model, (str, os.PathLike)) else None
        self._source = model_source(model)
        if opts.self_ensemble and isinstance(self.model, OnnxModel) and self.context_slices > 1:
            raise ValueError(
                f"{model}: self_ensemble is not available for 2.5D .onnx models; use the "
                "checkpoint for the self-ensemble, or drop it"
            )

    @property
    def precision(self) -> str:
        """``"auto"`` or ``"float32"`` (see the class)."""
        return str(self.options.precision)

    @property
    def batch_size(self) -> int | None:
        """Slices per forward pass (``None``: from the image size and device)."""
        return self.options.batch_size

    @property
    def tile_size(self) -> int:
        """Images larger than this along an axis are denoised in tiles."""
        return int(self.options.tile_size or 0)

    @property
    def self_ensemble(self) -> bool:
        """Whether networks average over the eight flips and rotations of each slice."""
        return self.options.self_ensemble

    @property
    def rician(self) -> bool:
        """Whether images are taken for magnitude images with Rician noise."""
        return self.options.rician

    def _level(self, noise_level: object) -> float | None:
        """A call's own level (checked here, at the call), else the options' one."""
        if noise_level is None:
            return self.options.noise_level
        return check_noise_level(noise_level)

    @property
    def name(self) -> str:
        """A short description of the model, for reports and DICOM provenance."""
        if isinstance(self.model, Routed):
            return AUTO_MODEL  # a result names the network it picked: DenoiseResult.model
        if self.requested is not None:  # "white", a checkpoint file: not the network's class
            # a file by its name: folders say nothing about the model and may name a patient
            return Path(self.requested).name if Path(self.requested).is_file() else self.requested
        return model_label(self.model)

    @property
    def _rician_step(self) -> bool:
        """Run by a name whose entry asks for auto's Rician step (``ModelEntry.rician_step``)."""
        entry = MODELS.get(self.requested) if self.requested is not None else None
        return bool(entry is not None and entry.rician_step)

    @property
    def context_slices(self) -> int:
        """Slices a 2.5D model sees per output slice (the slice and its neighbours); 1 for 2D."""
        if isinstance(self.model, str):
            return 1
        if isinstance(self.model, (OnnxModel, Routed)):
            return self.model.context_slices
        return contract_of(self.model).context_slices

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
        relay = LegacyProgress(progress) if progress else None
        try:
            done = self._run(image, self._level(noise_level), relay, should_stop, slice_axis)
        finally:
            if relay is not None:
                relay.close()
        return done.image

    def run(
        self,
        image: Volume | np.ndarray | torch.Tensor,
        *,
        noise_level: float | None = None,
        progress: Callable[[DenoiseProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        slice_axis: int | None = None,
    ) -> DenoiseResult:
        """Denoise ``image`` as :meth:`__call__` does, and report the noise level used.

        Parameters
        ----------
        image, noise_level, slice_axis
            As for :func:`denoise`.
        progress : callable, optional
            Called with a :class:`DenoiseProgress` once the noise level is known
            (``done == 0``) and after every batch of slices (``done`` increasing
            up to ``total``); each report carries the noise level in use.
        should_stop : callable, optional
            Checked before every batch; when it returns True the run stops with
            ``InterruptedError`` (nothing is returned).

        Returns
        -------
        DenoiseResult
            ``.image`` (what ``__call__`` returns), ``.noise_level`` (image units:
            the caller's, or the estimate made on the robustly prepared image, with
            hot pixels and DICOM padding kept out) and ``.model``.

        Examples
        --------
        >>> import numpy as np
        >>> result = Denoiser("identity").run(np.zeros((2, 8, 8)), noise_level=1.0)
        >>> result.image.shape, result.noise_level
        ((2, 8, 8), 1.0)
        """
        return self._run(image, self._level(noise_level), progress, should_stop, slice_axis)

    def denoise_slice(
        self,
        image: Volume | np.ndarray,
        index: int | None = None,
        *,
        axis: int = 0,
        noise_level: float | None = None,
    ) -> DenoiseResult:
        """Denoise one slice of a volume exactly as denoising the whole volume would.

        A 2.5D model gets the slice's ``context_slices // 2`` neighbours on each
        side (the edge slice repeated at the ends of the volume), and the
        normalisation, outlier bounds and estimated noise level are those of the
        whole volume, so the result equals slice ``index`` of ``run(image)``
        (to float rounding) at a fraction of the cost: a preview of the volume.

        Parameters
        ----------
        image : Volume or numpy.ndarray
            (H, W) image or 3D volume in its own units; never modified.
        index : int, optional
            The slice along ``axis``; ``None`` (or 0) for a 2D image.
        axis : int
            The axis the slice is taken across (a ``Volume``: 0 only).
        noise_level : float, optional
            Noise std in image units; estimated on the whole volume when omitted.

        Returns
        -------
        DenoiseResult
            ``.image`` the denoised (H, W) slice (float32), ``.noise_level`` the
            level used, ``.model`` the model's label.

        Raises
        ------
        IndexError
            ``index`` outside the volume.

        Examples
        --------
        >>> import numpy as np
        >>> vol = np.arange(3 * 8 * 8, dtype=np.float32).reshape(3, 8, 8)
        >>> Denoiser("identity").denoise_slice(vol, 1).image[0, :3]
        array([64., 65., 66.], dtype=float32)
        """
        noise_level = self._level(noise_level)
        arr, modality = as_array(image)
        padding = image.padding if isinstance(image, Volume) else None
        if arr.ndim == 2:
            if index not in (None, 0):
                raise IndexError(f"slice {index} of a 2D image: pass index=None (or 0)")
            arr, index = arr[np.newaxis], 0
            padding = None if padding is None else padding.reshape(arr.shape)
        else:
            if isinstance(image, Volume) and axis != 0:
                raise ValueError(f"axis={axis}: a Volume's slices are its first axis; leave it 0")
            if not -3 <= axis < 3:
                raise ValueError(f"axis={axis} is not an axis of a 3D volume (-3..2)")
            n = arr.shape[axis]
            if index is None or not 0 <= index < n:
                raise IndexError(f"slice {index} is outside 0..{n - 1} (axis {axis})")
            arr = np.moveaxis(arr, axis, 0)
        vol = float32_copy(arr)
        half = self.context_slices // 2
        slab = (max(0, index - half), min(vol.shape[0], index + half + 1), index)
        out, used, record = self._denoise(
            vol, modality, noise_level, None, None, padding, slab=slab
        )
        result = out[0]
        if padding is not None:
            result[padding[index]] = arr[index][padding[index]]
        return DenoiseResult(result, record.noise_level, used, record)

    def _run(
        self,
        image: Volume | np.ndarray | torch.Tensor,
        noise_level: float | None,
        report: Report | None,
        should_stop: Callable[[], bool] | None,
        slice_axis: int | None,
    ) -> DenoiseResult:
        levels: list[float | None] = [None]
        used = [self.name]
        records: list[Provenance | None] = [None]

        def again(part: Any) -> Any:
            done = self._run(part, noise_level, report, should_stop, None)
            levels[0], used[0], records[0] = done.noise_level, done.model, done.provenance
            return done.image

        if is_meta_tensor(image):
            spatial, axis, channels = spatial_view(image, slice_axis)
            kind = str(getattr(image, "meta", {}).get("modality") or "OT")
            out = across_axis(spatial, axis, lambda a: again(Volume(a, modality=kind)).array)
            wrapped = wrap_like(image, out, channels=channels, denoised_by=used[0])
            return DenoiseResult(wrapped, levels[0], used[0], records[0])
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
            out = across_axis(arr, slice_axis % 3, again)
            return DenoiseResult(out, levels[0], used[0], records[0])
        arr, modality = as_array(image)
        squeeze = arr.ndim == 2
        vol = float32_copy(arr)
        padding = image.padding if isinstance(image, Volume) else None
        out, label, record = self._denoise(vol, modality, noise_level, report, should_stop, padding)
        if padding is not None:  # padding is not image: exactly the caller's values
            out[padding] = arr.reshape(out.shape)[padding]
        out = out[0] if squeeze else out
        level = record.noise_level
        if isinstance(image, Volume):
            meta = {**image.metadata, "denoised_by": label, "provenance": record.to_dict()}
            return DenoiseResult(image.with_array(out, metadata=meta), level, label, record)
        return DenoiseResult(out, level, label, record)

    def _denoise(
        self,
        vol: np.ndarray,
        modality: str | None,
        noise_level: float | None,
        report: Report | None,
        should_stop: Callable[[], bool] | None,
        padding: np.ndarray | None = None,
        *,
        slab: tuple[int, int, int] | None = None,
    ) -> tuple[np.ndarray, str, Provenance]:
        """Denoise ``vol``; with ``slab=(lo, hi, k)`` only slice ``k``, the volume prepared whole
        and slices ``lo:hi`` around ``k`` given to the network as context. Also returns the
        label of the model that ran (``"auto"`` names its pick) and the run's provenance."""
        total = vol.shape[0] if slab is None else 1
        if self.model == "identity":
            if report is not None:
                report(DenoiseProgress(0, total, noise_level))
                report(DenoiseProgress(total, total, noise_level))
            out = vol if slab is None else vol[slab[2] : slab[2] + 1]
            given = "none" if noise_level is None else "given"
            record = self._record(self.name, modality, noise_level, given)
            return out, self.name, record
        routed = isinstance(self.model, Routed)
        # a magnitude image: the caller says so, or "auto" (and "default") looks
        # (detect_rician); both before prepare() clips, on the caller's own values
        looks = routed or self._rician_step
        rician: bool | None = self.rician or (None if looks else False)
        if rician is not False and float(vol.min()) < 0:
            if self.rician:
                raise InvalidImageError(
                    f"rician=True: the image has negative values (min {float(vol.min()):.4g}), "
                    "so it is not a magnitude image; denoise it without rician"
                )
            rician = False
        # ``vol`` is this call's own float32 copy: filled, clipped and normalised in place, a
        # long series costs three volumes of memory: the caller's, this copy and the result
        if slab is None:
            ready = prepare(vol, modality, noise_level, padding, route=routed, rician=rician)
            wanted = None
        else:  # one slice, with the neighbours a 2.5D model looks at
            lo, hi, index = slab
            ready = prepare(
                vol, modality, noise_level, padding, index, context=(lo, hi), route=routed,
                rician=rician,
            )  # fmt: skip
            wanted = slice(index - lo, index - lo + 1)
        model, label = self.model, self.name
        route = None
        if isinstance(model, Routed):
            route = model.names[bool(ready.correlated)]
            model, label = model.pick(bool(ready.correlated), ready.rician and not self.rician)
            log.debug("auto: %s (noise correlated: %s)", label, ready.correlated)
        vol, stats, excess, sigma_units = ready.vol, ready.stats, ready.excess, ready.sigma
        norm = to_network(vol, stats)
        params = stats.params
        sigma = float(params.scale_sigma(sigma_units))
        log.debug("noise level %.4g (image units) = %.4g (network units)", sigma_units, sigma)
        if report is not None:
            report(DenoiseProgress(0, total, sigma_units))

        def batches_done(done: int, count: int) -> None:
            if report is not None:
                report(DenoiseProgress(done, count, sigma_units))

        tiles = None
        if isinstance(model, str):
            part = norm if wanted is None else norm[wanted]
            result = run_classical(model, part, sigma, batches_done, should_stop)
        elif isinstance(model, OnnxModel) and model.context_slices > 1:
            result = model.denoise_normalized(
                norm, sigma, batch_size=self.batch_size, progress=batches_done,
                should_stop=should_stop,
            )  # fmt: skip
            result = result if wanted is None else result[wanted]
        else:
            network = model.as_network() if isinstance(model, OnnxModel) else model
            tiles = self.tile_size if max(norm.shape[1:]) > self.tile_size else None
            result = run_network(
                network,  # type: ignore[arg-type]
                norm,
                sigma=sigma,
                device=self.device,
                batch_size=self.batch_size,
                tile_size=self.tile_size,
                progress=batches_done,
                should_stop=should_stop,
                self_ensemble=self.self_ensemble,
                outputs=wanted,
                bf16=use_bf16(network, self.device, self.precision),  # type: ignore[arg-type]
            )
        # both runners return a new float32 array: scale it back in place
        out = from_network(result, stats, excess)
        unbiased = bool(ready.rician and sigma_units > 0)
        if unbiased:
            out = rician_unbias_denoised(out, sigma_units)
        record = self._record(
            label if route is None else route,
            modality,
            sigma_units,
            "estimated" if noise_level is None else "given",
            route=route,
            network_level=sigma,
            correlated=ready.correlated,
            rician=unbiased,
            tiles=tiles,
        )
        if unbiased and route is None and not self.rician:  # "default" saw a magnitude image
            label = f"{label}{AUTO_RICIAN}"
        return out, label, record

    def _record(
        self,
        ran: str,
        modality: str | None,
        level: float | None,
        source: Any,
        *,
        route: str | None = None,
        network_level: float | None = None,
        correlated: bool | None = None,
        rician: bool = False,
        tiles: int | None = None,
    ) -> Provenance:
        """The provenance of one run; ``ran`` names the model (auto's pick by ``route``)."""
        file, sha, adapted = model_source(route) if route is not None else self._source
        if route is None and self.requested is not None and file is not None:
            ran = file if Path(self.requested).name == file else ran
        return Provenance(
            model=ran,
            requested=self.name,
            route=None if route is None else f"{'correlated' if correlated else 'white'} noise",
            model_file=file,
            model_sha256=sha,
            adapted_from=adapted,
            noise_level=None if level is None else float(level),
            noise_level_source=source,
            noise_level_network=None if network_level is None else float(network_level),
            noise_correlated=correlated,
            rician_bias_removed=rician,
            self_ensemble=self.self_ensemble and not isinstance(self.model, str),
            tile_size=tiles,
            modality=modality or "",
        )


def denoise(
    image: Volume | np.ndarray | torch.Tensor,
    model: ModelLike = "auto",
    *,
    noise_level: float | None = None,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    progress: Progress = False,
    self_ensemble: bool = False,
    slice_axis: int | None = None,
    rician: bool = False,
    options: DenoiseOptions | None = None,
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
        ``"auto"`` (the default: ``"white"`` for white noise, ``"correlated"`` when
        the measured noise is spatially correlated, picked per image, and on white noise
        the Rician bias removed where the background holds magnitude-image noise
        (:func:`~medidenoise.transforms.detect_rician`); the result's metadata
        ``denoised_by`` says what ran), ``"white"`` (the shipped model for white noise),
        ``"correlated"`` (the shipped model fine-tuned for spatially correlated
        noise, as CT kernels and MR interpolation leave it: far better there, worse on
        Rician MR noise), ``"default"`` (the first shipped model), ``"cae-baseline"``
        (the shipped classic convolutional auto-encoder), a checkpoint path
        (``.safetensors``), an ``.onnx`` file from ``medidenoise export`` (needs
        ``medidenoise[onnx]``), a loaded model,
        ``"identity"`` (the input unchanged: checks the I/O path) or a classical method (``"nlm"``,
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
        each slice (the self-ensemble: see :class:`Denoiser`).
    rician : bool
        A magnitude image with Rician noise: remove the bias it leaves in dark regions
        (see :class:`Denoiser`).
    slice_axis : int, optional
        The axis of ``image`` across which its slices are taken (see above);
        counts a MetaTensor's channel axis.
    options : DenoiseOptions, optional
        All of ``noise_level``, ``batch_size``, ``self_ensemble``, ``rician`` (and
        ``tile_size``, ``precision``) as one object, instead of those keywords.

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
    opts = DenoiseOptions.of(
        options, noise_level=noise_level, batch_size=batch_size, self_ensemble=self_ensemble,
        rician=rician,
    )  # fmt: skip
    runner = Denoiser(model, device=device, options=opts)
    return runner(image, progress=progress, slice_axis=slice_axis)
