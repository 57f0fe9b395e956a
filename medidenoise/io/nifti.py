"""NIfTI reading and writing.

NIfTI stores the array as (i, j, k) = (x-ish, y-ish, z-ish); a :class:`Volume`
holds (D, H, W), so the array is transposed to (k, j, i) and the affine
columns permuted to match. When needed the D axis is flipped so that, as for
DICOM, D runs along ``cross(w direction, h direction)`` (the affine's 3x3 part
has a negative determinant in (d, h, w) order); files written by
:func:`write_nifti` are read back in their written order. :func:`write_nifti` stores the
exact float64 affine and the modality in a NIfTI comment extension so that
read -> write -> read gives back the same array, spacing and affine.

A volume read from NIfTI keeps its header essentials in ``metadata["nifti"]``
and :func:`write_nifti` writes them back: the voxel order on disk, the
qform/sform codes (and the qform matrix while the geometry is unchanged),
descrip, xyzt units, intent, dim_info, and the data type with its scaling when
the values fit it (integers are rounded to the source's own steps, as the
DICOM writer does). Other volumes are written as float32 with scanner (code 1)
qform and sform in millimetres.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from medidenoise._validate import check_finite
from medidenoise.errors import InvalidImageError, UnsupportedImageError
from medidenoise.io._atomic import atomic_target, write_error
from medidenoise.io.formats import is_nifti_path
from medidenoise.io.volume import Volume

__all__ = ["read_nifti", "write_nifti", "write_volume"]

logger = logging.getLogger(__name__)

_EXT_TAG = "medidenoise:"


def _ijk_to_dhw(affine: np.ndarray) -> np.ndarray:
    out = np.asarray(affine, dtype=np.float64).copy()
    out[:, :3] = affine[:, [2, 1, 0]]
    return out


def _flip_d(array: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reverse the D axis, keeping every voxel at its world position (its own inverse)."""
    out = np.asarray(affine, dtype=np.float64).copy()
    out[:3, 3] += out[:3, 0] * (array.shape[0] - 1)
    out[:, 0] = -out[:, 0]
    out[3, 0] = 0.0
    return np.ascontiguousarray(array[::-1]), out


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
    img = _open(path)
    data = _voxels(path, img, volume_index)
    stored = _extension(img) or {}
    array, affine, flip = _to_dhw(data, img.affine, stored)
    spacing = tuple(float(v) for v in np.linalg.norm(affine[:3, :3], axis=0))
    metadata: dict[str, Any] = {
        "nifti": {**_header_facts(img), "flipped_d": flip},
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


def _open(path: Path) -> Any:
    """The nibabel image, its size claims checked; an unreadable file names itself."""
    try:
        img: Any = nib.load(str(path))
    except Exception as exc:  # nibabel raises several types on bad input
        raise InvalidImageError(
            f"{path}: cannot read as NIfTI ({type(exc).__name__}: {exc}); expected a valid "
            ".nii/.nii.gz file."
        ) from exc
    _check_claims(path, img)
    return img


def _voxels(path: Path, img: Any, volume_index: int | None) -> np.ndarray:
    """The (x, y, z) float32 voxels of the file, or of volume ``volume_index`` of a 4D file."""
    shape = img.shape
    proxy = img.dataobj
    if len(shape) > 3 and any(s > 1 for s in shape[3:]):
        n = int(np.prod(shape[3:]))
        if volume_index is None:
            raise InvalidImageError(
                f"{path}: 4D NIfTI with {n} volumes (shape {shape}); expected a 3D image. Pick "
                f"one volume with 0 <= k < {n}: read_volume(path, volume_index=k), or "
                f"--volume-index k on the command line."
            )
        if not 0 <= volume_index < shape[3] or len(shape) > 4:
            raise InvalidImageError(
                f"{path}: volume_index={volume_index} is out of range; the file holds "
                f"{shape[3]} volumes along its 4th axis (shape {shape})."
            )
        data = _load(path, lambda: proxy[..., volume_index])
    else:
        data = _load(path, lambda: proxy)
        data = data.reshape(shape[:3]) if data.ndim > 3 else data
    if data.ndim == 2:
        data = data[:, :, np.newaxis]
    check_finite(
        data,
        "{name}: {bad} voxel(s) are NaN or infinite; expected finite values. "
        "Replace them first (e.g. numpy.nan_to_num(data, nan=background)) and save again.",
        name=str(path),
    )
    return data


def _to_dhw(
    data: np.ndarray, ijk_affine: np.ndarray, stored: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(D, H, W) array, its affine and whether D was reversed to run along the slice normal.

    A file that ``write_nifti`` wrote says which way D runs (``flip_d``) and
    holds its exact float64 affine; any other file gets D reversed when the
    (d, h, w) affine has a positive determinant.
    """
    array = np.ascontiguousarray(data.transpose(2, 1, 0))
    affine = _ijk_to_dhw(ijk_affine)
    exact = None
    if "affine" in stored:
        exact = np.asarray(stored["affine"], dtype=np.float64)
        exact = exact if exact.shape == (4, 4) else None
    if "flip_d" in stored:  # written by write_nifti: it says which way D runs
        flip = bool(stored["flip_d"])
    elif exact is not None and _close(exact, affine):
        flip = False  # written by an older write_nifti, in its own order
    else:
        flip = bool(np.linalg.det(affine[:3, :3]) > 0)
    if flip:
        array, affine = _flip_d(array, affine)
    if exact is not None and _close(exact, affine):
        affine = exact  # write_nifti's float64 affine (the header holds float32)
    return array, affine, flip


#: the most voxel data medidenoise reads from one NIfTI file (larger claims: a corrupt header)
MAX_NIFTI_BYTES = 16 << 30
#: deflate cannot expand data more than about 1032 times
_GZIP_MAX_RATIO = 1032


def _load(path: Path, get: Any) -> np.ndarray:
    """The voxels as float32; a decoder or memory failure names the file."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite values checked after
            return np.asarray(get(), dtype=np.float32)
    except MemoryError as exc:
        raise InvalidImageError(
            f"{path}: not enough memory to read its voxels; the header claims a larger image "
            "than this machine can hold (or is corrupt)."
        ) from exc
    except Exception as exc:  # truncated gzip, short file...: nibabel raises many types
        raise InvalidImageError(
            f"{path}: cannot read the voxels ({type(exc).__name__}: {exc}); the file is "
            "truncated or corrupt. Re-export it."
        ) from exc


def _check_claims(path: Path, img: Any) -> None:
    """Refuse headers whose data type or size cannot be a grayscale volume in this file."""
    header = img.header
    dtype = np.dtype(header.get_data_dtype())
    shape = tuple(int(s) for s in img.shape)
    if dtype.kind == "c":
        raise UnsupportedImageError(
            f"{path}: the voxels are complex numbers ({dtype}); expected real values. Save the "
            "magnitude (numpy.abs) or the real part as its own NIfTI file and denoise that."
        )
    if dtype.fields is not None or dtype.kind not in "biuf":
        raise UnsupportedImageError(
            f"{path}: the voxels are of type {dtype} (colour RGB/RGBA or another compound "
            "type); expected one grayscale value per voxel. Convert the image to grayscale."
        )
    if not shape or min(shape) < 1:
        raise InvalidImageError(
            f"{path}: the header gives the image the shape {shape}, with an empty axis; "
            "expected at least one voxel along every axis. The header is corrupt."
        )
    claimed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    size = path.stat().st_size
    gz = path.name.lower().endswith(".gz")
    if claimed > MAX_NIFTI_BYTES:
        raise InvalidImageError(
            f"{path}: the header claims {claimed / 2**30:.1f} GiB of voxels (shape {shape}, "
            f"{dtype}), more than the {MAX_NIFTI_BYTES >> 30} GiB medidenoise reads from one "
            "file; the header is probably corrupt."
        )
    offset = int(header.get("vox_offset", 0) or 0)
    if not gz and offset + claimed > size:
        raise InvalidImageError(
            f"{path}: the header claims {claimed} bytes of voxels (shape {shape}, {dtype}) "
            f"from byte {offset}, but the file holds {size} bytes; it is truncated or its "
            "header is wrong. Re-export it."
        )
    if gz and claimed > _GZIP_MAX_RATIO * size + (1 << 20):
        raise InvalidImageError(
            f"{path}: the header claims {claimed} bytes of voxels (shape {shape}, {dtype}), "
            f"more than a {size}-byte gzip file can hold; it is truncated or its header is "
            "wrong. Re-export it."
        )


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.allclose(a, b, rtol=1e-5, atol=1e-4))


def _finite(value: Any) -> float | None:
    v = float(value)
    return v if np.isfinite(v) else None


def _header_facts(img: Any) -> dict[str, Any]:
    """The header essentials of a loaded NIfTI image, for metadata and write-back."""
    header = img.header
    intent_code, intent_params, intent_name = header.get_intent("code")
    # nibabel moves the scaling from the header to the data proxy on loading
    slope = _finite(getattr(img.dataobj, "slope", header["scl_slope"]))
    inter = _finite(getattr(img.dataobj, "inter", header["scl_inter"]))
    return {
        "shape": tuple(int(s) for s in img.shape),
        "zooms": tuple(float(z) for z in header.get_zooms()),
        "datatype": str(header.get_data_dtype()),
        "qform_code": int(header["qform_code"]),
        "sform_code": int(header["sform_code"]),
        "qform": header.get_qform().tolist(),
        "affine": np.asarray(img.affine, dtype=np.float64).tolist(),
        "xyzt_units": header.get_xyzt_units(),
        "descrip": header["descrip"].tobytes().rstrip(b"\0").decode("latin-1"),
        "intent_code": int(intent_code),
        "intent_params": [float(v) for v in intent_params],
        "intent_name": str(intent_name),
        "dim_info": header.get_dim_info(),
        "axcodes": "".join(nib.aff2axcodes(img.affine)),
        "scl_slope": slope,
        "scl_inter": inter,
    }


def _json_safe(metadata: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        out[key] = value
    return out


def _data_for(volume_array: np.ndarray, meta: dict[str, Any], path: Path) -> tuple[Any, Any]:
    """The (i, j, k) array to store, and its (slope, inter) or None for no scaling.

    Integers are kept when the source was integer and the values fit its
    range after the source's scaling (rounded to its steps); otherwise the
    source's float type, or float32.
    """
    data = volume_array.transpose(2, 1, 0)
    try:
        dtype = np.dtype(meta.get("datatype", "float32")).newbyteorder("=")
    except TypeError:
        dtype = np.dtype(np.float32)
    if dtype.kind == "f":
        return np.ascontiguousarray(data, dtype=dtype), None
    if dtype.kind in "iu":
        slope = meta.get("scl_slope") or 1.0
        inter = meta.get("scl_inter") or 0.0
        raw = np.rint((data.astype(np.float64) - inter) / slope)
        info = np.iinfo(dtype)
        if raw.size and info.min <= raw.min() and raw.max() <= info.max:
            scaling = None if (slope, inter) == (1.0, 0.0) else (slope, inter)
            return np.ascontiguousarray(raw, dtype=dtype), scaling
        logger.info("%s: values do not fit the source's %s; writing float32", path, dtype)
    return np.ascontiguousarray(data, dtype=np.float32), None


def _set_header(img: Any, meta: dict[str, Any], affine_ijk: np.ndarray) -> None:
    """Codes, units, description and intent: the source's (``meta``) or the defaults."""
    header = img.header
    qcode, scode = int(meta.get("qform_code", 1)), int(meta.get("sform_code", 1))
    qform = affine_ijk
    source = meta.get("affine")
    if qcode > 0 and meta.get("qform") is not None and source is not None:
        if _close(np.asarray(source), affine_ijk):  # same geometry: the source's own qform
            qform = np.asarray(meta["qform"], dtype=np.float64)
    img.set_qform(qform, code=qcode)
    img.set_sform(affine_ijk, code=scode)
    xyz, t = meta.get("xyzt_units", ("mm", "unknown"))
    header.set_xyzt_units(xyz, t)
    if "descrip" in meta:
        header["descrip"] = str(meta["descrip"]).encode("latin-1", "replace")[:80]
    if "intent_code" in meta:
        header.set_intent(
            int(meta["intent_code"]),
            tuple(meta.get("intent_params", ())),
            name=str(meta.get("intent_name", "")),
            allow_unknown=True,
        )
    dim_info = meta.get("dim_info")
    if dim_info is not None:
        header.set_dim_info(*dim_info)


def write_nifti(volume: Volume, path: str | os.PathLike) -> Path:
    """Write ``volume`` as NIfTI, keeping its affine (and a NIfTI source's header).

    A volume read from NIfTI (``metadata["nifti"]``) is written in the
    source's voxel order with its qform/sform codes, descrip, xyzt units,
    intent, dim_info and data type (integers rounded to the source's scaling
    steps when they fit, float32 otherwise). Any other volume is written as
    float32 with scanner-coordinate (code 1) qform and sform in millimetres.
    A MONOCHROME1 volume is written unchanged, with a warning: NIfTI has no
    way to say "low values are bright", so viewers show it inverted.

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
        ``path`` does not end in ``.nii`` or ``.nii.gz``, or the volume is complex.
    OutputWriteError
        The file cannot be written (no space left, read-only...); nothing is left at
        ``path`` (the file is written under a temporary name and renamed when complete).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> vol = Volume(np.zeros((2, 3, 4), np.float32), spacing=(2.0, 1.0, 1.0))
    >>> out = write_nifti(vol, Path(tempfile.mkdtemp()) / "v.nii.gz")
    >>> out.name
    'v.nii.gz'
    """
    path = Path(path)
    if not is_nifti_path(path):
        raise ValueError(
            f"{path}: write_nifti writes NIfTI; expected a name ending in .nii or .nii.gz, "
            f"found {path.suffix or 'no suffix'!r}. Rename the output."
        )
    if volume.photometric == "MONOCHROME1":
        logger.warning(
            "%s: the volume is MONOCHROME1 (low values display bright); NIfTI cannot say so, "
            "so viewers will show it inverted. Values are written unchanged.",
            path,
        )
    meta = volume.metadata.get("nifti")
    meta = meta if isinstance(meta, dict) else {}
    array, affine = volume.array, np.asarray(volume.affine, dtype=np.float64)
    flip = bool(meta.get("flipped_d"))
    if flip:  # back to the source file's voxel order
        array, affine = _flip_d(array, affine)
    affine_ijk = affine.copy()
    affine_ijk[:, :3] = affine[:, [2, 1, 0]]
    data, scaling = _data_for(array, meta, path)
    img = nib.Nifti1Image(data, affine_ijk)
    img.header.set_data_dtype(data.dtype)
    _set_header(img, meta, affine_ijk)
    if scaling is not None:
        img.header.set_slope_inter(*scaling)
    payload = {
        "affine": volume.affine.tolist(),
        "flip_d": flip,
        "modality": volume.modality,
        "photometric": volume.photometric,
        "metadata": _json_safe({k: v for k, v in volume.metadata.items() if k != "nifti"}),
    }
    img.header.extensions.append(
        nib.nifti1.Nifti1Extension("comment", (_EXT_TAG + json.dumps(payload)).encode("utf-8"))
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, path) from exc
    with atomic_target(path) as tmp:  # a full disk leaves nothing at path
        nib.save(img, str(tmp))
    logger.info("wrote %s (%s)", path, "x".join(str(s) for s in data.shape))
    return path


def write_volume(volume: Volume, path: str | os.PathLike) -> Path:
    """Write ``volume`` as NIfTI: the earlier name of :func:`write_nifti`, which is the name to use.

    Kept so that code written for earlier versions keeps working; it does exactly what
    :func:`write_nifti` does (same arguments, result and errors).
    """
    return write_nifti(volume, path)
