"""CPU threads: how many a run uses by default, and OpenMP threads that sleep while they wait."""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = ["quiet_waiting", "usable_cpus", "use_threads"]

_CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
_CGROUP_V1 = (
    Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
    Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
)


def usable_cpus() -> int:
    """CPUs this process may use: its affinity mask (``taskset``, Slurm's cpusets), capped by a
    cgroup CPU quota (containers), shared among the local processes of a ``torchrun`` job.

    Torch's own default counts the machine's cores, so a job given 2 of 64 CPUs would run
    64 threads on them.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = min(cpus or 1, _cgroup_quota() or cpus or 1)
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, cpus // max(local_processes, 1))


def _cgroup_quota() -> int | None:
    """CPUs allowed by the cgroup's CFS quota (v2 ``cpu.max`` or v1), None when unlimited."""
    try:
        if _CGROUP_V2.is_file():
            quota, period = _CGROUP_V2.read_text().split()[:2]
            return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))
        quota_file, period_file = _CGROUP_V1
        if quota_file.is_file() and period_file.is_file():
            quota = int(quota_file.read_text())
            return None if quota <= 0 else max(1, math.ceil(quota / int(period_file.read_text())))
    except (OSError, ValueError):
        pass
    return None


def quiet_waiting() -> None:
    """Let idle OpenMP threads sleep instead of spinning, unless the user chose a policy.

    A spinning thread takes a core from whatever else runs on the machine, and from this run's
    own threads when there are more of them than free cores. Takes effect only before torch
    loads its OpenMP runtime, so the command line calls it first.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def use_threads(threads: int | None) -> int:
    """Set torch's intra-op threads to ``threads`` (None: :func:`usable_cpus`); returns it."""
    import torch

    count = threads or usable_cpus()
    torch.set_num_threads(count)
    return count
