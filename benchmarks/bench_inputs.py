"""Print throughput and peak memory of FASTA streaming, GTF parsing, tokenising and the model.

Usage: python benchmarks/bench_inputs.py [SHARED_DATA_DIR]   (default: ../shared/data)
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import torch

from genatator.annotation import read_annotation
from genatator.genome import read_fasta
from genatator.model.config import preset_config
from genatator.model.directory import bundled_tokenizer
from genatator.model.genatator import GenatatorModel
from genatator.model.inputs import build_inputs


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[2] / "shared" / "data")
    genome = data / "dmel_chr2L_softmasked.fa.gz"
    start = time.perf_counter()
    total = 0
    for record in read_fasta(genome):
        total += record.length
    elapsed = time.perf_counter() - start
    print(
        f"read_fasta {genome.name}: {total / 1e6:.1f} Mb in {elapsed:.2f} s "
        f"({total / 1e6 / elapsed:.1f} Mb/s), peak RSS {peak_rss_mb():.0f} MB"
    )
    sequence = record.sequence

    gtf = data / "dmel_chr2R_1-19980000.refseq.gtf.gz"
    start = time.perf_counter()
    annotation = read_annotation(gtf)
    print(
        f"read_annotation {gtf.name}: {annotation.n_transcripts} transcripts in "
        f"{time.perf_counter() - start:.2f} s"
    )

    tokenizer = bundled_tokenizer()
    piece = sequence[5_000_000:6_000_000]
    start = time.perf_counter()
    tokens = tokenizer.encode(piece)
    elapsed = time.perf_counter() - start
    print(
        f"tokenize 1 Mb: {len(tokens)} tokens ({len(piece) / len(tokens):.2f} nt/token) in "
        f"{elapsed:.2f} s"
    )

    torch.manual_seed(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    for preset in ("tiny", "small"):
        model = GenatatorModel(preset_config(preset, vocab_size=tokenizer.vocab_size)).eval()
        window_nt = int(model.config.max_tokens * len(piece) / len(tokens) * 0.95)
        windows = [piece[i * window_nt : (i + 1) * window_nt] for i in range(4)]
        inputs = build_inputs(tokenizer, windows, max_tokens=model.config.max_tokens)
        with torch.inference_mode():
            model(inputs)  # warm-up
            start = time.perf_counter()
            model(inputs)
            elapsed = time.perf_counter() - start
        print(
            f"{preset} model forward, batch of 4 × {window_nt} nt on CPU "
            f"({torch.get_num_threads()} threads): {4 * window_nt / elapsed / 1e3:.1f} kb/s"
        )
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
