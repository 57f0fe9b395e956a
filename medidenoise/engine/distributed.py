"""DDP set-up for ``torchrun``: process group, device, rank helpers."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.distributed as dist

from medidenoise.models.device import pick_device, torchrun_rank

__all__ = ["DistInfo", "cleanup", "setup"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: rank, world size and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """True on rank 0 (the one that logs and writes files)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True under torchrun with more than one process."""
        return self.world_size > 1


def setup(device: str | torch.device | None) -> DistInfo:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1).

    Uses NCCL on CUDA and gloo on CPU; one GPU per process (``LOCAL_RANK``).

    Raises
    ------
    ConfigError
        ``device`` is not ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, or names a
        CUDA device this machine does not have.
    """
    launch = torchrun_rank()
    dev = pick_device(device, local_rank=launch.local_rank or 0)  # one GPU per process
    if launch.world_size <= 1:
        return DistInfo(0, 1, dev)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    rank = dist.get_rank()
    if rank != 0:
        for name in ("medidenoise", "monai", "ignite"):
            logging.getLogger(name).setLevel(logging.WARNING)
    log.info("DDP: %d processes, backend %s", launch.world_size, dist.get_backend())
    return DistInfo(rank, dist.get_world_size(), dev)


def barrier() -> None:
    """Wait for every rank (no-op outside DDP)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def cleanup() -> None:
    """Leave the process group (no-op outside DDP)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
