"""Running conversion units on a Dask cluster: ``scheduler=`` (extra ``medidenoise[dask]``).

``scheduler`` is a scheduler address (``"tcp://10.0.0.5:8786"``), a scheduler
file written by ``dask scheduler --scheduler-file`` (``*.json``), ``"local"``
or ``"local:N"`` (a ``LocalCluster`` of N worker processes started for the
run), or a ``distributed.Client`` already connected.

The units are the same as for ``jobs``: one per series. What travels to a
worker is the unit, the options and the model's *name* (a shipped model, a
classical method or a checkpoint path) with the identity the client computed
for it, ``"<name> (sha256 ...)"``; each worker loads the model once, checks
that it has the same checksum there, and keeps it for every later unit of the
run. A worker converts one series at a time with as many torch threads as it
has Dask threads (``dask worker --nthreads``); more worker processes convert
more series at once. CUDA workers use their GPU (one GPU per worker: start
them with ``dask-cuda``).

Every worker must see INPUT and OUTPUT at the same paths as this machine (a
shared file system). Before the first unit, every connected worker reads a
probe file that this machine wrote into OUTPUT and the sample source files;
a worker that cannot gets the run refused with a message naming it. Workers
that join later check the same probe before each unit.

Each unit is written all or nothing by :func:`convert_unit`, so a worker that
dies mid-series leaves only a work folder behind; the scheduler gives the unit
to another worker, which starts it again from scratch. Units are submitted a
few at a time (one per worker), so a cluster of tens of thousands of series
holds little state, and the progress bar follows completions on the cluster.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from medidenoise._model_names import MODELS
from medidenoise._optional import require
from medidenoise.convert import parallel
from medidenoise.convert.parallel import _bar, _init_worker, _work, distributed_rank
from medidenoise.convert.plan import PARTIAL_DIR, Unit
from medidenoise.convert.provenance import model_id
from medidenoise.convert.report import SeriesEntry
from medidenoise.convert.unit import UnitOptions, entry_for
from medidenoise.errors import ConfigError, ConversionError
from medidenoise.inference.options import DenoiseOptions
from medidenoise.io.formats import special_file_kind

__all__ = ["CONNECT_TIMEOUT_S", "ModelSpec", "check_scheduler", "run_units_dask"]

log = logging.getLogger(__name__)

#: seconds to reach a scheduler before the run is refused
CONNECT_TIMEOUT_S = 10.0
_SHARED_FS = (
    "every Dask worker must see INPUT and OUTPUT at the same paths as this machine (a shared "
    "file system mounted alike on every node)"
)
# per worker process: the model of the current run, loaded once, and one unit at a time
_LOAD_LOCK = threading.Lock()
_RUN_LOCK = threading.Lock()
_LOADED: dict[str, Any] = {"key": None, "loads": 0}


@dataclass(frozen=True)
class ModelSpec:
    """The model as it travels to the workers: a name or path and the client's identity of it."""

    name: str  # a shipped model, a classical method, "identity", or an absolute checkpoint path
    model_id: str  # provenance.model_id on the client: "<label> (sha256 <16 hex>)" for weights

    def problem_here(self) -> str:
        """Empty when this process has the same model as the client; otherwise why not."""
        if self.name not in MODELS:
            if not Path(self.name).is_file():
                return f"this worker cannot see the checkpoint {self.name}; {_SHARED_FS}"
        here = model_id(self.name)
        if here != self.model_id:
            return (
                f"the model differs on this worker: {here} here, {self.model_id} on the client; "
                "install the same medidenoise version on every worker, or pass a checkpoint file"
            )
        return ""


def _distributed() -> Any:
    return require(
        "distributed",
        "scheduler= (--scheduler) needs the Dask packages: pip install 'medidenoise[dask]'",
        error=ConversionError,
    )


def _local_workers(scheduler: str) -> int | None:
    """N of ``"local:N"``; None for ``"local"``."""
    count = scheduler.partition(":")[2]
    if not count:
        return None
    if not count.isdigit() or int(count) < 1:
        raise ValueError(
            f"scheduler={scheduler!r}: 'local:N' needs a whole number of workers N >= 1, e.g. "
            "'local:2'"
        )
    return int(count)


#: a scheduler file is a few hundred bytes; anything much larger is not one
_SCHEDULER_FILE_MAX_BYTES = 1 << 20


def _is_scheduler_file(scheduler: str) -> bool:
    return scheduler.endswith(".json") or (
        "://" not in scheduler and os.path.lexists(scheduler) and not Path(scheduler).is_dir()
    )


def scheduler_file_address(path: str | os.PathLike) -> str:
    """The scheduler address in a file that ``dask scheduler --scheduler-file`` wrote.

    Read here, at once, rather than by ``distributed.Client(scheduler_file=...)``, which waits
    for a usable file and ends a malformed one in a bare ``AssertionError``.

    Raises
    ------
    ConfigError
        The file is not a regular file, not JSON, or holds no ``"address"``.
    """
    name = os.fspath(path)
    fix = (
        "point --scheduler at the file that `dask scheduler --scheduler-file FILE` writes "
        '(JSON with the scheduler\'s "address"), or pass the address itself, e.g. '
        "tcp://10.0.0.5:8786"
    )
    special = special_file_kind(name)
    if special is not None:
        raise ConfigError(f"{name}: {special}, not a Dask scheduler file; {fix}")
    try:
        with open(name, "rb") as fp:
            raw = fp.read(_SCHEDULER_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(
            f"{name}: cannot read the scheduler file ({exc.strerror}); {fix}"
        ) from exc
    if len(raw) > _SCHEDULER_FILE_MAX_BYTES:
        raise ConfigError(f"{name}: over 1 MiB, not a Dask scheduler file; {fix}")
    try:
        info = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"{name}: not a Dask scheduler file (not valid JSON: {exc}); {fix}"
        ) from None
    address = info.get("address") if isinstance(info, dict) else None
    if not isinstance(address, str) or not address.strip():
        found = sorted(info) if isinstance(info, dict) else type(info).__name__
        raise ConfigError(f'{name}: the scheduler file holds no "address" (found {found}); {fix}')
    return address.strip()


def check_scheduler(scheduler: Any, *, jobs: int, model: Any) -> None:
    """Refuse ``scheduler=`` combinations that cannot work, before anything is scanned."""
    if isinstance(scheduler, str):
        if not scheduler.strip():
            raise ValueError("scheduler must be an address, a scheduler file, 'local' or 'local:N'")
        if scheduler == "local" or scheduler.startswith("local:"):
            _local_workers(scheduler)
        if scheduler.endswith(".json") and not os.path.lexists(scheduler):
            raise FileNotFoundError(f"{scheduler}: no such scheduler file (dask scheduler "
                                    "--scheduler-file writes it)")  # fmt: skip
        if _is_scheduler_file(scheduler):
            scheduler_file_address(scheduler)
    elif not hasattr(scheduler, "submit"):
        raise ValueError(f"scheduler must be a string or a distributed.Client, got {scheduler!r}")
    if jobs != 1:
        raise ValueError(
            "jobs and scheduler both choose where series run: pass one (local worker processes "
            "on a Dask cluster: scheduler='local:N', --scheduler local:N)"
        )
    if distributed_rank()[1] > 1:
        raise ValueError("scheduler= cannot be combined with torchrun: start one process only")
    if not isinstance(model, (str, os.PathLike)):
        raise ValueError(
            "with scheduler= the model travels by name or checkpoint file, not as an object: "
            "save it with medidenoise.models.save_checkpoint and pass the file"
        )
    _distributed()


def _spec(model: str | os.PathLike, model_id: str) -> ModelSpec:
    name = os.fspath(model)
    if name in MODELS:  # every worker has the named ones
        return ModelSpec(name, model_id)
    path = Path(name)
    if not path.is_file():
        raise FileNotFoundError(f"{name}: no such checkpoint file")
    return ModelSpec(str(path.absolute()), model_id)


@contextmanager
def _quiet(name: str, level: int) -> Iterator[None]:
    """Raise logger ``name`` to ``level`` for a while, unless debug logging was asked for."""
    logger = logging.getLogger(name)
    before = logger.level
    if logger.getEffectiveLevel() > logging.DEBUG:
        logger.setLevel(max(level, logger.getEffectiveLevel()))
    try:
        yield
    finally:
        logger.setLevel(before)


def _close_quietly(cluster: Any) -> None:
    """Close a local cluster; a worker slow to exit is killed without a warning (work is done)."""
    with _quiet("distributed.nanny", logging.ERROR):
        cluster.close()


@contextmanager
def _connect(scheduler: Any) -> Iterator[Any]:
    """A client of the cluster: connected, or started for the run (``local[:N]``)."""
    distributed = _distributed()
    if not isinstance(scheduler, str):
        yield scheduler  # the caller's client: theirs to close
        return
    if scheduler == "local" or scheduler.startswith("local:"):
        n = _local_workers(scheduler)
        threads = None if n is None else max(1, (os.cpu_count() or 1) // n)
        with _quiet("distributed", logging.WARNING):  # its start/stop chatter is not ours
            cluster = distributed.LocalCluster(
                n_workers=n, threads_per_worker=threads, processes=True, dashboard_address=None
            )
            try:
                with distributed.Client(cluster, set_as_default=False) as client:
                    yield client
            finally:
                _close_quietly(cluster)
        return
    address = scheduler
    if _is_scheduler_file(scheduler):
        address = scheduler_file_address(scheduler)
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        where = scheduler if address == scheduler else f"{address} (from {scheduler})"
        raise ConversionError(
            f"could not reach the Dask scheduler {where} within {CONNECT_TIMEOUT_S:g} s "
            f"({type(exc).__name__}: {exc}); start one with `dask scheduler` and workers with "
            "`dask worker ADDRESS`, check the address, or use --scheduler local:N"
        ) from exc
    with client:
        yield client


def _worker_label(worker: Any) -> str:
    return f"{worker.address} ({socket.gethostname()})"


def _probe_problem(probe: Path, token: str) -> str:
    try:
        found = probe.read_text(encoding="utf-8")
    except OSError as exc:
        found = f"{type(exc).__name__}: {exc}"
    if found == token:
        return ""
    return (
        f"it does not see OUTPUT {probe.parent.parent} as this machine does (the probe file "
        f"{probe.name} written there reads back as {found[:80]!r}); {_SHARED_FS}"
    )


def _visible(
    samples: list[tuple[str, int]], probe: str, token: str, spec: ModelSpec, dask_worker: Any
) -> str:
    """Run on each worker: empty when it sees the sources, OUTPUT and model as the client does."""
    label = _worker_label(dask_worker)
    for path, size in samples:
        try:
            seen = os.path.getsize(path)
        except OSError as exc:
            return f"Dask worker {label} cannot see INPUT file {path} ({exc}); {_SHARED_FS}"
        if seen != size:
            return f"Dask worker {label} sees {path} with {seen} bytes, not {size}; {_SHARED_FS}"
    problem = _probe_problem(Path(probe), token) or spec.problem_here()
    return f"Dask worker {label}: {problem}" if problem else ""


def _samples(units: list[Unit]) -> list[tuple[str, int]]:
    picked = {id(u): u for u in (units[0], units[len(units) // 2], units[-1])}.values()
    paths = [u.info.files[0] if u.info is not None and u.info.files else u.source for u in picked]
    return [(str(p), p.stat().st_size) for p in paths if p.is_file()]


def _check_workers(
    client: Any, units: list[Unit], probe: Path, token: str, spec: ModelSpec
) -> None:
    if not client.nthreads():
        log.info("no Dask worker connected yet: waiting for one (dask worker ADDRESS)")
        client.wait_for_workers(1)
    problems = client.run(_visible, _samples(units), str(probe), token, spec)
    found = [p for p in problems.values() if p]
    if found:
        raise ConversionError("; ".join(found))


def _load_once(spec: ModelSpec, device: str | None, options: DenoiseOptions, threads: int) -> None:
    """Load the run's model in this worker process unless it already holds it."""
    key = (spec, device, options, threads)
    with _LOAD_LOCK:
        if _LOADED["key"] == key:
            return
        parallel._WORKER.clear()
        problem = spec.problem_here()
        if problem:
            parallel._WORKER["error"] = problem
        else:
            _init_worker(spec.name, device, threads, options)
        _LOADED["key"], _LOADED["loads"] = key, _LOADED["loads"] + 1


def _convert_task(
    unit: Unit,
    out_root: Path,
    opts: UnitOptions,
    spec: ModelSpec,
    device: str | None,
    probe: str,
    token: str,
) -> SeriesEntry:
    """One unit on a Dask worker: the model loaded once per worker, one series at a time."""
    from distributed import get_worker

    worker = get_worker()
    label = _worker_label(worker)
    with _RUN_LOCK:
        problem = _probe_problem(Path(probe), token)
        if not problem and not unit.source.exists():
            problem = f"it cannot see INPUT {unit.source}; {_SHARED_FS}"
        if problem:
            entry = entry_for(unit, out_root, "failed", f"Dask worker {label}: {problem}")
        else:
            _load_once(spec, device, opts.denoise, worker.state.nthreads)
            entry = _work(unit, out_root, opts)
    return replace(entry, worker=label)


def _failed(unit: Unit, out_root: Path, exc: BaseException, killed: type) -> SeriesEntry:
    if isinstance(exc, killed):
        reason = (
            "every Dask worker that took this series died while converting it (out of memory? "
            "see the worker logs); it is redone on the next run"
        )
    else:
        reason = f"the Dask task failed: {type(exc).__name__}: {exc}"
    return entry_for(unit, out_root, "failed", reason)


def _collect(client: Any, units: list[Unit], out_root: Path, task_args: tuple, run: str,
             bar: Any) -> list[SeriesEntry]:  # fmt: skip
    """Keep one unit per worker under way; one entry per unit, in the order of ``units``."""
    distributed = _distributed()
    entries: list[SeriesEntry | None] = [None] * len(units)
    waiting = deque(enumerate(units))
    done = distributed.as_completed(loop=client.loop)
    running: dict[str, int] = {}
    try:
        while waiting or running:
            while waiting and len(running) < max(1, len(client.nthreads())):
                i, unit = waiting.popleft()
                key = f"medidenoise-{run[:12]}-{i}"
                done.add(client.submit(_convert_task, unit, out_root, *task_args, key=key,
                                       pure=False))  # fmt: skip
                running[key] = i
            future = next(done)
            i = running.pop(future.key)
            try:
                entries[i] = future.result()
            except Exception as exc:  # a worker died too often, the scheduler went away...
                entries[i] = _failed(units[i], out_root, exc, distributed.KilledWorker)
            future.release()
            if bar is not None:
                bar.update(1)
    except (OSError, TimeoutError) as exc:  # the connection to the scheduler is gone
        raise ConversionError(
            f"lost the Dask scheduler ({type(exc).__name__}: {exc}); the series finished so far "
            "are complete in OUTPUT: run the same command again to convert the rest"
        ) from exc
    finally:
        if running:  # interrupted: nothing more starts (a unit under way still completes)
            with suppress(OSError, TimeoutError):
                client.cancel(list(done.futures))
    return [e for e in entries if e is not None]


def run_units_dask(
    units: list[Unit],
    out_root: Path,
    opts: UnitOptions,
    *,
    model: str | os.PathLike,
    device: str | None,
    scheduler: Any,
) -> list[SeriesEntry]:
    """Convert ``units`` on the Dask cluster ``scheduler``; one entry each, in the same order."""
    if not units:
        return []
    spec = _spec(model, str(opts.settings.get("model", "")))
    quiet = replace(opts, progress=False)  # one bar: the overall one
    run = uuid.uuid4().hex
    probe = out_root / PARTIAL_DIR / f"dask-probe-{run[:12]}"
    with _connect(scheduler) as client:
        probe.parent.mkdir(parents=True, exist_ok=True)
        probe.write_text(run, encoding="utf-8")
        bar = _bar(len(units), opts.progress)
        try:
            _check_workers(client, units, probe, run, spec)
            task_args = (quiet, spec, device, str(probe), run)
            return _collect(client, units, out_root, task_args, run, bar)
        finally:
            if bar is not None:
                bar.close()
            probe.unlink(missing_ok=True)
            if not any(probe.parent.iterdir()):
                probe.parent.rmdir()
