"""Compute behind the widgets, with no Qt: plain functions and generators.

The widgets run these in ``napari.qt.threading`` workers; tests call them
directly. Everything goes through the public ``medidenoise`` API, the same
code path as the command line.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace

import numpy as np

import medidenoise as md
from napari_medidenoise._relay import relay

log = logging.getLogger(__name__)

__all__ = [
    "DenoiseJob",
    "Progress",
    "SliceResult",
    "VolumeResult",
    "add_noise_to",
    "denoise_slice",
    "denoise_volume_steps",
]


@dataclass(frozen=True)
class DenoiseJob:
    """A resolved denoising request.

    Attributes
    ----------
    model : str
        ``"auto"``, ``"default"``, ``"correlated"``, a checkpoint path, an ``.onnx``
        export, ``"nlm"`` or ``"identity"``.
    noise_level : float or None
        Noise std in image units; ``None`` estimates it.
    device : str
        ``"cpu"`` or ``"cuda"``.
    batch_size : int or None
        Slices per forward pass (library default when ``None``).
    self_ensemble : bool
        Average the network over the 8 flips/rotations of each slice (the
        self-ensemble of ``medidenoise.Denoiser``; networks only).
    rician : bool
        Magnitude images with Rician noise: its bias removed (``Denoiser(rician=True)``).
    """

    model: str = "auto"
    noise_level: float | None = None
    device: str = "cpu"
    batch_size: int | None = None
    self_ensemble: bool = False
    rician: bool = False


#: an update of a volume run: ``done`` of ``total`` slices and the noise level in use
Progress = md.DenoiseProgress


@dataclass(frozen=True)
class SliceResult:
    """A denoised slice, the noise level the Denoiser used (``None``: the model takes none),
    the model that ran (``"auto"`` names its pick: ``"auto: correlated"``), the run's
    provenance record and the out-of-distribution warnings of the volume."""

    denoised: np.ndarray
    noise_level: float | None
    model: str
    provenance: md.Provenance | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class VolumeResult:
    """A denoised volume, the removed noise (input - denoised), the level the Denoiser used,
    the model that ran, the run's provenance record and its quality report (whose
    ``warnings`` are the out-of-distribution warnings)."""

    denoised: np.ndarray
    removed_noise: np.ndarray
    noise_level: float | None
    model: str
    provenance: md.Provenance | None = None
    quality: md.QualityReport | None = None


def _used(job: DenoiseJob, result: md.DenoiseResult) -> str:
    """What the layer records as its model: the job's choice (a checkpoint's path), or for
    ``"auto"`` the network it picked (``"auto: correlated"``)."""
    return result.model if job.model == "auto" else job.model


def _record(result: md.DenoiseResult, source: md.Volume | None) -> md.Provenance | None:
    """The run's provenance; a bare array carries no modality, so the source's is filled in
    (a CT's noise level is then reported in HU)."""
    record = result.provenance
    if record is None or source is None or record.modality or not source.modality:
        return record
    return replace(record, modality=source.modality)


def _as_source(data: np.ndarray, source: md.Volume | None) -> md.Volume | np.ndarray:
    """The input as the quality report and warnings see it: the layer's data with the header
    of the volume it was read from (modality, bit depth, compression), when shapes agree."""
    if source is None or source.array.size != data.size:
        return data
    return source.with_array(np.asarray(data, dtype=np.float32).reshape(source.array.shape))


def _quality(
    before: np.ndarray, after: np.ndarray, source: md.Volume | None, record: md.Provenance | None
) -> md.QualityReport | None:
    """``medidenoise.quality_report`` of a run; ``None`` (logged) where it cannot be measured:
    the denoised layer matters more than its figures."""
    original = _as_source(before, source)
    try:
        return md.quality_report(original, after.reshape(original.shape), provenance=record)
    except (md.MedidenoiseError, ValueError) as exc:
        log.warning("medidenoise: no quality report for this run: %s", exc)
        return None


def _denoiser(job: DenoiseJob) -> md.Denoiser:
    # the library keeps loaded models in its own cache: building a Denoiser per run is cheap
    return md.Denoiser(
        job.model,
        device=job.device,
        batch_size=job.batch_size,
        self_ensemble=job.self_ensemble,
        rician=job.rician,
    )


def denoise_slice(
    data: np.ndarray,
    index: int | None,
    job: DenoiseJob,
    *,
    axis: int = 0,
    source: md.Volume | None = None,
) -> SliceResult:
    """Denoise one slice of a 2D image or 3D volume, as the Preview button does.

    Parameters
    ----------
    data : numpy.ndarray
        (H, W) image or 3D volume in its own units.
    index : int or None
        The slice along ``axis`` (ignored for 2D data).
    job : DenoiseJob
        Model, noise level and device.
    axis : int
        The axis the slice is taken across.
    source : medidenoise.Volume, optional
        The volume the layer was read from: its modality and header go into the
        provenance and the out-of-distribution warnings.

    Returns
    -------
    SliceResult
        The denoised (H, W) slice, equal to that slice of the whole-volume
        result (``medidenoise.Denoiser.denoise_slice``), and the noise level used:
        an automatic level is the Denoiser's estimate for the whole volume. Its
        warnings are ``medidenoise.ood_warnings`` of the whole volume.
    """
    data = np.asarray(data)
    if data.ndim not in (2, 3):
        raise ValueError(f"need a 2D or 3D grayscale image, got shape {data.shape}")
    done = _denoiser(job).denoise_slice(
        data, index if data.ndim == 3 else None, axis=axis, noise_level=job.noise_level
    )
    record = _record(done, source)
    warnings = md.ood_warnings(_as_source(data, source), provenance=record)
    image = np.asarray(done.image, dtype=np.float32)
    return SliceResult(image, done.noise_level, _used(job, done), record, warnings)


def denoise_volume_steps(
    data: np.ndarray,
    job: DenoiseJob,
    *,
    cancel: threading.Event | None = None,
    source: md.Volume | None = None,
) -> Generator[Progress, None, VolumeResult | None]:
    """Denoise a whole volume, yielding the library's progress after each slice batch.

    The library call runs in a helper thread (:func:`~napari_medidenoise._relay.relay`);
    setting ``cancel`` stops it at the next batch boundary.

    Parameters
    ----------
    data : numpy.ndarray
        (D, H, W) volume or (H, W) image in its own units; never modified.
    job : DenoiseJob
        Model, noise level and device.
    cancel : threading.Event, optional
        Set it to stop; the generator then returns ``None``.
    source : medidenoise.Volume, optional
        The volume the layer was read from: its modality and header go into the
        provenance, the quality report and its warnings.

    Yields
    ------
    Progress
        Slices done so far (0 first, once the noise level is known), the total
        and the noise level the Denoiser uses.

    Returns
    -------
    VolumeResult or None
        The result with its provenance and ``medidenoise.quality_report`` (at most
        eight slices measured), or ``None`` when cancelled.
    """
    cancel = cancel if cancel is not None else threading.Event()
    array = np.asarray(data, dtype=np.float32)
    if cancel.is_set():
        return None

    def work(post: Callable[[Progress], None]) -> md.DenoiseResult:
        def report(progress: Progress) -> None:
            if cancel.is_set():  # also stops the classical methods between slices
                raise InterruptedError("denoising was cancelled")
            post(progress)

        return _denoiser(job).run(
            array, noise_level=job.noise_level, progress=report, should_stop=cancel.is_set
        )

    result = yield from relay(work, cancel=cancel, name="medidenoise-volume")
    if result is None:
        return None
    denoised = np.asarray(result.image, dtype=np.float32)
    record = _record(result, source)
    return VolumeResult(
        denoised, array - denoised, result.noise_level, _used(job, result), record,
        _quality(array, denoised, source, record),
    )  # fmt: skip


def add_noise_to(data: np.ndarray, kind: str, level: float, seed: int) -> np.ndarray:
    """``medidenoise.add_noise`` on a layer's data with a fixed seed (float32 out)."""
    if kind not in md.NOISE_KINDS:
        raise ValueError(f"noise kind {kind!r} is not one of {', '.join(md.NOISE_KINDS)}")
    image = np.asarray(data, dtype=np.float32)
    noisy = md.add_noise(image, kind, level, rng=seed)  # type: ignore[arg-type]  # checked above
    return np.asarray(noisy, dtype=np.float32)
