"""Run the speed and quality benchmarks and update their BENCHMARKS.md section.

Runs ``bench_speed.py`` first (timings want a quiet machine) and then
``bench_quality.py``, each in its own process; each rewrites only its own
block (between ``<!-- bench_speed:start/end -->`` and
``<!-- bench_quality:start/end -->``) of the section "Inference speed and
quality (default model)". Other sections are never touched.

    python benchmarks/run_all.py [--model default] [--baseline-cae CKPT] [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import _common

HERE = Path(__file__).resolve().parent


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the first non-zero exit status, else 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="auto", help=_common.MODEL_HELP)
    ap.add_argument("--baseline-cae", default=None, help="CAE baseline checkpoint (quality)")
    ap.add_argument("--quick", action="store_true", help="fast sanity run of both")
    ap.add_argument("--write", action="store_true", help="record in BENCHMARKS.md even if --quick")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    common = ["--model", args.model]
    for flag in ("quick", "write", "no_write"):
        if getattr(args, flag):
            common.append("--" + flag.replace("_", "-"))
    quality = ["--baseline-cae", args.baseline_cae] if args.baseline_cae else []
    status = 0
    for script, extra in (("bench_speed.py", []), ("bench_quality.py", quality)):
        cmd = [sys.executable, str(HERE / script), *common, *extra]
        print(f"$ {' '.join(cmd)}", flush=True)
        rc = subprocess.run(cmd, check=False).returncode
        if rc != 0:
            print(f"{script} failed with exit status {rc}", file=sys.stderr)
            status = status or rc
    return status


if __name__ == "__main__":
    sys.exit(main())
