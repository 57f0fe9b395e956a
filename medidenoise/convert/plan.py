"""Planning a batch conversion: what is converted, where it goes, what is left out.

Output layout (documented in README and the CLI help)::

    OUTPUT/<folder of the series, relative to INPUT>/<SeriesNumber>_<description>_denoised/
        00001.dcm ...                 the derived series (multi-frame: one file per source file)
        .medidenoise-series.json      manifest, written last: the series is complete
    OUTPUT/<relative folder>/<name>_denoised.nii.gz (+ .medidenoise.json)   NIfTI output
    OUTPUT/medidenoise-report.json, OUTPUT/medidenoise-report.txt
    OUTPUT/.medidenoise-partial/      work folders of series being written (removed when done)

When two series would get the same name in one folder, the later ones get
``_<8 hex digits>`` appended: a hash of the series key (the SeriesInstanceUID,
or ``UID#k`` when one UID splits into several stacks) and the source folder,
so every planned output is unique and stays the same from run to run.

An OUTPUT whose name ends in ``.nii``/``.nii.gz`` (and that is not an existing
folder) names one NIfTI file: INPUT must then hold exactly one series or be
one NIfTI file, and that file is written (``<OUTPUT>.medidenoise.json`` beside
it records the settings).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from medidenoise.convert.report import FileEntry
from medidenoise.errors import ConversionError
from medidenoise.io import SeriesInfo, scan_dicom
from medidenoise.io._atomic import write_error
from medidenoise.io.formats import file_kind, image_stem, is_nifti_path, special_file_kind

__all__ = [
    "PARTIAL_DIR",
    "Plan",
    "Unit",
    "check_paths",
    "is_file_output",
    "plan",
]

PARTIAL_DIR = ".medidenoise-partial"
Format = Literal["dicom", "nifti"]


@dataclass(frozen=True)
class Unit:
    """One thing to convert: a DICOM series or a NIfTI file."""

    kind: Literal["dicom", "nifti"]
    source: Path  # the series folder, or the NIfTI/DICOM file
    output: Path  # relative to OUTPUT: a folder (DICOM out) or a file (NIfTI out)
    info: SeriesInfo | None = None
    slices: int = 0
    series_uid: str = ""
    description: str = ""
    modality: str = ""
    series_key: str = ""  # SeriesInfo.key: the UID, or UID#k for one stack of a split UID
    #: said in the report about this unit before it is converted
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """A short stable name for this unit's work folder."""
        return hashlib.sha1(str(self.output).encode()).hexdigest()[:16]


@dataclass
class Plan:
    """The units to convert and the files left out."""

    units: list[Unit]
    files: list[FileEntry]


def is_file_output(dst: Path) -> bool:
    """True when OUTPUT names one NIfTI file rather than a folder."""
    return is_nifti_path(dst) and not dst.is_dir()


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_paths(src: Path, dst: Path) -> None:
    """Refuse input/output combinations that could touch or re-read the originals.

    OUTPUT inside INPUT would be scanned as input on the next run; INPUT
    inside OUTPUT would let derived series land in the input tree. Both are
    refused for a folder INPUT. A single-file INPUT only needs OUTPUT not to
    be that file. A NIfTI-file OUTPUT (see :func:`is_file_output`) must not be
    the input nor lie inside a folder INPUT.
    """
    if not src.exists():
        raise FileNotFoundError(f"{src}: no such file or folder")
    s, d = src.resolve(), dst.resolve()
    to_file = is_file_output(dst)
    if src.is_file():
        if d == s:
            raise ConversionError(f"{dst}: OUTPUT is the input file; pick a new name")
        if d.exists() and not d.is_dir() and not to_file:
            raise ConversionError(f"{dst}: OUTPUT exists and is not a folder")
        return
    if _inside(d, s):
        raise ConversionError(
            f"OUTPUT {dst} is inside INPUT {src}: the derived series would be mixed with the "
            "originals and read back as input next time; pick an OUTPUT outside INPUT"
        )
    if to_file:
        return
    if _inside(s, d):
        raise ConversionError(
            f"INPUT {src} is inside OUTPUT {dst}: derived series could be written into the "
            "input tree; pick an OUTPUT folder that does not contain INPUT"
        )
    if d.exists() and not d.is_dir():
        raise ConversionError(f"{dst}: OUTPUT exists and is not a folder")


def check_writable(out_root: Path) -> None:
    """Refuse an OUTPUT that cannot be made or written, before the input is scanned.

    The nearest existing folder above (or at) ``out_root`` must be a folder in which a file
    can be created: one is made and removed at once (a read-only file system refuses even
    root, which ``os.access`` would not show).
    """
    here = out_root
    while not os.path.lexists(here) and here != here.parent:
        here = here.parent
    if os.path.lexists(here) and not here.is_dir():
        raise ConversionError(
            f"{out_root}: {here} is a file, not a folder, so OUTPUT cannot be made under it; "
            "choose another OUTPUT"
        )
    try:
        probe = Path(tempfile.mkdtemp(prefix=".medidenoise-probe-", dir=here))
        probe.rmdir()
    except OSError as exc:
        raise write_error(exc, out_root) from exc


def _slug(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_.")
    return slug[:limit].rstrip("_.")


def series_name(number: int | None, description: str) -> str:
    """``<SeriesNumber>_<description>_denoised`` with unsafe characters replaced."""
    parts = [str(number) if number is not None else "S", _slug(description)]
    return "_".join(p for p in parts if p) + "_denoised"


def _relative_folder(files: tuple[Path, ...], root: Path) -> Path:
    if root.is_file():
        return Path()
    common = Path(os.path.commonpath([str(f.parent) for f in files]))
    try:
        return common.relative_to(root)
    except ValueError:
        return Path()


def _dedupe(units: list[Unit]) -> list[Unit]:
    """Give every unit its own output: later clashes get a hash of their series key.

    The tag hashes the series key (not only the SeriesInstanceUID): when one
    UID splits into several stacks in one folder, each stack gets its own
    name. A counter settles the (unlikely) case of a tag clash too.
    """
    seen: set[Path] = set()
    out: list[Unit] = []
    for u in units:
        target = u.output
        if target in seen:
            stem = target.name.removesuffix(".nii.gz").removesuffix("_denoised")
            ext = ".nii.gz" if target.name.endswith(".nii.gz") else ""
            tag = hashlib.sha1(f"{u.series_key or u.series_uid}|{u.source}".encode()).hexdigest()
            target = target.with_name(f"{stem}_{tag[:8]}_denoised{ext}")
            n = 2
            while target in seen:
                target = target.with_name(f"{stem}_{tag[:8]}-{n}_denoised{ext}")
                n += 1
        seen.add(target)
        out.append(replace(u, output=target))
    return out


def _nifti_unit(path: Path, root: Path) -> Unit:
    rel = Path() if root.is_file() else path.parent.relative_to(root)
    stem = image_stem(path)
    return Unit("nifti", path, rel / f"{stem}_denoised.nii.gz", description=stem)


def _single(units: list[Unit], src: Path, name: str, fmt: Format | None) -> list[Unit]:
    """The one unit of a NIfTI-file OUTPUT, renamed to that file."""
    if fmt == "dicom":
        raise ConversionError(
            f"OUTPUT {name} names a NIfTI file but --format dicom was asked for; give an "
            "OUTPUT folder for DICOM output, or leave out --format"
        )
    if len(units) != 1:
        found = f"{len(units)} series" if units else "no image series"
        raise ConversionError(
            f"OUTPUT {name} names one NIfTI file but INPUT {src} holds {found}; give an "
            "OUTPUT folder (one output per series) or point INPUT at one series"
        )
    return [replace(units[0], output=Path(name))]


def _note_stray_errors(
    units: list[Unit], errors: list[tuple[Path, str]], series: list[SeriesInfo]
) -> list[Unit]:
    """Tell each series about unreadable files beside it whose own series cannot be told.

    Such a file may be a missing slice: the series is still converted (it may
    not be), but its report entry says so, and the unreadable file makes the
    run's exit code 1.
    """
    attributed = {p for info in series for p, _ in info.broken_files}
    strays = [(p, why) for p, why in errors if p not in attributed]
    if not strays:
        return units
    out = []
    for u in units:
        if u.kind != "dicom" or u.info is None:
            out.append(u)
            continue
        folders = {f.parent for f in u.info.files}
        near = [
            f"{p} cannot be read ({why}) and its series cannot be told; if it was a slice of "
            "this series, the series is incomplete"
            for p, why in strays
            if p.parent in folders
        ]
        out.append(replace(u, notes=(*u.notes, *near)) if near else u)
    return out


def plan(src: Path, fmt: Format | None, *, single: str | None = None) -> Plan:
    """Scan ``src`` and list the units to convert, in a deterministic order.

    Every rank of a distributed run computes the same plan, so the units can
    be shared out by index. With ``single`` (the file name of a NIfTI-file
    OUTPUT) the plan must hold exactly one unit, which is written to that name.
    """
    if src.is_file() and file_kind(src) == "nifti":
        if fmt == "dicom":
            raise ConversionError(
                f"{src}: a NIfTI file cannot become DICOM (there is no source header to "
                "derive from); leave out --format or use --format nifti"
            )
        one = [_nifti_unit(src, src)]
        return Plan(_single(one, src, single, fmt) if single else one, [])
    scan = scan_dicom(src)
    units: list[Unit] = []
    files: list[FileEntry] = []
    for path, reason in scan.skipped:
        if src.is_dir() and special_file_kind(path) is None and file_kind(path) == "nifti":
            units.append(_nifti_unit(path, src))
        else:
            files.append(FileEntry(str(path), "skipped", reason))
    files.extend(FileEntry(str(p), "unreadable", reason) for p, reason in scan.errors)
    for info in scan.series:
        rel = _relative_folder(info.files, src)
        name = series_name(info.series_number, info.description)
        output = rel / (name + ".nii.gz" if fmt == "nifti" or single else name)
        folder = Path(os.path.commonpath([str(f.parent) for f in info.files]))
        units.append(
            Unit(
                "dicom",
                folder if src.is_dir() else src,
                output,
                info=info,
                slices=int(info.shape[0]),
                series_uid=info.series_uid,
                description=info.description,
                modality=info.modality,
                series_key=info.key,
            )
        )
    units = _note_stray_errors(units, scan.errors, scan.series)
    units.sort(key=lambda u: (str(u.output), u.series_uid, u.series_key, str(u.source)))
    if single:
        return Plan(_single(units, src, single, fmt), files)
    return Plan(_dedupe(units), files)
