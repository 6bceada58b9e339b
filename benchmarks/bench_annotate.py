"""Time ``genatator annotate`` on 1, 2, 4 and 8 Mb of fly DNA: nt/s, peak RSS, and AUGUSTUS.

Inputs are the first N Mb of ``../shared/data/dmel_chr2L_softmasked.fa.gz`` (soft-masked, as
assemblers deliver them). Each run is a fresh process, so its peak RSS (``ru_maxrss`` of that
child alone) is exact; it should stay flat as the input grows, because the annotator's memory is
bounded by its window, batch and track block, not by the sequence length (the one chromosome
string itself, 1 byte/nt, is the only part that grows).

AUGUSTUS (``augustus --species=fly``, the Debian package) runs on the same inputs when installed;
the last column is genatator's time divided by AUGUSTUS's.

With ``--decode-only`` the network is left out: the model's probability tracks and its
default splice model's site scores over the largest input are computed once (cached in
``--cache``), and each size is decoded by the gene-model HMM alone (``hmm_transcripts``, as
``annotate`` streams it, posteriors included) in a fresh process that reads the cached arrays
block by block: seconds per Mb and peak RSS of the decoder. Each child first decodes 50 kb,
which loads the compiled kernels from numba's cache, and reports that once-per-process cost as
"startup s", apart from the timed decode.

Usage:
    python benchmarks/bench_annotate.py --model DIR                       # CPU, 1,2,4,8 Mb
    python benchmarks/bench_annotate.py --model DIR --device cuda --sizes 1,2,4,8,16
    python benchmarks/bench_annotate.py --model DIR --no-augustus --json
    python benchmarks/bench_annotate.py --model fly --decode-only --sizes 1,8

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
    parser.add_argument(
        "--decode-only", action="store_true", help="Time the HMM decoder alone (see above)."
    )
    parser.add_argument(
        "--cache", type=Path, default=Path("runs/bench_decode"), help="--decode-only's arrays."
    )
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


def decode_evidence(model: str, fasta: Path, cache: Path) -> Path:
    """Probability tracks and splice-site scores of ``fasta``'s one sequence, cached as .npy."""
    import numpy as np
    import torch

    from genatator.genome import read_fasta
    from genatator.inference import WindowPredictor, predict_tracks
    from genatator.model.directory import load_model_directory
    from genatator.model.files import resolve_model_dir
    from genatator.model.settings import InferenceSettings
    from genatator.splice.models import load_splice_model
    from genatator.splice.scoring import score_region
    from genatator.splice.windows import encode

    target = cache / f"{Path(model).name}_{fasta.stem}"
    if (target / "acceptor.npy").is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    directory = resolve_model_dir(model)
    network, tokenizer = load_model_directory(directory)
    settings = InferenceSettings.load(directory)
    (record,) = read_fasta(str(fasta))
    predictor = WindowPredictor(network, tokenizer, device="cpu")
    blocks = predict_tracks(predictor, record.sequence, window=settings.window)
    np.save(target / "tracks.npy", np.concatenate([block.probabilities for block in blocks]))
    site_model = load_splice_model(resolve_model_dir(settings.splice_model))
    scores = score_region(site_model, encode(record.sequence), 0, record.length)
    np.save(target / "donor.npy", scores.donor)
    np.save(target / "acceptor.npy", scores.acceptor)
    return target


def _reader(path: Path):  # type: ignore[no-untyped-def]
    """``(lo, hi) -> columns lo:hi`` of a saved ``(n, ...)`` or ``(r, n)`` float32 array, read
    from the file each time: no memory map, whose touched pages would count in the RSS."""
    import numpy as np

    with open(path, "rb") as handle:
        major, _ = np.lib.format.read_magic(handle)
        read_header = (
            np.lib.format.read_array_header_1_0
            if major == 1
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read_header(handle)
        start = handle.tell()
    if len(shape) == 2 and shape[1] == 5:  # a track: rows are positions

        def rows(lo: int, hi: int):  # type: ignore[no-untyped-def]
            offset = start + lo * 5 * dtype.itemsize
            count = (hi - lo) * 5
            return np.fromfile(path, dtype, count, offset=offset).reshape(-1, 5)

        return rows

    def columns(lo: int, hi: int):  # type: ignore[no-untyped-def]
        return np.stack([
            np.fromfile(path, dtype, hi - lo, offset=start + (r * shape[1] + lo) * dtype.itemsize)
            for r in range(shape[0])
        ])  # fmt: skip

    return columns


#: Bases decoded once before the timed decode (see :func:`decode_child`).
_WARM_UP = 50_000


def decode_child(model: str, fasta: str, arrays: str, length: int, report: str) -> None:
    """Decode the first ``length`` bases from cached arrays, as ``annotate`` would."""
    from genatator.decode.parts import load_decoder_parts
    from genatator.decode.segments import hmm_transcripts
    from genatator.genome import read_fasta
    from genatator.inference.stitch import TrackBlock
    from genatator.memory import reuse_freed_memory
    from genatator.model.files import resolve_model_dir

    reuse_freed_memory()  # as annotate does
    parts = load_decoder_parts(resolve_model_dir(model))
    decoder = parts.hmm_decoder(parts.default_decoding().hmm)
    (record,) = read_fasta(fasta)
    sequence = record.sequence[:length]
    folder = Path(arrays)
    tracks = _reader(folder / "tracks.npy")
    donor, acceptor = _reader(folder / "donor.npy"), _reader(folder / "acceptor.npy")

    def decode(length: int) -> list:
        block = 1_000_000
        blocks = (
            TrackBlock(start, tracks(start, min(start + block, length)))
            for start in range(0, length, block)
        )
        return list(
            hmm_transcripts(
                blocks,
                sequence[:length],
                seqid=record.name,
                offset=0,
                decoder=decoder,
                site_scorer=lambda lo, hi: (donor(lo, hi), acceptor(lo, hi)),
            )
        )

    # The first decode loads the compiled kernels from numba's cache: a once-per-process cost,
    # timed on its own so that the per-Mb figure is the decoder's steady rate.
    started = time.perf_counter()
    decode(min(length, _WARM_UP))
    startup = time.perf_counter() - started
    started = time.perf_counter()
    found = decode(length)
    seconds = time.perf_counter() - started
    Path(report).write_text(
        json.dumps({"seconds": seconds, "startup": startup, "transcripts": len(found)})
    )


def decode_only(args: argparse.Namespace, sizes: list[float]) -> None:
    print(f"# {platform.node()} {platform.processor() or platform.machine()}: HMM decoding "
          f"alone, model {args.model} (cached tracks and site scores, one thread)")  # fmt: skip
    print(f"{'Mb':>5} {'startup s':>10} {'decode s':>9} {'s per Mb':>9} {'transcripts':>12} "
          f"{'peak RSS MiB':>13}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        inputs = cut_inputs(args.genome, [max(sizes)], Path(tmp))
        fasta = inputs[max(sizes)]
        arrays = decode_evidence(args.model, fasta, args.cache)
        for size in sizes:
            report = Path(tmp) / f"{size:g}.json"
            child = [sys.executable, __file__, "--decode-child", args.model, str(fasta),
                     str(arrays), str(int(size * 1e6)), str(report)]  # fmt: skip
            _, rss = measure(child)
            result = json.loads(report.read_text())
            seconds = result["seconds"]
            print(f"{size:>5g} {result['startup']:>10.2f} {seconds:>9.1f} {seconds / size:>9.2f} "
                  f"{result['transcripts']:>12,} {rss:>13,.0f}", flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--decode-child":
        model, fasta, arrays, length, report = argv[1:6]
        decode_child(model, fasta, arrays, int(length), report)
        return
    args = parse_args(argv)
    sizes = [float(s) for s in args.sizes.split(",")]
    if args.decode_only:
        decode_only(args, sizes)
        return
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
