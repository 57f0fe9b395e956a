"""napari-medidenoise: the napari plugin of medidenoise.

Contributions (reader, writers, widgets, sample data) are declared in
``napari.yaml``; this module only re-exports the public pieces.
"""

from napari_medidenoise._reader import napari_get_reader
from napari_medidenoise._state import DenoiseSettings, NoiseSettings
from napari_medidenoise._workers import (
    DenoiseJob,
    Progress,
    VolumeResult,
    denoise_slice,
    denoise_volume_steps,
)

__version__ = "0.1.0"

__all__ = [
    "DenoiseJob",
    "DenoiseSettings",
    "NoiseSettings",
    "Progress",
    "VolumeResult",
    "__version__",
    "denoise_slice",
    "denoise_volume_steps",
    "napari_get_reader",
]
