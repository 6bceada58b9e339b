"""The allocator setting for long runs: applied on glibc, harmless to what follows."""

import ctypes.util
import subprocess
import sys

import pytest

_CHILD = """
import numpy as np
from genatator.memory import reuse_freed_memory
applied = reuse_freed_memory()
total = 0.0
for size in (40, 80, 40):  # above glibc's default 32 MiB mapping threshold, freed and reused
    block = np.ones(size * 2**20 // 8)
    total += block.sum()
    del block
print(applied, int(total))
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or "libc.so" not in (ctypes.util.find_library("c") or ""),
    reason="glibc only",
)
def test_reuse_freed_memory_applies_on_glibc_and_arrays_still_work() -> None:
    # A fresh interpreter: the setting is process-wide, so it must not leak into the suite.
    result = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    applied, total = result.stdout.split()
    assert applied == "True"
    assert int(total) == 160 * 2**20 // 8
