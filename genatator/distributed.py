"""Process-group set-up for ``torchrun`` data parallelism, with the collectives genatator uses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from genatator.errors import ConfigError, GenatatorError

# Rank 0 validates while the others wait in the next collective: allow a long validation.
_TIMEOUT = timedelta(hours=3)


@dataclass(frozen=True)
class Distributed:
    """This process's place in the job (rank 0 of 1 when not launched by ``torchrun``)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def sum(self, values: list[float], device: torch.device) -> list[float]:
        """Element-wise sum over ranks (float64, so counts stay exact)."""
        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        if self.enabled:
            dist.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order (on every rank)."""
        if not self.enabled:
            return [value]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, value)
        return out

    def share_outcome(self, error: GenatatorError | None) -> None:
        """Raise on every rank when rank 0 failed in a stage the others waited for."""
        message = [None if error is None else str(error)]
        if self.enabled:
            dist.broadcast_object_list(message, src=0)
        if error is not None:
            raise error
        if message[0] is not None:
            raise GenatatorError(message[0])

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def init_distributed(device: str) -> Distributed:
    """Join the ``torchrun`` process group described by the environment, if there is one.

    Uses NCCL on CUDA and gloo on CPU.

    Raises:
        ConfigError: launched by torchrun with CUDA requested but fewer GPUs than local ranks.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"local rank {local_rank} has no GPU ({torch.cuda.device_count()} visible)"
            )
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo", timeout=_TIMEOUT)
    return Distributed(rank=rank, world_size=world_size, local_rank=local_rank)
