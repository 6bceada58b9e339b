"""Thread contention: annotate and train, idle and beside one competing busy process.

Runs genatator as a user would (a fresh process per run), on the set-up example of the README,
with its default threads and with ``--threads 1``, first on an idle machine and then with one
busy-looping process that this script starts and stops itself. ``--source DIR`` runs the
genatator package found in DIR instead (a checkout of another commit), for before/after figures.

    python benchmarks/bench_threads.py
    git worktree add /tmp/before <commit> && python benchmarks/bench_threads.py --source /tmp/before

Prints, for each command: seconds of wall time for annotate, and training speed (nt/s of the
second logging window, after warm-up) for train. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENOME = ROOT / "examples" / "dmel_chr2R_slice.fa.gz"
ANNOTATION = ROOT / "examples" / "dmel_chr2R_slice.refseq.gtf"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, help="Run the genatator package in this checkout.")
    parser.add_argument("--commands", default="annotate,train", help="annotate, train or both.")
    parser.add_argument("--train-steps", type=int, default=40, help="Training steps per run.")
    return parser.parse_args(argv)


@contextlib.contextmanager
def competitor(busy: bool) -> Iterator[None]:
    """One process spinning on a core for as long as the block runs (nothing when not busy)."""
    if not busy:
        yield
        return
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # let it reach the scheduler's steady state
        yield
    finally:
        process.kill()
        process.wait()


def genatator(source: Path | None, *args: str) -> list[str]:
    # Run from the temporary directory (see cwd= below): `-m` puts the working directory first
    # on sys.path, which would shadow --source.
    return [sys.executable, "-m", "genatator", *args]


def environment(source: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "MKL_", "KMP_"))}
    env.pop("RAYON_NUM_THREADS", None)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    return env


def run_annotate(source: Path | None, threads: list[str], tmp: Path) -> float:
    command = genatator(source, "annotate", str(GENOME), "-m", "fly", "-o", str(tmp / "a.gff3"))
    started = time.perf_counter()
    subprocess.run([*command, "-q", *threads], check=True, env=environment(source), cwd=tmp)
    return time.perf_counter() - started


def run_train(source: Path | None, threads: list[str], tmp: Path, steps: int) -> float:
    run = tmp / f"train-{time.monotonic_ns()}"
    half = max(steps // 2, 1)
    command = genatator(
        source, "-q", "train", "--genome", str(GENOME), "--annotation", str(ANNOTATION),
        "--preset", "tiny", "--max-steps", str(2 * half), "--log-every", str(half),
        "--val-regions", "chr2R_10000001_10150000:120001-150000", "--val-samples", "2",
        "--eval-every", "100000", "--save-every", "100000", "--warmup-steps", "1",
        "--device", "cpu", "-o", str(run),
    )  # fmt: skip
    subprocess.run([*command, *threads], check=True, env=environment(source), cwd=tmp)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    speeds = [r["nt_per_s"] for r in records if r.get("split") == "train"]
    return speeds[-1]


def has_threads_option(source: Path | None, command: str, tmp: Path) -> bool:
    """Whether this genatator's ``command`` takes --threads (older train did not)."""
    shown = subprocess.run(
        [*genatator(source, command, "--help")],
        capture_output=True, text=True, env=environment(source), cwd=tmp, check=True,
    )  # fmt: skip
    return "--threads" in shown.stdout


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    commands = args.commands.split(",")
    where = args.source or ROOT
    print(f"# genatator from {where}; {os.cpu_count()} CPUs; one busy competitor when 'busy'")
    print(f"{'command':<9} {'machine':<8} {'threads':<10} {'result':>14}")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for command in commands:
            settings = [[]]
            if has_threads_option(args.source, command, tmp):
                settings.append(["--threads", "1"])
            for busy in (False, True):
                for threads in settings:
                    with competitor(busy):
                        if command == "annotate":
                            value = f"{run_annotate(args.source, threads, tmp):.1f} s"
                        else:
                            speed = run_train(args.source, threads, tmp, args.train_steps)
                            value = f"{speed:,.0f} nt/s"
                    label = "default" if not threads else "1"
                    machine = "busy" if busy else "idle"
                    print(f"{command:<9} {machine:<8} {label:<10} {value:>14}", flush=True)


if __name__ == "__main__":
    main()
