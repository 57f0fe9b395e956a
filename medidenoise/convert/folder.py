"""``convert_dicom_folder``: denoise a PACS export into derived series, originals untouched.

See :mod:`medidenoise.convert.plan` for the output layout and
:mod:`medidenoise.convert.unit` for how each series is written all
or nothing (so a killed run resumes where it stopped).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal

from medidenoise._version import __version__
from medidenoise.convert.lock import LOCK_NAME, output_lock
from medidenoise.convert.parallel import distributed_rank, gather_entries, run_units
from medidenoise.convert.plan import (
    PARTIAL_DIR,
    check_paths,
    check_writable,
    is_file_output,
    plan,
)
from medidenoise.convert.provenance import derivation, model_id
from medidenoise.convert.report import ConversionReport
from medidenoise.convert.unit import UnitOptions, planned_entry
from medidenoise.inference._inputs import check_model_available
from medidenoise.inference.options import DenoiseOptions
from medidenoise.io.dicom import Compression, compression_syntax

__all__ = ["convert_dicom_folder"]

log = logging.getLogger(__name__)


#: why a conversion refuses ``noise_level=0`` (``DenoiseOptions`` takes it: a script may mean it)
_ZERO_LEVEL = (
    "it is the noise's standard deviation in image units (HU for CT), and 0 would say there is "
    "no noise to remove; leave it out to estimate it per series (or use model='identity' to "
    "copy the values through)"
)


def _check_args(
    output_format: str | None, jobs: int, options: DenoiseOptions, compression: str
) -> None:
    if output_format not in (None, "dicom", "nifti"):
        raise ValueError(f"output_format must be None, 'dicom' or 'nifti', got {output_format!r}")
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a whole number >= 1, got {jobs!r}")
    if options.noise_level == 0:  # the options checked the rest when they were made
        raise ValueError(f"noise_level must be a positive number, got 0: {_ZERO_LEVEL}")
    if compression != "none" and output_format == "nifti":
        raise ValueError(
            f"compression={compression!r} applies to DICOM output only; leave it out (or "
            "pass 'none') with NIfTI output"
        )
    compression_syntax(compression)  # unknown name, or its encoder package missing: fail now


def convert_dicom_folder(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    model: Any = "auto",
    noise_level: float | None = None,
    output_format: Literal["dicom", "nifti"] | None = None,
    compression: Compression = "none",
    overwrite: bool = False,
    dry_run: bool = False,
    jobs: int = 1,
    device: str | None = None,
    progress: bool = False,
    self_ensemble: bool = False,
    rician: bool = False,
    volume_index: int | None = None,
    allow_incomplete: bool = False,
    scheduler: Any = None,
    options: DenoiseOptions | None = None,
) -> ConversionReport:
    """Denoise every image series under ``src`` into derived series under ``dst``.

    Parameters
    ----------
    src : str or os.PathLike
        A DICOM file, a folder tree (a PACS export: many studies and series,
        any file names, broken files allowed) or a NIfTI file.
    dst : str or os.PathLike
        The output folder; must not be inside ``src`` nor contain it. Each
        series goes to ``dst/<its folder relative to src>/<SeriesNumber>_
        <description>_denoised/``; NIfTI input gives ``<name>_denoised.nii.gz``.
        A name ending in ``.nii``/``.nii.gz`` (not an existing folder) is one
        NIfTI file instead: ``src`` must be a NIfTI file or hold exactly one
        series; ``<dst>.medidenoise.json`` beside it records the settings and
        no report files are written.
    model : str, path or torch.nn.Module
        ``"auto"`` (the default: ``"white"`` or ``"correlated"`` per series by its measured
        noise, the Rician bias removed from what it takes for a magnitude series; the derived
        series' Derivation Description says what ran), ``"white"``, ``"correlated"``,
        ``"default"`` or ``"cae-baseline"`` (shipped models), a checkpoint,
        ``"identity"`` (pixel values are written back exactly) or a classical
        method (``"nlm"``, ``"tv"``, ``"wavelet"``, ``"bm3d"``); see
        :func:`denoise`.
    noise_level : float, optional
        Noise std in image units, > 0 (0 is refused: no noise means nothing to remove);
        estimated per series when omitted.
    output_format : {"dicom", "nifti"}, optional
        Default: DICOM for DICOM input, NIfTI for NIfTI input.
    compression : {"none", "rle", "jpeg-ls", "jpeg2000"}
        DICOM output only: ``"none"`` writes Explicit VR Little Endian; the
        others re-encode losslessly (RLE Lossless; JPEG-LS Lossless, needs
        ``pyjpegls``; JPEG 2000 Lossless, needs ``pylibjpeg-openjpeg``).
    overwrite : bool
        Redo series that an earlier run completed. Without it, a series
        completed with the same model, noise level, compression and self-ensemble is left
        alone (``"complete"``), and one completed with other settings is
        left alone too but reported ``"failed"`` with the differences, so an
        earlier result is never replaced silently.
    dry_run : bool
        Scan and list the plan; write nothing.
    jobs : int
        Series converted in parallel by worker processes.
    device : str, optional
        ``"cpu"``, ``"cuda"``...; default CUDA when present.
    progress : bool
        Show an overall progress bar (and per-series bars when ``jobs == 1``).
    self_ensemble : bool
        Average the network over the eight flips and rotations of each slice
        (the self-ensemble: see :class:`~medidenoise.Denoiser`).
    rician : bool
        Magnitude images with Rician noise (MR): remove the bias it leaves in dark
        regions (see :class:`~medidenoise.Denoiser`); a series with negative values
        fails with the reason.
    volume_index : int, optional
        For 4D NIfTI input, which volume (0-based, along the 4th axis) to
        denoise; required when a NIfTI input holds several.
    allow_incomplete : bool
        A series some of whose files cannot be read (truncated or corrupt
        files that carry its SeriesInstanceUID) is by default not written and
        reported ``"failed"``. With this option it is written from its
        readable slices, flagged ``INCOMPLETE`` in its SeriesDescription,
        DerivationDescription and manifest, and reported ``"incomplete"``
        (``report.ok`` stays False either way).
    scheduler : str or distributed.Client, optional
        Convert on a Dask cluster instead of this process (needs
        ``medidenoise[dask]``): a scheduler address (``"tcp://host:8786"``),
        a scheduler file (``*.json``), ``"local"`` / ``"local:N"`` (a local
        cluster of N worker processes for the run) or a connected
        ``distributed.Client``. Every worker must see ``src`` and ``dst`` at
        the same paths (a shared file system); ``model`` must be a name or a
        checkpoint file. The report says which worker converted each series.
        See :mod:`medidenoise.convert.dask`.
    options : DenoiseOptions, optional
        ``noise_level``, ``self_ensemble`` and ``rician`` (and ``batch_size``,
        ``tile_size``, ``precision``) as one object, instead of those keywords.

    Returns
    -------
    ConversionReport
        ``.ok``, ``.summary()``, ``.series``, ``.files``, ``.to_json()``; also
        written to ``dst/medidenoise-report.{json,txt}`` unless ``dry_run``.

    Raises
    ------
    FileNotFoundError
        ``src`` does not exist.
    ConversionError
        ``dst`` inside ``src`` (or the reverse), NIfTI input with
        ``output_format="dicom"``, or a NIfTI-file ``dst`` for an input that
        does not hold exactly one series. With ``scheduler``: a scheduler
        that cannot be reached, or a worker that cannot see ``src`` or ``dst``.
    ValueError
        A bad ``output_format``, ``jobs``, ``noise_level``, ``compression``
        or ``scheduler`` (or ``scheduler`` with ``jobs`` or a model object).
    MissingDecoderError
        The package of the chosen ``compression`` is not installed.
    OutputLockedError
        Another conversion is writing into ``dst`` right now (a
        :class:`ConversionError`); nothing was done. One run per OUTPUT at a
        time; the lock goes when that run ends, however it ends.

    Examples
    --------
    >>> report = convert_dicom_folder("export/", "denoised/", model="identity")  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
    """
    src, dst = Path(src), Path(dst)
    to_file = is_file_output(dst)
    if to_file and output_format is None:
        output_format = "nifti"
    denoising = DenoiseOptions.of(
        options, noise_level=noise_level, self_ensemble=self_ensemble, rician=rician
    )
    _check_args(output_format, jobs, denoising, compression)
    if volume_index is not None and (isinstance(volume_index, bool) or volume_index < 0):
        raise ValueError(f"volume_index must be a whole number >= 0, got {volume_index!r}")
    if scheduler is not None:  # workers elsewhere have another working folder
        from medidenoise.convert.dask import check_scheduler

        check_scheduler(scheduler, jobs=jobs, model=model)
        src, dst = src.absolute(), dst.absolute()
    check_paths(src, dst)
    out_root = dst.parent if to_file else dst
    check_model_available(model)  # an unknown name: refused before the scan makes OUTPUT
    if not dry_run:
        check_writable(out_root)  # read-only, or under a regular file: named, nothing made
    args = {
        "model": model,
        "options": denoising,
        "output_format": output_format,
        "compression": compression,
        "overwrite": overwrite,
        "dry_run": dry_run,
        "jobs": jobs,
        "device": device,
        "progress": progress,
        "volume_index": volume_index,
        "allow_incomplete": allow_incomplete,
        "scheduler": scheduler,
    }
    if dry_run:  # writes nothing: needs no lock
        return _run(src, dst, to_file, out_root, **args)
    _, world = distributed_rank()
    lock = out_root / (f".{dst.name}{LOCK_NAME}" if to_file else LOCK_NAME)
    with output_lock(lock, shared=world > 1):  # the ranks of one torchrun run share it
        return _run(src, dst, to_file, out_root, **args)


def _run(
    src: Path,
    dst: Path,
    to_file: bool,
    out_root: Path,
    *,
    model: Any,
    options: DenoiseOptions,
    output_format: Literal["dicom", "nifti"] | None,
    compression: Compression,
    overwrite: bool,
    dry_run: bool,
    jobs: int,
    device: str | None,
    progress: bool,
    volume_index: int | None,
    allow_incomplete: bool,
    scheduler: Any,
) -> ConversionReport:
    the_plan = plan(src, output_format, single=dst.name if to_file else None)
    model_label = model_id(model)
    settings = {
        "model": model_label,
        **options.compared_settings(),  # noise_level, self_ensemble, rician
        "output_format": output_format or "same as input",
        "compression": compression,
        "volume_index": volume_index,
        "medidenoise": __version__,
    }
    opts = UnitOptions(
        output_format=output_format or "dicom",
        overwrite=overwrite,
        derivation=derivation(model_label, options),
        settings=settings,
        denoise=options,
        progress=progress,
        compression=compression,
        volume_index=volume_index,
        allow_incomplete=bool(allow_incomplete),
    )
    report = ConversionReport(str(src), str(dst), files=the_plan.files, dry_run=dry_run)
    report.settings = settings
    if dry_run:  # the decision convert_unit makes, without converting
        report.series = [planned_entry(u, out_root, opts) for u in the_plan.units]
        return report

    rank, world = distributed_rank()
    mine = the_plan.units[rank::world]
    log.info("rank %d/%d: converting %d of %d series", rank, world, len(mine), len(the_plan.units))
    if scheduler is not None:
        from medidenoise.convert.dask import run_units_dask

        entries = run_units_dask(
            mine, out_root, opts, model=model, device=device, scheduler=scheduler
        )
    else:
        entries = run_units(mine, out_root, opts, model=model, device=device, jobs=jobs)
    if world > 1:
        entries = gather_entries(entries, rank, world)
    report.series = entries
    if rank != 0:
        report.part = f"rank {rank} of {world}: its share only; rank 0 writes the full report"
    else:
        if not to_file:  # a single NIfTI file: its manifest beside it is the record
            report.write(dst)
        partial = out_root / PARTIAL_DIR
        if partial.is_dir() and not any(partial.iterdir()):
            partial.rmdir()
    return report
