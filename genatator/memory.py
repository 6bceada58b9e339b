"""The C allocator's settings for a long run: large arrays reuse freed memory."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["reuse_freed_memory"]

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Allocations up to this size come from the heap, not from fresh kernel pages.
_MMAP_THRESHOLD = 1 << 30
#: Free memory at the heap's top kept for reuse instead of being handed back.
_TRIM_THRESHOLD = (1 << 31) - 1


def reuse_freed_memory() -> bool:
    """Make glibc serve large allocations from memory the process freed before.

    By default glibc maps every allocation over 32 MiB afresh and unmaps it when freed, so the
    decoder's per-segment arrays (hundreds of MiB per Mb) are page-faulted in again for every
    segment: about 9 % of the decoding time on held-out fly DNA
    (``benchmarks/bench_annotate.py --decode-only``). Call once, at the start of a run; a
    process-wide setting, so library code never calls it. Returns whether it was applied
    (False off glibc).
    """
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )
