"""How often the longest complete ORF of a transcript is its annotated CDS.

GENCODE's chrX canonical transcripts (``grch37_chrX_1-69999930.gencode_canonical.gtf.gz``) have
exons but no CDS. To count a codon model on them, the longest complete ORF of each spliced
transcript (:func:`genatator.postprocess.cds.longest_orf_cds`: first ATG of a stop-delimited
stretch to its stop, longest wins, ties to the earliest) can stand in for the CDS. This script
measures how well that stand-in agrees with annotated CDS where one exists, on the RefSeq
annotations of fly chr2R and human chr21, over the coding transcripts with more than one exon
("spliced") and over all coding transcripts:

- exact: the ORF's genome spans equal the annotated CDS spans (stop codon included in both);
- same stop: the ORF ends at the annotated stop codon (same CDS 3' end in transcript
  orientation), which also puts it in the annotated frame; it may start at another ATG;
- in frame: the ORF overlaps the annotated CDS in the same reading frame (a weaker test);
- bases: CDS bases shared by ORF and annotation over their union, summed over transcripts
  (pooled) and averaged per transcript (mean).

The ``complete`` rows keep only transcripts whose annotated CDS is itself a complete ORF (ATG to
one terminal stop), the only ones the heuristic can reproduce exactly. For chrX it prints how many
spliced transcripts there are, how many have a complete ORF of at least ``--min-codons`` codons
(stop codon not counted, as ``--min-cds-codons`` of the decoder) and the ORFs' total CDS bases.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/orf_agreement.py [--data DIR] [--min-codons 100]

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genatator.annotation import Transcript, read_annotation
from genatator.genome import read_fasta
from genatator.postprocess.cds import (
    coding_sequence,
    is_complete_orf,
    longest_orf_cds,
    spliced_positions,
)

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: (label, FASTA, RefSeq GTF) of the annotated sets.
CODING_SETS = [
    ("fly chr2R", "dmel_chr2R_1-19980000.fa.gz", "dmel_chr2R_1-19980000.refseq.gtf.gz"),
    ("human chr21", "hg19_chr21_1-35950000.fa.gz", "hg19_chr21_1-35950000.refseq.gtf.gz"),
]
CHRX = ("grch37_chrX_1-69999930.fa.gz", "grch37_chrX_1-69999930.gencode_canonical.gtf.gz")


@dataclass
class Tally:
    """Counts behind the agreement fractions of one group of transcripts."""

    n: int = 0
    no_orf: int = 0
    exact: int = 0
    same_stop: int = 0
    in_frame: int = 0
    shared: int = 0
    union: int = 0
    jaccard_sum: float = 0.0

    def add(self, other: Tally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _spliced_range(positions: np.ndarray, spans: list[tuple[int, int]]) -> tuple[int, int]:
    """The ``[start, end)`` range of spliced (transcript-orientation) indices ``spans`` cover."""
    inside = np.zeros(len(positions), dtype=bool)
    for start, end in spans:
        inside |= (positions >= start) & (positions < end)
    hits = np.flatnonzero(inside)
    return int(hits[0]), int(hits[-1]) + 1


def compare(transcript: Transcript, sequence: str) -> Tally:
    """Agreement of one coding transcript's longest complete ORF with its annotated CDS."""
    tally = Tally(n=1)
    orf = longest_orf_cds(sequence, transcript.exons, transcript.strand)
    cds = transcript.cds
    annotated_bases = sum(end - start for start, end in cds)
    if not orf:
        tally.no_orf = 1
        tally.union = annotated_bases
        return tally
    tally.exact = int(orf == cds)
    if transcript.strand == "+":
        tally.same_stop = int(orf[-1][1] == cds[-1][1])
    else:
        tally.same_stop = int(orf[0][0] == cds[0][0])
    positions = spliced_positions(transcript.exons, transcript.strand)
    cds_start, cds_end = _spliced_range(positions, cds)
    orf_start, orf_end = _spliced_range(positions, orf)
    shared = max(0, min(cds_end, orf_end) - max(cds_start, orf_start))
    union = (cds_end - cds_start) + (orf_end - orf_start) - shared
    tally.in_frame = int(shared > 0 and (orf_start - cds_start) % 3 == 0)
    tally.shared = shared
    tally.union = union
    tally.jaccard_sum = shared / union
    return tally


def load(data: Path, fasta: str, gtf: str) -> tuple[dict[str, str], list[Transcript]]:
    """Sequences by name and the annotation's transcripts on those sequences."""
    sequences = {record.name: record.sequence for record in read_fasta(data / fasta)}
    annotation = read_annotation(data / gtf)
    transcripts = [
        transcript
        for gene in annotation.genes
        for transcript in gene.transcripts
        if transcript.seqid in sequences
    ]
    return sequences, transcripts


def _fraction(count: int, total: int) -> str:
    return f"{count / total:6.1%} ({count:>5}/{total:<5})" if total else "     - (0/0)      "


def print_agreement(rows: list[tuple[str, str, Tally]]) -> None:
    header = (
        f"{'set':<12} {'transcripts':<16} {'n':>5} {'no ORF':>7} "
        f"{'exact':>20} {'same stop':>20} {'in frame':>20} {'bases pooled':>26} {'mean':>6}"
    )
    print(header)
    print("-" * len(header))
    for label, group, tally in rows:
        pooled = (
            f"{tally.shared / tally.union:6.1%} ({tally.shared:>8}/{tally.union:<8})"
            if tally.union
            else "-"
        )
        mean = f"{tally.jaccard_sum / tally.n:6.1%}" if tally.n else "-"
        print(
            f"{label:<12} {group:<16} {tally.n:>5} {tally.no_orf:>7} "
            f"{_fraction(tally.exact, tally.n):>20} {_fraction(tally.same_stop, tally.n):>20} "
            f"{_fraction(tally.in_frame, tally.n):>20} {pooled:>26} {mean:>6}"
        )


def coding_rows(data: Path, label: str, fasta: str, gtf: str) -> list[tuple[str, str, Tally]]:
    sequences, transcripts = load(data, fasta, gtf)
    groups = {name: Tally() for name in ("spliced", "spliced complete", "all", "all complete")}
    for transcript in transcripts:
        if not transcript.is_coding:
            continue
        sequence = sequences[transcript.seqid]
        tally = compare(transcript, sequence)
        complete = is_complete_orf(coding_sequence(transcript, sequence))
        spliced = len(transcript.exons) > 1
        groups["all"].add(tally)
        if complete:
            groups["all complete"].add(tally)
        if spliced:
            groups["spliced"].add(tally)
            if complete:
                groups["spliced complete"].add(tally)
    return [(label, name, tally) for name, tally in groups.items()]


def print_chrx(data: Path, min_codons: int) -> None:
    sequences, transcripts = load(data, *CHRX)
    spliced = [t for t in transcripts if len(t.exons) > 1]
    min_bases = 3 * (min_codons + 1)  # stop codon included in the spans, not in the count
    n_orf = n_long = long_bases = 0
    for transcript in spliced:
        orf = longest_orf_cds(sequences[transcript.seqid], transcript.exons, transcript.strand)
        bases = sum(end - start for start, end in orf)
        n_orf += bool(orf)
        if orf and bases >= min_bases:
            n_long += 1
            long_bases += bases
    print(f"chrX GENCODE canonical ({CHRX[1]}): {len(transcripts)} transcripts")
    print(f"  spliced (> 1 exon):                              {len(spliced):>8}")
    print(f"  with any complete ORF:                           {n_orf:>8}")
    print(
        f"  with a complete ORF of >= {min_codons} codons (stop excl.): "
        f"{n_long:>8}  ({n_long / len(spliced):.1%} of spliced)"
    )
    print(f"  total CDS bases of those ORFs (stop incl.):      {long_bases:>8}")
    print(f"  = codons (stop incl.):                           {long_bases // 3:>8}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help=f"shared data folder ({DEFAULT_DATA})"
    )
    parser.add_argument(
        "--min-codons",
        type=int,
        default=100,
        help="chrX: shortest ORF counted, in codons without the stop (100)",
    )
    args = parser.parse_args(argv)
    needed = [name for _, fasta, gtf in CODING_SETS for name in (fasta, gtf)] + list(CHRX)
    missing = [name for name in needed if not (args.data / name).is_file()]
    if missing:
        sys.exit(f"orf_agreement: missing in {args.data}: {', '.join(missing)} (see --data)")

    print("command: " + shlex.join(["python", *sys.argv]))
    begin = time.perf_counter()
    rows: list[tuple[str, str, Tally]] = []
    for label, fasta, gtf in CODING_SETS:
        rows += coding_rows(args.data, label, fasta, gtf)
    print()
    print("Longest complete ORF vs annotated CDS (RefSeq coding transcripts; 'complete' = the")
    print("annotated CDS is itself ATG..stop; fractions over n, counts in brackets):")
    print()
    print_agreement(rows)
    print()
    print_chrx(args.data, args.min_codons)
    print()
    print(f"elapsed: {time.perf_counter() - begin:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
