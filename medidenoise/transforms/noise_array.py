"""MONAI array transforms that add noise with the models of :mod:`.noise`.

Named ``RandAdd*Noise`` so they are not confused with MONAI's own
``RandGaussianNoise`` / ``RandRicianNoise``: MONAI's transforms draw the std
from ``[0, std]`` and return a ``MetaTensor``; ours draw the level from a
``(low, high)`` range, cover five noise models (optionally a weighted mixture,
one model per call), return the input's own type (numpy in, numpy out; torch
in, torch out) as float32, and call the same pure functions as
:func:`medidenoise.transforms.add_noise`, so a training pipeline and a script
produce the same noise.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
from monai.config import NdarrayOrTensor
from monai.transforms import RandomizableTransform
from monai.utils import TransformBackends, convert_data_type, convert_to_dst_type

from medidenoise.transforms._checks import check_number
from medidenoise.transforms.noise import (
    DEFAULT_LEVELS,
    NOISE_KINDS,
    NoiseKind,
    add_noise,
    check_noise_kind,
    check_noise_level,
)

__all__ = [
    "RandAddCorrelatedNoise",
    "RandAddGaussianNoise",
    "RandAddNoise",
    "RandAddPoissonGaussianNoise",
    "RandAddPoissonNoise",
    "RandAddRicianNoise",
    "RandAddSaltAndPepperNoise",
    "RandAddSpeckleNoise",
    "as_float32_like",
]

LevelRange = float | tuple[float, float]
#: ``levels`` argument: per-kind ranges, or one range when there is one kind
LevelsArg = Mapping[NoiseKind, LevelRange] | Mapping[str, LevelRange] | LevelRange | None
#: ``weights`` argument: per-kind weights, or one weight per entry of ``kinds``
WeightsArg = Mapping[NoiseKind, float] | Mapping[str, float] | Sequence[float] | None


_SEED_LIMIT = 2**31 - 1


def _level_range(kind: str, value: Any) -> tuple[float, float]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise ValueError(f"levels[{kind!r}] must be a number or (low, high), got {value!r}")
        lo = check_noise_level(kind, value[0], name=f"levels[{kind!r}][0]")
        hi = check_noise_level(kind, value[1], name=f"levels[{kind!r}][1]")
        if lo > hi:
            raise ValueError(f"levels[{kind!r}] must have low <= high, got {value!r}")
        return lo, hi
    v = check_noise_level(kind, value, name=f"levels[{kind!r}]")
    return v, v


def parse_noise_options(
    kinds: str | Sequence[str],
    levels: LevelsArg,
    weights: WeightsArg,
) -> tuple[tuple[str, ...], dict[str, tuple[float, float]], np.ndarray]:
    """Validate ``kinds``, ``levels`` and ``weights``; return them normalised.

    Shared by the array and dictionary transforms so both fail the same way.
    """
    names = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not names:
        raise ValueError(f"kinds must name at least one of {', '.join(NOISE_KINDS)}; got none")
    for k in names:
        check_noise_kind(k, name="kinds")
    if len(set(names)) != len(names):
        raise ValueError(f"kinds must not repeat a kind, got {names!r}")
    given: dict[str, Any]
    if levels is None:
        given = {}
    elif isinstance(levels, Mapping):
        given = {str(k): v for k, v in levels.items()}
        for k in given:
            if k not in names:
                raise ValueError(f"levels has a range for {k!r}, which is not in kinds {names!r}")
    elif len(names) == 1:
        given = {names[0]: levels}
    else:
        raise ValueError(
            f"levels must be a mapping kind -> (low, high) when several kinds are given, "
            f"got {levels!r}"
        )
    ranges = {k: _level_range(k, given.get(k, DEFAULT_LEVELS[k])) for k in names}
    if weights is None:
        w = np.ones(len(names))
    elif isinstance(weights, Mapping):
        by_kind: dict[str, Any] = {str(k): v for k, v in weights.items()}
        for k in by_kind:
            if k not in names:
                raise ValueError(f"weights has a weight for {k!r}, which is not in kinds {names!r}")
        w = np.array([check_number(f"weights[{k!r}]", by_kind.get(k, 0.0), low=0) for k in names])
    else:
        if len(weights) != len(names):
            raise ValueError(
                f"weights must have one entry per kind ({len(names)}), got {len(weights)}"
            )
        w = np.array([check_number(f"weights[{i}]", x, low=0) for i, x in enumerate(weights)])
    if w.sum() <= 0:
        raise ValueError(f"weights must not all be zero, got {weights!r}")
    return names, ranges, w / w.sum()


def as_float32_like(img: NdarrayOrTensor) -> NdarrayOrTensor:
    """Return ``img`` as float32 of its own type (numpy or torch); no copy if it already is."""
    return convert_to_dst_type(img, img, dtype=np.float32)[0]


class RandAddNoise(RandomizableTransform):
    """Add noise of a randomly chosen kind and level to a channel-first image.

    Each call picks one kind from ``kinds`` (with probabilities ``weights``)
    and a level uniformly from that kind's ``(low, high)`` range, then calls
    :func:`~medidenoise.transforms.add_noise`. All random draws (whether to
    act, the kind, the level, and the seed of the noise itself) come from
    ``self.R`` in :meth:`randomize`, so ``set_random_state`` makes the output
    reproducible. After a call, ``kind`` and ``level`` hold what was drawn
    (``None`` when the transform did not act).

    Parameters
    ----------
    kinds : str or sequence of str
        One or several of :data:`~medidenoise.transforms.NOISE_KINDS`.
    levels : mapping, float or (float, float), optional
        Level range per kind, e.g. ``{"gaussian": (0.01, 0.15), "poisson": (20, 500)}``
        (a single number fixes the level). With one kind, the range itself may be
        given. Missing kinds use :data:`DEFAULT_LEVELS` (meant for [0, 1] images).
        Levels are sigma, amount or photons as in ``add_noise``.
    weights : mapping or sequence of float, optional
        Relative probability of each kind; equal by default.
    prob : float, optional
        Probability of adding noise at all.
    channel_wise : bool, optional
        Apply the noise model to each channel separately (matters for the
        models that use the image range: salt-and-pepper and Poisson).
    log_levels : collection of str, optional
        Kinds whose level is drawn log-uniformly from its range (low > 0): as many
        draws between 0.0003 and 0.003 as between 0.03 and 0.3, where a uniform draw
        almost never reaches the low decade.

    Examples
    --------
    >>> import numpy as np
    >>> t = RandAddNoise(kinds=("gaussian", "poisson"), levels={"gaussian": (0.05, 0.1)})
    >>> _ = t.set_random_state(seed=0)
    >>> out = t(np.full((1, 32, 32), 0.5, dtype=np.float32))
    >>> out.shape, out.dtype, t.kind in ("gaussian", "poisson")
    ((1, 32, 32), dtype('float32'), True)
    """

    backend = [TransformBackends.NUMPY]  # noqa: RUF012 - MONAI's class attribute

    def __init__(
        self,
        kinds: str | Sequence[str] = "gaussian",
        levels: LevelsArg = None,
        weights: WeightsArg = None,
        prob: float = 1.0,
        channel_wise: bool = False,
        log_levels: Collection[str] = (),
    ) -> None:
        check_number("prob", prob, low=0.0, high=1.0)
        RandomizableTransform.__init__(self, prob)
        self.kinds, self.levels, self.weights = parse_noise_options(kinds, levels, weights)
        self.channel_wise = bool(channel_wise)
        self.log_levels = frozenset(log_levels)
        for kind in self.log_levels:
            if kind not in self.levels or self.levels[kind][0] <= 0:
                raise ValueError(
                    f"log_levels: {kind!r} needs a level range of its own with low > 0, "
                    f"got {self.levels.get(kind)}"
                )
        self.kind: str | None = None
        self.level: float | None = None
        self._seed: int | None = None

    def randomize(self, data: Any = None) -> None:
        """Draw whether to act, the kind, the level and the noise seed from ``self.R``."""
        super().randomize(None)
        if not self._do_transform:
            self.kind = self.level = self._seed = None
            return
        kind = self.kinds[int(self.R.choice(len(self.kinds), p=self.weights))]
        lo, hi = self.levels[kind]
        self.kind = kind
        if kind in self.log_levels:
            self.level = float(np.exp(self.R.uniform(np.log(lo), np.log(hi))))
        else:
            self.level = float(self.R.uniform(lo, hi))
        self._seed = int(self.R.randint(_SEED_LIMIT))

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> NdarrayOrTensor:
        """Return ``img`` plus noise as float32 of the same type (numpy or torch).

        When the ``prob`` draw says no, ``img`` is returned as float32 unchanged.
        """
        if randomize:
            self.randomize(img)
        if not self._do_transform:
            return as_float32_like(img)
        if self._seed is None or self.kind is None or self.level is None:
            raise RuntimeError("call randomize() before __call__(..., randomize=False)")
        arr = convert_data_type(img, np.ndarray)[0]
        gen = np.random.default_rng(self._seed)
        if self.channel_wise:
            out = np.stack([add_noise(c, self.kind, self.level, rng=gen) for c in arr])  # type: ignore[arg-type]
        else:
            out = add_noise(arr, self.kind, self.level, rng=gen)  # type: ignore[arg-type]
        return convert_to_dst_type(out, img, dtype=np.float32)[0]


class RandAddGaussianNoise(RandAddNoise):
    """Add Gaussian noise with ``sigma`` drawn from a range (see :class:`RandAddNoise`).

    Unlike MONAI's ``RandGaussianNoise`` (std drawn from ``[0, std]``), the
    std is drawn uniformly from ``sigma = (low, high)``.
    """

    def __init__(self, sigma: LevelRange = DEFAULT_LEVELS["gaussian"], prob: float = 1.0) -> None:
        super().__init__("gaussian", sigma, prob=prob)


class RandAddSaltAndPepperNoise(RandAddNoise):
    """Add salt-and-pepper noise with ``amount`` drawn from a range (see :class:`RandAddNoise`)."""

    def __init__(
        self,
        amount: LevelRange = DEFAULT_LEVELS["salt_and_pepper"],
        prob: float = 1.0,
        channel_wise: bool = False,
    ) -> None:
        super().__init__("salt_and_pepper", amount, prob=prob, channel_wise=channel_wise)


class RandAddPoissonNoise(RandAddNoise):
    """Add Poisson noise with ``photons`` drawn from a range (see :class:`RandAddNoise`)."""

    def __init__(
        self,
        photons: LevelRange = DEFAULT_LEVELS["poisson"],
        prob: float = 1.0,
        channel_wise: bool = False,
    ) -> None:
        super().__init__("poisson", photons, prob=prob, channel_wise=channel_wise)


class RandAddRicianNoise(RandAddNoise):
    """Add Rician noise with ``sigma`` drawn from a range (see :class:`RandAddNoise`).

    Unlike MONAI's ``RandRicianNoise`` (std drawn from ``[0, std]``, optionally
    relative to the image std), ``sigma`` is absolute, in the image's units.
    """

    def __init__(self, sigma: LevelRange = DEFAULT_LEVELS["rician"], prob: float = 1.0) -> None:
        super().__init__("rician", sigma, prob=prob)


class RandAddSpeckleNoise(RandAddNoise):
    """Add speckle noise with relative ``sigma`` drawn from a range (see :class:`RandAddNoise`)."""

    def __init__(self, sigma: LevelRange = DEFAULT_LEVELS["speckle"], prob: float = 1.0) -> None:
        super().__init__("speckle", sigma, prob=prob)


class RandAddCorrelatedNoise(RandAddNoise):
    """Add spatially correlated Gaussian noise with per-pixel ``sigma`` drawn from a range.

    Each call also draws the shape of the noise power spectrum (a low-pass as
    interpolation leaves it, or a ramp-times-window band-pass as CT reconstruction
    leaves it) and its width; see :func:`~medidenoise.transforms.add_correlated_noise`.
    """

    def __init__(self, sigma: LevelRange = DEFAULT_LEVELS["correlated"], prob: float = 1.0) -> None:
        super().__init__("correlated", sigma, prob=prob)


class RandAddPoissonGaussianNoise(RandAddNoise):
    """Add signal-dependent Poisson-Gaussian noise with ``sigma`` drawn from a range.

    See :func:`~medidenoise.transforms.add_poisson_gaussian_noise`; the share of
    signal-dependent variance is drawn on each call.
    """

    def __init__(
        self, sigma: LevelRange = DEFAULT_LEVELS["poisson_gaussian"], prob: float = 1.0
    ) -> None:
        super().__init__("poisson_gaussian", sigma, prob=prob)
