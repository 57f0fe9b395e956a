"""``convert_dicomweb``: folder conversion with a DICOMweb server at either end.

The series of a DICOMweb INPUT are retrieved (WADO-RS) into a work folder laid
out ``<StudyUID>/<SeriesUID>/``, converted there by
:func:`~medidenoise.convert.convert_dicom_folder` exactly as a folder is, and,
for a DICOMweb OUTPUT, each derived series is stored (STOW-RS) and then looked
up again (QIDO-RS) to check that the server holds every instance.

Derived UIDs are deterministic (the source series and the settings decide
them), so a re-run asks the OUTPUT server for each series' derived UID first
and skips (``"complete"``) those it already holds whole, without retrieving
them again.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydicom.uid import generate_uid

from medidenoise.convert import ConversionReport, convert_dicom_folder
from medidenoise.convert.plan import is_file_output
from medidenoise.convert.provenance import derivation, model_id
from medidenoise.convert.report import SeriesEntry
from medidenoise.convert.unit import MANIFEST
from medidenoise.inference.options import DenoiseOptions
from medidenoise.pacs.dicomweb import DicomWebClient, RemoteSeries, WebLocation, is_url, parse_url
from medidenoise.pacs.errors import PacsError

__all__ = ["convert_dicomweb", "derived_series_uid"]

log = logging.getLogger(__name__)


def derived_series_uid(source_series_uid: str, uid_seed: str) -> str:
    """The SeriesInstanceUID conversion gives the derived series of a source series.

    ``uid_seed`` is the conversion's Derivation Description (see
    :func:`medidenoise.convert.provenance.derivation`). Holds for a source
    series that reads as one stack (a split series gets one UID per stack).
    """
    return str(generate_uid(entropy_srcs=["medidenoise-series", source_series_uid, uid_seed]))


@contextmanager
def _work_folder(work: str | os.PathLike | None) -> Iterator[Path]:
    if work is not None:
        path = Path(work)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="medidenoise-web-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _derived_by_us(path: Path) -> bool:
    from pydicom import dcmread

    try:
        ds = dcmread(path, stop_before_pixels=True)
    except Exception:  # the conversion reports an unreadable file
        return False
    return str(ds.get("DerivationDescription", "")).startswith("Denoised by medidenoise")


def _stored_whole(client: DicomWebClient, series: RemoteSeries, uid: str) -> bool:
    found = client.search_series(series.study_uid, uid, missing_ok=True)
    return bool(found) and found[0].instances >= series.instances > 0


def _fetch(
    client: DicomWebClient,
    src: WebLocation,
    into: Path,
    out: DicomWebClient | None,
    seed: str,
) -> tuple[list[SeriesEntry], dict[str, str]]:
    """Retrieve the INPUT's series into ``into``; skip those the OUTPUT server holds whole."""
    found = client.search_series(src.study_uid, src.series_uid)
    if not found:
        raise PacsError(f"{src}: the server holds no such study or series (QIDO-RS found none)")
    done: list[SeriesEntry] = []
    urls: dict[str, str] = {}
    ours = {derived_series_uid(s.series_uid, seed) for s in found}
    for series in found:
        url = src.series_url(series.study_uid, series.series_uid)
        if series.series_uid in ours:
            log.info("series %s: derived by medidenoise from this study; left out", url)
            continue
        uid = derived_series_uid(series.series_uid, seed)
        if out is not None and _stored_whole(out, series, uid):
            done.append(
                SeriesEntry(
                    source=url,
                    output=f"{out.base}/studies/{series.study_uid}/series/{uid}",
                    slices=series.instances,
                    status="complete",
                    reason="already stored on the OUTPUT server by an earlier run",
                    series_uid=series.series_uid,
                    description=series.description,
                    modality=series.modality,
                )
            )
            continue
        folder = into / series.study_uid / series.series_uid
        shutil.rmtree(folder, ignore_errors=True)
        files = client.download_series(series, folder)
        if _derived_by_us(files[0]):  # made with other settings: never denoised twice
            shutil.rmtree(folder)
            log.info("series %s: a series medidenoise derived; left out", url)
            continue
        urls[str(folder)] = url
        log.info("retrieved series %s (%d instances)", series.series_uid, series.instances)
    return done, urls


def _store(out: DicomWebClient, entry: SeriesEntry) -> None:
    """STOW-RS one derived series folder, then check the server holds all of it."""
    import json

    assert entry.output is not None
    folder = Path(entry.output)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    files = [folder / name for name in manifest["files"]]
    out.store(files)
    from pydicom import dcmread

    first = dcmread(files[0], stop_before_pixels=True)
    study, uid = str(first.StudyInstanceUID), str(manifest["series_uid"])
    held = out.search_series(study, uid, missing_ok=True)
    if not held or held[0].instances < len(files):
        count = held[0].instances if held else 0
        raise PacsError(
            f"{out.base}: stored {len(files)} instance(s) of series {uid} but the server lists "
            f"{count}; run again"
        )
    entry.output = f"{out.base}/studies/{study}/series/{uid}"


def convert_dicomweb(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    work: str | os.PathLike | None = None,
    **options: Any,
) -> ConversionReport:
    """Denoise with a DICOMweb server as INPUT, OUTPUT or both.

    Parameters
    ----------
    src : str or os.PathLike
        A DICOMweb study or series URL
        (``http://host:8042/dicom-web/studies/UID[/series/UID]``) or a local
        input as :func:`~medidenoise.convert.convert_dicom_folder` takes.
    dst : str or os.PathLike
        A DICOMweb service root (``http://host:8042/dicom-web``; the derived
        series are stored there by STOW-RS) or an output folder.
    work : str or os.PathLike, optional
        Where retrieved and derived series are kept while they are converted,
        and where the report is written for a DICOMweb OUTPUT. Default: a
        temporary folder, removed at the end (the report is then only returned).
    **options
        Those of :func:`~medidenoise.convert.convert_dicom_folder` (``model``,
        ``noise_level``, ``compression``, ``overwrite``, ``dry_run``, ``jobs``,
        ``device``, ``progress``, ``self_ensemble``, ``rician``,
        ``allow_incomplete``); a DICOMweb OUTPUT takes DICOM output only.

    Returns
    -------
    ConversionReport
        As for folders; sources and outputs are the series' URLs.

    Raises
    ------
    PacsUnreachableError
        A server cannot be reached (nothing was stored, nothing marked done).
    PacsError
        A server refused a request (credentials, an unknown study...).
    ValueError
        A malformed URL (or one holding credentials), or NIfTI output asked
        for a DICOMweb OUTPUT.

    Examples
    --------
    >>> convert_dicomweb(  # doctest: +SKIP
    ...     "http://localhost:8042/dicom-web/studies/1.2.3", "http://localhost:8042/dicom-web",
    ...     model="auto")
    """
    src_loc = parse_url(str(src), what="INPUT") if is_url(src) else None
    dst_loc = parse_url(str(dst), what="OUTPUT") if is_url(dst) else None
    if src_loc is not None and not src_loc.study_uid:
        raise ValueError(
            f"INPUT {src}: give a study or a series, .../studies/<StudyUID>[/series/<SeriesUID>]"
        )
    if dst_loc is not None and (dst_loc.study_uid or dst_loc.series_uid):
        raise ValueError(f"OUTPUT {dst}: give the DICOMweb root (e.g. http://host:8042/dicom-web)")
    if dst_loc is not None and options.get("output_format") not in (None, "dicom"):
        raise ValueError("a DICOMweb OUTPUT stores DICOM series: leave out --format nifti")
    options.pop("scheduler", None)
    seed = derivation(model_id(options.get("model", "auto")), DenoiseOptions.from_mapping(options))
    reader = DicomWebClient(src_loc.base) if src_loc is not None else None
    writer = DicomWebClient(dst_loc.base) if dst_loc is not None else None
    try:
        with _work_folder(work) as folder:
            return _convert(src, dst, src_loc, dst_loc, reader, writer, folder, seed, options)
    finally:
        for client in (reader, writer):
            if client is not None:
                client.close()


def _convert(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    src_loc: WebLocation | None,
    dst_loc: WebLocation | None,
    reader: DicomWebClient | None,
    writer: DicomWebClient | None,
    folder: Path,
    seed: str,
    options: dict[str, Any],
) -> ConversionReport:
    overwrite = bool(options.get("overwrite"))
    if writer is not None:  # unreachable: fail before anything is retrieved or converted
        writer.ping()
    done: list[SeriesEntry] = []
    urls: dict[str, str] = {}
    local_src = Path(src)
    if reader is not None and src_loc is not None:
        local_src = folder / "retrieved"
        shutil.rmtree(local_src, ignore_errors=True)
        done, urls = _fetch(reader, src_loc, local_src, None if overwrite else writer, seed)
        if not urls:  # everything stored already
            report = ConversionReport(str(src), str(dst), series=done)
            return _finish(report, folder if writer is not None else None)
    local_dst = folder / "derived" if writer is not None else Path(dst)
    report = convert_dicom_folder(local_src, local_dst, **options)
    for entry in report.series:
        entry.source = urls.get(entry.source, entry.source)
        if writer is None or entry.status not in ("converted", "complete", "incomplete"):
            continue
        if options.get("dry_run"):
            continue
        try:
            _store(writer, entry)
        except PacsError as exc:
            log.warning("%s: %s", entry.source, exc)
            entry.status, entry.reason = "failed", f"{type(exc).__name__}: {exc}"
    for item in report.files:
        for local, url in urls.items():
            if item.path.startswith(local + os.sep):
                item.path = url + "/" + Path(item.path).name
    report.series = done + report.series
    report.source, report.output = str(src), str(dst)
    if writer is None and reader is not None and not is_file_output(Path(dst)):
        return _finish(report, Path(dst))  # the folder's report, with the URLs
    return _finish(report, folder if writer is not None else None)


def _finish(report: ConversionReport, folder: Path | None) -> ConversionReport:
    if folder is not None and not report.dry_run:
        report.write(folder)
    return report
