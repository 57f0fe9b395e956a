"""Where ``adapt`` holds pixels out: tiles spread over the object, not an edge strip (private).

The guard of :func:`~medidenoise.adapt` scores the network on pixels whose noise it never
trained on. Those pixels must show what the user cares about: on a head volume the right
edge of every slice is background, where a network that erases anatomy still scores well.
So square tiles are chosen inside the object (the bright side of an Otsu threshold of the
smoothed slice), starting from the tile with the most structure and then each as far as
possible from those already chosen, on evenly spaced slices. A quarter as many tiles again
come from the other side of the threshold (the background): a fine-tune that sharpens the
anatomy may still stain the air or the dark of a head, and the guard checks that no region
gets worse. Training keeps its loss off all tiles and a gap around them as wide as the
noise's correlation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from medidenoise.transforms._checks import even_slices

#: side of a held-out tile, and the context scored around it (each side) so that the network
#: sees the tile as it sees any pixel of a slice
TILE = 32
MARGIN = 16
#: held-out tiles come from at most this many evenly spaced slices of each volume
SLICES = 8
#: held-out pixels per image: this share of the chosen slices, at least ``_MIN_PIXELS`` and at
#: most ``_MAX_SHARE`` of them (a single small slice), at most ``_MAX_TILES`` tiles
_SHARE = 0.1
_MIN_PIXELS = 4096
_MAX_SHARE = 0.25
_MAX_TILES = 48
#: a tile counts as inside the object when this share of it is foreground, as background when
#: at most ``1 - _INSIDE`` of it is
_INSIDE = 0.6
#: background tiles, as a share of the object tiles (at least one per image that has background)
_BACKGROUND_SHARE = 0.25
#: an image has background worth checking when this share of its chosen slices is background
_MIN_BACKGROUND = 0.1


@dataclass(frozen=True)
class Tile:
    """One held-out tile: its slice, the scored window around it and the tile inside that."""

    slice: int
    top: int  # window origin in the slice
    left: int
    tile_top: int  # tile origin inside the window
    tile_left: int
    background: bool = False  # from the dark side of the threshold, not the object


@dataclass(frozen=True)
class HeldOut:
    """The held-out tiles of one image and the pixels training must not take its loss on."""

    tiles: list[Tile]
    window: tuple[int, int]  # (height, width) of every scored window
    excluded: np.ndarray  # (D, H, W) bool: the tiles and the gap around them
    inside: float  # mean foreground share of the chosen tiles

    def describe(self) -> dict[str, float | int]:
        """JSON-friendly numbers for the adapted model's metadata."""
        return {
            "tiles": len(self.tiles),
            "background_tiles": sum(t.background for t in self.tiles),
            "tile_side": TILE,
            "pixels": len(self.tiles) * TILE * TILE,
            "slices": len({t.slice for t in self.tiles}),
            "foreground_share": round(self.inside, 3),
        }


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold of ``values`` (256 bins)."""
    hist, edges = np.histogram(values, bins=256)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist).astype(np.float64)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float(centres[int(np.argmax(between[:-1]))])


def _candidates(sl: np.ndarray, fg: np.ndarray, side: int) -> list[tuple[float, float, int, int]]:
    """``(foreground share, structure, top, left)`` of every tile position on a half-tile grid."""
    h, w = sl.shape
    out = []
    for top in range(0, h - side + 1, side // 2):
        for left in range(0, w - side + 1, side // 2):
            share = float(fg[top : top + side, left : left + side].mean())
            structure = float(sl[top : top + side, left : left + side].std())
            out.append((share, structure, top, left))
    return out


def _spread(cands: list[tuple[float, float, int, int]], count: int) -> list[tuple[int, int]]:
    """``count`` non-overlapping object tiles: the most structured one, then farthest-point
    picks."""
    inside = [c for c in cands if c[0] >= _INSIDE]
    pool = inside if len(inside) >= count else sorted(cands, reverse=True)[: max(count, 1) * 4]
    first = max(pool, key=lambda c: (c[1], c[0]))
    return _farthest(pool, [(first[2], first[3])], count)


def _farthest(
    pool: list[tuple[float, float, int, int]], chosen: list[tuple[int, int]], count: int
) -> list[tuple[int, int]]:
    """``chosen`` grown to ``count`` tiles from ``pool``, each as far as possible from the
    others and overlapping none."""
    chosen = list(chosen)
    while len(chosen) < count:
        best, best_d = None, -1.0
        for _, _, top, left in pool:
            d = min((max(abs(top - t), abs(left - s)) for t, s in chosen), default=math.inf)
            if d >= TILE and d > best_d:
                best, best_d = (top, left), float(d)
        if best is None:
            break
        chosen.append(best)
    return chosen


def _background(
    cands: list[tuple[float, float, int, int]], taken: list[tuple[int, int]], count: int
) -> list[tuple[int, int]]:
    """Up to ``count`` background tiles overlapping none of ``taken``, far from each other and
    from the object tiles."""
    pool = [c for c in cands if c[0] <= 1 - _INSIDE]
    return _farthest(pool, taken, len(taken) + count)[len(taken) :]


def choose_tiles(
    volume: np.ndarray, *, gap: int, multiple: int = 1, total_pixels: int | None = None
) -> HeldOut:
    """Held-out tiles of a (D, H, W) volume in network units.

    Parameters
    ----------
    volume : ndarray
        The normalised image.
    gap : int
        Pixels around each tile also kept out of the training loss (the noise's
        correlation length, so that no trained-on pixel's noise predicts a tile's).
    multiple : int
        The network's size multiple: the scored windows are multiples of it.
    total_pixels : int, optional
        Held-out pixels wanted; by default 10 % of the chosen slices (see module).
    """
    d, h, w = volume.shape
    slices = even_slices(d, SLICES)
    win_h = min(TILE + 2 * MARGIN, h)
    win_w = min(TILE + 2 * MARGIN, w)
    win_h -= win_h % multiple
    win_w -= win_w % multiple
    smooth = ndimage.gaussian_filter(volume[slices].astype(np.float32), (0, 2, 2))
    threshold = _otsu(smooth) if np.ptp(smooth) > 0 else float(smooth.min()) - 1.0
    wanted = total_pixels
    if wanted is None:
        pixels = len(slices) * h * w
        wanted = int(min(max(_SHARE * pixels, _MIN_PIXELS), _MAX_SHARE * pixels))
    count = int(min(_MAX_TILES, max(1, round(wanted / TILE**2))))
    per_slice = [
        count // len(slices) + (1 if i < count % len(slices) else 0) for i in range(len(slices))
    ]
    dark = float((smooth <= threshold).mean()) >= _MIN_BACKGROUND
    extra = max(1, round(count * _BACKGROUND_SHARE)) if dark else 0
    per_slice_bg = [
        extra // len(slices) + (1 if i < extra % len(slices) else 0) for i in range(len(slices))
    ][::-1]  # the slices that got one object tile fewer get the background ones first
    excluded = np.zeros((d, h, w), dtype=bool)
    tiles, shares = [], []
    for k, n, n_bg, sl in zip(slices, per_slice, per_slice_bg, smooth, strict=True):
        if n + n_bg == 0:
            continue
        fg = sl > threshold
        cands = _candidates(sl, fg, TILE)
        picked = _spread(cands, n) if n else []
        background = _background(cands, picked, n_bg) if n_bg else []
        for j, (top, left) in enumerate([*picked, *background]):
            if j < len(picked):
                shares.append(float(fg[top : top + TILE, left : left + TILE].mean()))
            wt = int(np.clip(top - MARGIN, 0, h - win_h))
            wl = int(np.clip(left - MARGIN, 0, w - win_w))
            tiles.append(Tile(int(k), wt, wl, top - wt, left - wl, j >= len(picked)))
            excluded[
                k, max(0, top - gap) : top + TILE + gap, max(0, left - gap) : left + TILE + gap
            ] = True
    return HeldOut(tiles, (win_h, win_w), excluded, float(np.mean(shares)) if shares else 0.0)
