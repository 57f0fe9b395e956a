"""Helpers shared by the benchmark scripts: machine description, models, BENCHMARKS.md blocks.

Not part of the library: scripts in this folder import it as ``_common`` (they
put their own folder on ``sys.path`` by being run as ``python benchmarks/x.py``).
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
SECTION = "## Inference speed and quality (default model)"
REPORTS = ROOT / "reports" / "benchmarks"
#: the blocks of SECTION, in the order they appear
BLOCKS = ("bench_quality", "bench_speed")

MODEL_HELP = (
    "'auto' (what users get: 'white' or 'correlated' by the measured noise), 'auto:NETWORK' "
    "(auto with NETWORK on its white route), 'auto-correlated:NETWORK' (on its correlated "
    "route), 'white', 'default' (the first shipped model), "
    "'correlated', a checkpoint file, 'identity', or 'random-unet' "
    "(configs/unet.yaml's network with random weights: valid for timing, not for quality)"
)


def machine(threads: int | None = None) -> str:
    """One line naming the CPU, core count, torch version and (optionally) threads used."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
    text += f"torch {torch.__version__}"
    if threads is not None:
        text += f", {threads} torch threads"
    if torch.cuda.is_available():
        text += f"; GPU {torch.cuda.get_device_name(0)}"
    return text


def command_line() -> str:
    """The command that is running, as a user would type it."""
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(ROOT)
    except ValueError:
        pass
    return " ".join(["python", str(script), *sys.argv[1:]])


def load_bench_model(spec: str, *, device: str | None = None) -> Any:
    """Resolve ``--model``: a name/path for ``denoise``, a random-weight U-Net, or
    ``auto:NETWORK`` (a Denoiser running ``"auto"`` with NETWORK, a shipped name or a
    checkpoint, on its white-noise route: a candidate for ``AUTO_ROUTES[False]``), or
    ``auto-correlated:NETWORK`` (the same on its correlated-noise route, ``AUTO_ROUTES[True]``),
    or ``auto:WHITE,CORRELATED`` (both routes replaced: a pair of candidates, or an earlier
    pair as the reference).

    Exits with a clear message when the default model is asked for but not shipped yet.
    """
    if spec.startswith(("auto:", "auto-correlated:")):  # "auto" with another network on a route
        from medidenoise import Denoiser
        from medidenoise.inference._methods import Routed, resolve_model

        den = Denoiser("auto", device=device)
        route, network = spec.split(":", 1)
        routed = den.model
        assert isinstance(routed, Routed)
        if route == "auto" and "," in network:
            white, corr = network.split(",", 1)
            pairs = {False: white, True: corr}
        else:
            pairs = {route == "auto-correlated": network}
        den.model = Routed(
            {**routed.networks, **{k: resolve_model(v, den.device) for k, v in pairs.items()}},
            {**routed.names, **{k: Path(v).stem for k, v in pairs.items()}},
        )
        return den
    if spec == "random-unet":
        import torch

        from medidenoise.config import load_config
        from medidenoise.models import build_model

        torch.manual_seed(0)
        net = build_model(load_config(ROOT / "configs" / "unet.yaml").model).eval()
        net.metadata = {"name": "unet (random weights)"}
        return net.to(device or "cpu")
    if spec == "default":
        from medidenoise.models import default_weights_path

        path = Path(default_weights_path())
        if not path.is_file():
            raise SystemExit(
                f"the default model is not there yet ({path}); train it (make train-default) "
                "or run with --model random-unet (timing) / --model identity (plumbing)"
            )
    return spec


def run_model(model: Any, noisy: Any, noise_level: float | None = None) -> Any:
    """Denoise ``noisy`` with what :func:`load_bench_model` returned: a Denoiser
    (``auto:NETWORK``) runs itself; names, checkpoints and networks go through ``denoise``."""
    from medidenoise import Denoiser, denoise

    if isinstance(model, Denoiser):
        return model.run(noisy, noise_level=noise_level).image
    return denoise(noisy, model, noise_level=noise_level)


def model_label(model: Any) -> str:
    """A short name for a model spec or network."""
    if isinstance(model, str):
        return model
    meta = getattr(model, "metadata", {}) or {}
    return str(meta.get("name", type(model).__name__))


def median_seconds(
    fn: Callable[..., object], *args: Any, repeats: int, warmup: int = 1, **kwargs: Any
) -> float:
    """Median wall time of ``fn(*args, **kwargs)`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn(*args, **kwargs)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def rss_mib() -> float:
    """The process's current resident memory in MiB (Linux ``/proc``; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_growth(fn: Callable[..., object], *args: Any, **kwargs: Any) -> float:
    """Run ``fn`` once; return the peak growth of resident memory (MiB) during the call.

    A thread samples ``/proc/self/statm`` every 2 ms; the result is the largest
    sample minus the resident size just before the call (so what the call needs
    on top of what is already loaded). ``ru_maxrss`` is no use here: it is the
    process's all-time peak, often set by imports.
    """
    import threading

    stop = threading.Event()
    before = rss_mib()
    peak = [before]

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mib())
            stop.wait(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        fn(*args, **kwargs)
    finally:
        stop.set()
        thread.join()
    return max(peak[0], rss_mib()) - before


def update_block(name: str, text: str) -> Path:
    """Replace the ``name`` block of BENCHMARKS.md's speed-and-quality section.

    The block lies between ``<!-- name:start -->`` and ``<!-- name:end -->``
    inside the section :data:`SECTION`; it is added at the end of that section
    the first time (replacing the placeholder line). Other sections are never
    touched.
    """
    doc = BENCHMARKS_MD.read_text(encoding="utf-8")
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{text.strip()}\n{end}"
    head = doc.find(SECTION)
    if head < 0:
        raise SystemExit(f"{BENCHMARKS_MD}: section {SECTION!r} not found")
    nxt = doc.find("\n## ", head + len(SECTION))
    tail = len(doc) if nxt < 0 else nxt + 1
    section = doc[head:tail]
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(section):
        section = pattern.sub(lambda _: block, section, count=1)
    else:
        section = re.sub(r"\n_\(section owned by [^\n]*\)_\n", "\n", section)
        later = BLOCKS[BLOCKS.index(name) + 1 :] if name in BLOCKS else ()
        found = [i for b in later if (i := section.find(f"<!-- {b}:start -->")) >= 0]
        if found:
            section = section[: min(found)] + block + "\n\n" + section[min(found) :]
        else:
            section = section.rstrip("\n") + "\n\n" + block + "\n\n"
    BENCHMARKS_MD.write_text(doc[:head] + section + doc[tail:], encoding="utf-8")
    return BENCHMARKS_MD


def write_section_block(section: str, start: str, end: str, text: str) -> Path:
    """Replace the block between ``start`` and ``end`` in BENCHMARKS.md with ``text``; the
    first time, append ``section`` (its heading) and the block at the end of the file."""
    doc = BENCHMARKS_MD.read_text(encoding="utf-8")
    block = f"{start}\n{text.strip()}\n{end}"
    if start in doc and end in doc:
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
        doc = pattern.sub(lambda _: block, doc, count=1)
    else:
        doc = doc.rstrip("\n") + f"\n\n{section}\n\n{block}\n"
    BENCHMARKS_MD.write_text(doc, encoding="utf-8")
    return BENCHMARKS_MD
