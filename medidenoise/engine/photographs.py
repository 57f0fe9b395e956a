"""Photographs that ship inside packages, as training images: scikit-image's and mvtb-data's.

Natural photographs teach a denoiser textures and edges that the few medical images which
ship in packages lack. Two packages carry them, and nothing is ever downloaded:

``skimage:<file>``
    An image of scikit-image's ``data`` folder, e.g. ``skimage:camera.png``.
``mvtb`` / ``mvtb:<path>``
    The photographs of the ``mvtb-data`` wheel (Machine Vision Toolbox data, MIT; the
    ``train`` extra): every one of them, or one by its path under ``mvtbdata/images``
    (``mvtb:campus/P1070491.png``). Synthetic pictures (calibration targets, fiducial
    markers, binary masks, drawings) and tiny files are left out of ``mvtb``.

Colour images become luminance; large ones are area-averaged down to at most
:data:`MAX_SIDE` pixels on their longer side (less JPEG blocking and sensor noise, and a
scale nearer a scan's).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medidenoise._optional import require
from medidenoise.errors import ConfigError

__all__ = [
    "MAX_SIDE",
    "MVTB_LEFT_OUT",
    "mvtb_folder",
    "mvtb_image",
    "mvtb_photographs",
    "read_photograph",
    "skimage_image",
]

#: a photograph's longer side is reduced to at most this by area averaging
MAX_SIDE = 1024
#: mvtb-data images that are not photographs of natural scenes (targets, markers,
#: drawings, binary masks, illusions) or repeat another file; left out of ``mvtb``
MVTB_LEFT_OUT: tuple[str, ...] = (
    "calibration/",
    "apriltag",
    "arucoboard",
    "fisheye_target",
    "yellowtargets",
    "tags.png",
    "multiblobs",
    "eg-morph",
    "shark",
    "segmentation",
    "scale-space",
    "5points",
    "adelson",
    "wally.png",
    "church.jpg",  # church.png is the same picture without JPEG's loss
)
#: files smaller than this (bytes) or of a side under _MIN_SIDE pixels are no photographs
_MIN_BYTES = 20_000
_MIN_SIDE = 128
_SUFFIXES = (".png", ".jpg", ".jpeg")


def _area_shrink(img: np.ndarray, max_side: int) -> np.ndarray:
    factor = int(np.ceil(max(img.shape) / max_side))
    if factor <= 1:
        return img
    h, w = (img.shape[0] // factor) * factor, (img.shape[1] // factor) * factor
    return img[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def read_photograph(path: str | Path, *, max_side: int = MAX_SIDE) -> np.ndarray:
    """One photograph as float32 luminance (H, W), in its file's units (0-255 for 8 bits).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from skimage.io import imsave
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "grey.png"
    >>> imsave(path, np.full((300, 200, 3), 90, np.uint8))
    >>> img = read_photograph(path, max_side=128)
    >>> img.shape, img.dtype, float(img.max())
    ((100, 66), dtype('float32'), 90.0)
    """
    from skimage.color import rgb2gray
    from skimage.io import imread

    img = np.asarray(imread(path))
    if img.ndim == 3:
        if img.shape[-1] >= 3:
            scale = 255.0 if img.dtype == np.uint8 else 1.0
            img = rgb2gray(img[..., :3]) * scale  # rgb2gray returns [0, 1] floats
        else:
            img = img[..., 0]
    return np.asarray(_area_shrink(img.astype(np.float32), max_side), dtype=np.float32)


def skimage_image(name: str) -> np.ndarray:
    """A photograph shipped in scikit-image's package folder as float32 luminance."""
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    path = folder / name
    if not name or "/" in name or "\\" in name or not path.is_file():
        shipped = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in _SUFFIXES)
        raise ConfigError(
            f"data source 'skimage:{name}': no such image in {folder}; "
            f"images that ship with scikit-image: {', '.join(shipped)}"
        )
    return read_photograph(path, max_side=1 << 30)


def mvtb_folder() -> Path:
    """The ``images`` folder of the installed mvtb-data package (ConfigError when missing)."""
    package = require(
        "mvtbdata",
        "data source 'mvtb' needs the mvtb-data package: pip install 'medidenoise[train]' "
        "(or pip install mvtb-data); its images are never downloaded at run time",
        error=ConfigError,
    )
    return Path(next(iter(package.__path__))) / "images"


def mvtb_photographs() -> list[str]:
    """The paths (relative to :func:`mvtb_folder`, '/'-separated) of mvtb-data's
    photographs of natural scenes, sorted: what the source ``mvtb`` reads."""
    folder = mvtb_folder()
    keep = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.suffix.lower() not in _SUFFIXES or any(s in rel for s in MVTB_LEFT_OUT):
            continue
        if path.stat().st_size < _MIN_BYTES:
            continue
        keep.append(rel)
    return keep


def mvtb_image(name: str) -> np.ndarray:
    """One mvtb-data photograph by its path under ``mvtbdata/images``, as luminance."""
    folder = mvtb_folder()
    path = folder / name
    if not name or ".." in Path(name).parts or not path.is_file():
        raise ConfigError(
            f"data source 'mvtb:{name}': no such image in {folder}; use a path such as "
            "'mvtb:campus/P1070491.png', or 'mvtb' for all of its photographs"
        )
    img = read_photograph(path)
    if min(img.shape) < _MIN_SIDE:
        raise ConfigError(f"data source 'mvtb:{name}': {img.shape} is too small to train on")
    return img
