"""Training data: resolve sources, refuse hold-out images, normalise, pick slices, split.

A *source* in a config is a file (DICOM, NIfTI, PNG/TIFF, read with
:func:`medidenoise.io.read_volume`), a folder (searched recursively: each
NIfTI/PNG/TIFF file, and each DICOM image series, becomes one volume) or a
named source that ships with a package: ``mni152`` (nilearn's MNI152 T1 template, axial slices),
``pydicom:<file>`` / ``pydicom-data:<file>`` (pydicom's test files and the
pydicom-data package, never downloaded; ``pydicom:*``: every grey one but the hold-out and
validation images, :func:`every_pydicom_file`), ``skimage:<file>`` (the photographs
that ship inside scikit-image, e.g. ``skimage:camera.png``) and ``mvtb`` /
``mvtb:<path>`` (mvtb-data's photographs: :mod:`medidenoise.engine.photographs`;
colour ones are turned into luminance): natural textures that teach a denoiser more
than the few medical images that ship.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medidenoise.config import DataConfig
from medidenoise.engine.photographs import mvtb_image, mvtb_photographs, skimage_image
from medidenoise.errors import ConfigError, MedidenoiseError, MissingPackageError
from medidenoise.io.formats import file_kind

__all__ = [
    "HOLDOUT_NAMES",
    "HOLDOUT_PATTERN",
    "SliceSet",
    "band_split",
    "check_not_holdout",
    "load_sources",
    "split_volumes",
    "training_and_validation",
]

log = logging.getLogger(__name__)

#: the hold-out set, kept for evaluation only and never trained on: a CR radiograph, an MR
#: slice and a CT slice of ``pydicom-data`` (files ``<name>.dcm``)
HOLDOUT_NAMES: tuple[str, ...] = ("RG3_UNCR", "MR2_UNCR", "693_UNCR")
_HOLDOUT_FAMILIES = tuple(name.split("_")[0] + "_" for name in HOLDOUT_NAMES)
#: a source naming any file of the hold-out families (RG3_*, MR2_*, 693_*)
HOLDOUT_PATTERN = re.compile("(" + "|".join(map(re.escape, _HOLDOUT_FAMILIES)) + ")", re.IGNORECASE)
#: file kinds (io.formats' rule) read one by one in a folder source; every other file may be DICOM
_ONE_BY_ONE = ("nifti", "raster")


@dataclass
class SliceSet:
    """One normalised volume and the slices (and row range) used from it.

    Attributes
    ----------
    name : str
        The source it came from.
    volume : ndarray
        float32 (D, H, W) in [0, 1] network units.
    indices : ndarray
        Slice indices used (the neighbours of a 2.5D stack may lie outside).
    rows : tuple of int
        ``(start, stop)`` rows used: the whole height unless a single volume is
        split spatially into training and validation parts.
    normalization : dict
        ``NormalizationParams.to_dict()`` of the volume.
    """

    name: str
    volume: np.ndarray
    indices: np.ndarray
    rows: tuple[int, int]
    normalization: dict[str, Any] = field(default_factory=dict)

    def stack(self, index: int, context: int) -> np.ndarray:
        """(context, rows, W) slices centred on ``index``, edge slices repeated."""
        half = context // 2
        idx = np.clip(np.arange(index - half, index + half + 1), 0, self.volume.shape[0] - 1)
        return self.volume[idx, self.rows[0] : self.rows[1]]

    def with_rows(self, rows: tuple[int, int]) -> SliceSet:
        """The same volume restricted to other rows."""
        return SliceSet(self.name, self.volume, self.indices, rows, self.normalization)


def check_not_holdout(source: str, *, paths: list[Path] | tuple[Path, ...] = ()) -> None:
    """Raise ConfigError when a source (or a file it resolves to) is a hold-out image."""
    for item in (source, *map(str, paths)):
        if HOLDOUT_PATTERN.search(item):
            raise ConfigError(
                f"data source {source!r} ({item}) is a hold-out image "
                f"({', '.join(f + '*' for f in _HOLDOUT_FAMILIES)}): "
                "those are kept for evaluation and never trained on; remove it from data.train/val"
            )


def _pydicom_file(name: str) -> Path:
    from pydicom.data import get_testdata_file

    for candidate in (name, f"{name}.dcm"):
        found = get_testdata_file(candidate, download=False)
        if found:
            return Path(str(found))
    raise ConfigError(
        f"data source 'pydicom:{name}': no such file in pydicom's test data or pydicom-data "
        "(install it with `pip install pydicom-data`; files are never downloaded)"
    )


#: pydicom test files left out of ``pydicom:*``: the validation images again (other
#: encodings of CT_small, MR_small, emri_small) and colour ones
PYDICOM_NOT_TRAINING = (
    "ct_small", "mr_small", "emri_small", "sc_rgb", "color", "rgb", "ybr", "palette"
)  # fmt: skip


def every_pydicom_file() -> list[str]:
    """``pydicom:<name>`` of every pydicom / pydicom-data test file the source ``pydicom:*``
    reads: all but the hold-out families and :data:`PYDICOM_NOT_TRAINING` (sorted)."""
    import importlib.util

    from pydicom.data.data_manager import DATA_ROOT

    folders = [Path(DATA_ROOT) / "test_files"]
    spec = importlib.util.find_spec("data_store")  # pydicom-data's package
    if spec is not None and spec.submodule_search_locations:
        folders.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    # listed from the installed folders: pydicom's own listing would try to download
    names = sorted({f.name for d in folders if d.is_dir() for f in d.rglob("*.dcm")})
    return [
        f"pydicom:{n}"
        for n in names
        if not HOLDOUT_PATTERN.search(n) and not any(t in n.lower() for t in PYDICOM_NOT_TRAINING)
    ]


def _every_pydicom_volume() -> list[tuple[str, np.ndarray, str | None]]:
    """Every image of :func:`every_pydicom_file` (all its frames); files that are no grey
    image (segmentations, colour, lookup-table modality values, no decoder) are skipped."""
    out = []
    for source in every_pydicom_file():
        try:
            path = _pydicom_file(source.split(":", 1)[1])
            check_not_holdout(source, paths=[path])
            out += [(source, arr, modality) for _, arr, modality in _read_path(path)]
        except (MedidenoiseError, ValueError, OSError, ImportError) as exc:
            log.info("pydicom:* leaves out %s: %s", source, str(exc).splitlines()[0][:160])
    return out


def _mni152() -> tuple[np.ndarray, str]:
    from medidenoise.io.templates import load_mni152

    try:
        volume = load_mni152(orientation="axial")  # axial slices, as the scans are cut
    except MissingPackageError:
        raise ConfigError("data source 'mni152' needs nilearn: pip install nilearn") from None
    return volume.array, volume.modality


def _resolve_path(source: str, base_dir: str | None) -> Path:
    path = Path(source).expanduser()
    if not path.is_absolute() and not path.exists() and base_dir:
        path = Path(base_dir) / path
    if not path.exists():
        raise ConfigError(f"data source {source!r}: no such file, folder or named source")
    return path


def _read_folder(folder: Path) -> list[tuple[str, np.ndarray, str | None]]:
    """Every image in a folder tree: NIfTI/PNG/TIFF files one by one, and one volume
    per DICOM image series (a study folder usually holds several)."""
    from medidenoise.io import read_dicom_series, scan_dicom

    files = sorted(p for p in folder.rglob("*") if p.is_file())
    others = [p for p in files if file_kind(p) in _ONE_BY_ONE]
    out = [item for f in others for item in _read_path(f)]
    if len(others) < len(files):  # the rest may be DICOM, with or without .dcm
        scan = scan_dicom(folder)
        if scan.errors:
            log.warning(
                "%s: %d unreadable DICOM file(s) left out (first: %s: %s)",
                folder,
                len(scan.errors),
                scan.errors[0][0].name,
                scan.errors[0][1],
            )
        for info in scan.series:
            vol = read_dicom_series(info)
            out.append((f"{folder}#{info.key}", np.asarray(vol.array, np.float32), vol.modality))
    if not out:
        raise ConfigError(
            f"data source {str(folder)!r}: the folder holds no readable image (DICOM series, "
            "NIfTI, PNG or TIFF); point to the folder that holds the images"
        )
    return out


def _read_path(path: Path) -> list[tuple[str, np.ndarray, str | None]]:
    from medidenoise.io import read_volume

    if path.is_dir():
        return _read_folder(path)
    vol = read_volume(path)
    return [(str(path), np.asarray(vol.array, dtype=np.float32), vol.modality)]


def _raw_volumes(source: str, base_dir: str | None) -> list[tuple[str, np.ndarray, str | None]]:
    check_not_holdout(source)
    if source == "mni152":
        arr, modality = _mni152()
        return [("mni152", arr, modality)]
    if source == "pydicom:*":
        return _every_pydicom_volume()
    prefix, sep, rest = source.partition(":")
    if sep and prefix == "skimage":
        return [(source, skimage_image(rest)[np.newaxis], "OT")]
    if source == "mvtb":  # every photograph, one volume each
        return [(f"mvtb:{n}", mvtb_image(n)[np.newaxis], "OT") for n in mvtb_photographs()]
    if sep and prefix == "mvtb":
        return [(source, mvtb_image(rest)[np.newaxis], "OT")]
    if sep and prefix in ("pydicom", "pydicom-data"):
        path = _pydicom_file(rest)
        check_not_holdout(source, paths=[path])
        return [(source, arr, modality) for _, arr, modality in _read_path(path)]
    path = _resolve_path(source, base_dir)
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    check_not_holdout(source, paths=files)
    return _read_path(path)


def _pick_slices(vol: np.ndarray, cfg: DataConfig) -> np.ndarray:
    fg = (vol > 0.05).reshape(vol.shape[0], -1).mean(axis=1)
    keep = np.flatnonzero(fg >= cfg.min_foreground)
    if keep.size == 0:
        keep = np.array([int(np.argmax(fg))])
    if cfg.max_slices_per_volume and keep.size > cfg.max_slices_per_volume:
        pick = np.linspace(0, keep.size - 1, cfg.max_slices_per_volume).round().astype(int)
        keep = keep[np.unique(pick)]
    return keep


def _cache_file(cfg: DataConfig, source: str) -> Path | None:
    if not cfg.cache_dir:
        return None
    key = json.dumps([source, cfg.normalization, cfg.min_foreground, cfg.max_slices_per_volume])
    return Path(cfg.cache_dir) / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"


def _load_one(source: str, cfg: DataConfig, base_dir: str | None) -> list[SliceSet]:
    cache = _cache_file(cfg, source)
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            n = int(z["count"])
            return [
                SliceSet(
                    str(z[f"name{i}"]),
                    z[f"volume{i}"],
                    z[f"indices{i}"],
                    (0, z[f"volume{i}"].shape[1]),
                    json.loads(str(z[f"norm{i}"])),
                )
                for i in range(n)
            ]
    from medidenoise.transforms import normalize_intensity

    out = []
    for name, arr, modality in _raw_volumes(source, base_dir):
        if arr.ndim == 2:
            arr = arr[np.newaxis]
        normed, params = normalize_intensity(arr, modality=modality, method=cfg.normalization)
        normed = np.clip(np.asarray(normed, dtype=np.float32), 0.0, 1.0)
        out.append(
            SliceSet(name, normed, _pick_slices(normed, cfg), (0, arr.shape[1]), params.to_dict())
        )
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {"count": np.array(len(out))}
        for i, s in enumerate(out):
            arrays.update({f"name{i}": np.array(s.name), f"volume{i}": s.volume})
            arrays.update(
                {f"indices{i}": s.indices, f"norm{i}": np.array(json.dumps(s.normalization))}
            )
        np.savez(cache, **arrays)
    return out


def load_sources(
    sources: list[str], cfg: DataConfig, *, base_dir: str | None = None
) -> list[SliceSet]:
    """Read, check and normalise every source into :class:`SliceSet` objects."""
    volumes: list[SliceSet] = []
    for source in sources:
        loaded = _load_one(source, cfg, base_dir)
        log.info(
            "data %s: %d volume(s), %s slices used",
            source,
            len(loaded),
            ", ".join(str(len(s.indices)) for s in loaded),
        )
        volumes.extend(loaded)
    return volumes


def split_volumes(
    volumes: list[SliceSet], cfg: DataConfig, *, seed: int, min_rows: int
) -> tuple[list[SliceSet], list[SliceSet], str]:
    """Split volumes into training and validation sets by volume, never by slice.

    With a single volume the split is spatial: the bottom ``val_fraction`` of
    its rows validates, the rest trains. Returns ``(train, val, description)``.
    """
    if len(volumes) >= 2:
        order = np.random.default_rng(seed).permutation(len(volumes))
        n_val = min(len(volumes) - 1, max(1, round(len(volumes) * cfg.val_fraction)))
        val = [volumes[i] for i in sorted(order[:n_val])]
        train = [volumes[i] for i in sorted(order[n_val:])]
        names = ", ".join(v.name for v in val)
        return train, val, f"by volume: {len(train)} train, {len(val)} validation ({names})"
    (only,) = volumes
    height = only.volume.shape[1]
    cut = round(height * (1 - cfg.val_fraction))
    cut = min(max(cut, min_rows), height - min_rows) if height >= 2 * min_rows else height // 2
    what = (
        f"spatial: one volume ({only.name}), rows [0, {cut}) train, rows [{cut}, {height}) validate"
    )
    log.warning("only one training volume: splitting it %s", what)
    return [only.with_rows((0, cut))], [only.with_rows((cut, height))], what


def band_split(
    volumes: list[SliceSet], fraction: float, *, min_rows: int
) -> tuple[list[SliceSet], list[SliceSet]]:
    """Hold out the middle ``fraction`` of every volume's rows for validation.

    Returns ``(train, val)``: each volume's rows above and below the band train (as two
    parts), the band validates. A volume too short for a band and two parts of at least
    ``min_rows`` rows each trains whole.
    The band sits in the middle because image borders are mostly background, and a
    validation set of background says little.
    """
    train: list[SliceSet] = []
    val: list[SliceSet] = []
    for vol in volumes:
        start, stop = vol.rows
        height = stop - start
        band = max(min_rows, round(height * fraction))
        if height < band + 2 * min_rows:
            train.append(vol)
            continue
        top = start + (height - band) // 2
        val.append(vol.with_rows((top, top + band)))
        train += [vol.with_rows((start, top)), vol.with_rows((top + band, stop))]
    return train, val


def training_and_validation(
    cfg: DataConfig, *, seed: int, size_multiple: int, base_dir: str | None = None
) -> tuple[list[SliceSet], list[SliceSet], str]:
    """The training and validation volumes of a recipe, and how they were split.

    ``data.val`` when given, else a ``val_fraction`` of the training volumes
    (:func:`split_volumes`); with ``data.val_band`` also the middle rows of the training
    volumes (:func:`band_split`, parts at least a patch high). Returns
    ``(train, val, description)``.
    """
    volumes = load_sources(cfg.train, cfg, base_dir=base_dir)
    if cfg.val:
        train, val = volumes, load_sources(cfg.val, cfg, base_dir=base_dir)
        split = f"given: {len(train)} train, {len(val)} validation volume(s)"
    else:
        train, val, split = split_volumes(volumes, cfg, seed=seed, min_rows=max(16, size_multiple))
    if cfg.val_band:
        train, banded = band_split(train, cfg.val_band, min_rows=max(cfg.patch_size, size_multiple))
        val = [*val, *banded]
        split += (
            f"; plus the middle {cfg.val_band:.0%} of the rows of {len(banded)} training volume(s)"
        )
    return train, val, split
