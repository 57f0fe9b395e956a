"""What the user chose in the widgets, apart from the widgets themselves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import medidenoise as md
from napari_medidenoise._workers import DenoiseJob

__all__ = ["MODEL_CHOICES", "DenoiseSettings", "NoiseSettings", "available_devices"]

ModelChoice = Literal["auto", "white", "correlated", "default", "checkpoint", "nlm"]
#: the model choices offered by the Denoise widget, with their labels
MODEL_CHOICES: dict[str, str] = {
    "auto": "auto: picks the shipped model by the measured noise",
    "white": "white noise (shipped; auto's pick for it)",
    "correlated": "correlated noise: CT, interpolated MR (shipped)",
    "default": "default (the first shipped model)",
    "checkpoint": "checkpoint file...",
    "nlm": "non-local means (classical)",
}


def available_devices() -> list[str]:
    """``["cpu"]``, plus ``"cuda"`` when PyTorch sees a CUDA device."""
    import torch

    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


@dataclass
class DenoiseSettings:
    """The choices of the Denoise widget.

    Attributes
    ----------
    model : {"auto", "white", "correlated", "default", "checkpoint", "nlm"}
        ``"auto"``: the shipped model for white noise (``"white"``) or the one tuned for
        correlated noise, picked by the volume's measured noise, with the Rician bias
        removed from what it takes for a magnitude image; either network by name, the
        first shipped model (``"default"``), a checkpoint file, or non-local means.
    checkpoint : pathlib.Path or None
        The checkpoint file when ``model == "checkpoint"``.
    auto_noise : bool
        Let the Denoiser estimate the noise level (on the whole volume, with hot
        pixels and DICOM padding kept out) instead of using ``noise_level``.
    noise_level : float
        Noise standard deviation in the image's units, used when not automatic.
    device : str
        ``"cpu"`` or ``"cuda"``.
    removed_noise : bool
        Also add a layer with the removed noise (input - denoised): hidden, on top,
        in a diverging colormap centred on 0.
    self_ensemble : bool
        Average the network over the 8 flips/rotations of each slice (the
        self-ensemble of ``medidenoise.Denoiser``; networks only).
    rician : bool
        Magnitude MR: remove the Rician bias of dark regions (``Denoiser(rician=True)``).
    """

    model: ModelChoice = "auto"
    checkpoint: Path | None = None
    auto_noise: bool = True
    noise_level: float = 0.0
    device: str = "cpu"
    removed_noise: bool = True
    self_ensemble: bool = False
    rician: bool = False

    def job(self) -> DenoiseJob:
        """The denoising request these settings describe.

        Raises
        ------
        ValueError
            When a checkpoint is asked for but no existing file is chosen, or
            the manual noise level is negative.
        """
        if self.model == "checkpoint":
            if self.checkpoint is None or not Path(self.checkpoint).is_file():
                raise ValueError(
                    f"checkpoint file {self.checkpoint} not found; choose a .safetensors "
                    "checkpoint (or an .onnx export) or pick the default model"
                )
            model = str(self.checkpoint)
        else:
            model = self.model
        # the library's one check of the options (a ValueError naming the option)
        level = md.DenoiseOptions(noise_level=None if self.auto_noise else self.noise_level)
        return DenoiseJob(
            model=model,
            noise_level=level.noise_level,
            device=self.device,
            self_ensemble=self.self_ensemble,
            rician=self.rician,
        )


@dataclass
class NoiseSettings:
    """The choices of the Add-noise widget: kind (in ``medidenoise.NOISE_KINDS``), level, seed."""

    kind: str = "gaussian"
    level: float = 0.05
    seed: int = 0
