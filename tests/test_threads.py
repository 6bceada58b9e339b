"""CPU threads: the default from the CPUs this process may use and how many of them are idle,
and --threads on every command that runs a network."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from helpers import assert_one_line_error, run_cli

from genatator import threads
from genatator.threads import default_threads, idle_cpus, usable_cpus, use_threads


@pytest.fixture
def no_cgroup(monkeypatch, tmp_path):
    """No CPU quota: the cgroup files point into an empty directory."""
    monkeypatch.setattr(threads, "_CGROUP_V2", tmp_path / "cpu.max")
    monkeypatch.setattr(threads, "_CGROUP_V1", (tmp_path / "quota", tmp_path / "period"))
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    return tmp_path


def test_usable_cpus_follow_the_affinity_mask(monkeypatch, no_cgroup):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert usable_cpus() == 3


def test_a_cgroup_quota_caps_the_cpus(monkeypatch, no_cgroup):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    (no_cgroup / "cpu.max").write_text("250000 100000\n")  # 2.5 CPUs: round up
    assert usable_cpus() == 3
    (no_cgroup / "cpu.max").write_text("max 100000\n")
    assert usable_cpus() == 16
    (no_cgroup / "cpu.max").unlink()
    (no_cgroup / "quota").write_text("100000\n")  # cgroup v1: one CPU
    (no_cgroup / "period").write_text("100000\n")
    assert usable_cpus() == 1
    (no_cgroup / "quota").write_text("-1\n")  # v1's "no limit"
    assert usable_cpus() == 16


def test_torchrun_processes_share_the_cpus(monkeypatch, no_cgroup):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert usable_cpus() == 2
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "16")
    assert usable_cpus() == 1


def test_a_real_affinity_mask_is_seen_by_a_fresh_process():
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this platform")
    first = min(os.sched_getaffinity(0))
    code = "from genatator.threads import usable_cpus; print(usable_cpus())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        preexec_fn=lambda: os.sched_setaffinity(0, {first}),
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "LOCAL_WORLD_SIZE"},
    )
    assert out.stdout.strip() == "1"


def _stat(ticks: dict[int, tuple[int, int]]) -> str:
    """A /proc/stat with the given (busy, idle) ticks per CPU."""
    lines = ["cpu  1 2 3 4 5 6 7 8 0 0"]
    lines += [f"cpu{c} {busy} 0 0 {idle} 0 0 0 0 0 0" for c, (busy, idle) in ticks.items()]
    return "\n".join([*lines, "intr 1 2 3"]) + "\n"


def test_idle_cpus_sums_the_idle_fraction_of_this_process_cpus(monkeypatch, tmp_path):
    stat = tmp_path / "stat"
    monkeypatch.setattr(threads, "_PROC_STAT", stat)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    readings = iter([
        _stat({0: (0, 0), 1: (0, 0), 2: (0, 0), 3: (0, 0)}),
        # cpu0 fully busy, cpu1 fully idle, cpu2 a quarter idle; cpu3 is not ours.
        _stat({0: (100, 0), 1: (0, 100), 2: (75, 25), 3: (0, 100)}),
    ])  # fmt: skip
    monkeypatch.setattr(threads.time, "sleep", lambda s: stat.write_text(next(readings)))
    stat.write_text(next(readings))
    assert idle_cpus() == pytest.approx(1.25)


@pytest.mark.parametrize(
    ("idle", "expected"),
    [(4.0, 4), (3.8, 4), (3.7, 3), (1.0, 1), (0.2, 1), (None, 4)],
)
def test_default_threads_leave_out_busy_cpus(monkeypatch, no_cgroup, idle, expected):
    # A CPU counts as free when it is at least 75 % idle; never fewer than one thread.
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(4)), raising=False)
    monkeypatch.setattr(threads, "idle_cpus", lambda interval=0.1: idle)
    assert default_threads() == expected


def test_a_busy_competitor_is_seen(no_cgroup):
    # One process spinning on one of this process's CPUs leaves at most the others free.
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two CPUs")
    cpu = min(os.sched_getaffinity(0))
    spinner = subprocess.Popen(
        [sys.executable, "-c", "while True: pass"],
        preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
    )
    try:
        import time

        time.sleep(0.3)
        assert idle_cpus(0.3) <= len(os.sched_getaffinity(0)) - 0.5
    finally:
        spinner.kill()
        spinner.wait()


def test_use_threads_defaults_to_the_idle_usable_cpus(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(threads, "default_threads", lambda: 1)
        assert use_threads(None) == 1 and torch.get_num_threads() == 1
        assert use_threads(2) == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_annotate_uses_the_idle_cpus_by_default(capsys, tmp_path, tiny_random_model, monkeypatch):
    from helpers import random_dna

    genome = tmp_path / "g.fa"
    genome.write_text(">s\n" + random_dna(3000, seed=3) + "\n")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        monkeypatch.setattr(threads, "usable_cpus", lambda: 3)
        monkeypatch.setattr(threads, "idle_cpus", lambda interval=0.1: 2.0)  # one CPU is busy
        code, _, err = run_cli(
            capsys, "annotate", str(genome), "-m", str(tiny_random_model), "-o",
            str(tmp_path / "o.gff3"), "--decoder", "threshold",
        )  # fmt: skip
        assert code == 0, err
        assert torch.get_num_threads() == 2
        assert "1 of 3 usable CPUs are busy with other work: using 2 threads" in err
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "100000"])
@pytest.mark.parametrize(
    "command",
    [
        ["annotate", "g.fa", "-o", "o.gff3"],
        ["train", "--genome", "g.fa", "--annotation", "a.gff3", "-o", "run"],
        ["splice", "train", "data", "-o", "run"],
        ["splice", "predict", "splice-fly", "g.fa", "-o", "o.bed"],
        ["splice", "evaluate", "splice-fly", "--data", "data"],
    ],
    ids=["annotate", "train", "splice-train", "splice-predict", "splice-evaluate"],
)
def test_nonsense_threads_are_a_usage_error(capsys, tmp_path, monkeypatch, command, value):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, *command, "--threads", value)
    assert code == 2
    assert_one_line_error(err, "--threads")
    assert not any(tmp_path.iterdir())  # nothing written
