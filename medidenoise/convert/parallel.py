"""Running conversion units: in this process, in worker processes, or across torchrun ranks.

``jobs > 1`` starts that many worker processes (spawned, so no CUDA or OpenMP
state is inherited); each loads the model once and converts whole series, so
memory stays bounded by the largest series per worker. Under ``torchrun``
(``WORLD_SIZE``/``RANK`` set) rank ``r`` takes units ``r, r + W, r + 2W...``
of the shared, deterministic plan and rank 0 gathers every entry.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import timedelta
from pathlib import Path
from typing import Any

from medidenoise.convert.plan import Unit
from medidenoise.convert.report import SeriesEntry
from medidenoise.convert.unit import UnitOptions, convert_unit, entry_for
from medidenoise.inference.options import DenoiseOptions
from medidenoise.models.device import pick_device, torchrun_rank

__all__ = ["distributed_rank", "gather_entries", "run_units"]

log = logging.getLogger(__name__)

_WORKER: dict[str, Any] = {}


def distributed_rank() -> tuple[int, int]:
    """(rank, world size) from the torchrun environment; (0, 1) outside it."""
    rank, world, _ = torchrun_rank()
    return rank, world


def _rank_device(device: str | None) -> str | None:
    """Under torchrun with CUDA, each local rank gets its own GPU by default.

    More ranks than GPUs share them round-robin (a conversion rank needs no
    GPU of its own, unlike a DDP training rank).
    """
    local_rank = torchrun_rank().local_rank
    if device is not None or local_rank is None:
        return device
    import torch

    if not torch.cuda.is_available():
        return device
    return str(pick_device(None, local_rank=local_rank % torch.cuda.device_count()))


def _make_denoiser(model: Any, device: str | None, options: DenoiseOptions) -> Any:
    from medidenoise.inference.denoiser import Denoiser

    return Denoiser(model, device=_rank_device(device), options=options)


def _init_worker(model: Any, device: str | None, threads: int, options: DenoiseOptions) -> None:
    import torch

    torch.set_num_threads(threads)
    try:
        _WORKER["denoiser"] = _make_denoiser(model, device, options)
    except Exception as exc:  # reported per unit, so the pool itself survives
        _WORKER["error"] = f"{type(exc).__name__}: {exc}"


def _work(unit: Unit, out_root: Path, opts: UnitOptions) -> SeriesEntry:
    if "error" in _WORKER:
        reason = f"the model could not be loaded: {_WORKER['error']}"
        return entry_for(unit, out_root, "failed", reason)
    return convert_unit(unit, out_root, _WORKER["denoiser"], opts)


def _bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="series", desc="convert")


def run_units(
    units: list[Unit],
    out_root: Path,
    opts: UnitOptions,
    *,
    model: Any,
    device: str | None,
    jobs: int,
) -> list[SeriesEntry]:
    """Convert ``units`` (in their order) and return one entry each, in the same order."""
    if not units:
        return []
    bar = _bar(len(units), opts.progress)
    try:
        if jobs <= 1 or len(units) == 1:
            denoiser = _make_denoiser(model, device, opts.denoise)
            entries = []
            for unit in units:
                entries.append(convert_unit(unit, out_root, denoiser, opts))
                if bar is not None:
                    bar.update(1)
            return entries
        return _run_pool(units, out_root, opts, model, device, jobs, bar)
    finally:
        if bar is not None:
            bar.close()


def _run_pool(
    units: list[Unit],
    out_root: Path,
    opts: UnitOptions,
    model: Any,
    device: str | None,
    jobs: int,
    bar: Any,
) -> list[SeriesEntry]:
    workers = min(jobs, len(units))
    threads = max(1, (os.cpu_count() or 1) // workers)
    quiet = UnitOptions(**{**opts.__dict__, "progress": False})  # one bar: the overall one
    entries: list[SeriesEntry | None] = [None] * len(units)
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp.get_context("spawn"),
        initializer=_init_worker,
        initargs=(model, device, threads, opts.denoise),
    ) as pool:
        futures = {pool.submit(_work, u, out_root, quiet): i for i, u in enumerate(units)}
        for future in as_completed(futures):
            i = futures[future]
            try:
                entries[i] = future.result()
            except Exception as exc:  # a worker died (out of memory, killed...)
                reason = f"worker process failed: {type(exc).__name__}: {exc}"
                entries[i] = entry_for(units[i], out_root, "failed", reason)
            if bar is not None:
                bar.update(1)
    return [e for e in entries if e is not None]


def gather_entries(mine: list[SeriesEntry], rank: int, world: int) -> list[SeriesEntry]:
    """Rank 0 gets every rank's entries in plan order; other ranks keep their own."""
    import torch.distributed as dist

    own_group = not dist.is_initialized()
    if own_group:
        dist.init_process_group("gloo", timeout=timedelta(hours=24))
    try:
        gathered: list[list[SeriesEntry]] | None = [[] for _ in range(world)] if rank == 0 else None
        dist.gather_object(mine, gathered, dst=0)
    finally:
        if own_group:
            dist.destroy_process_group()
    if rank != 0 or gathered is None:
        return mine
    merged: list[SeriesEntry] = []
    longest = max(len(g) for g in gathered)
    for i in range(longest):  # rank r held plan units r, r + W, ...: interleave back
        merged.extend(g[i] for g in gathered if i < len(g))
    return merged
