"""Procedural training images that never run out: dead leaves and smooth phantoms.

Generators of clean grey images in [0, 1], each a pure function of a
``numpy.random.Generator``, so a patch is reproducible from its seed alone:

``dead_leaves``
    Occluding shapes (discs, ellipses, rectangles, polygons) whose sizes follow a
    power law (``p(r) ~ r**-3``: many small, few large), grey levels drawn from real
    scans' intensities, each filled flat, with a smooth gradient or with a texture
    (sine gratings, frequency-shaped noise); then partial blur (a depth-of-field
    mask) and, for some images, drawing at twice the size and downscaling, which
    gives edges of every sharpness. Such images train denoisers to within about
    half a dB of natural photographs.
``phantom``
    What medical images have and photographs lack: a body (a large ellipse) on a
    large flat dark background, organs as smooth inner ellipses, small bright
    vessels or calcifications, a smooth multiplicative bias field and soft edges.

``vibrant_leaves``
    Textured, soft-edged, depth-blurred leaves (:mod:`medidenoise.engine.vibrant_leaves`).

:func:`procedural_image` picks one by name; :class:`~medidenoise.engine.datasets.
PatchDataset` draws a fraction of its patches from them (``data.procedural``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from medidenoise.engine.vibrant_leaves import vibrant_leaves

__all__ = ["PROCEDURAL_KINDS", "dead_leaves", "phantom", "procedural_image"]

#: the generators :func:`procedural_image` knows
PROCEDURAL_KINDS: tuple[str, ...] = ("dead_leaves", "phantom", "vibrant_leaves")


def _grey(rng: np.random.Generator, levels: np.ndarray | None) -> float:
    if levels is not None and levels.size:
        return float(levels[int(rng.integers(levels.size))])
    return float(rng.random())


def _texture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A zero-mean texture of unit-ish amplitude: a sine grating or shaped noise."""
    h, w = shape
    if rng.random() < 0.5:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(3.0, 30.0)
        phase = rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period + phase)
        return wave.astype(np.float32)
    white = rng.standard_normal((h, w)).astype(np.float32)
    sigma = rng.uniform(0.5, 4.0)
    shaped = ndimage.gaussian_filter(white, sigma)
    return shaped / max(float(shaped.std()), 1e-6)


def _shape_mask(
    size: int, radius: float, rng: np.random.Generator
) -> tuple[tuple[slice, slice], np.ndarray]:
    """One random shape of about ``radius`` in a (size, size) canvas: its bounding box
    (a pair of slices) and the boolean mask inside it."""
    cy, cx = rng.uniform(-radius / 2, size + radius / 2, 2)
    r = int(np.ceil(radius)) + 1
    y0, y1 = max(0, int(cy) - r), min(size, int(cy) + r + 1)
    x0, x1 = max(0, int(cx) - r), min(size, int(cx) + r + 1)
    box = (slice(y0, max(y0, y1)), slice(x0, max(x0, x1)))
    if y0 >= y1 or x0 >= x1:
        return box, np.zeros((0, 0), dtype=bool)
    yy, xx = np.ogrid[y0:y1, x0:x1]
    dy, dx = (yy - cy).astype(np.float32), (xx - cx).astype(np.float32)
    kind = rng.integers(4)
    if kind == 0:  # disc
        inside = dy * dy + dx * dx <= radius * radius
    elif kind == 1:  # ellipse
        t = rng.uniform(0, np.pi)
        a, b = radius, radius * rng.uniform(0.2, 1.0)
        u, v = dx * np.cos(t) + dy * np.sin(t), -dx * np.sin(t) + dy * np.cos(t)
        inside = (u / a) ** 2 + (v / b) ** 2 <= 1.0
    elif kind == 2:  # rotated rectangle
        t = rng.uniform(0, np.pi)
        a, b = radius, radius * rng.uniform(0.2, 1.0)
        u, v = dx * np.cos(t) + dy * np.sin(t), -dx * np.sin(t) + dy * np.cos(t)
        inside = (np.abs(u) <= a) & (np.abs(v) <= b)
    else:  # convex polygon: intersection of half-planes at random angles
        n = int(rng.integers(3, 8))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        inside = np.ones((y1 - y0, x1 - x0), dtype=bool)
        for t in angles:
            inside &= dx * np.cos(t) + dy * np.sin(t) <= radius * rng.uniform(0.6, 1.0)
    return box, inside


#: shapes smaller than this radius (pixels, at the drawing scale) are drawn as discs, all at once
_TINY = 3.0


def _stamp_discs(
    img: np.ndarray, radii: np.ndarray, rng: np.random.Generator, levels: np.ndarray | None
) -> None:
    """Paint small discs of the given radii on ``img`` in one vectorised pass (later on top)."""
    if radii.size == 0:
        return
    size = img.shape[0]
    n = radii.size
    cy, cx = rng.uniform(0, size, (2, n))
    values = (
        levels[rng.integers(levels.size, size=n)].astype(np.float32)
        if levels is not None and levels.size
        else rng.random(n).astype(np.float32)
    )
    reach = int(np.ceil(radii.max())) + 1
    offsets = np.arange(-reach, reach + 1)
    ys = np.floor(cy)[:, None, None] + offsets[None, :, None]
    xs = np.floor(cx)[:, None, None] + offsets[None, None, :]
    inside = (ys - cy[:, None, None]) ** 2 + (xs - cx[:, None, None]) ** 2 <= radii[
        :, None, None
    ] ** 2
    inside &= (ys >= 0) & (ys < size) & (xs >= 0) & (xs < size)
    which, row, col = np.nonzero(inside)
    img[ys[which, row, 0].astype(int), xs[which, 0, col].astype(int)] = values[which]


def dead_leaves(
    size: int, rng: np.random.Generator, *, levels: np.ndarray | None = None
) -> np.ndarray:
    """A dead-leaves image (size, size), float32 in [0, 1].

    Parameters
    ----------
    size : int
        Side in pixels.
    rng : numpy.random.Generator
        All randomness comes from it.
    levels : ndarray, optional
        Grey values to draw from (e.g. a sample of real scans' normalised
        intensities); uniform in [0, 1] when not given.

    Examples
    --------
    >>> img = dead_leaves(64, np.random.default_rng(0))
    >>> img.shape, img.dtype, bool(img.min() >= 0 and img.max() <= 1)
    ((64, 64), dtype('float32'), True)
    """
    scale = 2 if rng.random() < 0.5 else 1
    canvas = size * scale
    img = np.full((canvas, canvas), _grey(rng, levels), dtype=np.float32)
    r_min, r_max = 1.5 * scale, float(canvas)
    # inverse-CDF draw from p(r) ~ r^-3 on [r_min, r_max]
    n_shapes = int(rng.integers(150, 400)) * (size // 64 + 1)
    u = rng.random(n_shapes)
    radii = 1.0 / np.sqrt(u / r_max**2 + (1 - u) / r_min**2)
    tiny = radii < _TINY * scale
    for radius in np.sort(radii[~tiny])[::-1]:  # large first, so small shapes stay visible
        box, mask = _shape_mask(canvas, float(radius), rng)
        if not mask.any():
            continue
        region = img[box]
        value = _grey(rng, levels)
        fill = rng.random()
        if fill < 0.55 or radius < 4 * scale:
            region[mask] = value
        elif fill < 0.8:  # smooth gradient across the shape
            ys, xs = np.nonzero(mask)
            slope = rng.normal(0, 0.3, 2) / max(radius, 1.0)
            region[ys, xs] = value + slope[0] * (ys - ys.mean()) + slope[1] * (xs - xs.mean())
        else:
            tex = _texture(mask.shape, rng)
            region[mask] = value + rng.uniform(0.02, 0.15) * tex[mask]
    _stamp_discs(img, radii[tiny], rng, levels)
    if rng.random() < 0.5:  # depth of field: blur a smooth random region
        blurred = ndimage.gaussian_filter(img, rng.uniform(0.7, 3.0) * scale)
        field = rng.random((canvas, canvas)).astype(np.float32)
        weight = ndimage.gaussian_filter(field, canvas / 6)
        weight = np.clip((weight - weight.mean()) / max(float(weight.std()), 1e-6) + 0.5, 0, 1)
        img = weight * blurred + (1 - weight) * img
    if scale > 1:
        img = img.reshape(size, scale, size, scale).mean(axis=(1, 3))
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def phantom(size: int, rng: np.random.Generator, *, levels: np.ndarray | None = None) -> np.ndarray:
    """A smooth body phantom (size, size) on a dark background, float32 in [0, 1].

    The field of view is drawn from 1-2.5x the image size and zoomed onto it, so a crop
    shows a whole small body, an edge of the body and the background, or tissue only.

    Examples
    --------
    >>> img = phantom(64, np.random.default_rng(1))
    >>> img.shape, bool(img.min() >= 0 and img.max() <= 1)
    ((64, 64), True)
    """
    fov = int(size * rng.uniform(1.0, 2.5))
    background = 0.0 if rng.random() < 0.6 else rng.uniform(0.0, 0.1)
    img = np.full((fov, fov), background, dtype=np.float32)

    def ellipse(cy: float, cx: float, a: float, b: float, t: float) -> np.ndarray:
        """Boolean (fov, fov) mask of an ellipse in [-0.5, 0.5] coordinates, computed in
        its bounding box only."""
        mask = np.zeros((fov, fov), dtype=bool)
        r = max(a, b)
        lo = np.clip(np.floor((np.array([cy, cx]) - r + 0.5) * fov), 0, fov).astype(int)
        hi = np.clip(np.ceil((np.array([cy, cx]) + r + 0.5) * fov) + 1, 0, fov).astype(int)
        if lo[0] >= hi[0] or lo[1] >= hi[1]:
            return mask
        yy, xx = np.ogrid[lo[0] : hi[0], lo[1] : hi[1]]
        y = (yy.astype(np.float32) + 0.5) / fov - 0.5 - cy
        x = (xx.astype(np.float32) + 0.5) / fov - 0.5 - cx
        u = x * np.cos(t) + y * np.sin(t)
        v = -x * np.sin(t) + y * np.cos(t)
        mask[lo[0] : hi[0], lo[1] : hi[1]] = (u / a) ** 2 + (v / b) ** 2 <= 1.0
        return mask

    body = ellipse(
        rng.uniform(-0.1, 0.1),
        rng.uniform(-0.1, 0.1),
        rng.uniform(0.25, 0.48),
        rng.uniform(0.2, 0.45),
        rng.uniform(0, np.pi),
    )
    img[body] = max(_grey(rng, levels), 0.15)
    for _ in range(int(rng.integers(2, 12))):  # organs
        organ = (
            ellipse(
                rng.uniform(-0.3, 0.3),
                rng.uniform(-0.3, 0.3),
                rng.uniform(0.02, 0.2),
                rng.uniform(0.02, 0.2),
                rng.uniform(0, np.pi),
            )
            & body
        )
        img[organ] = _grey(rng, levels)
    for _ in range(int(rng.integers(0, 25))):  # vessels, calcifications
        dot = (
            ellipse(
                rng.uniform(-0.4, 0.4),
                rng.uniform(-0.4, 0.4),
                rng.uniform(0.003, 0.015),
                rng.uniform(0.003, 0.015),
                0.0,
            )
            & body
        )
        img[dot] = rng.uniform(0.7, 1.0)
    img = ndimage.gaussian_filter(img, rng.uniform(0.3, 1.5) * fov / size)
    yy, xx = np.ogrid[0:fov, 0:fov]
    yy, xx = (yy + 0.5) / fov - 0.5, (xx + 0.5) / fov - 0.5
    bias = 1.0 + rng.uniform(0.0, 0.3) * (
        np.cos(2 * np.pi * (xx * rng.normal() + yy * rng.normal()) * 0.5 + rng.uniform(0, 6))
    )
    img = img * bias.astype(np.float32)
    if fov > size:  # zoom the field of view onto the patch grid
        img = ndimage.zoom(img, size / fov, order=1)[:size, :size]
        if img.shape != (size, size):
            img = np.pad(img, ((0, size - img.shape[0]), (0, size - img.shape[1])), mode="edge")
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def procedural_image(
    kind: str, size: int, rng: np.random.Generator, *, levels: np.ndarray | None = None
) -> np.ndarray:
    """One image of a :data:`PROCEDURAL_KINDS` generator."""
    if kind == "dead_leaves":
        return dead_leaves(size, rng, levels=levels)
    if kind == "phantom":
        return phantom(size, rng, levels=levels)
    if kind == "vibrant_leaves":
        return vibrant_leaves(size, rng, levels=levels)
    raise ValueError(f"procedural kind must be one of {', '.join(PROCEDURAL_KINDS)}; got {kind!r}")
