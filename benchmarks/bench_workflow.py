"""Shard plans and the Snakemake workflow: how even the plan is, and the workflow's wall time.

Prints three things (it asserts nothing):

1. the balance (largest shard / mean) of ``--balance count`` and ``--balance length`` plans of
   a genome of one 250 Mb record and 10,000 contigs, and the lower bound of any plan of whole
   sequences (the longest record, or the mean if larger, over the mean);
2. the same for the GRCh38 chromosomes, with the wall time each shard count would take at a
   measured annotate speed (CPU seconds per Mb past start-up of the ``human`` bundle on
   ``examples/hg19_chr21_slice.fa.gz``, one thread; ``--seconds-per-mb`` gives one instead);
3. ``workflow/Snakefile`` run end to end at ``--cores 1`` and ``--cores 2`` on the same
   generated genome (one large record and many small ones, a tiny random model, one thread per
   job), next to one plain ``genatator annotate`` run: wall and CPU seconds of each run, and
   the wall seconds of each job that Snakemake records.

CPU seconds are printed beside wall seconds because on a core that other work shares, wall
time counts that work too.

    python benchmarks/bench_workflow.py
    python benchmarks/bench_workflow.py --skip-workflow --seconds-per-mb 40   # plans only
"""

from __future__ import annotations

import argparse
import csv
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from genatator.genome import read_fasta
from genatator.shards import ShardPlan

ROOT = Path(__file__).resolve().parent.parent
SNAKEFILE = ROOT / "workflow" / "Snakefile"
HUMAN_SLICE = ROOT / "examples" / "hg19_chr21_slice.fa.gz"

#: GRCh38 primary chromosome lengths (bp), chr1..chr22, chrX, chrY, chrM.
GRCH38 = {
    "chr1": 248_956_422,
    "chr2": 242_193_529,
    "chr3": 198_295_559,
    "chr4": 190_214_555,
    "chr5": 181_538_259,
    "chr6": 170_805_979,
    "chr7": 159_345_973,
    "chr8": 145_138_636,
    "chr9": 138_394_717,
    "chr10": 133_797_422,
    "chr11": 135_086_622,
    "chr12": 133_275_309,
    "chr13": 114_364_328,
    "chr14": 107_043_718,
    "chr15": 101_991_189,
    "chr16": 90_338_345,
    "chr17": 83_257_441,
    "chr18": 80_373_285,
    "chr19": 58_617_616,
    "chr20": 64_444_167,
    "chr21": 46_709_983,
    "chr22": 50_818_468,
    "chrX": 156_040_895,
    "chrY": 57_227_415,
    "chrM": 16_569,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=int, default=4, help="Shards of the workflow run.")
    parser.add_argument("--large-kb", type=int, default=400, help="The generated large record.")
    parser.add_argument("--contigs", type=int, default=200, help="Generated small records.")
    parser.add_argument("--contig-kb", default="2-6", help="Their length range, kb.")
    parser.add_argument(
        "--seconds-per-mb", type=float, help="Annotate speed for the human plan (else measured)."
    )
    parser.add_argument("--skip-workflow", action="store_true", help="Plans only.")
    parser.add_argument("--keep", type=Path, help="Keep the workflow runs in this directory.")
    return parser.parse_args(argv)


def one_huge_and_many_small() -> None:
    rng = np.random.default_rng(0)
    contigs = np.exp(rng.uniform(np.log(1_000), np.log(100_000), size=10_000)).astype(int)
    weights = [250_000_000, *contigs.tolist()]
    names = [f"s{i}" for i in range(len(weights))]
    total = sum(weights) / 1e6
    print(f"\n1 x 250 Mb + 10,000 contigs of 1-100 kb (log-uniform), {total:.0f} Mb in all")
    print("| shards | count: largest/mean | length: largest/mean | lower bound |")
    print("|---|---|---|---|")
    for count in (2, 4, 8, 16, 32):
        by_count = ShardPlan.build(names, weights, count, "count")
        by_length = ShardPlan.build(names, weights, count, "length")
        print(
            f"| {count} | {by_count.imbalance:.3f} | {by_length.imbalance:.3f} "
            f"| {by_length.floor:.3f} |"
        )
    small = ShardPlan.build(names[1:], weights[1:], 16, "length")
    print(f"the 10,000 contigs alone, 16 shards, length: {small.imbalance:.4f}")


def human_plan(seconds_per_mb: float, source: str) -> None:
    names, weights = list(GRCH38), list(GRCH38.values())
    total = sum(weights) / 1e6
    print(
        f"\nGRCh38 chromosomes ({total:,.0f} Mb); wall time at {seconds_per_mb:.1f} s/Mb ({source})"
    )
    print("| shards | largest shard Mb | largest/mean | lower bound | wall h (largest shard) |")
    print("|---|---|---|---|---|")
    print(f"| 1 | {total:,.0f} | 1.000 | 1.000 | {total * seconds_per_mb / 3600:.1f} |")
    for count in (4, 8, 12, 16, 24, 32, 64):
        plan = ShardPlan.build(names, weights, count, "length")
        largest = max(plan.totals()) / 1e6
        print(
            f"| {count} | {largest:.0f} | {plan.imbalance:.3f} | {plan.floor:.3f} "
            f"| {largest * seconds_per_mb / 3600:.1f} |"
        )


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, of every process it started) of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stderr[-3000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu


def measure_human_speed(workdir: Path) -> float:
    """s/Mb of the human bundle, one thread: (500 kb slice − its first 10 kb) / 0.49 Mb, in CPU
    seconds (wall seconds are printed too; on a shared core they also count the others' work)."""
    (record,) = list(read_fasta(HUMAN_SLICE))
    head = workdir / "head.fa"
    head.write_text(f">{record.name}\n{record.sequence[:10_000]}\n")
    command = [sys.executable, "-m", "genatator", "-q", "annotate", "--threads", "1"]
    small = timed([*command, str(head), "-o", str(workdir / "head.gff3")])
    full = timed([*command, str(HUMAN_SLICE), "-o", str(workdir / "slice.gff3")])
    mb = (record.length - 10_000) / 1e6
    per_mb = (full[1] - small[1]) / mb
    print(
        f"\nhuman bundle, one thread: the {record.length / 1e6:.2f} Mb slice {full[0]:.1f} s wall "
        f"({full[1]:.1f} s CPU), its first 10 kb (start-up) {small[0]:.1f} s wall "
        f"({small[1]:.1f} s CPU); {per_mb:.1f} CPU s/Mb past start-up"
    )
    return per_mb


def write_genome(path: Path, large: int, contigs: int, low: int, high: int) -> list[int]:
    rng = np.random.default_rng(7)
    lengths = [large, *rng.integers(low, high + 1, size=contigs).tolist()]
    with path.open("w") as handle:
        for index, length in enumerate(lengths):
            sequence = "".join(rng.choice(list("ACGT"), size=length))
            handle.write(f">{'large' if index == 0 else f'contig{index}'}\n")
            handle.writelines(sequence[i : i + 60] + "\n" for i in range(0, length, 60))
    return lengths


def tiny_model(path: Path) -> Path:
    from genatator.model.directory import create_model, write_model_directory
    from genatator.model.settings import InferenceSettings

    new = create_model(preset="tiny", seed=0)
    settings = InferenceSettings(window=2000)
    return write_model_directory(path, new.model, new.tokenizer, new.card(), settings=settings)


def job_seconds(directory: Path) -> dict[str, float]:
    """Wall seconds of each job, from the benchmark tables Snakemake wrote (their cpu_time
    column is sampled and misses short-lived child processes: it is not used)."""
    seconds = {}
    for table in sorted((directory / "results" / "bench" / "benchmarks").glob("*.tsv")):
        with table.open() as handle:
            seconds[table.stem] = float(next(csv.DictReader(handle, delimiter="\t"))["s"])
    return seconds


def workflow(args: argparse.Namespace, workdir: Path) -> None:
    low, high = (int(kb) * 1000 for kb in args.contig_kb.split("-"))
    genome = workdir / "genome.fa"
    lengths = write_genome(genome, args.large_kb * 1000, args.contigs, low, high)
    model = tiny_model(workdir / "tiny")
    plan = ShardPlan.build([str(i) for i in range(len(lengths))], lengths, args.shards, "length")
    print(
        f"\nworkflow: 1 x {args.large_kb} kb + {args.contigs} contigs of {args.contig_kb} kb "
        f"({sum(lengths) / 1e6:.2f} Mb), tiny random model, {args.shards} shards, one thread a "
        f"job; plan largest/mean {plan.imbalance:.3f} (lower bound {plan.floor:.3f}); "
        f"count balance would give "
        f"{ShardPlan.build(plan.names, lengths, args.shards, 'count').imbalance:.3f}"
    )
    options = "--window 2000 --batch-size 8"
    one = workdir / "one"
    one.mkdir()
    command = [sys.executable, "-m", "genatator", "-q", "annotate", str(genome), "-m", str(model)]
    command += [*options.split(), "--threads", "1", "-o", str(one / "bench.gff3")]
    command += ["--proteins", str(one / "bench.faa")]
    plain, plain_cpu = timed(command)
    print(f"one genatator annotate run (no shards): {plain:.1f} s wall, {plain_cpu:.1f} s CPU")
    outputs = {}
    for cores in (1, 2):
        run = workdir / f"cores{cores}"
        run.mkdir()
        config = run / "config.yaml"
        config.write_text(
            f"genomes:\n  bench: {genome}\nmodel: {model}\nshards: {args.shards}\n"
            "balance: length\ndevice: cpu\noutputs: {proteins: true}\n"
            f"annotate_args: '{options}'\ngenatator: '{sys.executable} -m genatator'\n"
            "resources:\n  annotate: {threads: 1}\n"
        )
        snakemake = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--quiet"]
        snakemake += ["--configfile", str(config), "-d", str(run), "--cores", str(cores)]
        wall, cpu = timed(snakemake)
        jobs = job_seconds(run)
        shards = [jobs[f"annotate-{i}-of-{args.shards}"] for i in range(1, args.shards + 1)]
        print(
            f"--cores {cores}: {wall:.1f} s wall, {cpu:.1f} s CPU (every process); wall s of "
            f"the jobs: plan {jobs['shard-plan']:.1f}, shards "
            f"{', '.join(f'{w:.1f}' for w in shards)}, merge {jobs['merge']:.1f}"
        )
        outputs[cores] = (run / "results" / "bench" / "bench.gff3").read_bytes()
    same = outputs[1] == outputs[2] == (one / "bench.gff3").read_bytes()
    print(f"merged GFF3 identical at --cores 1, --cores 2 and to the plain run: {same}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    one_huge_and_many_small()
    workdir = Path(tempfile.mkdtemp(prefix="bench-workflow-"))
    try:
        if args.seconds_per_mb is None:
            speed, source = measure_human_speed(workdir), "measured above"
        else:
            speed, source = args.seconds_per_mb, "--seconds-per-mb"
        human_plan(speed, source)
        if not args.skip_workflow:
            workflow(args, workdir)
    finally:
        if args.keep:
            shutil.copytree(workdir, args.keep, dirs_exist_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
