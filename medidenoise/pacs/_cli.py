"""The command line of the PACS connections: ``denoise`` with URLs, and ``serve``.

Argument parsing and exit codes only; :mod:`medidenoise.cli` calls in here.
Importing this module is cheap: the work is imported when a command runs.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from medidenoise.errors import MedidenoiseError
from medidenoise.pacs.dicomweb import is_url
from medidenoise.pacs.errors import PacsError, PacsUnreachableError

__all__ = ["EXIT_UNREACHABLE", "add_denoise_options", "add_parsers", "is_url", "run_denoise"]

log = logging.getLogger("medidenoise")

#: ``medidenoise denoise``: a DICOMweb server could not be reached (nothing stored or marked done)
EXIT_UNREACHABLE = 4


def add_denoise_options(p: argparse.ArgumentParser) -> None:
    """The options ``denoise`` takes only with a DICOMweb INPUT or OUTPUT."""
    p.add_argument(
        "--work",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="DICOMweb: keep retrieved and derived series here while they are converted, and "
        "the report of a DICOMweb OUTPUT (default: a temporary folder, removed at the end)",
    )


def run_denoise(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """``medidenoise denoise`` with a DICOMweb INPUT or OUTPUT; ``options``: the conversion
    options the command line gave (those of ``convert_dicom_folder``)."""
    from medidenoise.convert import OutputLockedError
    from medidenoise.pacs.web import convert_dicomweb

    if getattr(args, "scheduler", None):
        print(
            "medidenoise denoise: error: --scheduler needs INPUT and OUTPUT on a shared file "
            "system; with a DICOMweb server use --jobs N, or retrieve the study into a folder "
            "first",
            file=sys.stderr,
        )
        return 2
    try:
        report = convert_dicomweb(
            args.input, args.output, work=getattr(args, "work", None), **options
        )
    except PacsUnreachableError as exc:
        print(f"medidenoise denoise: error: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except OutputLockedError as exc:
        print(f"medidenoise denoise: error: {exc}", file=sys.stderr)
        return 3
    except (FileNotFoundError, ValueError, MedidenoiseError) as exc:
        print(f"medidenoise denoise: error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0 if report.ok else 1


_SERVE_EPILOG = """\
what it does:
  Answers C-ECHO and accepts C-STORE of image storage classes (others are
  refused with status 0x0122). Each instance is written to --work before it is
  acknowledged. A series is complete when nothing arrived for it for --settle
  seconds; it is then denoised exactly as `medidenoise denoise` would, and its
  derived series sent by C-STORE to --destination (or written to --output)
  while the next series is denoised.
  Killed or restarted, the node resumes every pending series from --work:
  nothing received is lost, and nothing is sent twice. A destination that is
  down is retried every 10 s; a series whose conversion fails is kept in
  WORK/failed/ with its report. Logs hold UIDs and counts, no patient data.
  SIGTERM or Ctrl-C stops it gracefully (the series at hand is finished).
"""


def add_parsers(sub: Any) -> None:
    """Add ``serve`` to the ``medidenoise`` sub-commands."""
    p = sub.add_parser(
        "serve",
        help="run a DICOM node that denoises the series sent to it and forwards them",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_SERVE_EPILOG,
    )
    p.add_argument("--port", type=int, required=True, help="port to listen on")
    p.add_argument("--ae-title", required=True, metavar="AET", help="this node's AE title")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--destination", metavar="AET@HOST:PORT", help="send derived series here by C-STORE"
    )
    where.add_argument(
        "--output", type=Path, metavar="FOLDER", help="write derived series into this folder"
    )
    p.add_argument(
        "--work",
        type=Path,
        default=Path("medidenoise-node"),
        metavar="FOLDER",
        help="received and pending series (default: %(default)s)",
    )
    p.add_argument(
        "--allow",
        default="",
        metavar="CALLER_AET,...",
        help="accept associations from these calling AE titles only (default: any)",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="a series is complete after this long without a new instance (default: 10)",
    )
    p.add_argument(
        "--bind", default="", metavar="ADDRESS", help="address to listen on (default: all)"
    )
    p.add_argument("--model", default="auto", help="as for `medidenoise denoise` (default: auto)")
    p.add_argument("--noise-level", type=float, default=None, help="as for denoise")
    p.add_argument("--compression", choices=["none", "rle", "jpeg-ls", "jpeg2000"], default="none")
    p.add_argument("--self-ensemble", action="store_true", help="as for denoise")
    p.add_argument("--rician", action="store_true", help="as for denoise")
    p.add_argument("--allow-incomplete", action="store_true", help="as for denoise")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N")
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """``medidenoise serve``: run the node until SIGTERM / Ctrl-C."""
    from medidenoise.inference.options import DenoiseOptions
    from medidenoise.pacs.node import DicomNode, NodeOptions
    from medidenoise.pacs.send import parse_destination

    try:
        options = NodeOptions(
            port=args.port,
            ae_title=args.ae_title,
            work=args.work,
            destination=parse_destination(args.destination) if args.destination else None,
            output=args.output,
            allow=tuple(t.strip() for t in args.allow.split(",") if t.strip()),
            settle=args.settle,
            bind=args.bind,
            convert={
                "model": args.model,
                "options": DenoiseOptions(
                    noise_level=args.noise_level,
                    self_ensemble=args.self_ensemble,
                    rician=args.rician,
                ),
                "compression": args.compression,
                "allow_incomplete": args.allow_incomplete,
                "device": args.device,
            },
        )
        node = DicomNode(options)
        node.start()
    except (ValueError, OSError, PacsError) as exc:
        print(f"medidenoise serve: error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        log.info("stopping (signal %d): finishing the series at hand", signum)
        stop.set()

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        node.run(stop)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        node.shutdown()
    log.info("stopped; pending series stay in %s", options.work)
    return 0
