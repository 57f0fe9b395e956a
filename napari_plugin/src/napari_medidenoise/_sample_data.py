"""Sample data from packages that ship images (nothing is downloaded)."""

from __future__ import annotations

import numpy as np

import medidenoise as md
from napari_medidenoise._layers import LayerTuple, layer_tuple

__all__ = ["noisy_mri", "noisy_radiograph"]

_INSTALL_HINT = 'install the sample images with: pip install "napari-medidenoise[data]"'
# MRI: 16 axial slices around the middle of the template, Rician noise at 5 % of the maximum
_MRI_SLICES = 16
_MRI_NOISE = 0.05
# radiograph: 4x4 block mean of RG1_UNCR, Poisson noise with 300 photons at the maximum
_XRAY_FACTOR = 4
_XRAY_PHOTONS = 300.0


def _mni_slab() -> md.Volume:
    try:
        volume = md.load_mni152(orientation="axial")  # anterior up on screen
    except ImportError as exc:
        raise ImportError(f"the MRI sample needs nilearn; {_INSTALL_HINT}") from exc
    first = volume.shape[0] // 2 - _MRI_SLICES // 2
    slab = np.ascontiguousarray(volume.array[first : first + _MRI_SLICES])
    shift = np.eye(4)
    shift[0, 3] = first  # slab slice 0 is the volume's slice `first`
    return md.Volume(slab, spacing=volume.spacing, affine=volume.affine @ shift, modality="MR")


def noisy_mri() -> list[LayerTuple]:
    """A slab of the MNI152 T1 template with Rician noise, and the clean slab (hidden)."""
    clean = _mni_slab()
    level = _MRI_NOISE * float(clean.array.max())
    noisy = md.add_noise(clean.array, "rician", level, rng=0)
    return [
        layer_tuple(clean, "MNI152 T1 clean", visible=False),
        layer_tuple(clean.with_array(noisy), "MNI152 T1 noisy"),
    ]


def _block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    h, w = (s - s % factor for s in image.shape)
    blocks = image[:h, :w].reshape(h // factor, factor, w // factor, factor)
    return blocks.mean(axis=(1, 3), dtype=np.float64).astype(np.float32)


def noisy_radiograph() -> list[LayerTuple]:
    """pydicom-data's RG1_UNCR chest radiograph, downsampled 4x, with Poisson noise."""
    from pydicom.data import get_testdata_file

    try:
        path = get_testdata_file("RG1_UNCR.dcm", download=False)
    except (OSError, ValueError) as exc:
        raise ImportError(f"the radiograph sample needs pydicom-data; {_INSTALL_HINT}") from exc
    if path is None:
        raise ImportError(f"RG1_UNCR not found: the radiograph sample needs pydicom-data; "
                          f"{_INSTALL_HINT}")  # fmt: skip
    full = md.read_volume(path)
    small = _block_mean(full.array[0], _XRAY_FACTOR)
    dz, dy, dx = full.spacing
    affine = np.array(full.affine, dtype=np.float64)
    affine[:3, 1:3] *= _XRAY_FACTOR
    clean = md.Volume(
        small[np.newaxis], spacing=(dz, dy * _XRAY_FACTOR, dx * _XRAY_FACTOR), affine=affine,
        modality=full.modality, photometric=full.photometric,
    )  # fmt: skip
    noisy = md.add_noise(clean.array, "poisson", _XRAY_PHOTONS, rng=0)
    return [layer_tuple(clean.with_array(noisy), "RG1_UNCR noisy")]
