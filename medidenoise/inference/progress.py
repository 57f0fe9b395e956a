"""What a denoising run reports: its progress as it goes, and the noise level it used."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["DenoiseProgress", "DenoiseResult", "LegacyProgress", "Progress"]

T = TypeVar("T")

#: the ``progress=`` of ``denoise``/``Denoiser.__call__``: a tqdm bar (True) or ``fn(done, total)``
Progress = bool | Callable[[int, int], None]


@dataclass(frozen=True)
class DenoiseProgress:
    """``done`` of ``total`` slices denoised, with the noise level in use.

    Attributes
    ----------
    done : int
        Slices finished; the first report has ``done == 0`` and comes as soon as
        the noise level is known, before the network runs.
    total : int
        Slices in the run.
    noise_level : float or None
        Noise standard deviation in the image's units that the model is fed
        (``None`` for ``"identity"``, which uses none).
    """

    done: int
    total: int
    noise_level: float | None


@dataclass(frozen=True)
class DenoiseResult(Generic[T]):
    """A denoised image and how it was made.

    Attributes
    ----------
    image : Volume, numpy.ndarray or torch.Tensor
        The result, the same kind as the input (one (H, W) slice for
        :meth:`Denoiser.denoise_slice`).
    noise_level : float or None
        The noise standard deviation (image units) the model was fed: the
        caller's, or the Denoiser's own estimate (``None`` for ``"identity"``).
        Passing it back as ``noise_level=`` gives the same result.
    model : str
        The model's label (:attr:`Denoiser.name`; ``"auto"`` names its pick:
        ``"auto: correlated"``).
    provenance : Provenance or None
        The whole record of the run (:class:`~medidenoise.inference.provenance.Provenance`):
        the model that ran and its weights' hash, the noise level in image units and
        whether it was estimated, the Rician step where it was applied, self-ensemble,
        tiling, version. Reports, state files and DICOM/NIfTI outputs write this record.
    """

    image: T
    noise_level: float | None
    model: str
    provenance: Any = None


class LegacyProgress:
    """Turns :class:`DenoiseProgress` reports into a ``fn(done, total)`` call or a tqdm bar.

    ``fn`` is not called for the opening ``done == 0`` report (callers of the
    ``(done, total)`` form get one call per finished batch); the bar opens then.
    """

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.bar: Any = None

    def __call__(self, report: DenoiseProgress) -> None:
        """Relay one report."""
        if callable(self.progress):
            if report.done > 0:
                self.progress(report.done, report.total)
            return
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=report.total, unit="slice", desc="denoise")
        self.bar.update(report.done - self.bar.n)

    def close(self) -> None:
        """Close the bar, if one was opened."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
