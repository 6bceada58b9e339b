"""Feature rows shared by the GFF3 and GTF readers: problems, the fixed columns, transcripts."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

from genatator.annotation.kinds import transcript_kind
from genatator.annotation.models import Span, Transcript, merge_spans
from genatator.errors import InputError

__all__ = [
    "CDS",
    "EXON",
    "GENE_STRANDS",
    "ROLE_NAMES",
    "START",
    "STOP",
    "UTR",
    "Problems",
    "Row",
    "TranscriptRows",
    "build_transcript",
    "format_span",
    "is_gene_type",
    "parse_row",
    "parse_score",
    "part_role",
]


# Roles of the rows that make up a transcript.
EXON, CDS, UTR, START, STOP = range(5)


ROLE_NAMES = {EXON: "exon", CDS: "CDS", UTR: "UTR", START: "start_codon", STOP: "stop_codon"}


_EXON_KEYS = frozenset({"exon", "noncodingexon", "codingexon", "pseudogenicexon"})


_NON_ALNUM = re.compile(r"[^a-z0-9]")


_role_cache: dict[str, int | None] = {}


# GFF3's strands. Transcripts and their parts need + or -; '*' (a GTF/SAM habit) is no strand.
GENE_STRANDS = frozenset("+-.?")


def part_role(feature_type: str) -> int | None:
    """Role of an exonic row (exon, CDS, any UTR spelling, start/stop codon), or None."""
    role = _role_cache.get(feature_type, -1)
    if role != -1:
        return role
    key = _NON_ALNUM.sub("", feature_type.lower())
    if key in _EXON_KEYS:
        role = EXON
    elif key == "cds":
        role = CDS
    elif key.endswith("utr") or key.startswith("utr"):
        # UTR, 5UTR, 3'-UTR, five_prime_UTR, UTR5, ...: the label is never trusted for the side.
        role = UTR
    elif key == "startcodon":
        role = START
    elif key == "stopcodon":
        role = STOP
    else:
        role = None
    _role_cache[feature_type] = role
    return role


def is_gene_type(feature_type: str) -> bool:
    return feature_type in ("gene", "pseudogene") or feature_type.endswith("_gene")


class Problems:
    """Raises InputError on the first problem, or (lenient) records it as a warning line."""

    def __init__(self, name: str, lenient: bool) -> None:
        self.name = name
        self.lenient = lenient
        self.messages: list[str] = []

    def report(self, message: str, *, line: int | None = None, record: str | None = None) -> None:
        error = InputError(message, path=self.name, record=record, line=line)
        if not self.lenient:
            raise error
        self.messages.append(str(error))


_PHASES = frozenset({".", "0", "1", "2"})


@dataclass(slots=True)
class Row:
    """One feature line, coordinates already converted to 0-based half-open."""

    seqid: str
    source: str
    type: str
    start: int
    end: int
    score: str
    strand: str
    attributes: str
    line: int


def parse_row(text: str, line: int, problems: Problems) -> Row | None:
    """Split and check the eight fixed columns; None (after a lenient report) when malformed."""
    cols = text.split("\t")
    if len(cols) != 9:
        problems.report(f"expected 9 tab-separated columns, found {len(cols)}", line=line)
        return None
    seqid, source, ftype, start_text, end_text, score, strand, phase, attributes = cols
    if phase not in _PHASES:
        # Phases are recomputed from the exons on output, but an impossible one means a broken
        # file (a shifted column, a hand edit) whose other columns cannot be trusted either.
        problems.report(f"phase {phase!r} is not 0, 1, 2 or '.'", line=line)
        return None
    try:
        start, end = int(start_text), int(end_text)
    except ValueError:
        problems.report(f"coordinates {start_text!r}, {end_text!r} are not integers", line=line)
        return None
    if start < 1:
        problems.report(f"start {start} is below 1 (coordinates are 1-based)", line=line)
        return None
    if start > end:
        problems.report(f"start {start} is greater than end {end}", line=line)
        return None
    return Row(seqid, source, ftype, start - 1, end, score, strand, attributes, line)


def parse_score(text: str, line: int, problems: Problems) -> float | None:
    if text in (".", ""):
        return None
    try:
        return float(text)
    except ValueError:
        problems.report(f"score {text!r} is not a number", line=line)
        return None


@dataclass(slots=True)
class TranscriptRows:
    """Rows of one transcript collected while reading, before normalisation."""

    id: str
    seqid: str
    strand: str
    source: str
    line: int
    gene_key: str
    # role, start, end, line, score column text
    parts: list[tuple[int, int, int, int, str]] = field(default_factory=list)
    row_span: Span | None = None
    row_type: str | None = None
    score: float | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    gene_attributes: dict[str, str] = field(default_factory=dict)


def _contained(inner: list[Span], outer: list[Span]) -> Span | None:
    """First span of sorted ``inner`` not inside one span of sorted, disjoint ``outer``."""
    j = 0
    for start, end in inner:
        while j < len(outer) and outer[j][1] <= start:
            j += 1
        if j == len(outer) or not (outer[j][0] <= start and end <= outer[j][1]):
            return start, end
    return None


def format_span(span: Span) -> str:
    """A 0-based half-open span as the 1-based closed text users see in their file."""
    return f"{span[0] + 1}-{span[1]}"


def _explicit_exons(spans: list[Span], tx: TranscriptRows, problems: Problems) -> list[Span]:
    """Sorted exon rows; duplicates and touching exons merge silently, partial overlaps reported."""
    exons: list[Span] = []
    for start, end in sorted(set(spans)):
        if exons and start < exons[-1][1]:
            problems.report(
                f"transcript {tx.id!r} has overlapping exons {format_span(exons[-1])} and "
                f"{format_span((start, end))}",
                line=tx.line,
            )
        if exons and start <= exons[-1][1]:
            exons[-1] = (exons[-1][0], max(end, exons[-1][1]))
        else:
            exons.append((start, end))
    return exons


def _extend_cds_to_stop(cds: list[Span], stops: list[Span], tx: TranscriptRows, problems: Problems):
    """CDS including the stop codon: stop_codon pieces outside the CDS must lie on its 3' side."""
    lo, hi = cds[0][0], cds[-1][1]
    for start, end in stops:
        on_three_prime = start >= hi if tx.strand == "+" else end <= lo
        if (start < lo or end > hi) and not on_three_prime:
            problems.report(
                f"stop_codon {format_span((start, end))} of transcript {tx.id!r} is not at the "
                f"3' end of its CDS {format_span((lo, hi))}",
                line=tx.line,
            )
            return None
    # Union, so a CDS that already includes the stop codon (GFF3 convention) is unchanged and a
    # stop codon split by an intron becomes a short CDS segment in the next exon.
    return merge_spans(cds + stops)


def _build(tx: TranscriptRows, problems: Problems) -> tuple[list[Span], list[Span]] | None:
    """Normalised (exons, cds) of a transcript, or None when it is skipped (lenient)."""
    by_role: dict[int, list[Span]] = defaultdict(list)
    for role, start, end, _, _ in tx.parts:
        by_role[role].append((start, end))
    cds = merge_spans(by_role[CDS])
    stops = by_role[STOP]
    if cds and stops:
        extended = _extend_cds_to_stop(cds, stops, tx, problems)
        if extended is None:
            return None
        cds = extended
    if by_role[EXON]:
        exons = _explicit_exons(by_role[EXON], tx, problems)
    else:
        # No exon rows (fly RefSeq GTF, CDS-only GFF3): exons are the union of the exonic pieces.
        exons = merge_spans(cds + stops + by_role[START] + by_role[UTR])
    if not exons and tx.row_span is not None:
        exons = [tx.row_span]  # a transcript row without children: one exon
    if not exons:
        problems.report(f"transcript {tx.id!r} has no exons", line=tx.line)
        return None
    outside = _contained(cds, exons)
    if outside is not None:
        problems.report(
            f"CDS {format_span(outside)} of transcript {tx.id!r} lies outside its exons",
            line=tx.line,
        )
        return None
    return exons, cds


def _exon_scores(tx: TranscriptRows, exons: list[Span]) -> list[float]:
    """Scores of the exon rows in exon order; empty unless each exon is one row with a number.

    Merged, derived or unscored exons get no scores: a partial list could not be written back.
    """
    rows = sorted((start, end, text) for role, start, end, _, text in tx.parts if role == EXON)
    if len(rows) != len(exons) or any(text in (".", "") for _, _, text in rows):
        return []
    if [(start, end) for start, end, _ in rows] != exons:
        return []
    try:
        scores = [float(text) for _, _, text in rows]
    except ValueError:
        return []  # exon scores were never checked, so a non-number is ignored, not an error
    return scores if all(math.isfinite(score) for score in scores) else []


def build_transcript(
    tx: TranscriptRows, problems: Problems, file_has_cds: bool
) -> Transcript | None:
    built = _build(tx, problems)
    if built is None:
        return None
    exons, cds = built
    return Transcript(
        id=tx.id,
        seqid=tx.seqid,
        strand=tx.strand,
        exons=exons,
        cds=cds,
        kind=transcript_kind(
            row_type=tx.row_type,
            names=(tx.id, tx.attributes.get("transcript_id", "")),
            attributes=tx.attributes,
            gene_attributes=tx.gene_attributes,
            exon_length=sum(end - start for start, end in exons),
            has_cds=bool(cds),
            file_has_cds=file_has_cds,
        ),
        gene_id=tx.gene_key,
        score=tx.score,
        source=tx.source,
        attributes=tx.attributes,
        exon_scores=_exon_scores(tx, exons),
    )
