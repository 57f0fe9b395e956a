"""A richer dead-leaves generator in the spirit of VibrantLeaves (Achddou et al.).

Plain dead leaves (flat shapes) train a denoiser to within a few tenths of a dB of
natural photographs once the leaves carry what photographs have: textures of many
kinds, smooth shading, soft and blurred edges, depth of field, and contrast and size
statistics that vary from image to image. :func:`vibrant_leaves` paints leaves back to
front in depth layers; each leaf is a soft-edged ellipse or convex polygon filled with a
flat tone, a linear gradient, a (warped) grating or 1/f noise, at its own contrast; the
layers behind are blurred more than those in front. Every draw comes from one
``numpy.random.Generator``, so an image is a pure function of its seed.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["vibrant_leaves"]

#: leaf fillings, drawn with these weights
_FILLS = ("flat", "gradient", "grating", "warped", "noise")
_FILL_WEIGHTS = np.array([0.4, 0.2, 0.1, 0.1, 0.2])


def _tone(rng: np.random.Generator, levels: np.ndarray | None) -> float:
    if levels is not None and levels.size:
        return float(levels[int(rng.integers(levels.size))])
    return float(rng.random())


def _fill(kind: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A zero-centred pattern of amplitude about 1 over a leaf's bounding box."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    if kind == "flat":
        return np.zeros(shape, np.float32)
    if kind == "gradient":
        return ((u - u.mean()) / max(float(np.ptp(u)), 1.0)).astype(np.float32)
    period = float(np.exp(rng.uniform(np.log(2.5), np.log(40.0))))
    if kind in ("grating", "warped"):
        phase = 2 * np.pi * u / period + rng.uniform(0, 2 * np.pi)
        if kind == "warped":  # a grating bent by a slow sine across it: wood, ripples
            v = -xx * np.sin(angle) + yy * np.cos(angle)
            bend = period * rng.uniform(0.3, 2.0)
            phase = phase + rng.uniform(1, 4) * np.sin(2 * np.pi * v / (bend * 4))
        wave = np.sin(phase)
        if rng.random() < 0.4:  # sharper, square-ish stripes
            wave = np.tanh(rng.uniform(2, 8) * wave)
        return wave.astype(np.float32)
    # noise with a 1/f**beta amplitude spectrum: beta 0.5 (grainy) .. 2.5 (cloudy)
    beta = rng.uniform(0.5, 2.5)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fy * fy + fx * fx)
    f[0, 0] = 1.0
    spectrum = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) / f**beta
    spectrum[0, 0] = 0.0
    field = np.fft.irfft2(spectrum, s=(h, w)).astype(np.float32)
    return field / max(float(field.std()), 1e-6)


def _leaf_alpha(
    shape: tuple[int, int],
    centre: tuple[float, float],
    radius: float,
    softness: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Coverage in [0, 1] of one leaf over its bounding box: an ellipse or a convex polygon
    whose edge ramps from 1 to 0 over about ``4 * softness`` pixels (sharp when small)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dy, dx = yy - centre[0], xx - centre[1]
    if rng.random() < 0.5:  # ellipse: distance to the outline, scaled by the short axis
        t = rng.uniform(0, np.pi)
        a, b = radius, radius * rng.uniform(0.25, 1.0)
        u, v = dx * np.cos(t) + dy * np.sin(t), -dx * np.sin(t) + dy * np.cos(t)
        dist = (np.sqrt((u / a) ** 2 + (v / b) ** 2) - 1.0) * b
    else:  # convex polygon: the largest signed distance to its sides (normals spread
        # around the circle, so that the polygon is bounded)
        n = int(rng.integers(3, 9))
        angles = 2 * np.pi * (np.arange(n) + rng.uniform(-0.3, 0.3, n)) / n + rng.uniform(0, 7)
        reach = radius * rng.uniform(0.5, 1.0, n)
        dist = np.max(
            [dx * np.cos(t) + dy * np.sin(t) - r for t, r in zip(angles, reach, strict=True)],
            axis=0,
        )
    return (0.5 - 0.5 * np.tanh(dist / (2.0 * softness))).astype(np.float32)


def vibrant_leaves(
    size: int, rng: np.random.Generator, *, levels: np.ndarray | None = None
) -> np.ndarray:
    """A textured, depth-blurred dead-leaves image (size, size), float32 in [0, 1].

    Parameters
    ----------
    size : int
        Side in pixels (>= 8).
    rng : numpy.random.Generator
        All randomness comes from it: the same seed gives the same image.
    levels : ndarray, optional
        Grey values the leaves' base tones are drawn from (e.g. a sample of real scans'
        normalised intensities); uniform in [0, 1] when not given.

    Returns
    -------
    ndarray
        float32 (size, size) in [0, 1].

    Examples
    --------
    >>> img = vibrant_leaves(64, np.random.default_rng(0))
    >>> img.shape, img.dtype, bool(0 <= img.min() and img.max() <= 1)
    ((64, 64), dtype('float32'), True)
    """
    if size < 8:
        raise ValueError(f"size must be >= 8 pixels, got {size}")
    img = np.full((size, size), _tone(rng, levels), dtype=np.float32)
    # leaf radii from p(r) ~ r**-alpha on [r_min, r_max]; alpha varies per image, so some
    # images are busy with small leaves and others have a few large, smooth ones
    alpha = rng.uniform(2.2, 3.6)
    r_min, r_max = rng.uniform(1.5, 4.0), size * rng.uniform(0.4, 1.2)
    n_leaves = int(rng.integers(40, 160) * (size / 96) ** 2) + 10
    u = rng.random(n_leaves)
    e = 1.0 - alpha
    radii = (r_min**e + u * (r_max**e - r_min**e)) ** (1.0 / e)
    radii = np.sort(radii)[::-1]  # large leaves first: the small ones stay visible
    contrast = rng.uniform(0.3, 1.0)  # of the whole image: low-contrast ones are common in scans
    layers = int(rng.integers(1, 4))
    # depth of field: the layers behind are blurred (each blur acts on all that lies behind
    # it too), the front one never
    blurs = np.zeros(layers)
    if rng.random() < 0.7:
        blurs[:-1] = np.sort(rng.uniform(0.4, 2.5, layers - 1))[::-1]
    bounds = np.linspace(0, n_leaves, layers + 1).round().astype(int)
    fill_p = _FILL_WEIGHTS / _FILL_WEIGHTS.sum()
    for layer in range(layers):
        for radius in radii[bounds[layer] : bounds[layer + 1]]:
            cy, cx = rng.uniform(-radius / 2, size + radius / 2, 2)
            softness = float(np.exp(rng.uniform(np.log(0.05), np.log(3.0))))
            r = int(np.ceil(radius + 4 * softness)) + 1
            y0, y1 = max(0, int(cy) - r), min(size, int(cy) + r + 1)
            x0, x1 = max(0, int(cx) - r), min(size, int(cx) + r + 1)
            if y0 >= y1 or x0 >= x1:
                continue
            box = (y1 - y0, x1 - x0)
            cover = _leaf_alpha(box, (cy - y0, cx - x0), float(radius), softness, rng)
            kind = _FILLS[int(rng.choice(len(_FILLS), p=fill_p))]
            amplitude = rng.uniform(0.02, 0.35) if radius >= 4 else 0.0
            tone = _tone(rng, levels)
            paint = tone + amplitude * _fill(kind, box, rng)
            region = img[y0:y1, x0:x1]
            region += cover * (paint - region)
        if blurs[layer] > 0.2:
            img = ndimage.gaussian_filter(img, float(blurs[layer]))
    mid = float(np.median(img))
    img = mid + contrast * (img - mid)
    return np.clip(img, 0.0, 1.0).astype(np.float32)
