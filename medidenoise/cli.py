"""The ``medidenoise`` command line: argument parsing only, the work is in the library."""

from __future__ import annotations

import argparse
import errno
import logging
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medidenoise._model_names import MODELS, model_names, models_help
from medidenoise._version import __version__
from medidenoise.errors import MedidenoiseError

__all__ = ["build_parser", "main"]

log = logging.getLogger("medidenoise")

_DEVICE_HELP = "cpu, cuda or cuda:N (default: cuda when PyTorch sees a GPU, else cpu)"


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a denoising model from a YAML config")
    p.add_argument("--config", required=True, type=Path, help="configs/*.yaml file")
    p.add_argument("--output", type=Path, default=None, help="output folder (default: runs/NAME)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.epochs=5 (repeatable)",
    )
    p.add_argument(
        "--device", default=None, help="auto, cpu, cuda or cuda:N (default: cuda if present)"
    )
    p.add_argument("--resume", type=Path, default=None, help="checkpoint to continue from")
    p.set_defaults(func=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from medidenoise.engine import train
    from medidenoise.models.device import torchrun_rank

    result = train(
        args.config,
        output_dir=args.output,
        overrides=args.overrides,
        device=args.device,
        resume=args.resume,
    )
    if torchrun_rank().rank == 0:  # under torchrun only rank 0 reports
        print(result.summary())
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="compare a model with classical baselines (PSNR/SSIM)")
    p.add_argument(
        "--model",
        default="auto",
        help="'auto' (default), 'default', 'correlated', a checkpoint file or 'identity'",
    )
    p.add_argument(
        "--images",
        nargs="*",
        default=None,
        help="image files or folders (default: the hold-out set RG3, MR2, 693)",
    )
    p.add_argument("--output", type=Path, default=Path("reports/evaluation"))
    p.add_argument(
        "--noise",
        action="append",
        default=None,
        metavar="KIND:LEVEL",
        help="noise to evaluate, e.g. gaussian:0.1 (repeatable; default: gaussian:0.05, "
        "gaussian:0.1, poisson:200, rician:0.05)",
    )
    p.add_argument(
        "--methods",
        nargs="*",
        default=None,
        help="subset of noisy model cae bm3d nlm tv wavelet (default: all available)",
    )
    p.add_argument("--crop", type=int, default=256, help="crop size, 0 for whole images")
    p.add_argument(
        "--baseline-cae",
        type=Path,
        default=None,
        help="checkpoint of the CAE baseline (its row is skipped without one)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the noise draws")
    p.add_argument(
        "--self-ensemble",
        action="store_true",
        help="average the network over the 8 flips/rotations of each slice: slightly better "
        "images (0.1-0.5 dB), 8 times the time",
    )
    p.add_argument("--device", default=None, help=_DEVICE_HELP)
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from medidenoise.evaluation.evaluate_model import evaluate

    result = evaluate(
        args.model,
        args.images or None,
        noises=args.noise,
        output_dir=args.output,
        methods=args.methods,
        crop=args.crop,
        device=args.device,
        baseline_cae=args.baseline_cae,
        seed=args.seed,
        self_ensemble=args.self_ensemble,
    )
    print(result.summary())
    print(f"report: {result.output_dir}")
    return 0


_DENOISE_EPILOG = """\
output layout:
  OUTPUT/<series folder relative to INPUT>/<SeriesNumber>_<description>_denoised/
      00001.dcm ...  one derived series per source image series (new UIDs, DERIVED)
      .medidenoise-series.json  written last: the series is complete
  OUTPUT/.../<name>_denoised.nii.gz  for NIfTI input or --format nifti
  OUTPUT/medidenoise-report.json, medidenoise-report.txt
An OUTPUT ending in .nii or .nii.gz is one NIfTI file instead (INPUT: a NIfTI
file or exactly one series), e.g. `medidenoise denoise scan.nii.gz
scan_denoised.nii.gz`; OUTPUT.medidenoise.json beside it records the settings.

re-running:
  Originals are only read. Re-running skips series completed with the same
  --model, --noise-level, --compression and --self-ensemble, and redoes
  interrupted ones. A
  series completed with other settings is left as it was and reported as
  failed (exit code 1) with the differences: pass --overwrite to redo it, or
  choose another OUTPUT. --overwrite redoes every series.

broken files:
  A file that cannot be read (truncated, corrupt) never stops the run: it is
  listed as unreadable with the reason. When it carries a series' UID, that
  series is incomplete: it is not written and is reported failed, unless
  --allow-incomplete, which writes the readable slices flagged INCOMPLETE (in
  SeriesDescription, DerivationDescription, the manifest and the report).

one run per OUTPUT:
  A run holds a lock on OUTPUT/.medidenoise.lock until it ends; a second run
  into the same OUTPUT is refused at once (exit code 3) and touches nothing.
  Under torchrun the ranks of one run share the lock and the series; rank 0
  writes the report.

exit codes:
  0  every series converted whole (or already complete), every file readable
  1  some series failed or are incomplete, or some files are unreadable (see
     the report; the series that converted are complete and kept)
  2  usage error: bad arguments, INPUT missing, OUTPUT inside INPUT...
     (nothing written)
  3  OUTPUT is in use by another conversion (nothing done; run again later)
  4  a DICOMweb server cannot be reached (nothing stored, nothing marked done)
  130 interrupted (completed series are kept; run again to finish)

many machines:
  With --scheduler the series run on a Dask cluster whose workers all see
  INPUT and OUTPUT at the same paths (README: "Many machines").
"""

_MODEL_HELP = models_help() + " (default: %(default)s)"


def _noise_level(text: str) -> float:
    """``--noise-level``: a finite number > 0 (argparse shows the message)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number; give the noise standard deviation in image units, "
            "e.g. --noise-level 12.5, or leave it out to estimate it"
        ) from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(
            f"{text} is not a positive finite number: 0 would say there is no noise to remove; "
            "leave --noise-level out to estimate it (or use --model identity to copy the values)"
        )
    return value


def _add_denoise(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "denoise",
        help="denoise a DICOM file, a DICOM folder tree or a NIfTI file into derived output",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_DENOISE_EPILOG,
    )
    p.add_argument(
        "input",
        help="a DICOM file, a folder searched recursively for DICOM series (a PACS export), "
        "a NIfTI file (.nii/.nii.gz), or a DICOMweb study or series URL "
        "(http://host:8042/dicom-web/studies/UID[/series/UID])",
    )
    p.add_argument(
        "output",
        help="output folder, a .nii/.nii.gz file, or a DICOMweb root URL "
        "(http://host:8042/dicom-web: derived series stored by STOW-RS)",
    )
    p.add_argument("--model", default="auto", help=_MODEL_HELP)
    p.add_argument(
        "--noise-level",
        type=_noise_level,
        default=None,
        help="noise sigma in image units, > 0 (default: estimated per series; 0 is refused: "
        "no noise means nothing to remove, --model identity copies the values)",
    )
    p.add_argument(
        "--format",
        choices=["dicom", "nifti"],
        default=None,
        help="output format: dicom (a derived series per source series) or nifti (one "
        ".nii.gz per series); default: the input's format",
    )
    p.add_argument(
        "--volume-index",
        type=int,
        default=None,
        metavar="K",
        help="4D NIfTI input: denoise volume K (0-based, along the 4th axis)",
    )
    p.add_argument(
        "--compression",
        choices=["none", "rle", "jpeg-ls", "jpeg2000"],
        default="none",
        help="DICOM output: none = uncompressed Explicit VR Little Endian (default); or a "
        "lossless re-encode: rle (RLE Lossless), jpeg-ls (JPEG-LS Lossless, needs pyjpegls), "
        "jpeg2000 (JPEG 2000 Lossless, needs pylibjpeg-openjpeg)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="redo series that are already complete, whatever settings made them",
    )
    p.add_argument("--dry-run", action="store_true", help="list what would be done, write nothing")
    p.add_argument("--jobs", type=int, default=1, help="series converted in parallel")
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS|local[:N]",
        help="convert on a Dask cluster (pip install 'medidenoise[dask]'): a scheduler address "
        "such as tcp://10.0.0.5:8786 or a scheduler file (.json), whose workers all see INPUT "
        "and OUTPUT at the same paths (a shared file system); or local:N, a local cluster of N "
        "worker processes. The report names the worker of each series",
    )
    p.add_argument(
        "--self-ensemble",
        action="store_true",
        help="average the network over the 8 flips/rotations of each slice: slightly better "
        "images (0.1-0.5 dB), 8 times the time",
    )
    p.add_argument(
        "--rician",
        action="store_true",
        help="magnitude images with Rician noise (MR): estimate its level where there is "
        "signal and remove the bias it leaves in dark regions, with any model and even where "
        "'auto' does not see it (a background masked to zero); a series with negative "
        "values fails with the reason",
    )
    p.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="write a series some of whose files cannot be read from its readable slices, "
        "flagged INCOMPLETE (default: such a series is not written and is reported failed)",
    )
    p.add_argument("--device", default=None, help=_DEVICE_HELP)
    from medidenoise.pacs._cli import add_denoise_options  # DICOMweb: --work

    add_denoise_options(p)
    p.set_defaults(func=_run_denoise)


#: exit codes of ``medidenoise denoise`` (documented in its --help and the README)
EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


def _conversion_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of ``denoise`` that every conversion takes, folder or DICOMweb."""
    from medidenoise.inference.options import DenoiseOptions

    return {
        "model": args.model,
        "options": DenoiseOptions(
            noise_level=args.noise_level, self_ensemble=args.self_ensemble, rician=args.rician
        ),
        "output_format": args.format,
        "compression": args.compression,
        "overwrite": args.overwrite,
        "dry_run": args.dry_run,
        "jobs": args.jobs,
        "device": args.device,
        "progress": True,
        "volume_index": args.volume_index,
        "allow_incomplete": args.allow_incomplete,
    }


def _run_denoise(args: argparse.Namespace) -> int:
    from medidenoise.pacs import _cli as pacs_cli

    options = _conversion_options(args)
    if pacs_cli.is_url(args.input) or pacs_cli.is_url(args.output):  # DICOMweb at either end
        return pacs_cli.run_denoise(args, options)
    from medidenoise.convert import OutputLockedError, convert_dicom_folder

    try:
        report = convert_dicom_folder(args.input, args.output, scheduler=args.scheduler, **options)
    except OutputLockedError as exc:
        print(f"medidenoise denoise: error: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except (FileNotFoundError, ValueError, MedidenoiseError) as exc:  # a message, no traceback
        print(f"medidenoise denoise: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(report.summary())
    return EXIT_OK if report.ok else EXIT_INCOMPLETE


_EXPORT_EPILOG = """\
formats:
  torchscript   OUTPUT.ts: torch.jit.load(OUTPUT)(slices, noise_level=None, modality="")
                takes slices in the image's own units and returns them denoised
                (normalisation, noise level, padding inside); needs only torch
  onnx          OUTPUT.onnx: the same pipeline for onnxruntime (pip install
                'medidenoise[onnx]'); its metadata property 'usage' states the inputs;
                `medidenoise denoise IN OUT --model OUTPUT.onnx` runs it
  monai-bundle  OUTPUT/ folder: python -m monai.bundle run --bundle_root OUTPUT
                --config_file OUTPUT/configs/inference.json --input scan.nii.gz
                --output_dir out   (see OUTPUT/docs/README.md)
An existing OUTPUT is refused unless --overwrite is given. Exit code 0 on success,
2 for bad arguments or a model that cannot be exported.
"""


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a model as TorchScript, ONNX or a MONAI bundle (pre/post-processing inside)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_EXPORT_EPILOG,
    )
    p.add_argument(
        "model",
        nargs="?",
        default="default",
        help=f"{', '.join(repr(n) for n, e in MODELS.items() if e.exportable)} or a "
        ".safetensors checkpoint (default: %(default)s)",
    )
    p.add_argument(
        "--format",
        dest="export_format",
        choices=["onnx", "torchscript", "monai-bundle"],
        default=None,
        help="default from the output's suffix (.onnx, .ts)",
    )
    p.add_argument("--output", required=True, type=Path, help="the .ts/.onnx file or bundle folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(func=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from medidenoise.export import export_model

    path = export_model(
        args.model, args.output, format=args.export_format, overwrite=args.overwrite
    )
    print(f"exported {args.model} -> {path}")
    return 0


def _add_adapt(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "adapt",
        help="fine-tune a model on your own noisy scans (no clean images needed)",
        description="Fine-tune a copy of a model on noisy images alone (self-supervised) "
        "and save it; then denoise with `medidenoise denoise ... --model OUTPUT`.",
    )
    p.add_argument(
        "inputs", nargs="+", type=Path, metavar="INPUT", help="DICOM file/folder, NIfTI, PNG/TIFF"
    )
    p.add_argument("--output", required=True, type=Path, help="the adapted model (.safetensors)")
    p.add_argument(
        "--model",
        default="auto",
        help="model to start from: 'auto' (the one denoise picks for the first input's "
        "noise), 'default', 'correlated' or a checkpoint (default: %(default)s)",
    )
    p.add_argument(
        "--minutes", type=float, default=3.0, help="wall-clock budget (default: %(default)s)"
    )
    p.add_argument(
        "--method",
        choices=["auto", "recorrupt", "blindspot"],
        default="auto",
        help="self-supervised objective (default: auto, chosen from the measured noise)",
    )
    p.add_argument(
        "--noise-level",
        type=float,
        default=None,
        help="noise sigma in image units, if known (pass the same to denoise)",
    )
    p.add_argument(
        "--volume-index",
        type=int,
        default=None,
        metavar="K",
        help="4D NIfTI input: adapt to volume K (0-based, along the 4th axis)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.set_defaults(func=_run_adapt)


def _run_adapt(args: argparse.Namespace) -> int:
    import signal

    from medidenoise.adaptation import adapt
    from medidenoise.io import read_volume

    out: Path = args.output
    if out.suffix != ".safetensors":
        print(f"medidenoise adapt: error: --output {out}: not a .safetensors file", file=sys.stderr)
        return 2
    if out.exists() and not args.overwrite:
        print(
            f"medidenoise adapt: error: {out} exists; pass --overwrite or choose another name",
            file=sys.stderr,
        )
        return 2
    unwritable = _unwritable(out)
    if unwritable:  # said before the minutes of training, not after them
        print(f"medidenoise adapt: error: --output {out}: {unwritable}", file=sys.stderr)
        return 2
    stop: list[int] = []

    def on_term(signum: int, _frame: object) -> None:
        stop.append(signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        volumes = [read_volume(path, volume_index=args.volume_index) for path in args.inputs]
        model = adapt(
            volumes,
            args.model,
            minutes=args.minutes,
            method=args.method,
            noise_level=args.noise_level,
            device=args.device,
            progress=True,
            rng=args.seed,
            should_stop=lambda: bool(stop),
        )
    except (InterruptedError, KeyboardInterrupt):
        why = "terminated (SIGTERM)" if stop else "interrupted"
        print(f"medidenoise adapt: {why}; nothing was saved", file=sys.stderr)
        return 143 if stop else 130
    except (FileNotFoundError, ValueError) as exc:
        message = str(exc)
        for i, path in enumerate(args.inputs):  # the library numbers images; name the files
            message = message.replace(f"images[{i}]", str(path))
        print(f"medidenoise adapt: error: {message}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    return _save_adapted(model, out)


def _unwritable(out: Path) -> str | None:
    """Why ``out`` cannot be written (a missing or read-only folder, a file in the way)."""
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        return "a folder of that name exists; give a file name"
    if not parent.exists():
        return f"the folder {parent} does not exist; create it first"
    if not parent.is_dir():
        return f"{parent} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"the folder {parent} is not writable; choose another place"
    return None


def _save_adapted(model: object, out: Path) -> int:
    from medidenoise.models import save_checkpoint

    try:
        save_checkpoint(out, model)  # type: ignore[arg-type]
    except OSError as exc:
        reason = "no space left on the device" if exc.errno == errno.ENOSPC else exc.strerror
        print(
            f"medidenoise adapt: error: cannot write {out}: {reason}; nothing was saved",
            file=sys.stderr,
        )
        return 1
    info: dict = dict(getattr(model, "metadata", {})["adaptation"])
    print(
        f"adapted {info['base_model']} with {info['method']} in {info['seconds']:.0f} s "
        f"({info['steps']} steps, stopped: {info['stopped']}); estimated PSNR on held-out "
        f"tiles {info['estimated_psnr_base']:.2f} -> {info['estimated_psnr_adapted']:.2f} dB"
    )
    print(f"guard: {info['reason']}")
    print(f"saved {out}; use it with: medidenoise denoise INPUT OUTPUT --model {out}")
    return 0


def _add_series(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "series",
        help="list the image series in a DICOM folder (exit code 1 when none is found or "
        "some DICOM files cannot be read; each is listed with the reason)",
    )
    p.add_argument(
        "folder", type=Path, help="folder searched recursively for DICOM files (or one file)"
    )
    p.set_defaults(func=_run_series)


def _run_series(args: argparse.Namespace) -> int:
    from medidenoise.io import scan_dicom

    try:
        scan = scan_dicom(args.folder)
    except FileNotFoundError as exc:
        print(f"medidenoise series: error: {exc}; check the path", file=sys.stderr)
        return 2
    for info in scan.series:
        print(info)
        for path, why in info.broken_files:
            print(f"    unreadable file of this series: {path}: {why}")
    listed = {p for info in scan.series for p, _ in info.broken_files}
    for path, why in scan.errors:
        if path not in listed:
            print(f"unreadable: {path}: {why}")
    for path, why in scan.skipped:
        if why.startswith("not a regular file"):
            print(f"skipped: {path}: {why}")
    if not scan.series:
        print(f"{args.folder}: no DICOM image series found")
        return 1
    return 0 if not scan.errors else 1


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="print a model's card: training data, noise, compute, measured figures, limits",
    )
    p.add_argument(
        "model",
        nargs="?",
        default="auto",
        help=f"{', '.join(model_names('routed', 'shipped'))} or a .safetensors file "
        "(default: %(default)s)",
    )
    p.set_defaults(func=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    from medidenoise.models.cards import CARD_MODELS, model_card

    if args.model not in CARD_MODELS and not Path(args.model).is_file():
        print(
            f"medidenoise info: error: {args.model!r} is not a shipped model "
            f"({', '.join(CARD_MODELS)}) nor a checkpoint file",
            file=sys.stderr,
        )
        return 2
    print(model_card(args.model).text())
    return 0


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="denoise bundled images with the default model, write a report")
    p.add_argument(
        "--output", type=Path, default=Path("demo_output"), help="report folder (%(default)s)"
    )
    p.add_argument("--device", default=None, help=_DEVICE_HELP)
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from medidenoise.demo import run_demo

    result = run_demo(args.output, device=args.device)
    print(result)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``medidenoise`` command."""
    parser = argparse.ArgumentParser(
        prog="medidenoise",
        description="Denoise X-ray, CT and MRI images with deep networks.",
    )
    parser.add_argument("--version", action="version", version=f"medidenoise {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (
        _add_train,
        _add_evaluate,
        _add_denoise,
        _add_adapt,
        _add_series,
        _add_demo,
        _add_export,
        _add_info,
    ):
        add(sub)
    from medidenoise.pacs._cli import add_parsers as add_pacs_parsers  # serve

    add_pacs_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``medidenoise`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except MedidenoiseError as exc:
        print(f"medidenoise {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"medidenoise {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
