"""Denoising as MONAI transforms, for ``Compose`` pipelines of MetaTensors and dictionaries.

``Denoise`` wraps a :class:`~medidenoise.inference.Denoiser` as an array
transform; ``Denoised`` (aliases ``DenoiseD``, ``DenoiseDict``) applies it to
keys of a data dictionary, as MONAI's dictionary transforms do. Both take what
:func:`~medidenoise.denoise` takes (MetaTensor, ndarray, Volume) and return the
same kind; a MetaTensor keeps its metadata and affine, and its slice axis comes
from the affine unless ``slice_axis`` is given.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends

from medidenoise.inference.denoiser import Denoiser, ModelLike
from medidenoise.inference.options import DenoiseOptions

__all__ = ["Denoise", "DenoiseD", "DenoiseDict", "Denoised"]


class Denoise(Transform):
    """Denoise an image with a model bound once (see :func:`medidenoise.denoise`).

    Parameters
    ----------
    model : str, path or torch.nn.Module
        As for :func:`medidenoise.denoise` (``"auto"``, ``"default"``, ``"correlated"``,
        ``"cae-baseline"``, a checkpoint, a network, ``"identity"`` or a classical method).
    noise_level : float, optional
        Noise std in image units; estimated per image when omitted.
    device : str, optional
        ``"cpu"``, ``"cuda"``...; default CUDA when present.
    batch_size : int, optional
        Slices per forward pass.
    self_ensemble : bool
        Average over the eight flips/rotations of each slice (the self-ensemble:
        see :class:`~medidenoise.Denoiser`).
    slice_axis : int, optional
        The axis the slices lie across (see :func:`medidenoise.denoise`).
    rician : bool
        Magnitude images with Rician noise: remove its bias (see :class:`~medidenoise.Denoiser`).
    options : DenoiseOptions, optional
        ``noise_level``, ``batch_size``, ``self_ensemble``, ``rician`` (and ``tile_size``,
        ``precision``) as one object, instead of those keywords.

    Examples
    --------
    >>> import numpy as np
    >>> Denoise("identity")(np.zeros((4, 8, 8), np.float32)).shape
    (4, 8, 8)
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]  # noqa: RUF012 - MONAI's class attribute

    def __init__(
        self,
        model: ModelLike = "auto",
        *,
        noise_level: float | None = None,
        device: str | torch.device | None = None,
        batch_size: int | None = None,
        self_ensemble: bool = False,
        slice_axis: int | None = None,
        rician: bool = False,
        options: DenoiseOptions | None = None,
    ) -> None:
        opts = DenoiseOptions.of(
            options, noise_level=noise_level, batch_size=batch_size, self_ensemble=self_ensemble,
            rician=rician,
        )  # fmt: skip
        self.denoiser = Denoiser(model, device=device, options=opts)
        self.slice_axis = slice_axis

    @property
    def noise_level(self) -> float | None:
        """The noise level every image is denoised with (``None``: estimated per image)."""
        return self.denoiser.options.noise_level

    def __call__(self, img: Any) -> Any:
        """The denoised image, of the same kind and shape as ``img``."""
        return self.denoiser(img, slice_axis=self.slice_axis)


class Denoised(MapTransform):
    """Dictionary version of :class:`Denoise`: denoise ``data[key]`` for each key.

    Parameters
    ----------
    keys : str or sequence of str
        The keys to denoise.
    model, noise_level, device, batch_size, self_ensemble, slice_axis, rician, options
        As for :class:`Denoise`.
    allow_missing_keys : bool
        Skip keys that are absent instead of raising ``KeyError``.

    Examples
    --------
    >>> import numpy as np
    >>> out = Denoised(keys="image", model="identity")({"image": np.ones((2, 8, 8))})
    >>> out["image"].dtype
    dtype('float32')
    """

    backend = Denoise.backend

    def __init__(
        self,
        keys: KeysCollection,
        model: ModelLike = "auto",
        *,
        noise_level: float | None = None,
        device: str | torch.device | None = None,
        batch_size: int | None = None,
        self_ensemble: bool = False,
        slice_axis: int | None = None,
        rician: bool = False,
        allow_missing_keys: bool = False,
        options: DenoiseOptions | None = None,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        opts = DenoiseOptions.of(
            options, noise_level=noise_level, batch_size=batch_size, self_ensemble=self_ensemble,
            rician=rician,
        )  # fmt: skip
        self.denoise = Denoise(model, device=device, slice_axis=slice_axis, options=opts)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        """A copy of ``data`` with each key's image denoised (the input is not modified)."""
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.denoise(d[key])
        return d


DenoiseD = DenoiseDict = Denoised
