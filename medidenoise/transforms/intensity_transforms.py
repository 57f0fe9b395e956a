"""MONAI wrappers of :func:`~medidenoise.transforms.normalize_intensity`."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, convert_data_type, convert_to_dst_type

from medidenoise.transforms.intensity import (
    NormalizationMethod,
    NormalizationParams,
    normalize_intensity,
)

__all__ = [
    "NormalizeIntensityRange",
    "NormalizeIntensityRangeD",
    "NormalizeIntensityRangeDict",
    "NormalizeIntensityRanged",
]


class NormalizeIntensityRange(Transform):
    """Map an image to network units with :func:`~medidenoise.transforms.normalize_intensity`.

    Not random, so no ``Rand`` prefix; named apart from MONAI's
    ``NormalizeIntensity`` (z-score) and ``ScaleIntensityRange`` (clips to a
    window and is not inverted exactly). The parameters of the last call are
    kept in ``params``; returns float32 of the input's own type.

    Parameters
    ----------
    modality, method, window, percentiles
        As in :func:`~medidenoise.transforms.normalize_intensity`.

    Examples
    --------
    >>> import numpy as np
    >>> t = NormalizeIntensityRange(modality="CT")
    >>> t(np.array([[[-1000.0, 1000.0]]], dtype=np.float32))
    array([[[0., 1.]]], dtype=float32)
    >>> t.params.method
    'window'
    """

    backend = [TransformBackends.NUMPY]  # noqa: RUF012 - MONAI's class attribute

    def __init__(
        self,
        modality: str | None = None,
        method: NormalizationMethod = "auto",
        window: tuple[float, float] | None = None,
        percentiles: tuple[float, float] = (0.5, 99.5),
    ) -> None:
        self.modality = modality
        self.method = method
        self.window = window
        self.percentiles = percentiles
        self.params: NormalizationParams | None = None
        # fail early on bad options rather than on the first image
        normalize_intensity(np.zeros(2, np.float32), **self._options(modality))

    def _options(self, modality: str | None) -> dict[str, Any]:
        return {
            "modality": modality,
            "method": self.method,
            "window": self.window,
            "percentiles": self.percentiles,
        }

    def normalize(
        self, img: NdarrayOrTensor, modality: str | None = None
    ) -> tuple[NdarrayOrTensor, NormalizationParams]:
        """Return the normalised ``img`` and its parameters."""
        arr = convert_data_type(img, np.ndarray)[0]
        norm, params = normalize_intensity(arr, **self._options(modality or self.modality))
        self.params = params
        return convert_to_dst_type(norm, img, dtype=np.float32)[0], params

    def __call__(self, img: NdarrayOrTensor, modality: str | None = None) -> NdarrayOrTensor:
        """Normalise ``img``; ``modality`` overrides the one given at construction."""
        return self.normalize(img, modality)[0]


class NormalizeIntensityRanged(MapTransform):
    """Dictionary version of :class:`NormalizeIntensityRange`.

    Each key is normalised with its own parameters, written (as
    :meth:`NormalizationParams.to_dict`, JSON-safe) under
    ``f"{key}_{params_postfix}"`` so they can be inverted later. With
    ``modality_key`` the modality is read from the dictionary per sample.

    Examples
    --------
    >>> import numpy as np
    >>> t = NormalizeIntensityRanged("image", modality_key="modality")
    >>> out = t({"image": np.array([[[-1000.0, 0.0]]]), "modality": "CT"})
    >>> out["image_norm"]
    {'low': -1000.0, 'high': 1000.0, 'method': 'window'}
    """

    backend = NormalizeIntensityRange.backend

    def __init__(
        self,
        keys: KeysCollection,
        modality: str | None = None,
        method: NormalizationMethod = "auto",
        window: tuple[float, float] | None = None,
        percentiles: tuple[float, float] = (0.5, 99.5),
        modality_key: str | None = None,
        params_postfix: str = "norm",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.normalizer = NormalizeIntensityRange(modality, method, window, percentiles)
        self.modality_key = modality_key
        self.params_postfix = params_postfix

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        """Return a new dictionary with each key normalised and its parameters recorded."""
        d = dict(data)
        modality = d.get(self.modality_key) if self.modality_key is not None else None
        for key in self.key_iterator(d):
            d[key], params = self.normalizer.normalize(d[key], modality=modality)
            d[f"{key}_{self.params_postfix}"] = params.to_dict()
        return d


NormalizeIntensityRangeD = NormalizeIntensityRangeDict = NormalizeIntensityRanged
