"""The ``medidenoise`` command line: argument parsing only, the work is in the library."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from medidenoise._version import __version__
from medidenoise.errors import MedidenoiseError

__all__ = ["build_parser", "main"]

log = logging.getLogger("medidenoise")


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
    import os

    from medidenoise.engine import train

    result = train(
        args.config,
        output_dir=args.output,
        overrides=args.overrides,
        device=args.device,
        resume=args.resume,
    )
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 reports
        print(result.summary())
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="compare a model with classical baselines (PSNR/SSIM)")
    p.add_argument("--model", default="default", help="'default', a checkpoint file or 'identity'")
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
    p.add_argument("--device", default=None)
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from medidenoise.inference.evaluate_model import evaluate

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

Exit code 0 when every series converted, 1 otherwise, 2 for bad arguments.
Under torchrun the ranks share the series; rank 0 writes the report.
"""

_MODEL_HELP = (
    "'default' (the shipped model), 'cae-baseline' (the shipped CAE baseline), 'identity' "
    "(writes every source value back exactly: checks the I/O path), a checkpoint file "
    "(.safetensors), or a classical method: nlm, tv, wavelet, bm3d (default: %(default)s)"
)


def _add_denoise(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "denoise",
        help="denoise a DICOM file, a DICOM folder tree or a NIfTI file into derived output",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_DENOISE_EPILOG,
    )
    p.add_argument("input", type=Path)
    p.add_argument("output", type=Path, help="output folder, or a .nii/.nii.gz file")
    p.add_argument("--model", default="default", help=_MODEL_HELP)
    p.add_argument(
        "--noise-level",
        type=float,
        default=None,
        help="noise sigma in image units (default: estimated per series)",
    )
    p.add_argument("--format", choices=["dicom", "nifti"], default=None)
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
        "--self-ensemble",
        action="store_true",
        help="average the network over the 8 flips/rotations of each slice: slightly better "
        "images (0.1-0.5 dB), 8 times the time",
    )
    p.add_argument("--device", default=None)
    p.set_defaults(func=_run_denoise)


def _run_denoise(args: argparse.Namespace) -> int:
    from medidenoise.inference import convert_dicom_folder

    try:
        report = convert_dicom_folder(
            args.input,
            args.output,
            model=args.model,
            noise_level=args.noise_level,
            output_format=args.format,
            compression=args.compression,
            overwrite=args.overwrite,
            dry_run=args.dry_run,
            jobs=args.jobs,
            device=args.device,
            progress=True,
            self_ensemble=args.self_ensemble,
        )
    except (FileNotFoundError, ValueError) as exc:  # bad arguments: a message, not a traceback
        print(f"medidenoise denoise: error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0 if report.ok else 1


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
    p.add_argument("--model", default="default", help="model to start from (default: %(default)s)")
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
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.set_defaults(func=_run_adapt)


def _run_adapt(args: argparse.Namespace) -> int:
    from medidenoise.inference import adapt
    from medidenoise.io import read_volume
    from medidenoise.models import save_checkpoint

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
    try:
        volumes = [read_volume(path) for path in args.inputs]
        model = adapt(
            volumes,
            args.model,
            minutes=args.minutes,
            method=args.method,
            noise_level=args.noise_level,
            device=args.device,
            progress=True,
            rng=args.seed,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"medidenoise adapt: error: {exc}", file=sys.stderr)
        return 2
    save_checkpoint(out, model)
    info: dict = dict(getattr(model, "metadata", {})["adaptation"])
    print(
        f"adapted {info['base_model']} with {info['method']} in {info['seconds']:.0f} s "
        f"({info['steps']} steps, stopped: {info['stopped']}); estimated PSNR on held-out "
        f"strips {info['estimated_psnr_base']:.2f} -> {info['estimated_psnr_adapted']:.2f} dB"
    )
    print(f"saved {out}; use it with: medidenoise denoise INPUT OUTPUT --model {out}")
    return 0


def _add_series(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("series", help="list the image series in a DICOM folder")
    p.add_argument("folder", type=Path)
    p.set_defaults(func=_run_series)


def _run_series(args: argparse.Namespace) -> int:
    from medidenoise.io import find_dicom_series

    series = find_dicom_series(args.folder)
    if not series:
        print(f"{args.folder}: no DICOM image series found")
        return 1
    for info in series:
        print(info)
    return 0


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="denoise bundled images with the default model, write a report")
    p.add_argument("--output", type=Path, default=Path("demo_output"))
    p.add_argument("--device", default=None)
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
    for add in (_add_train, _add_evaluate, _add_denoise, _add_adapt, _add_series, _add_demo):
        add(sub)
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
