"""Gene, transcript and exon data model shared by annotation readers, writers and label builders.

Coordinates are 0-based half-open throughout (``start`` inclusive, ``end`` exclusive); GFF3/GTF
1-based closed coordinates exist only inside the readers and writers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

Span = tuple[int, int]

#: SO types of coding and long non-coding transcripts (every kind: ``annotation/kinds.py``).
CODING_KIND = "mRNA"
LNC_KIND = "lnc_RNA"


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Sorted, disjoint union of spans (overlapping and touching spans merge)."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _subtract(spans: list[Span], lo: int, hi: int) -> list[Span]:
    """Parts of sorted ``spans`` that lie outside ``[lo, hi)``."""
    out: list[Span] = []
    for start, end in spans:
        if start < lo:
            out.append((start, min(end, lo)))
        if end > hi:
            out.append((max(start, hi), end))
    return out


@dataclass
class Transcript:
    """One transcript: its exons and, when coding, its CDS segments (stop codon included).

    Attributes:
        id: unique transcript identifier.
        seqid: sequence (chromosome) name.
        strand: ``"+"`` or ``"-"``.
        exons: sorted, non-overlapping exon spans, 0-based half-open.
        cds: sorted CDS spans inside the exons, stop codon included; empty for non-coding.
        kind: SO transcript type (``mRNA``, ``lnc_RNA``, ``ncRNA``, ``miRNA``, ...).
        gene_id: identifier of the parent gene.
        score: confidence in [0, 1] or None (written as ``.``).
        exon_scores: per-exon confidence in exon order (the exon lines' score column); empty
            when unknown.
        exon_attributes: per-exon extra attributes in exon order (written on the exon lines,
            e.g. splice-site scores); empty when there are none.
        source: GFF source column.
        attributes: extra attributes to carry through (``Name``, ``biotype``, ...).
    """

    id: str
    seqid: str
    strand: str
    exons: list[Span]
    cds: list[Span] = field(default_factory=list)
    kind: str = CODING_KIND
    gene_id: str = ""
    score: float | None = None
    source: str = "genatator"
    attributes: dict[str, str] = field(default_factory=dict)
    exon_scores: list[float] = field(default_factory=list)
    exon_attributes: list[dict[str, str]] = field(default_factory=list)

    @property
    def start(self) -> int:
        return self.exons[0][0]

    @property
    def end(self) -> int:
        return self.exons[-1][1]

    @property
    def exon_length(self) -> int:
        """Total exonic bases (the paper's criterion for a gene's representative transcript)."""
        return sum(end - start for start, end in self.exons)

    @property
    def is_coding(self) -> bool:
        return bool(self.cds)

    @property
    def introns(self) -> list[Span]:
        return [
            (a_end, b_start)
            for (_, a_end), (b_start, _) in zip(self.exons, self.exons[1:])
            if b_start > a_end
        ]

    def _utrs(self) -> tuple[list[Span], list[Span]]:
        """Exonic parts before and after the CDS, in genomic order (left, right)."""
        if not self.cds:
            return [], []
        cds_lo, cds_hi = self.cds[0][0], self.cds[-1][1]
        outside = _subtract(self.exons, cds_lo, cds_hi)
        return [s for s in outside if s[1] <= cds_lo], [s for s in outside if s[0] >= cds_hi]

    @property
    def five_prime_utrs(self) -> list[Span]:
        """5' UTR spans, decided by position relative to the CDS and the strand."""
        left, right = self._utrs()
        return left if self.strand == "+" else right

    @property
    def three_prime_utrs(self) -> list[Span]:
        """3' UTR spans, decided by position relative to the CDS and the strand."""
        left, right = self._utrs()
        return right if self.strand == "+" else left


@dataclass
class Gene:
    """A gene: transcripts of one locus on one strand."""

    id: str
    seqid: str
    strand: str
    transcripts: list[Transcript] = field(default_factory=list)
    source: str = "genatator"
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def start(self) -> int:
        return min(t.start for t in self.transcripts)

    @property
    def end(self) -> int:
        return max(t.end for t in self.transcripts)

    @property
    def is_coding(self) -> bool:
        return any(t.is_coding for t in self.transcripts)

    @property
    def so_type(self) -> str:
        """``gene`` when any transcript codes for protein, ``ncRNA_gene`` otherwise."""
        return (
            "gene"
            if self.is_coding or any(t.kind == CODING_KIND for t in self.transcripts)
            else "ncRNA_gene"
        )

    def representative(self) -> Transcript:
        """The transcript with the longest exon sum (ties: first in genomic order), as the paper."""
        return max(
            sorted(self.transcripts, key=lambda t: (t.start, t.end, t.id)),
            key=lambda t: t.exon_length,
        )


@dataclass
class Annotation:
    """Genes of one or more sequences, plus the sequence lengths known from the input."""

    genes: list[Gene] = field(default_factory=list)
    sequence_lengths: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def transcripts(self) -> Iterator[Transcript]:
        for gene in self.genes:
            yield from gene.transcripts

    @property
    def n_transcripts(self) -> int:
        return sum(len(g.transcripts) for g in self.genes)
