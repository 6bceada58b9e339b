"""workflow/Snakefile end to end: shards, a retried shard, merge, and a rerun after a kill, all
giving the bytes of one `genatator annotate` run."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import assert_valid_gff3, random_dna

from genatator.cli import main

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("snakemake") is None,
    reason="snakemake is not installed (pip install '.[workflow]'; the test extra has it)",
)

SNAKEFILE = Path(__file__).resolve().parents[1] / "workflow" / "Snakefile"
SHARDS = 4
# One record longer than a quarter of the genome, and contigs of several sizes.
LENGTHS = {"big": 12_000, **{f"ctg{i}": 1000 + 500 * i for i in range(1, 7)}}
ANNOTATE_ARGS = "--window 2000 --batch-size 4 --min-cds-codons 10"
OUTPUTS = ("demo.gff3", "demo.faa", "demo.fna")

# A stand-in for genatator that fails the first call of one shard, then runs the real one.
FLAKY = """\
import os, sys
calls, marker = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
with open(calls, "a") as handle:
    handle.write(" ".join(args[:1] + [a for a in args if "/" in a and a[0].isdigit()]) + "\\n")
if "{shard}" in args and not os.path.exists(marker):
    open(marker, "w").close()
    sys.exit("flaky: failing this shard once")
os.execv(sys.executable, [sys.executable, "-m", "genatator", *args])
"""


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    path = tmp_path_factory.mktemp("workflow") / "genome.fa"
    with path.open("w") as handle:
        for index, (name, length) in enumerate(LENGTHS.items()):
            sequence = random_dna(length, seed=200 + index)
            handle.write(f">{name}\n")
            handle.writelines(sequence[i : i + 60] + "\n" for i in range(0, length, 60))
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory, genome, tiny_random_model):
    """One plain `genatator annotate` run with the same options."""
    directory = tmp_path_factory.mktemp("reference")
    args = [genome, "-m", tiny_random_model, *ANNOTATE_ARGS.split(), "--threads", "1"]
    args += ["-o", directory / "demo.gff3", "--proteins", directory / "demo.faa"]
    args += ["--cds-fasta", directory / "demo.fna"]
    assert main(["-q", "annotate", *map(str, args)]) == 0
    return directory


def write_config(directory: Path, genome: Path, model: Path, genatator: str) -> Path:
    config = directory / "config.yaml"
    config.write_text(
        f"genomes:\n  demo: {genome}\n"
        f"model: {model}\n"
        f"shards: {SHARDS}\n"
        "balance: length\n"
        "device: cpu\n"
        "outputs: {proteins: true, cds_fasta: true, tracks: false}\n"
        f"annotate_args: '{ANNOTATE_ARGS}'\n"
        f"genatator: '{genatator}'\n"
        "retries: 1\n"
        "resources:\n  annotate: {threads: 1, mem_mb: 1000, runtime: 10}\n"
    )
    return config


def snakemake(directory: Path, config: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--configfile",
        str(config),
        "--directory",
        str(directory),
        "--cores",
        "2",
        *extra,
    ]


def results(directory: Path) -> Path:
    return directory / "results" / "demo"


def assert_same_as_reference(directory: Path, reference: Path, gt: str) -> None:
    for name in OUTPUTS:
        assert (results(directory) / name).read_bytes() == (reference / name).read_bytes(), name
    assert_valid_gff3(gt, results(directory) / "demo.gff3")
    for shard in range(1, SHARDS + 1):
        assert_valid_gff3(gt, results(directory) / "shards" / f"{shard}-of-{SHARDS}.gff3")


def test_the_workflow_merges_to_one_runs_bytes_and_retries_a_failed_shard_alone(
    tmp_path, genome, reference, tiny_random_model, gt_binary
):
    flaky = tmp_path / "flaky.py"
    flaky.write_text(FLAKY.replace("{shard}", f"2/{SHARDS}"))
    calls = tmp_path / "calls.txt"
    genatator = f"{sys.executable} {flaky} {calls} {tmp_path / 'failed-once'}"
    config = write_config(tmp_path, genome, tiny_random_model, genatator)
    result = subprocess.run(
        snakemake(tmp_path, config), capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert_same_as_reference(tmp_path, reference, gt_binary)

    # The plan: the big record alone in one shard, the contigs spread over the other three.
    plan = (results(tmp_path) / f"shard-plan-{SHARDS}.tsv").read_text().splitlines()
    assert plan[1] == "big\t12000\t1"
    # Shard 2 failed once and was retried on its own; every other shard ran once.
    lines = calls.read_text().splitlines()
    annotate = sorted(line for line in lines if line.startswith("annotate"))
    assert annotate == sorted(
        [f"annotate {i}/{SHARDS}" for i in range(1, SHARDS + 1)] + [f"annotate 2/{SHARDS}"]
    )
    assert sum(line.startswith("merge") for line in lines) == 3  # GFF3, proteins, CDS

    # Nothing left to do: a second run changes nothing.
    again = subprocess.run(
        snakemake(tmp_path, config, "--dry-run"), capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def finished_shards(log: str) -> set[int]:
    """Shards whose job snakemake's log reports finished (job ids mapped through the log)."""
    pattern = r"jobid: (\d+)\n[^\[]*?wildcards: genome=demo, shard=(\d+)"
    shard_of = {int(job): int(shard) for job, shard in re.findall(pattern, log)}
    # Snakemake 9: "Finished jobid: 5 (Rule: annotate_shard)"; 8: "Finished job 5."
    jobs = {int(job) for job in re.findall(r"Finished job(?:id:)? (\d+)", log)}
    return {shard_of[job] for job in jobs if job in shard_of}


def test_a_killed_workflow_reruns_only_what_is_missing(
    tmp_path, genome, reference, tiny_random_model, gt_binary
):
    config = write_config(tmp_path, genome, tiny_random_model, f"{sys.executable} -m genatator")
    shards = results(tmp_path) / "shards"
    process = subprocess.Popen(
        snakemake(tmp_path, config),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the kill takes its jobs too
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    while not finished_shards("".join(lines)):
        if process.poll() is not None:
            reader.join(timeout=10)
            pytest.fail(f"snakemake ended before a shard finished: {''.join(lines)[-3000:]}")
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail("no shard finished within 300 s")
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # snakemake and every job it runs, at once
    process.wait(timeout=60)
    reader.join(timeout=10)
    done = finished_shards("".join(lines))
    assert len(done) < SHARDS, done  # really cut short
    assert not (results(tmp_path) / "demo.gff3").exists()
    kept = {
        path.name: path.stat().st_mtime_ns
        for shard in done
        for path in shards.glob(f"{shard}-of-{SHARDS}.*")
    }
    assert len(kept) == 3 * len(done)  # GFF3, proteins, CDS

    # After a kill the working directory stays locked: unlock, then finish the rest.
    unlock = subprocess.run(
        snakemake(tmp_path, config, "--unlock"), capture_output=True, text=True, timeout=300
    )
    assert unlock.returncode == 0, unlock.stderr[-3000:]
    rerun = subprocess.run(
        snakemake(tmp_path, config, "--rerun-incomplete"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_same_as_reference(tmp_path, reference, gt_binary)
    assert not finished_shards(rerun.stderr) & done  # the finished shards were not redone
    for name, mtime in kept.items():
        assert (shards / name).stat().st_mtime_ns == mtime, name
