"""Write a denoised volume back as a *derived* DICOM series (rules: docs/internals.md, io).

:func:`write_dicom_series` maps slice ``k`` of the denoised array to the
source slice ``volume.source.slices[k]``: it reads that source's header,
rewrites it as a derived instance (:mod:`.dicom_write_attrs`), turns the
slice back into stored values through the slice's own rescale
(:mod:`.dicom_write_pixels`) and saves an uncompressed Explicit VR Little
Endian file, or re-encodes it losslessly on request
(:mod:`._write_compress`). Single-frame sources give one file per slice; a multi-frame
(enhanced) source gives one multi-frame file with its per-frame functional
groups kept. Source files are only ever read.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, generate_uid

from medidenoise.errors import ConversionError, InvalidImageError
from medidenoise.io._atomic import atomic_target, remove_quietly, write_error
from medidenoise.io.dicom._write_attrs import (
    DerivedSeries,
    SourceRef,
    derive_instance,
    derived_description,
    needs_lossy_ratio,
)
from medidenoise.io.dicom._write_compress import (
    Compression,
    compress_instance,
    compression_syntax,
)
from medidenoise.io.dicom._write_pixels import (
    WIDEN_FRACTION,
    PixelFormat,
    make_little_endian,
    padding_mask,
    pixel_format,
    rescale_inverse,
    set_pixels,
    to_stored,
)
from medidenoise.io.volume import DicomSource, SliceSource, Volume

__all__ = ["write_dicom_series"]

log = logging.getLogger(__name__)


def _groups(slices: tuple[SliceSource, ...]) -> list[tuple[Path, list[int]]]:
    """Volume indices grouped by source file, in order of first appearance."""
    groups: dict[Path, list[int]] = {}
    for k, s in enumerate(slices):
        groups.setdefault(Path(s.path), []).append(k)
    return list(groups.items())


def _series_format(volume: Volume, array: np.ndarray, base: PixelFormat) -> PixelFormat:
    """Widen Bits Stored for the whole series when clipping would be significant."""
    lo, hi = np.inf, -np.inf
    outside = 0
    r_lo, r_hi = base.stored_range
    for k, s in enumerate(volume.source.slices):  # type: ignore[union-attr]
        raw = rescale_inverse(array[k], s.slope, s.intercept, where=f"slice {k}")
        lo, hi = min(lo, float(raw.min())), max(hi, float(raw.max()))
        outside += int(np.count_nonzero((raw < r_lo) | (raw > r_hi)))
    if outside <= WIDEN_FRACTION * array.size:
        return base
    wide = base.widened(lo, hi)
    if wide != base:
        log.info(
            "%d values fall outside Bits Stored %d; writing Bits Stored %d instead",
            outside,
            base.bits_stored,
            wide.bits_stored,
        )
    return wide


def _uid(seed: str | None, *parts: str) -> str:
    return str(generate_uid(entropy_srcs=[*parts, seed]) if seed is not None else generate_uid())


def _default_series_key(source_uid: str, slices: tuple[SliceSource, ...]) -> str:
    """The source UID plus a digest of the source slices: one key per stack of a split UID."""
    digest = hashlib.sha1()
    for s in sorted((s.sop_instance_uid, -1 if s.frame is None else s.frame) for s in slices):
        digest.update(f"{s[0]}/{s[1]};".encode())
    return f"{source_uid}|{digest.hexdigest()[:16]}"


def _stack_index(key: object) -> int | None:
    """``k`` of a series key ``UID#k`` (one stack of a source series split in several)."""
    if not isinstance(key, str):
        return None
    _, sep, tail = key.rpartition("#")
    return int(tail) if sep and tail.isdigit() else None


def _has_number(ds: Dataset) -> bool:
    """True when the source instance has an Instance Number, which the output keeps.

    Keeping the source's numbers keeps the order of tools that sort by
    Instance Number (MONAI's PydicomReader, many viewers) the same as for the
    source; only unnumbered sources are numbered by position.
    """
    value = ds.get("InstanceNumber")
    return value is not None and str(value).strip() != ""


def _lossy_ratio(path: Path, ds: Dataset) -> float | None:
    """Uncompressed / compressed size of a lossy source's Pixel Data (None if unknown).

    Only called for a lossy source that does not record its compression yet;
    reads the whole file once more for the encapsulated frames' sizes.
    """
    try:
        full = dcmread(os.fspath(path))
        frames = int(full.get("NumberOfFrames", 1) or 1)
        size = sum(len(f) for f in generate_frames(full.PixelData, number_of_frames=frames))
        spp = int(full.get("SamplesPerPixel", 1) or 1)
        raw = int(full.Rows) * int(full.Columns) * frames * spp * int(full.BitsAllocated) // 8
    except Exception as exc:  # a ratio is "where known": never fail the series for it
        log.debug("%s: no lossy compression ratio (%s)", path, exc)
        return None
    return raw / size if size > 0 else None


def _stored_slice(
    ds: Dataset,
    path: Path,
    values: np.ndarray,
    original: np.ndarray,
    src: SliceSource,
    fmt: PixelFormat,
) -> tuple[np.ndarray, int]:
    """Stored values of one slice, with the source's Pixel Padding put back.

    ``original`` is the source slice in modality units; inverting its rescale
    gives the source's stored values exactly (no second decode needed).
    """
    raw, clipped = to_stored(values, src.slope, src.intercept, fmt, where=f"{path}")
    if "PixelPaddingValue" in ds:
        source_raw = rescale_inverse(original, src.slope, src.intercept, where=f"{path}")
        mask = padding_mask(ds, source_raw)
        if mask is not None:
            raw[mask] = source_raw[mask].astype(raw.dtype)
    return raw, clipped


def _save(ds: Dataset, target: Path, sources: set[Path]) -> None:
    if target.resolve() in sources:
        raise ConversionError(
            f"{target}: refusing to overwrite a source file; pick another out_dir"
        )
    with atomic_target(target) as tmp:  # a full disk leaves no truncated instance
        dcmwrite(tmp, ds, enforce_file_format=True)


def write_dicom_series(
    volume: Volume,
    array: np.ndarray | Volume,
    out_dir: str | os.PathLike,
    *,
    description_suffix: str = " DENOISED",
    derivation_description: str = "Denoised by medidenoise",
    series_number: int | None = None,
    uid_seed: str | None = None,
    series_key: str | None = None,
    compression: Compression = "none",
    progress: Callable[[int, int], None] | None = None,
    on_clipped: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write ``array`` as a derived DICOM series of the series ``volume`` was read from.

    Parameters
    ----------
    volume : Volume
        The source volume, read from DICOM (``volume.source`` is required).
    array : numpy.ndarray or Volume
        The new image in modality units, shape ``volume.shape`` (slice ``k``
        belongs to ``volume.source.slices[k]``).
    out_dir : str or os.PathLike
        Folder for the new files (created if needed). Files are named
        ``00001.dcm``, ``00002.dcm``... in slice order.
    description_suffix : str
        Appended to the source Series Description (the result is cut to 64
        characters). Stack ``k`` of a source series split into several stacks
        (series key ``UID#k``) gets ``" stack k"`` before it.
    derivation_description : str
        Written to Derivation Description: model, version, settings.
    series_number : int, optional
        The new Series Number; default the source's plus 1000 (plus
        ``1000 * k`` for stack ``k`` of a split series, so its stacks stay
        apart). Instance Numbers are the source instances' own, so tools that
        sort by them order the output as they order the source.
    uid_seed : str, optional
        Makes the new UIDs deterministic (same source + seed -> same UIDs),
        so that a resumed batch run writes the same series again. Random
        UIDs when omitted.
    series_key : str, optional
        Identifies the source stack in the seed of the new SeriesInstanceUID
        (e.g. :attr:`SeriesInfo.key <medidenoise.io.SeriesInfo.key>`, which is
        ``UID#k`` when one SeriesInstanceUID splits into several stacks).
        Default: the source SeriesInstanceUID plus a digest of the source
        slices, so that stacks of one source series never share a derived UID.
    compression : {"none", "rle", "jpeg-ls", "jpeg2000"}
        ``"none"`` writes Explicit VR Little Endian; the others re-encode
        each instance losslessly (RLE Lossless, JPEG-LS Lossless, JPEG 2000
        Lossless), decoding to exactly the same stored values.
    progress : callable, optional
        Called as ``progress(done, total)`` after each file.
    on_clipped : callable, optional
        Called once as ``on_clipped(clipped, total)`` when values had to be
        clipped to the stored range (the log names the source series too).

    Returns
    -------
    list of pathlib.Path
        The files written, in slice order.

    Raises
    ------
    InvalidImageError
        The volume has no DICOM source, the shapes differ or the array holds NaN.
    UnsupportedImageError
        Colour or unusual bit depths, or an image the chosen encoder refuses.
    MissingDecoderError
        The package of the chosen ``compression`` is not installed.
    ValueError
        An unknown ``compression``.

    Examples
    --------
    >>> from medidenoise.io import read_volume  # doctest: +SKIP
    >>> vol = read_volume("CT_series/")  # doctest: +SKIP
    >>> write_dicom_series(vol, vol.array, "out/")  # doctest: +SKIP
    """
    syntax = compression_syntax(compression)
    values, source = _checked_values(volume, array)
    options: dict[str, Any] = {
        "description_suffix": description_suffix,
        "derivation_description": derivation_description,
        "series_number": series_number,
        "uid_seed": uid_seed,
        "series_key": series_key,
        "syntax": syntax,
        "progress": progress,
        "on_clipped": on_clipped,
    }
    out = Path(out_dir)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, out) from exc
    written: list[Path] = []
    try:
        _write_files(volume, values, source, out, written, **options)
    except BaseException:
        # nothing half-done stays: the instances of this call go (and the folder it made)
        for path in written:
            remove_quietly(path)
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    return written


def _write_files(
    volume: Volume,
    values: np.ndarray,
    source: DicomSource,
    out: Path,
    written: list[Path],
    *,
    description_suffix: str,
    derivation_description: str,
    series_number: int | None,
    uid_seed: str | None,
    series_key: str | None,
    syntax: UID | None,
    progress: Callable[[int, int], None] | None,
    on_clipped: Callable[[int, int], None] | None,
) -> None:
    """Write the derived instances into ``out``, appending each finished file to ``written``."""
    slices = source.slices
    sources = {Path(s.path).resolve() for s in slices}
    groups = _groups(slices)

    first = dcmread(os.fspath(groups[0][0]), stop_before_pixels=True)
    base_fmt = pixel_format(first, where=str(groups[0][0]))
    fmt = _series_format(volume, values, base_fmt)
    series = _derived_series(
        volume,
        source,
        first,
        description_suffix=description_suffix,
        derivation_description=derivation_description,
        series_number=series_number,
        uid_seed=uid_seed,
        series_key=series_key,
    )

    clipped_total = 0
    for n, (path, indices) in enumerate(groups):
        ds = first if n == 0 else dcmread(os.fspath(path), stop_before_pixels=True)
        clipped_total += _derive_file(
            ds, path, indices, values, volume.array, slices, fmt, series, uid_seed, syntax
        )
        target = out / f"{len(written) + 1:05d}.dcm"
        _save(ds, target, sources)
        written.append(target)
        if progress is not None:
            progress(len(written), len(groups))
    if clipped_total:
        _report_clipped(volume.path or source.series_uid, values, clipped_total, out, on_clipped)


def _checked_values(volume: Volume, array: np.ndarray | Volume) -> tuple[np.ndarray, DicomSource]:
    """The new image as a (D, H, W) array matching the slices of the volume's DICOM source."""
    if volume.source is None:
        raise InvalidImageError(
            f"{volume.path}: the volume was not read from DICOM, so there is no source series "
            "to derive from; write it with write_nifti (NIfTI) instead"
        )
    values = np.asarray(array.array if isinstance(array, Volume) else array)
    if values.ndim == 2:
        values = values[np.newaxis]
    if values.shape != volume.shape:
        raise InvalidImageError(
            f"array has shape {values.shape} but the source volume has {volume.shape}"
        )
    slices = volume.source.slices
    if len(slices) != values.shape[0]:
        raise InvalidImageError(
            f"the volume has {values.shape[0]} slices but {len(slices)} slice sources"
        )
    return values, volume.source


def _derived_series(
    volume: Volume,
    source: DicomSource,
    first: Dataset,
    *,
    description_suffix: str,
    derivation_description: str,
    series_number: int | None,
    uid_seed: str | None,
    series_key: str | None,
) -> DerivedSeries:
    """The new series' UID, number and descriptions (see :func:`write_dicom_series`)."""
    stack = _stack_index(series_key or volume.metadata.get("series_key"))
    number = series_number
    if number is None:  # the stacks of one source series get distinct numbers
        number = int(first.get("SeriesNumber") or 0) + 1000 * (stack or 1)
    if stack is not None:
        description_suffix = f" stack {stack}{description_suffix}"
    key = series_key or _default_series_key(source.series_uid, source.slices)
    return DerivedSeries(
        series_uid=_uid(uid_seed, "medidenoise-series", key),
        series_number=max(1, int(number)),
        series_description=derived_description(first.get("SeriesDescription"), description_suffix),
        derivation_description=derivation_description,
        now=datetime.now(),
    )


def _derive_file(
    ds: Dataset,
    path: Path,
    indices: list[int],
    values: np.ndarray,
    original: np.ndarray,
    slices: tuple[SliceSource, ...],
    fmt: PixelFormat,
    series: DerivedSeries,
    uid_seed: str | None,
    syntax: UID | None,
) -> int:
    """Turn the source header ``ds`` into its derived instance, in place; return the clip count.

    The new pixels (slices ``indices`` of ``values``) are stored in the file's
    own format (widened to the series' bits stored when needed), the
    derivation attributes set, the encoding made little endian and, with a
    ``syntax``, the pixels re-encoded. ``original`` is the source volume's array.
    """
    big_endian = ds.original_encoding[1] is False
    file_fmt = pixel_format(ds, where=str(path))
    if fmt.bits_stored > file_fmt.bits_stored and file_fmt.bits_allocated == fmt.bits_allocated:
        file_fmt = PixelFormat(file_fmt.bits_allocated, fmt.bits_stored, file_fmt.signed)
    frames = [slices[k].frame for k in indices]
    multiframe = any(f is not None for f in frames)
    if multiframe:
        raw, clipped = _multiframe(ds, path, indices, values, original, slices, file_fmt)
    else:
        if len(indices) != 1:
            raise InvalidImageError(f"{path}: a single-frame file is listed as several slices")
        k = indices[0]
        raw, clipped = _stored_slice(ds, path, values[k], original[k], slices[k], file_fmt)
    refs = [
        SourceRef(slices[k].sop_class_uid, slices[k].sop_instance_uid, slices[k].frame)
        for k in (_frame_order(indices, slices) if multiframe else indices)
    ]
    sop_uid = _uid(
        uid_seed,
        series.series_uid,
        *(r.sop_instance_uid for r in refs[:1]),
        ",".join(str(r.frame) for r in refs),
    )
    ratio = _lossy_ratio(path, ds) if needs_lossy_ratio(ds) else None
    derive_instance(
        ds,
        series,
        sop_uid=sop_uid,
        refs=refs,
        instance_number=None if multiframe or _has_number(ds) else indices[0] + 1,
        lossy_ratio=ratio,
    )
    set_pixels(ds, raw, file_fmt, str(ds.get("PhotometricInterpretation", "MONOCHROME2")))
    if big_endian:
        make_little_endian(ds)
    if syntax is not None:
        compress_instance(ds, raw, syntax, where=str(path))
    return clipped


def _report_clipped(
    source: Path | str,
    values: np.ndarray,
    clipped_total: int,
    out: Path,
    on_clipped: Callable[[int, int], None] | None,
) -> None:
    """Log the values clipped to the stored range (a warning beyond WIDEN_FRACTION of them)."""
    level = logging.WARNING if clipped_total > WIDEN_FRACTION * values.size else logging.INFO
    log.log(
        level,
        "%s: %d of %d pixel values clipped to the stored range (written to %s)",
        source,
        clipped_total,
        values.size,
        out,
    )
    if on_clipped is not None:
        on_clipped(clipped_total, int(values.size))


def _frame_order(indices: list[int], slices: tuple[SliceSource, ...]) -> list[int]:
    """Volume indices of one multi-frame file, in source frame order."""
    order = sorted(indices, key=lambda k: slices[k].frame or 0)
    frames = [slices[k].frame for k in order]
    if len(set(frames)) != len(frames):
        raise InvalidImageError(f"{slices[order[0]].path}: a frame is listed twice in the volume")
    return order


def _multiframe(
    ds: Dataset,
    path: Path,
    indices: list[int],
    values: np.ndarray,
    original: np.ndarray,
    slices: tuple[SliceSource, ...],
    fmt: PixelFormat,
) -> tuple[np.ndarray, int]:
    """Stored frames of one multi-frame output, in source frame order.

    When the volume uses only some of the file's frames, the output keeps
    those frames and their per-frame functional groups only.
    """
    order = _frame_order(indices, slices)
    frames = [int(slices[k].frame or 0) for k in order]
    stack = np.empty((len(order), *values.shape[1:]), dtype=fmt.dtype)
    clipped = 0
    for j, k in enumerate(order):
        stack[j], c = _stored_slice(ds, path, values[k], original[k], slices[k], fmt)
        clipped += c
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if frames != list(range(n_frames)) and per_frame is not None:
        ds.PerFrameFunctionalGroupsSequence = DicomSequence([per_frame[f] for f in frames])
    return stack, clipped
