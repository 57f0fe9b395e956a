"""Images that ship with a package: the MNI152 T1 template (nilearn), loaded in one place.

Training (the ``mni152`` data source), the demo and the napari sample data all
read it here, so it has one orientation convention: the one asked for.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from medidenoise._optional import require
from medidenoise.io.volume import Volume

__all__ = ["MNI152_ORIENTATIONS", "load_mni152"]

MNI152_ORIENTATIONS = ("axial", "ras")
Orientation = Literal["axial", "ras"]


def load_mni152(*, orientation: Orientation) -> Volume:
    """nilearn's MNI152 T1 template at 1 mm (shipped with nilearn; nothing is downloaded).

    Parameters
    ----------
    orientation : {"axial", "ras"}
        ``"axial"``: index (z, y, x), axial slices from inferior to superior,
        rows reversed so that anterior is at the top on screen (as an axial
        scan is shown). ``"ras"``: nilearn's own index (x, y, z). Either way
        the ``affine`` maps this volume's index to RAS millimetres.

    Returns
    -------
    Volume
        float32, modality ``"MR"``, ``spacing`` and ``affine`` from the template.

    Raises
    ------
    MissingPackageError
        nilearn is not installed (an ``ImportError``; callers that need
        their own message catch it).
    ValueError
        An unknown ``orientation``.
    """
    if orientation not in MNI152_ORIENTATIONS:
        raise ValueError(f"orientation must be one of {MNI152_ORIENTATIONS}, got {orientation!r}")
    datasets = require(
        "nilearn.datasets",
        "the MNI152 template ships with nilearn; install it with: pip install nilearn",
    )
    image = datasets.load_mni152_template(resolution=1)
    data = np.asarray(image.get_fdata(), dtype=np.float32)  # (x, y, z), RAS
    affine = np.asarray(image.affine, dtype=np.float64)
    if orientation == "axial":  # (x, y, z) -> (z, y, x), rows flipped: anterior up
        data = np.ascontiguousarray(data[:, ::-1, :].transpose(2, 1, 0))
        index_to_voxel = np.array(
            [[0, 0, 1, 0], [0, -1, 0, data.shape[1] - 1], [1, 0, 0, 0], [0, 0, 0, 1]], float
        )
        affine = affine @ index_to_voxel
    spacing = tuple(float(s) for s in np.linalg.norm(affine[:3, :3], axis=0))
    return Volume(data, spacing=spacing, affine=affine, modality="MR")  # type: ignore[arg-type]
