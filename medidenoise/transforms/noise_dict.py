"""MONAI dictionary transforms wrapping :mod:`.noise_array`."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, RandomizableTransform

from medidenoise.transforms._checks import check_number
from medidenoise.transforms.noise import DEFAULT_LEVELS
from medidenoise.transforms.noise_array import (
    LevelRange,
    LevelsArg,
    RandAddNoise,
    WeightsArg,
    as_float32_like,
)

__all__ = [
    "RandAddCorrelatedNoiseD",
    "RandAddCorrelatedNoiseDict",
    "RandAddCorrelatedNoised",
    "RandAddGaussianNoiseD",
    "RandAddGaussianNoiseDict",
    "RandAddGaussianNoised",
    "RandAddNoiseD",
    "RandAddNoiseDict",
    "RandAddNoised",
    "RandAddPoissonGaussianNoiseD",
    "RandAddPoissonGaussianNoiseDict",
    "RandAddPoissonGaussianNoised",
    "RandAddPoissonNoiseD",
    "RandAddPoissonNoiseDict",
    "RandAddPoissonNoised",
    "RandAddRicianNoiseD",
    "RandAddRicianNoiseDict",
    "RandAddRicianNoised",
    "RandAddSaltAndPepperNoiseD",
    "RandAddSaltAndPepperNoiseDict",
    "RandAddSaltAndPepperNoised",
    "RandAddSpeckleNoiseD",
    "RandAddSpeckleNoiseDict",
    "RandAddSpeckleNoised",
]


class RandAddNoised(RandomizableTransform, MapTransform):
    """Dictionary version of :class:`~medidenoise.transforms.RandAddNoise`.

    One kind, level and noise seed are drawn per call and used for every key,
    so keys of the same shape receive the same noise (as in MONAI's
    ``RandGaussianNoised``). Values keep their type (numpy or torch) and
    become float32.

    Parameters
    ----------
    keys : str or sequence of str
        Keys of the images to add noise to.
    kinds, levels, weights, channel_wise
        As in :class:`~medidenoise.transforms.RandAddNoise`.
    prob : float, optional
        Probability of adding noise at all.
    allow_missing_keys : bool, optional
        Skip keys that are absent instead of raising ``KeyError``.

    Examples
    --------
    >>> import numpy as np
    >>> t = RandAddNoised("image", kinds="rician", levels=(0.02, 0.05))
    >>> _ = t.set_random_state(seed=0)
    >>> out = t({"image": np.zeros((1, 16, 16), dtype=np.float32)})
    >>> bool(out["image"].min() >= 0)
    True
    """

    backend = RandAddNoise.backend

    def __init__(
        self,
        keys: KeysCollection,
        kinds: str | Sequence[str] = "gaussian",
        levels: LevelsArg = None,
        weights: WeightsArg = None,
        prob: float = 1.0,
        channel_wise: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        check_number("prob", prob, low=0.0, high=1.0)
        RandomizableTransform.__init__(self, prob)
        self.noiser = RandAddNoise(kinds, levels, weights, prob=1.0, channel_wise=channel_wise)

    def set_random_state(
        self, seed: int | None = None, state: np.random.RandomState | None = None
    ) -> RandAddNoised:
        """Seed this transform and the array transform it holds."""
        super().set_random_state(seed, state)
        self.noiser.set_random_state(seed, state)
        return self

    def randomize(self, data: Any = None) -> None:
        """Draw whether to act, then (if so) the kind, level and seed."""
        super().randomize(None)
        if self._do_transform:
            self.noiser.randomize(None)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        """Return a new dictionary with noise added to each key."""
        d = dict(data)
        self.randomize(None)
        for key in self.key_iterator(d):
            if self._do_transform:
                d[key] = self.noiser(d[key], randomize=False)
            else:
                d[key] = as_float32_like(d[key])
        return d


class RandAddGaussianNoised(RandAddNoised):
    """Dictionary version of :class:`~medidenoise.transforms.RandAddGaussianNoise`."""

    def __init__(
        self,
        keys: KeysCollection,
        sigma: LevelRange = DEFAULT_LEVELS["gaussian"],
        prob: float = 1.0,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, "gaussian", sigma, prob=prob, allow_missing_keys=allow_missing_keys)


class RandAddSaltAndPepperNoised(RandAddNoised):
    """Dictionary version of :class:`~medidenoise.transforms.RandAddSaltAndPepperNoise`."""

    def __init__(
        self,
        keys: KeysCollection,
        amount: LevelRange = DEFAULT_LEVELS["salt_and_pepper"],
        prob: float = 1.0,
        channel_wise: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(
            keys,
            "salt_and_pepper",
            amount,
            prob=prob,
            channel_wise=channel_wise,
            allow_missing_keys=allow_missing_keys,
        )


class RandAddPoissonNoised(RandAddNoised):
    """Dictionary version of :class:`~medidenoise.transforms.RandAddPoissonNoise`."""

    def __init__(
        self,
        keys: KeysCollection,
        photons: LevelRange = DEFAULT_LEVELS["poisson"],
        prob: float = 1.0,
        channel_wise: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(
            keys,
            "poisson",
            photons,
            prob=prob,
            channel_wise=channel_wise,
            allow_missing_keys=allow_missing_keys,
        )


class RandAddRicianNoised(RandAddNoised):
    """Dictionary version of :class:`~medidenoise.transforms.RandAddRicianNoise`."""

    def __init__(
        self,
        keys: KeysCollection,
        sigma: LevelRange = DEFAULT_LEVELS["rician"],
        prob: float = 1.0,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, "rician", sigma, prob=prob, allow_missing_keys=allow_missing_keys)


class RandAddSpeckleNoised(RandAddNoised):
    """Dictionary version of :class:`~medidenoise.transforms.RandAddSpeckleNoise`."""

    def __init__(
        self,
        keys: KeysCollection,
        sigma: LevelRange = DEFAULT_LEVELS["speckle"],
        prob: float = 1.0,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, "speckle", sigma, prob=prob, allow_missing_keys=allow_missing_keys)


class RandAddCorrelatedNoised(RandAddNoised):
    """Dictionary version of :class:`~medidenoise.transforms.RandAddCorrelatedNoise`."""

    def __init__(
        self,
        keys: KeysCollection,
        sigma: LevelRange = DEFAULT_LEVELS["correlated"],
        prob: float = 1.0,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(
            keys, "correlated", sigma, prob=prob, allow_missing_keys=allow_missing_keys
        )


class RandAddPoissonGaussianNoised(RandAddNoised):
    """Dictionary version of :class:`~medidenoise.transforms.RandAddPoissonGaussianNoise`."""

    def __init__(
        self,
        keys: KeysCollection,
        sigma: LevelRange = DEFAULT_LEVELS["poisson_gaussian"],
        prob: float = 1.0,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(
            keys, "poisson_gaussian", sigma, prob=prob, allow_missing_keys=allow_missing_keys
        )


RandAddNoiseD = RandAddNoiseDict = RandAddNoised
RandAddCorrelatedNoiseD = RandAddCorrelatedNoiseDict = RandAddCorrelatedNoised
RandAddPoissonGaussianNoiseD = RandAddPoissonGaussianNoiseDict = RandAddPoissonGaussianNoised
RandAddGaussianNoiseD = RandAddGaussianNoiseDict = RandAddGaussianNoised
RandAddSaltAndPepperNoiseD = RandAddSaltAndPepperNoiseDict = RandAddSaltAndPepperNoised
RandAddPoissonNoiseD = RandAddPoissonNoiseDict = RandAddPoissonNoised
RandAddRicianNoiseD = RandAddRicianNoiseDict = RandAddRicianNoised
RandAddSpeckleNoiseD = RandAddSpeckleNoiseDict = RandAddSpeckleNoised
