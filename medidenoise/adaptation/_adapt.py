"""``adapt``: fine-tune a copy of a model on the user's own noisy scans, without clean images."""

from __future__ import annotations

import copy
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from medidenoise._model_names import MODELS, base_name
from medidenoise.adaptation._run import _VARIANCE_ERROR as VARIANCE_ERROR
from medidenoise.adaptation._run import Image, Run
from medidenoise.engine.selfsupervised import (
    OBJECTIVES,
)
from medidenoise.errors import CheckpointError, InvalidImageError
from medidenoise.inference._inputs import as_array, float32_copy
from medidenoise.inference._prepare import prepare
from medidenoise.inference._robust import to_network
from medidenoise.inference.options import check_noise_level
from medidenoise.io import Volume
from medidenoise.models import load_model
from medidenoise.models.checkpoint import AUTO_MODEL, AUTO_ROUTES
from medidenoise.models.device import pick_device
from medidenoise.models.network import contract_of
from medidenoise.transforms.noise_covariance import NoiseModel, measure_noise_model

__all__ = ["METHODS", "adapt", "choose_method"]

log = logging.getLogger(__name__)

METHODS = ("auto", *OBJECTIVES)
ImageLike = np.ndarray | Volume
Progress = bool | Callable[[int, int], None]

#: smallest slice side that adaptation trains on (pixels)
MIN_SIDE = 48
#: a noise std below this (network units: share of the intensity range; 0.4 HU in the CT
#: window) is "no noise". A real head CT (693) measures 0.0014.
MIN_NOISE = 2e-4
#: the level estimate and the noise model's own std may differ by this factor before adapt
#: trusts neither and keeps the base model (head MR, correlated and white noise: within 5 %)
NOISE_AGREEMENT = 1.2
#: the mean correlation at lags up to 2 px above which a noise that measures white is taken
#: for anatomy read as noise (white noise on hold-out crops: 0.03; a whole head at 128 px: 0.09)
_WHITE_NEIGHBOURS = 0.05


def _as_list(images: ImageLike | Sequence[ImageLike]) -> list[ImageLike]:
    if isinstance(images, (np.ndarray, Volume)):
        return [images]
    if isinstance(images, (list, tuple)):
        if not images:
            raise InvalidImageError("images: an empty list; pass at least one image or volume")
        return list(images)
    raise InvalidImageError(
        f"images must be an ndarray, a Volume or a list of them, not {type(images).__name__}"
    )


def _prepare(image: ImageLike, index: int, noise_level: float | None, multiple: int) -> Image:
    name = f"images[{index}]"
    modality = image.modality if isinstance(image, Volume) else None
    arr = np.asarray(image.array if isinstance(image, Volume) else image)
    if arr.dtype.kind not in "fiub":
        raise InvalidImageError(f"{name}: expected a real-valued image, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise InvalidImageError(
            f"{name}: expected 2D (H, W) or 3D (D, H, W), got shape {arr.shape}"
        )
    vol = np.array(arr, dtype=np.float32, copy=True).reshape((-1, *arr.shape[-2:]))
    if not np.isfinite(vol).all():
        raise InvalidImageError(
            f"{name}: contains NaN or infinite values; replace them (np.nan_to_num) first"
        )
    h, w = vol.shape[-2:]
    if min(h, w) < max(MIN_SIDE, 2 * multiple):
        raise InvalidImageError(
            f"{name}: slices of {h}x{w} are too small to adapt on; at least "
            f"{max(MIN_SIDE, 2 * multiple)}x{max(MIN_SIDE, 2 * multiple)} pixels are needed"
        )
    if np.ptp(vol) == 0:
        raise InvalidImageError(f"{name}: the image is constant; there is nothing to adapt to")
    # exactly what denoise() does before the network: padding filled, outliers clipped,
    # the level measured (or the caller's), the window narrowed where the noise is tiny
    # for the range (a CT): the adapted network must see the noise at the scale it will run at
    padding = image.padding if isinstance(image, Volume) else None
    if padding is not None and padding.shape != vol.shape:
        padding = padding.reshape(vol.shape)
    ready = prepare(vol, modality, noise_level, padding)
    params = ready.stats.params
    norm = to_network(ready.vol, ready.stats).astype(np.float32, copy=False)
    sigma = float(params.scale_sigma(ready.sigma))
    measured = measure_noise_model(norm)
    span = tuple(float(q) for q in np.quantile(norm, (0.01, 0.99)))
    noise, variance_error, disagreement = _reconcile(measured, sigma, noise_level is not None, span)
    if disagreement and not measured.signal_dependent:
        # smooth anatomy that passed the flatness test reads as noise (a whole head shrunk
        # to 128 px: 1.8x the level): measured again without the blocks far above the level
        again = measure_noise_model(norm, reference_std=sigma)
        if not again.signal_dependent:
            second = _reconcile(again, sigma, False, span)
            if second[2] is None:
                measured, (noise, variance_error, disagreement) = again, second
    if disagreement is None:
        disagreement = _structured_white(noise)
    if noise.std < MIN_NOISE:
        raise InvalidImageError(
            f"{name}: no measurable noise (std {noise.std:.2g} of the intensity range); "
            "the image looks noise-free, so there is nothing to adapt to"
        )
    describe = {
        "shape": list(arr.shape),
        "modality": modality,
        "spacing": [float(s) for s in image.spacing] if isinstance(image, Volume) else None,
        "normalization": params.to_dict(),
        "noise_level_fed": sigma,
        "noise_level_source": "given" if noise_level is not None else "estimated",
        "noise_model_std": measured.std,
        "noise": noise.describe(),
    }
    return Image(norm, sigma, noise, describe, variance_error, disagreement)


def _reconcile(
    measured: NoiseModel, sigma: float, given: bool, span: tuple[float, ...] = (0.0, 1.0)
) -> tuple[NoiseModel, float, str | None]:
    """The noise model adapt trains and judges with: the measured shape, its variance
    rescaled so that the std at the reference intensity is ``sigma`` (the level ``denoise``
    feeds the network), how far off that variance may be, and why the two measurements
    cannot be trusted when they disagree by more than :data:`NOISE_AGREEMENT`.

    The two are independent readings of one noise: the level estimate (quietest flat
    tissue) and the noise model (structure-free blocks). When they agree, recorrupted pairs
    and the guard use the level ``denoise`` will feed; the guard's tolerance on the
    variance widens to their disagreement. A level given by the caller is taken as true.
    Noise that depends on the signal has no one level: the estimate agrees when it lies
    on the measured curve somewhere in the image's intensity ``span`` (1st-99th
    percentile), and the measured curve is kept as it is.
    """
    if measured.signal_dependent and not given:
        lo, hi = (float(np.sqrt(measured.variance(v))) for v in span)
        if lo / NOISE_AGREEMENT <= sigma <= hi * NOISE_AGREEMENT:
            return measured, VARIANCE_ERROR, None
        ratio = sigma / (lo if sigma < lo else hi)
        return measured, VARIANCE_ERROR, _disagreement(sigma, measured.std, ratio)
    ratio = sigma / measured.std if measured.std > 0 else math.inf
    factor = ratio**2
    scaled = NoiseModel(
        measured.autocorrelation,
        measured.offset * factor,
        measured.gain * factor,
        sigma,
        measured.flat_blocks,
        measured.blocks,
        measured.floor * factor,
    )
    error = max(VARIANCE_ERROR, abs(factor - 1.0)) if not given else VARIANCE_ERROR
    if given or 1 / NOISE_AGREEMENT <= ratio <= NOISE_AGREEMENT:
        return scaled, min(error, NOISE_AGREEMENT**2 - 1), None
    return scaled, error, _disagreement(sigma, measured.std, ratio)


def _structured_white(noise: NoiseModel) -> str | None:
    """Why a noise model that measures white cannot be trusted, if so: its lags up to 2 px
    correlate by more than :data:`_WHITE_NEIGHBOURS` on average, which white noise does not
    (anatomy in the flat blocks: a whole head shrunk to 128 px under white noise reads 0.09
    there, and adapting to that model kept a state 1.3 dB worse than the base)."""
    if noise.correlation_length() != (0, 0):
        return None
    ac = np.asarray(noise.autocorrelation, dtype=np.float64)
    k = ac.shape[0] // 2
    near = ac[k - 2 : k + 3, k - 2 : k + 3]
    mean = (float(near.sum()) - float(ac[k, k])) / (near.size - 1)
    if mean <= _WHITE_NEIGHBOURS:
        return None
    return (
        f"the noise measures white, yet neighbouring pixels of its flat blocks correlate by "
        f"{mean:.2f} on average (white noise: ~0): anatomy leaks into the noise measurement, "
        "so no fine-tune can be judged and the base model is kept"
    )


def _disagreement(sigma: float, measured: float, ratio: float) -> str:
    return (
        f"the noise level estimate ({sigma:.3g}) and the noise measured on structure-free "
        f"blocks ({measured:.3g}, network units) differ by {max(ratio, 1 / ratio):.2f}x "
        f"(more than {NOISE_AGREEMENT}x), so neither can be trusted to train or judge a "
        "fine-tune; pass noise_level if you know it"
    )


def choose_method(noise: NoiseModel) -> str:
    """The objective ``method="auto"`` uses for a measured noise model.

    Recorruption is unbiased for correlated and white noise alike when the
    noise model is measured on enough flat image blocks (BENCHMARKS.md: it beat
    the shaped blind-spot mask on every noise tried, as all its pixels carry
    loss); with fewer than 8 flat blocks the measured covariance is too
    uncertain to draw noise from, and the blind-spot objective, which only needs
    the correlation's extent, is used instead.
    """
    return "recorrupt" if noise.flat_blocks >= 8 else "blindspot"


def _progress(progress: Progress, total: int) -> tuple[Callable[[int, int], None] | None, Any]:
    if callable(progress):
        return progress, None
    if not progress:
        return None, None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="s", desc="adapt")

    def update(done: int, _total: int) -> None:
        bar.update(max(0, done - bar.n))

    return update, bar


def _base_name(model: str | os.PathLike | torch.nn.Module) -> str:
    return base_name(model)  # the file name only: folders may name patients


def adapt(
    images: ImageLike | Sequence[ImageLike],
    model: str | os.PathLike | torch.nn.Module = AUTO_MODEL,
    *,
    minutes: float = 3.0,
    method: str = "auto",
    noise_level: float | None = None,
    device: str | torch.device | None = None,
    progress: Progress = False,
    rng: int = 0,
    should_stop: Callable[[], bool] | None = None,
) -> torch.nn.Module:
    """Fine-tune a copy of a model on noisy images alone (self-supervised).

    The noise of the given images is measured (its spatial correlation and its
    dependence on the signal: ``transforms.noise_covariance.measure_noise_model``),
    and a copy of ``model`` is trained for at most ``minutes`` of wall-clock
    time on pairs made from the images themselves (``method``). Square tiles
    spread over the object on evenly spaced slices, and a few in its background,
    are held out: the network's error against the unseen clean image is estimated
    there (Stein's unbiased risk estimate with the measured noise) at regular
    intervals, the weights with the best estimate on the object that leave the
    background no worse are kept, and training stops early once the estimate
    stops improving. The base model's own weights are returned
    (``metadata["adaptation"]["kept"] == "base"``, with the reason) when
    nothing beats them surely enough, when an estimate is impossible
    (negative, or far below the noise), or when the level estimate and the
    noise model measured on structure-free blocks disagree by more than
    :data:`NOISE_AGREEMENT`: then neither can be trusted to make training pairs
    or to judge them. The noise model's variance is always rescaled to the level
    ``denoise`` feeds the network, and it depends on the signal only where flat
    blocks at several intensities show it. The weights are also pulled toward
    the base model's (L2-SP), so that a short, noisy run cannot drift far from
    what the model already does well.

    Parameters
    ----------
    images : ndarray, Volume or list of them
        Noisy 2D (H, W) or 3D (D, H, W) images in their own units; slices of at
        least 48x48 pixels. Never modified.
    model : str, path or torch.nn.Module
        The starting point: ``"auto"`` (the shipped network ``denoise`` picks for the
        first image's measured noise: ``"white"`` or ``"correlated"``), a shipped network
        by name, a checkpoint or a loaded network. The adapted network is run as a named
        model: on a magnitude image, denoise with ``rician=True``.
    minutes : float
        Wall-clock budget, measuring and validating included.
    method : {"auto", "recorrupt", "blindspot"}
        The self-supervised objective; ``"auto"`` picks one from the measured
        noise (:func:`choose_method`). See ``docs/internals.md``.
    noise_level : float, optional
        Noise std in the images' units, if known; pass the same value to
        :func:`~medidenoise.denoise` with the adapted model. Estimated when
        omitted (and ``denoise`` estimates it the same way).
    device : str, optional
        ``"cpu"``, ``"cuda"``...; default CUDA when present.
    progress : bool or callable
        ``True`` shows a progress bar; a callable gets ``(seconds done, budget seconds)``.
    rng : int
        Seed: the same inputs and seed draw the same patches.
    should_stop : callable, optional
        Polled between steps; when it returns True the run ends with
        ``InterruptedError`` and nothing is returned.

    Returns
    -------
    torch.nn.Module
        The adapted network in eval mode, with ``.metadata`` (the base model's,
        plus an ``"adaptation"`` section: method, budget, base model, measured
        noise, a description of the data without identifiers, and the guard's
        decision: ``kept`` (``"adapted"`` or ``"base"``), ``reason`` (a sentence)
        and ``guard`` (its numbers)). ``denoise``
        accepts it and ``save_checkpoint(path, model)`` saves it.

    Raises
    ------
    InvalidImageError
        NaN/Inf, constant or noise-free images, slices too small to train on.
    ValueError
        A budget that is not a positive number of minutes, an unknown method.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noisy = np.clip(0.5 + rng.normal(0, 0.05, (128, 128)), 0, 1).astype(np.float32)
    >>> adapted = adapt(noisy, minutes=0.05)
    >>> adapted.metadata["adaptation"]["method"]  # 16 flat blocks measured: enough
    'recorrupt'
    """
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)):
        raise ValueError(f"minutes must be a number, got {minutes!r}")
    if not (math.isfinite(minutes) and minutes > 0):
        raise ValueError(f"minutes must be a positive, finite budget, got {minutes}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    noise_level = check_noise_level(noise_level, zero="adapt needs noise to learn from")
    started = time.monotonic()
    deadline = started + 60.0 * float(minutes)
    dev = pick_device(device)
    model = _route(model, images)
    base = _load(model)
    contract = contract_of(base)
    multiple, context = contract.size_multiple, contract.context_slices
    prepared = [_prepare(im, i, noise_level, multiple) for i, im in enumerate(_as_list(images))]
    chosen = method if method != "auto" else choose_method(prepared[0].noise)
    log.info("adapting with %s (measured noise: %s)", chosen, prepared[0].noise.describe())
    run = Run(base, prepared, chosen, context, multiple, dev, rng)
    report, bar = _progress(progress, round(60 * minutes))
    try:
        result = run.fit(deadline, started, report, should_stop)
    finally:
        if bar is not None:
            bar.close()
    meta = dict(getattr(base, "metadata", {}) or {})
    meta["name"] = f"{meta.get('name') or meta.get('config_name') or 'model'}-adapted"
    meta["adaptation"] = {
        "method": chosen,
        "method_asked": method,
        "budget_minutes": float(minutes),
        "seconds": round(time.monotonic() - started, 1),
        "base_model": _base_name(model),
        "base_description": (getattr(base, "metadata", {}) or {}).get("description"),
        "images": [p.describe for p in prepared],
        "noise_level_given": noise_level,
        "seed": int(rng),
        **result,
    }
    adapted = run.net.eval()
    adapted.metadata = meta  # type: ignore[assignment]
    return adapted


def _route(
    model: str | os.PathLike | torch.nn.Module, images: ImageLike | Sequence[ImageLike]
) -> str | os.PathLike | torch.nn.Module:
    """``"auto"``: the shipped network that ``denoise(model="auto")`` picks for the first image."""
    if isinstance(model, torch.nn.Module) or os.fspath(model) != AUTO_MODEL:
        return model
    first = _as_list(images)[0]
    try:  # the very decision a Denoiser("auto") makes: prepare() on its own working copy
        arr, modality = as_array(first)
        padding = first.padding if isinstance(first, Volume) else None
        ready = prepare(float32_copy(arr), modality, None, padding, route=True)
    except (TypeError, ValueError, InvalidImageError):  # the checks that follow say what is wrong
        return AUTO_ROUTES[False]
    picked = AUTO_ROUTES[bool(ready.correlated)]
    log.info("auto: adapting %r, the model picked for the measured noise", picked)
    return picked


def _load(model: str | os.PathLike | torch.nn.Module) -> torch.nn.Module:
    if isinstance(model, torch.nn.Module):
        net = copy.deepcopy(model)
        net.metadata = copy.deepcopy(getattr(model, "metadata", {}) or {})  # type: ignore[assignment]
        return net
    name = os.fspath(model)
    if name in MODELS and not MODELS[name].adaptable:
        adaptable = ", ".join(repr(n) for n, e in MODELS.items() if e.adaptable)
        raise ValueError(
            f"model={name!r} is not a network, so there is nothing to fine-tune; adapt "
            f"one of {adaptable} or a .safetensors checkpoint"
        )
    try:
        return load_model(name)
    except CheckpointError:
        raise
    except OSError as exc:
        raise CheckpointError(f"{name}: cannot load the model to adapt: {exc}") from None
