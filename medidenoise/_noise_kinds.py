"""The noise kinds and what their level is: the one table behind config, transforms and checks.

No imports beyond the standard library, so that both ``config`` (the lowest
layer) and ``transforms`` read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["NOISE_KINDS", "NOISE_LEVELS", "LevelRule", "NoiseKind"]

NoiseKind = Literal[
    "gaussian", "salt_and_pepper", "poisson", "rician", "speckle", "correlated", "poisson_gaussian"
]

#: The noise models :func:`~medidenoise.transforms.add_noise` knows, in a fixed order.
NOISE_KINDS: tuple[str, ...] = get_args(NoiseKind)


@dataclass(frozen=True)
class LevelRule:
    """What a noise kind's level is and which values it may take.

    Attributes
    ----------
    name : str
        What the level measures: ``"sigma"`` (the per-pixel std), ``"amount"``
        (a fraction of pixels) or ``"photons"`` (the count at the image maximum).
    default : tuple of float
        The ``(low, high)`` training range, for images in network units [0, 1].
    high : float or None
        The largest allowed level (``None``: no bound); the smallest is 0.
    low_open : bool
        True when 0 itself is not allowed.
    meaning : str
        The allowed values in words, for error messages.
    """

    name: str
    default: tuple[float, float]
    high: float | None = None
    low_open: bool = False
    meaning: str = "a standard deviation >= 0"


_SIGMA = "sigma"

#: noise kind -> its level's rule; every kind of :data:`NOISE_KINDS` has one
NOISE_LEVELS: dict[str, LevelRule] = {
    "gaussian": LevelRule(_SIGMA, (0.01, 0.1)),
    "salt_and_pepper": LevelRule("amount", (0.001, 0.02), high=1.0, meaning="a fraction in [0, 1]"),
    "poisson": LevelRule("photons", (50.0, 1000.0), low_open=True, meaning="a photon count > 0"),
    "rician": LevelRule(_SIGMA, (0.01, 0.1)),
    "speckle": LevelRule(_SIGMA, (0.02, 0.2)),
    "correlated": LevelRule(_SIGMA, (0.01, 0.1)),
    "poisson_gaussian": LevelRule(_SIGMA, (0.01, 0.1)),
}
assert tuple(NOISE_LEVELS) == NOISE_KINDS, "NOISE_LEVELS must list every NoiseKind, in order"
