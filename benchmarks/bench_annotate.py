"""Time ``genatator annotate`` on 1, 2, 4 and 8 Mb of fly DNA: nt/s, peak RSS, and AUGUSTUS.

Inputs are the first N Mb of ``../shared/data/dmel_chr2L_softmasked.fa.gz`` (soft-masked, as
assemblers deliver them). Each run is a fresh process, so its peak RSS (``ru_maxrss`` of that
child alone) is exact; it should stay flat as the input grows, because the annotator's memory is
bounded by its window, batch and track block, not by the sequence length (the one chromosome
string itself, 1 byte/nt, is the only part that grows).

AUGUSTUS (``augustus --species=fly``, the Debian package) runs on the same inputs when installed;
the last column is genatator's time divided by AUGUSTUS's.

Usage:
    python benchmarks/bench_annotate.py --model DIR                       # CPU, 1,2,4,8 Mb
    python benchmarks/bench_annotate.py --model DIR --device cuda --sizes 1,2,4,8,16
    python benchmarks/bench_annotate.py --model DIR --no-augustus --json

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED_GENOME = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "dmel_chr2L_softmasked.fa.gz"
)
# Run a command as the only child of a small Python process that reports that child's peak RSS.
_MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); "
    "print(code, time.perf_counter() - t, "
    "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="Model directory for genatator annotate.")
    parser.add_argument("--genome", type=Path, default=SHARED_GENOME, help="Source FASTA(.gz).")
    parser.add_argument("--sizes", default="1,2,4,8", help="Input sizes in Mb, comma-separated.")
    parser.add_argument("--device", default="auto", help="genatator --device.")
    parser.add_argument("--batch-size", type=int, default=8, help="genatator --batch-size.")
    parser.add_argument("--no-rc", action="store_true", help="Pass --no-rc to genatator.")
    parser.add_argument("--extra", default="", help="More genatator annotate options, quoted.")
    parser.add_argument("--no-augustus", action="store_true", help="Skip AUGUSTUS.")
    parser.add_argument(
        "--augustus-max-mb",
        type=float,
        default=float("inf"),
        help="Run AUGUSTUS only on inputs up to this size (it takes ~1.5 min/Mb on one core).",
    )
    parser.add_argument("--json", action="store_true", help="Print JSON lines instead of a table.")
    return parser.parse_args(argv)


def cut_inputs(genome: Path, sizes_mb: list[float], directory: Path) -> dict[float, Path]:
    """Write the first N Mb of the genome's first record, one FASTA per size."""
    largest = int(max(sizes_mb) * 1_000_000)
    opener = gzip.open if genome.suffix == ".gz" else open
    name, parts, have = None, [], 0
    with opener(genome, "rt") as handle:
        for line in handle:
            if line.startswith(">"):
                if name is not None:
                    break
                name = line[1:].split()[0]
                continue
            parts.append(line.strip())
            have += len(parts[-1])
            if have >= largest:
                break
    sequence = "".join(parts)
    if len(sequence) < largest:
        sys.exit(f"{genome}: first record has {len(sequence)} bp, fewer than {largest}")
    paths = {}
    for size in sizes_mb:
        path = directory / f"{size:g}Mb.fa"
        length = int(size * 1_000_000)
        with path.open("w") as out:
            out.write(f">{name}_1-{length}\n")
            out.writelines(sequence[i : i + 80] + "\n" for i in range(0, length, 80))
        paths[size] = path
    return paths


def measure(command: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one command run as a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True
    )
    code, seconds, rss_kib = result.stderr.strip().splitlines()[-1].split()
    if int(code) != 0:
        sys.exit(f"failed ({code}): {' '.join(command)}\n{result.stderr[-2000:]}")
    return float(seconds), int(rss_kib) / 1024


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = [float(s) for s in args.sizes.split(",")]
    augustus = None if args.no_augustus else shutil.which("augustus")
    if not args.json:
        print(f"# {platform.node()} {platform.processor() or platform.machine()}, device "
              f"{args.device}, model {args.model}, batch {args.batch_size}, "
              f"rc {'off' if args.no_rc else 'on'}")  # fmt: skip
        print(f"{'Mb':>5} {'genatator s':>12} {'nt/s':>10} {'peak RSS MiB':>13} "
              f"{'augustus s':>11} {'ratio':>7}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        inputs = cut_inputs(args.genome, sizes, Path(tmp))
        for size, path in inputs.items():
            command = [sys.executable, "-m", "genatator", "-q", "annotate", str(path)]
            command += ["-m", args.model, "--device", args.device, "-o", f"{path}.gff3"]
            command += ["--batch-size", str(args.batch_size), *args.extra.split()]
            if args.no_rc:
                command.append("--no-rc")
            seconds, rss = measure(command)
            row = {
                "mb": size,
                "genatator_s": round(seconds, 2),
                "nt_per_s": round(size * 1e6 / seconds),
                "peak_rss_mib": round(rss),
            }
            if augustus and size <= args.augustus_max_mb:
                started = time.perf_counter()
                subprocess.run(
                    [augustus, "--species=fly", str(path)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=True,
                )
                row["augustus_s"] = round(time.perf_counter() - started, 2)
                row["ratio"] = round(seconds / row["augustus_s"], 3)
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                print(f"{size:>5g} {row['genatator_s']:>12.2f} {row['nt_per_s']:>10,} "
                      f"{row['peak_rss_mib']:>13,} {row.get('augustus_s', float('nan')):>11.2f} "
                      f"{row.get('ratio', float('nan')):>7.3f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
