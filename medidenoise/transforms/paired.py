"""The training transform: a clean image becomes a (noisy, clean, noise level) sample."""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, RandomizableTransform
from monai.utils import convert_data_type, convert_to_dst_type

from medidenoise.transforms._checks import check_number
from medidenoise.transforms.noise_array import LevelsArg, RandAddNoise, WeightsArg

__all__ = ["RandNoisyPairD", "RandNoisyPairDict", "RandNoisyPaird"]


class RandNoisyPaird(RandomizableTransform, MapTransform):
    """Make a supervised denoising sample from a clean image.

    Turns ``{keys: clean}`` into a dictionary with

    ``keys``
        the noisy image (float32, same type and shape as the clean one);
    ``label_key``
        the clean image as float32;
    ``noise_key``
        ``numpy.float32`` std of ``noisy - clean`` over the whole array, in the
        image's units: the value of the noise-level input channel;
    ``kind_key``
        the noise kind drawn (``"none"`` when the ``prob`` draw said no);
    ``param_key``
        the level drawn for that kind (sigma, amount or photons) as
        ``numpy.float32``, 0 when no noise was added.

    Other entries pass through. ``kind_key`` / ``param_key`` set to ``None``
    leave those entries out. Works on channel-first arrays ((C, H, W) or
    (C, D, H, W)), numpy or torch, and reproducibly with
    ``Compose(...).set_random_state(seed)``.

    Parameters
    ----------
    keys : str
        Key of the clean image (exactly one).
    label_key, noise_key : str, optional
        Keys written for the clean image and the measured noise std.
    kinds, levels, weights, channel_wise
        As in :class:`~medidenoise.transforms.RandAddNoise`; levels are in the
        image's units (the defaults suit images normalised to [0, 1]).
    prob : float, optional
        Probability of adding noise; otherwise the noisy image equals the clean one.
    kind_key, param_key : str or None, optional
        Keys written for the kind and level drawn.
    log_levels : collection of str, optional
        Kinds whose level is drawn log-uniformly (see ``RandAddNoise``).
    allow_missing_keys : bool, optional
        Return the dictionary unchanged when ``keys`` is absent.

    Examples
    --------
    >>> import numpy as np
    >>> t = RandNoisyPaird(kinds=("gaussian", "poisson"),
    ...                    levels={"gaussian": (0.05, 0.1), "poisson": (50, 200)})
    >>> _ = t.set_random_state(seed=0)
    >>> out = t({"image": np.full((1, 64, 64), 0.5, dtype=np.float32)})
    >>> sorted(out)
    ['image', 'label', 'noise_kind', 'noise_level', 'noise_param']
    >>> bool(out["noise_level"] > 0), out["noise_level"].dtype
    (True, dtype('float32'))
    """

    backend = RandAddNoise.backend

    def __init__(
        self,
        keys: KeysCollection = "image",
        label_key: str = "label",
        noise_key: str = "noise_level",
        kinds: str | Sequence[str] = "gaussian",
        levels: LevelsArg = None,
        weights: WeightsArg = None,
        prob: float = 1.0,
        channel_wise: bool = False,
        kind_key: str | None = "noise_kind",
        param_key: str | None = "noise_param",
        log_levels: Collection[str] = (),
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        if len(self.keys) != 1:
            raise ValueError(
                f"keys must name exactly one image (the clean input), got {self.keys!r}; "
                "use one RandNoisyPaird per image"
            )
        written = [k for k in (label_key, noise_key, kind_key, param_key) if k is not None]
        if len(set(written)) != len(written) or self.keys[0] in written:
            raise ValueError(
                f"keys, label_key, noise_key, kind_key and param_key must all differ, got "
                f"{self.keys[0]!r}, {label_key!r}, {noise_key!r}, {kind_key!r}, {param_key!r}"
            )
        check_number("prob", prob, low=0.0, high=1.0)
        RandomizableTransform.__init__(self, prob)
        self.label_key = label_key
        self.noise_key = noise_key
        self.kind_key = kind_key
        self.param_key = param_key
        self.noiser = RandAddNoise(
            kinds, levels, weights, prob=1.0, channel_wise=channel_wise, log_levels=log_levels
        )

    def set_random_state(
        self, seed: int | None = None, state: np.random.RandomState | None = None
    ) -> RandNoisyPaird:
        """Seed this transform and the array transform it holds."""
        super().set_random_state(seed, state)
        self.noiser.set_random_state(seed, state)
        return self

    def randomize(self, data: Any = None) -> None:
        """Draw whether to act, then (if so) the kind, level and seed."""
        super().randomize(None)
        if self._do_transform:
            self.noiser.randomize(None)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, Any]:
        """Return a new dictionary holding the noisy image, the clean one and the noise level."""
        d: dict[Hashable, Any] = dict(data)
        self.randomize(None)
        for key in self.key_iterator(d):
            img = d[key]
            clean = convert_data_type(img, np.ndarray, dtype=np.float32)[0]
            noisy: np.ndarray
            if self._do_transform:
                noisy = self.noiser(clean, randomize=False)  # type: ignore[assignment]
                sigma = float(np.std(noisy - clean, dtype=np.float64))
                kind, level = self.noiser.kind, self.noiser.level
            else:
                noisy, sigma, kind, level = clean.copy(), 0.0, "none", 0.0
            d[self.label_key] = convert_to_dst_type(clean, img, dtype=np.float32)[0]
            d[key] = convert_to_dst_type(noisy, img, dtype=np.float32)[0]
            d[self.noise_key] = np.float32(sigma)
            if self.kind_key is not None:
                d[self.kind_key] = kind
            if self.param_key is not None:
                d[self.param_key] = np.float32(level)
        return d


RandNoisyPairD = RandNoisyPairDict = RandNoisyPaird
