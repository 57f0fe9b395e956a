"""NIfTI reading and writing.

NIfTI stores the array as (i, j, k) = (x-ish, y-ish, z-ish); a :class:`Volume`
holds (D, H, W), so the array is transposed to (k, j, i) and the affine
columns permuted to match. When needed the D axis is flipped so that, as for
DICOM, D runs along ``cross(w direction, h direction)`` (the affine's 3x3 part
has a negative determinant in (d, h, w) order); files written by
:func:`write_volume` are read back in their written order. :func:`write_volume` stores the
exact float64 affine and the modality in a NIfTI comment extension so that
read -> write -> read gives back the same array, spacing and affine.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from medidenoise.errors import InvalidImageError
from medidenoise.io.volume import Volume

__all__ = ["read_nifti", "write_volume"]

logger = logging.getLogger(__name__)

_EXT_TAG = "medidenoise:"
_NIFTI_SUFFIXES = (".nii", ".nii.gz")


def _ijk_to_dhw(affine: np.ndarray) -> np.ndarray:
    out = np.asarray(affine, dtype=np.float64).copy()
    out[:, :3] = affine[:, [2, 1, 0]]
    return out


def _extension(img: Any) -> dict[str, Any] | None:
    for ext in img.header.extensions:
        try:
            text = ext.get_content()
            text = text.decode("utf-8") if isinstance(text, bytes) else str(text)
        except (UnicodeDecodeError, AttributeError):
            continue
        if text.startswith(_EXT_TAG):
            try:
                return json.loads(text[len(_EXT_TAG) :])
            except json.JSONDecodeError:
                return None
    return None


def read_nifti(path: str | os.PathLike, *, volume_index: int | None = None) -> Volume:
    """Read a NIfTI ``.nii``/``.nii.gz`` file into a :class:`Volume`.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    volume_index : int, optional
        For a 4D file, which volume (4th index) to read; required when the
        file holds more than one.

    Returns
    -------
    Volume
        float32 (D, H, W) with the scaling (scl_slope/inter) applied, spacing
        from the affine and ``metadata["nifti"]`` holding the header
        essentials.

    Raises
    ------
    InvalidImageError
        4D data without ``volume_index``, NaN/inf values, or an unreadable file.
    """
    path = Path(path)
    try:
        img: Any = nib.load(str(path))
    except Exception as exc:  # nibabel raises several types on bad input
        raise InvalidImageError(
            f"{path}: cannot read as NIfTI ({type(exc).__name__}: {exc}); expected a valid "
            ".nii/.nii.gz file."
        ) from exc
    shape = img.shape
    proxy = img.dataobj
    if len(shape) > 3 and any(s > 1 for s in shape[3:]):
        n = int(np.prod(shape[3:]))
        if volume_index is None:
            raise InvalidImageError(
                f"{path}: 4D NIfTI with {n} volumes (shape {shape}); expected a 3D image. Pick "
                f"one volume: read_volume(path, volume_index=k) with 0 <= k < {n}."
            )
        if not 0 <= volume_index < shape[3] or len(shape) > 4:
            raise InvalidImageError(
                f"{path}: volume_index={volume_index} is out of range; the file holds "
                f"{shape[3]} volumes along its 4th axis (shape {shape})."
            )
        data = np.asarray(proxy[..., volume_index], dtype=np.float32)
    else:
        data = np.asarray(proxy, dtype=np.float32)
        data = data.reshape(shape[:3]) if data.ndim > 3 else data
    if data.ndim == 2:
        data = data[:, :, np.newaxis]
    bad = ~np.isfinite(data)
    if bad.any():
        raise InvalidImageError(
            f"{path}: {int(bad.sum())} voxel(s) are NaN or infinite; expected finite values. "
            "Replace them first (e.g. numpy.nan_to_num(data, nan=background)) and save again."
        )
    array = np.ascontiguousarray(data.transpose(2, 1, 0))
    affine = _ijk_to_dhw(img.affine)
    stored = _extension(img) or {}
    exact_kept = False
    if "affine" in stored:
        exact = np.asarray(stored["affine"], dtype=np.float64)
        if exact.shape == (4, 4) and np.allclose(exact, affine, rtol=1e-5, atol=1e-4):
            affine, exact_kept = exact, True  # write_volume's float64 affine (header: float32)
    if not exact_kept and np.linalg.det(affine[:3, :3]) > 0:
        array = np.ascontiguousarray(array[::-1])
        affine[:3, 3] += affine[:3, 0] * (array.shape[0] - 1)
        affine[:, 0] = -affine[:, 0]
        affine[3, 0] = 0.0
    spacing = tuple(float(v) for v in np.linalg.norm(affine[:3, :3], axis=0))
    header = img.header
    metadata: dict[str, Any] = {
        "nifti": {
            "shape": tuple(int(s) for s in shape),
            "zooms": tuple(float(z) for z in header.get_zooms()),
            "datatype": str(header.get_data_dtype()),
            "qform_code": int(header["qform_code"]),
            "sform_code": int(header["sform_code"]),
            "xyzt_units": header.get_xyzt_units(),
            "descrip": header["descrip"].tobytes().rstrip(b"\0").decode("latin-1"),
            "axcodes": "".join(nib.aff2axcodes(img.affine)),
            "scl_slope": _finite(header["scl_slope"]),
            "scl_inter": _finite(header["scl_inter"]),
        },
        **stored.get("metadata", {}),
    }
    if volume_index is not None:
        metadata["nifti"]["volume_index"] = volume_index
    return Volume(
        array=array,
        spacing=spacing,  # type: ignore[arg-type]
        affine=affine,
        modality=str(stored.get("modality", "OT")),
        photometric=str(stored.get("photometric", "MONOCHROME2")),
        path=path,
        metadata=metadata,
    )


def _finite(value: Any) -> float | None:
    v = float(value)
    return v if np.isfinite(v) else None


def _json_safe(metadata: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        out[key] = value
    return out


def write_volume(volume: Volume, path: str | os.PathLike) -> Path:
    """Write ``volume`` as NIfTI (float32), keeping its affine.

    Parameters
    ----------
    volume : Volume
        The volume to write.
    path : str or os.PathLike
        Output file; must end in ``.nii`` or ``.nii.gz``. Parent folders are
        created.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        ``path`` does not end in ``.nii`` or ``.nii.gz``.

    Examples
    --------
    >>> import numpy as np
    >>> vol = Volume(np.zeros((2, 3, 4), np.float32), spacing=(2.0, 1.0, 1.0))
    >>> out = write_volume(vol, tmp_path / "v.nii.gz")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.name.lower().endswith(_NIFTI_SUFFIXES):
        raise ValueError(
            f"{path}: write_volume writes NIfTI; expected a name ending in .nii or .nii.gz, "
            f"found {path.suffix or 'no suffix'!r}. Rename the output."
        )
    data = np.ascontiguousarray(volume.array.transpose(2, 1, 0), dtype=np.float32)
    affine_ijk = np.asarray(volume.affine, dtype=np.float64).copy()
    affine_ijk[:, :3] = volume.affine[:, [2, 1, 0]]
    img = nib.Nifti1Image(data, affine_ijk)
    img.header.set_xyzt_units("mm")
    img.set_qform(affine_ijk, code=1)
    img.set_sform(affine_ijk, code=1)
    img.header.set_data_dtype(np.float32)
    payload = {
        "affine": volume.affine.tolist(),
        "modality": volume.modality,
        "photometric": volume.photometric,
        "metadata": _json_safe({k: v for k, v in volume.metadata.items() if k != "nifti"}),
    }
    img.header.extensions.append(
        nib.nifti1.Nifti1Extension("comment", (_EXT_TAG + json.dumps(payload)).encode("utf-8"))
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, str(path))
    logger.info("wrote %s (%s)", path, "x".join(str(s) for s in data.shape))
    return path
