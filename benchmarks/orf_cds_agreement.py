"""How often the longest complete ORF of a transcript is its annotated CDS.

GENCODE's chrX canonical transcripts (``grch37_chrX_1-69999930.gencode_canonical.gtf.gz``) have
exons but no CDS. ``--derive-cds longest-orf`` (``genatator gene-model count``, ``genatator
train``) gives such transcripts a CDS by :func:`genatator.annotation.orf.derive_cds`: the longest
complete ORF of the spliced exons (ATG to an in-frame stop; ties to the 5'-most) when it has at
least ``--min-codons`` codons besides the stop, else none. This script measures that rule where
the CDS is known, on the RefSeq annotations of fly chr2R and human chr21, one representative
transcript per locus (the longest exon sum, as training and counting use):

- coding loci: the annotated CDS is removed and the rule applied; columns count how often it
  gives a CDS at all, the same CDS exactly (all spans, stop codon included in both), the same
  start codon, the same stop codon, and the CDS bases shared by rule and annotation over their
  union (pooled over transcripts); rows split spliced (> 1 exon) from single-exon transcripts,
  and ``complete`` keeps those whose annotated CDS is itself ATG..stop with no internal stop;
- non-coding loci (RefSeq NR_): the rule applied as if their coding status were unknown; "false
  coding" is how often it gives them a CDS.

For chrX it prints how many of the 356 transcripts (spliced and single-exon) the rule gives a
CDS, and their coding bases.

Usage:
    taskset -c 0 python benchmarks/orf_cds_agreement.py [--data DIR] [--min-codons 100]

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from genatator.annotation import Transcript, read_annotation
from genatator.annotation.orf import derive_cds, is_complete_orf, spliced_sequence

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
    given: int = 0
    exact: int = 0
    same_start: int = 0
    same_stop: int = 0
    shared: int = 0
    union: int = 0

    def add(self, other: Tally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _bases(spans: list[tuple[int, int]]) -> set[int]:
    return {position for start, end in spans for position in range(start, end)}


def _ends(spans: list[tuple[int, int]], strand: str) -> tuple[int, int]:
    """Genome coordinates of the first base of the start codon and the last of the stop codon."""
    if strand == "+":
        return spans[0][0], spans[-1][1] - 1
    return spans[-1][1] - 1, spans[0][0]


def derived(transcript: Transcript, sequence: str, min_codons: int) -> list[tuple[int, int]]:
    """The rule's CDS for a transcript whose CDS and coding status are taken away."""
    unknown = dataclasses.replace(transcript, cds=[], kind="transcript")
    return derive_cds(unknown, sequence, min_codons=min_codons).cds


def compare(transcript: Transcript, sequence: str, min_codons: int) -> Tally:
    """Agreement of the rule's CDS with one coding transcript's annotated CDS."""
    cds = transcript.cds
    orf = derived(transcript, sequence, min_codons)
    tally = Tally(n=1, union=sum(end - start for start, end in cds))
    if not orf:
        return tally
    annotated, found = _bases(cds), _bases(orf)
    start, stop = _ends(cds, transcript.strand)
    orf_start, orf_stop = _ends(orf, transcript.strand)
    return Tally(
        n=1,
        given=1,
        exact=int(orf == cds),
        same_start=int(orf_start == start),
        same_stop=int(orf_stop == stop),
        shared=len(annotated & found),
        union=len(annotated | found),
    )


def load(data: Path, fasta: str, gtf: str) -> tuple[dict[str, str], list[Transcript]]:
    """Sequences by name and one representative transcript per locus on those sequences."""
    from genatator.genome import read_fasta

    sequences = {record.name: record.sequence for record in read_fasta(data / fasta)}
    genes = [g for g in read_annotation(data / gtf).genes if g.transcripts]
    return sequences, [g.representative() for g in genes if g.seqid in sequences]


def _fraction(count: int, total: int) -> str:
    return f"{count / total:6.1%} ({count:>4}/{total:<4})" if total else "-"


def coding_rows(
    label: str, sequences: dict[str, str], transcripts: list[Transcript], min_codons: int
) -> list[tuple[str, str, Tally]]:
    groups = {name: Tally() for name in ("spliced", "spliced complete", "single-exon", "all")}
    for transcript in transcripts:
        if not transcript.is_coding:
            continue
        sequence = sequences[transcript.seqid]
        tally = compare(transcript, sequence, min_codons)
        complete = is_complete_orf(spliced_sequence(sequence, transcript.cds, transcript.strand))
        groups["all"].add(tally)
        if len(transcript.exons) > 1:
            groups["spliced"].add(tally)
            if complete:
                groups["spliced complete"].add(tally)
        else:
            groups["single-exon"].add(tally)
    return [(label, name, tally) for name, tally in groups.items()]


def noncoding_rows(
    label: str, sequences: dict[str, str], transcripts: list[Transcript], min_codons: int
) -> list[tuple[str, str, int, int]]:
    counts = {name: [0, 0] for name in ("spliced", "single-exon", "all")}
    for transcript in transcripts:
        if transcript.is_coding:
            continue
        given = int(bool(derived(transcript, sequences[transcript.seqid], min_codons)))
        group = "spliced" if len(transcript.exons) > 1 else "single-exon"
        for name in (group, "all"):
            counts[name][0] += 1
            counts[name][1] += given
    return [(label, name, n, given) for name, (n, given) in counts.items()]


def print_agreement(rows: list[tuple[str, str, Tally]]) -> None:
    header = (
        f"{'set':<12} {'coding loci':<17} {'n':>5} {'CDS given':>18} {'exact':>18} "
        f"{'same start':>18} {'same stop':>18} {'CDS bases shared':>17}"
    )
    print(header)
    print("-" * len(header))
    for label, group, t in rows:
        bases = f"{t.shared / t.union:6.1%}" if t.union else "-"
        print(
            f"{label:<12} {group:<17} {t.n:>5} {_fraction(t.given, t.n):>18} "
            f"{_fraction(t.exact, t.n):>18} {_fraction(t.same_start, t.n):>18} "
            f"{_fraction(t.same_stop, t.n):>18} {bases:>17}"
        )


def print_false_coding(rows: list[tuple[str, str, int, int]]) -> None:
    header = f"{'set':<12} {'non-coding loci':<17} {'n':>5} {'false coding':>18}"
    print(header)
    print("-" * len(header))
    for label, group, n, given in rows:
        print(f"{label:<12} {group:<17} {n:>5} {_fraction(given, n):>18}")


def print_chrx(data: Path, min_codons: int) -> None:
    sequences, transcripts = load(data, *CHRX)
    print(f"chrX GENCODE canonical ({CHRX[1]}): {len(transcripts)} transcripts")
    for group in ("spliced", "single-exon", "all"):
        chosen = [
            t for t in transcripts if group == "all" or (len(t.exons) > 1) == (group == "spliced")
        ]
        cds = [derive_cds(t, sequences[t.seqid], min_codons=min_codons).cds for t in chosen]
        given = [spans for spans in cds if spans]
        bases = sum(end - start for spans in given for start, end in spans)
        share = _fraction(len(given), len(chosen))
        print(
            f"  {group:<12} {len(chosen):>4} transcripts, CDS given to {share}, "
            f"{bases:>8} coding bases (stop codons included)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help=f"shared data folder ({DEFAULT_DATA})"
    )
    parser.add_argument(
        "--min-codons",
        type=int,
        default=100,
        help="shortest CDS the rule gives, in codons without the stop (100)",
    )
    args = parser.parse_args(argv)
    needed = [name for _, fasta, gtf in CODING_SETS for name in (fasta, gtf)] + list(CHRX)
    missing = [name for name in needed if not (args.data / name).is_file()]
    if missing:
        sys.exit(f"orf_cds_agreement: missing in {args.data}: {', '.join(missing)} (see --data)")

    print("command: " + shlex.join(["python", *sys.argv]))
    begin = time.perf_counter()
    coding: list[tuple[str, str, Tally]] = []
    noncoding: list[tuple[str, str, int, int]] = []
    for label, fasta, gtf in CODING_SETS:
        sequences, transcripts = load(args.data, fasta, gtf)
        coding += coding_rows(label, sequences, transcripts, args.min_codons)
        noncoding += noncoding_rows(label, sequences, transcripts, args.min_codons)
    print()
    print(
        f"Longest complete ORF of >= {args.min_codons} codons (stop excluded) vs the annotated "
        "CDS, one representative"
    )
    print("transcript per RefSeq locus; fractions over n, counts in brackets:")
    print()
    print_agreement(coding)
    print()
    print_false_coding(noncoding)
    print()
    print_chrx(args.data, args.min_codons)
    print()
    print(f"elapsed: {time.perf_counter() - begin:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
