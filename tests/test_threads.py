"""CPU threads: the default from the CPUs this process may use, passive OpenMP waiting, and
--threads on every command that runs a network."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from helpers import assert_one_line_error, run_cli

from genatator import threads
from genatator.threads import quiet_waiting, usable_cpus, use_threads


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


def test_quiet_waiting_keeps_a_policy_the_user_chose(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    quiet_waiting()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    quiet_waiting()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_the_command_line_sets_the_policy_before_torch_loads():
    # A fresh interpreter: the CLI's group callback runs before any subcommand imports torch.
    code = (
        "import os, sys\n"
        "from genatator.cli import main\n"
        "assert 'torch' not in sys.modules\n"
        "main(['models', 'list'])\n"
        "print(os.environ.get('OMP_WAIT_POLICY'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip().splitlines()[-1] == "PASSIVE"


def test_use_threads_defaults_to_the_usable_cpus(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(threads, "usable_cpus", lambda: 1)
        assert use_threads(None) == 1 and torch.get_num_threads() == 1
        assert use_threads(2) == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_annotate_uses_the_usable_cpus_by_default(capsys, tmp_path, tiny_random_model, monkeypatch):
    from helpers import random_dna

    genome = tmp_path / "g.fa"
    genome.write_text(">s\n" + random_dna(3000, seed=3) + "\n")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        monkeypatch.setattr(threads, "usable_cpus", lambda: 1)
        code, _, err = run_cli(
            capsys, "annotate", str(genome), "-m", str(tiny_random_model), "-o",
            str(tmp_path / "o.gff3"), "--decoder", "threshold", "-q",
        )  # fmt: skip
        assert code == 0, err
        assert torch.get_num_threads() == 1
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
