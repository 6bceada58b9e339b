"""CPU threads: how many a run uses by default, from the CPUs this process may use and how many
of them are idle when it starts."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

__all__ = ["default_threads", "idle_cpus", "usable_cpus", "use_threads"]

_CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
_CGROUP_V1 = (
    Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
    Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
)
_PROC_STAT = Path("/proc/stat")

#: A CPU counts as free when it was at least this idle while :func:`idle_cpus` watched.
_FREE = 0.75


def usable_cpus() -> int:
    """CPUs this process may use: its affinity mask (``taskset``, Slurm's cpusets), capped by a
    cgroup CPU quota (containers), shared among the local processes of a ``torchrun`` job.

    Torch's own default counts the machine's cores, so a job given 2 of 64 CPUs would run
    64 threads on them.
    """
    cpus = len(_affinity()) or os.cpu_count() or 1
    cpus = min(cpus, _cgroup_quota() or cpus)
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, cpus // max(local_processes, 1))


def default_threads(interval: float = 0.1) -> int:
    """Threads for a run started now: :func:`usable_cpus`, less the CPUs other work keeps busy.

    A thread that shares its core with another busy process stalls every parallel region of its
    siblings (they wait for it at each barrier): measured on 2 cores with one busy competitor,
    training ran 4.7× slower on 2 threads than on 1 (``benchmarks/bench_threads.py``).
    """
    usable = usable_cpus()
    idle = idle_cpus(interval)
    if idle is None:
        return usable
    return max(1, min(usable, math.floor(idle + (1 - _FREE))))


def idle_cpus(interval: float = 0.1) -> float | None:
    """How many of this process's CPUs were idle over the next ``interval`` seconds (a sum of
    idle fractions, from ``/proc/stat``), or None where that cannot be read."""
    cpus = _affinity()
    first = _cpu_times(cpus)
    if first is None:
        return None
    time.sleep(interval)
    second = _cpu_times(cpus)
    if second is None:
        return None
    idle = 0.0
    for cpu, (idle_before, total_before) in first.items():
        idle_after, total_after = second.get(cpu, (idle_before, total_before))
        elapsed = total_after - total_before
        idle += 1.0 if elapsed <= 0 else (idle_after - idle_before) / elapsed
    return idle


def _affinity() -> set[int]:
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()


def _cpu_times(cpus: set[int]) -> dict[int, tuple[int, int]] | None:
    """``cpu -> (idle + iowait ticks, all ticks)`` of the given CPUs, from ``/proc/stat``."""
    try:
        lines = _PROC_STAT.read_text().splitlines()
    except OSError:
        return None
    times = {}
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu":
            continue
        cpu = int(name[3:])
        if cpu in cpus:
            ticks = [int(value) for value in rest.split()]
            times[cpu] = (ticks[3] + ticks[4], sum(ticks[:8]))
    return times or None


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


def use_threads(threads: int | None) -> int:
    """Set torch's intra-op threads to ``threads`` (None: :func:`default_threads`); returns it."""
    import torch

    count = threads or default_threads()
    torch.set_num_threads(count)
    return count
