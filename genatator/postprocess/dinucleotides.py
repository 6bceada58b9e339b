"""Legal splice-site dinucleotides: tabulate them, snap exon boundaries to them, drop the rest."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genatator.annotation.models import Span, Transcript
from genatator.genome import reverse_complement
from genatator.postprocess.boundaries import MIN_MOVED_INTRON, EdgeTest, snap_boundaries

__all__ = [
    "SPLICE_TABLE_FORMAT",
    "SpliceTable",
    "filter_splice_sites",
    "flank",
    "snap_splice_sites",
]

#: Version of :meth:`SpliceTable.to_dict`'s layout.
SPLICE_TABLE_FORMAT = 1
_KINDS = ("donor", "acceptor")
_STRANDS = ("+", "-")
_DINUCLEOTIDE = re.compile(r"[ACGT]{2}")


def flank(sequence: str, edge: int, intron_side: str, strand: str) -> tuple[str, str]:
    """The splice-site dinucleotide beside one exon edge, in transcript orientation.

    Args:
        sequence: upper-case sequence the coordinates refer to.
        edge: the exon edge, a position between two bases.
        intron_side: ``"right"`` when the intron follows the edge (bases ``[edge, edge + 2)``),
            ``"left"`` when it precedes it (bases ``[edge - 2, edge)``).
        strand: transcript strand, ``"+"`` or ``"-"``.

    Returns:
        ``(kind, dinucleotide)``: kind is ``"donor"`` (intron start in transcript orientation,
        GT when canonical) or ``"acceptor"`` (intron end, AG); the dinucleotide is ``""`` when the
        bases fall outside ``sequence``.

    Raises:
        ValueError: unknown ``intron_side`` or ``strand``.
    """
    if strand not in _STRANDS:
        raise ValueError(f"strand must be '+' or '-', got {strand!r}")
    if intron_side == "right":
        lo, kind = edge, ("donor" if strand == "+" else "acceptor")
    elif intron_side == "left":
        lo, kind = edge - 2, ("acceptor" if strand == "+" else "donor")
    else:
        raise ValueError(f"intron_side must be 'left' or 'right', got {intron_side!r}")
    if lo < 0 or lo + 2 > len(sequence):
        return kind, ""
    bases = sequence[lo : lo + 2]
    # On - the transcript reads the reverse complement, so both strands share one table.
    return kind, bases if strand == "+" else reverse_complement(bases)


def _empty_by_strand() -> dict[str, dict[str, dict[str, int]]]:
    return {strand: {kind: {} for kind in _KINDS} for strand in _STRANDS}


def _checked_counts(value: Any, where: str) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise ValueError(f"splice table {where} must be an object of counts, got {value!r}")
    counts: dict[str, int] = {}
    for key, count in value.items():
        if not isinstance(key, str) or not _DINUCLEOTIDE.fullmatch(key):
            raise ValueError(f"splice table {where} key {key!r} is not an ACGT dinucleotide")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"splice table {where}[{key}] must be an integer >= 0, got {count!r}")
        counts[key] = count
    return counts


def _sum_counts(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    out = dict(a)
    for key, count in b.items():
        out[key] = out.get(key, 0) + count
    return out


@dataclass
class SpliceTable:
    """Counts of the dinucleotides flanking real introns, in transcript orientation.

    ``donor`` counts the 2 intronic bases right after an exon's 3' end (GT in canonical
    introns), ``acceptor`` the 2 intronic bases right before an exon's 5' start (AG). Minus
    strand flanks are read from the reverse complement, so one table serves both strands.

    Attributes:
        donor: donor dinucleotide counts over both strands.
        acceptor: acceptor dinucleotide counts over both strands.
        by_strand: the same counts per strand (``"+"``/``"-"`` to ``"donor"``/``"acceptor"``),
            for diagnostics only.
        min_count: a dinucleotide is legal when seen at least this many times.
    """

    donor: dict[str, int] = field(default_factory=dict)
    acceptor: dict[str, int] = field(default_factory=dict)
    by_strand: dict[str, dict[str, dict[str, int]]] = field(default_factory=_empty_by_strand)
    min_count: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.min_count, bool) or not isinstance(self.min_count, int):
            raise ValueError(f"min_count must be an integer, got {self.min_count!r}")
        if self.min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {self.min_count}")

    @classmethod
    def empty(cls, min_count: int = 1) -> SpliceTable:
        """A table with no counts (every dinucleotide illegal until transcripts are added)."""
        return cls(min_count=min_count)

    @classmethod
    def canonical(cls) -> SpliceTable:
        """Fallback for models that ship no table: the U2 and U12 canonical splice sites.

        Donors GT, GC (GT-AG, GC-AG introns) and AT (AT-AC U12 introns); acceptors AG and AC.
        Each counts once, so a table from real data merged in only adds to them.
        """
        return cls(donor={"GT": 1, "GC": 1, "AT": 1}, acceptor={"AG": 1, "AC": 1})

    def add_transcript(self, transcript: Transcript, sequence: str, offset: int = 0) -> None:
        """Count the splice-site flanks of every intron of a transcript (in place).

        Flanks holding a base other than ACGT, falling outside ``sequence`` or not inside the
        intron (introns under 2 nt) are skipped.

        Args:
            transcript: a transcript on ``+`` or ``-``, genome coordinates.
            sequence: upper-case sequence covering the transcript.
            offset: genome coordinate of ``sequence[0]``.

        Raises:
            ValueError: the transcript's strand is not ``+`` or ``-``.
        """
        if transcript.strand not in _STRANDS:
            raise ValueError(f"transcript {transcript.id!r} has strand {transcript.strand!r}")
        strand_counts = self.by_strand.setdefault(transcript.strand, {k: {} for k in _KINDS})
        for start, end in transcript.introns:
            if end - start < 2:
                continue
            for edge, side in ((start - offset, "right"), (end - offset, "left")):
                kind, bases = flank(sequence, edge, side, transcript.strand)
                if not _DINUCLEOTIDE.fullmatch(bases):
                    continue
                for counts in (getattr(self, kind), strand_counts.setdefault(kind, {})):
                    counts[bases] = counts.get(bases, 0) + 1

    def merge(self, other: SpliceTable) -> SpliceTable:
        """A new table with the counts of both; ``min_count`` is this table's."""
        by_strand = _empty_by_strand()
        for table in (self, other):
            for strand, kinds in table.by_strand.items():
                for kind, counts in kinds.items():
                    target = by_strand.setdefault(strand, {}).setdefault(kind, {})
                    by_strand[strand][kind] = _sum_counts(target, counts)
        return SpliceTable(
            donor=_sum_counts(self.donor, other.donor),
            acceptor=_sum_counts(self.acceptor, other.acceptor),
            by_strand=by_strand,
            min_count=self.min_count,
        )

    def is_legal(self, kind: str, dinucleotide: str) -> bool:
        """Whether ``dinucleotide`` (transcript orientation) is a legal ``kind`` site."""
        if kind not in _KINDS:
            raise ValueError(f"kind must be 'donor' or 'acceptor', got {kind!r}")
        return getattr(self, kind).get(dinucleotide.upper(), 0) >= self.min_count

    def is_legal_donor(self, dinucleotide: str) -> bool:
        """Whether ``dinucleotide`` may start an intron (transcript orientation)."""
        return self.is_legal("donor", dinucleotide)

    def is_legal_acceptor(self, dinucleotide: str) -> bool:
        """Whether ``dinucleotide`` may end an intron (transcript orientation)."""
        return self.is_legal("acceptor", dinucleotide)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, keys sorted so that equal tables serialise identically."""
        return {
            "format": SPLICE_TABLE_FORMAT,
            "min_count": self.min_count,
            "donor": dict(sorted(self.donor.items())),
            "acceptor": dict(sorted(self.acceptor.items())),
            "by_strand": {
                strand: {kind: dict(sorted(kinds.get(kind, {}).items())) for kind in _KINDS}
                for strand, kinds in sorted(self.by_strand.items())
            },
        }

    @classmethod
    def from_dict(cls, data: Any) -> SpliceTable:
        """The table written by :meth:`to_dict` (``by_strand`` and ``min_count`` optional).

        Raises:
            ValueError: not an object, wrong ``format``, unknown keys, or counts that are not
                non-negative integers keyed by ACGT dinucleotides.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"splice table must be an object, got {type(data).__name__}")
        if data.get("format") != SPLICE_TABLE_FORMAT:
            raise ValueError(
                f"unsupported splice table format {data.get('format')!r}; "
                f"expected {SPLICE_TABLE_FORMAT}"
            )
        unknown = set(data) - {"format", "min_count", "by_strand", *_KINDS}
        if unknown:
            raise ValueError(f"unknown splice table keys {sorted(unknown)}")
        missing = [kind for kind in _KINDS if kind not in data]
        if missing:
            raise ValueError(f"splice table lacks {missing}")
        by_strand = _empty_by_strand()
        raw_strands = data.get("by_strand", {})
        if not isinstance(raw_strands, Mapping):
            raise ValueError("splice table by_strand must be an object")
        for strand, kinds in raw_strands.items():
            if strand not in _STRANDS or not isinstance(kinds, Mapping):
                raise ValueError(f"splice table by_strand has a bad entry {strand!r}")
            if set(kinds) - set(_KINDS):
                raise ValueError(f"splice table by_strand[{strand}] has unknown keys")
            for kind in _KINDS:
                where = f"by_strand[{strand}][{kind}]"
                by_strand[strand][kind] = _checked_counts(kinds.get(kind, {}), where)
        return cls(
            donor=_checked_counts(data["donor"], "donor"),
            acceptor=_checked_counts(data["acceptor"], "acceptor"),
            by_strand=by_strand,
            min_count=data.get("min_count", 1),
        )


def _legal_edge(sequence: str, edge: int, side: str, strand: str, table: SpliceTable) -> bool:
    kind, bases = flank(sequence, edge, side, strand)
    return table.is_legal(kind, bases)


def _shift_order(max_shift: int, inward: int) -> list[int]:
    """Shifts 0, 1, 1, 2, 2, ... with the move toward the exon's inside first on each tie."""
    order = [0]
    for distance in range(1, max_shift + 1):
        order += [inward * distance, -inward * distance]
    return order


def _moved_edge(edge: int, side: str, lo: int, hi: int, ok: EdgeTest, max_shift: int) -> int | None:
    """Nearest acceptable position for an exon edge within ``[lo, hi]``, or None."""
    inward = -1 if side == "right" else 1
    for shift in _shift_order(max_shift, inward):
        moved = edge + shift
        if lo <= moved <= hi and ok(moved, side):
            return moved
    return None


def _fix_terminal(exons: list[Span], which: str, ok: EdgeTest, max_shift: int) -> list[Span]:
    """Move the splice boundary of the first or last exon (genome order) or drop that exon."""
    if which == "first":
        (start, end), next_start = exons[0], exons[1][0]
        hi = next_start - MIN_MOVED_INTRON
        moved = _moved_edge(end, "right", start + 1, hi, ok, max_shift)
        return exons[1:] if moved is None else [(start, moved), *exons[1:]]
    (start, end), previous_end = exons[-1], exons[-2][1]
    lo = previous_end + MIN_MOVED_INTRON
    moved = _moved_edge(start, "left", lo, end - 1, ok, max_shift)
    return exons[:-1] if moved is None else [*exons[:-1], (moved, end)]


def filter_splice_sites(
    exons: list[Span],
    strand: str,
    sequence: str,
    table: SpliceTable,
    max_shift: int = 20,
    acceptable: EdgeTest | None = None,
) -> list[Span]:
    """Exons whose splice boundaries all carry legal dinucleotides.

    Rules, in order:

    1. An internal exon (neither first nor last) whose acceptor or donor dinucleotide (in
       transcript orientation) is illegal is dropped; the introns around it merge. An exon's
       flanks depend only on its own edges, so one pass is already stable.
    2. The splice boundary of each terminal exon (the first exon's right edge and the last
       exon's left edge in genome order), 5' exon first in transcription order, moves to the
       nearest legal site within ``max_shift`` nt. Equal distances prefer the move toward the
       exon's inside (shortening it). The exon keeps at least 1 nt and its intron at least 4 nt
       (room for its own donor and acceptor). With no legal site in reach the terminal exon is
       dropped; the exon that becomes terminal passed rule 1, and a transcript left with one
       exon has no splice boundary left to check.

    Bases other than ACGT never form a legal site. Single-exon transcripts are returned as given.

    Args:
        exons: sorted exon spans relative to ``sequence``.
        strand: transcript strand, ``"+"`` or ``"-"``.
        sequence: upper-case sequence of the region.
        table: legal dinucleotides.
        max_shift: how far a terminal boundary may move, in nt.
        acceptable: ``(edge, intron_side) -> bool`` deciding whether a boundary may stay,
            in place of the table's dinucleotide test (a splice-site model's verdict,
            ``postprocess.site_scores``); None tests the dinucleotide against ``table``.

    Returns:
        New sorted exon spans.

    Raises:
        ValueError: bad strand or negative ``max_shift``.
    """
    if strand not in _STRANDS:
        raise ValueError(f"strand must be '+' or '-', got {strand!r}")
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    exons = [(int(start), int(end)) for start, end in exons]
    if len(exons) < 2:
        return exons
    if acceptable is None:

        def acceptable(edge: int, side: str) -> bool:
            return _legal_edge(sequence, edge, side, strand, table)

    internal = [
        (start, end)
        for start, end in exons[1:-1]
        if acceptable(start, "left") and acceptable(end, "right")
    ]
    exons = [exons[0], *internal, exons[-1]]

    # Transcription order (5' exon first) keeps the rules symmetric under reverse complement.
    ends = ("first", "last") if strand == "+" else ("last", "first")
    for which in ends:
        if len(exons) < 2:
            break
        exons = _fix_terminal(exons, which, acceptable, max_shift)
    return exons


#: Bases on each side of a boundary whose exon-minus-intron probability scores a position.
SNAP_CONTEXT = 16


def snap_splice_sites(
    exons: list[Span],
    strand: str,
    sequence: str,
    exonness: np.ndarray,
    table: SpliceTable,
    max_shift: int,
    context: int = SNAP_CONTEXT,
) -> list[Span]:
    """Move each splice boundary to the legal site within ``max_shift`` nt that best fits the track.

    A boundary between an exon and an intron is scored at each candidate position ``e`` by how
    well a step there explains ``exonness`` (``p_exon - p_intron`` per base): the sum over the
    ``context`` bases on the exon side minus the sum over those on the intron side. Only positions
    whose dinucleotide is legal (``table``, transcript orientation) are candidates; the best wins,
    the nearest to the old boundary on ties. A boundary with no legal candidate stays, for
    :func:`filter_splice_sites` to judge. Boundaries move in genome order and never cross: every
    exon keeps at least 1 nt and every intron at least 4 nt.

    Transcript ends are not splice sites and never move. Prefix sums make each candidate O(1).

    Args:
        exons: sorted exon spans relative to ``sequence``.
        strand: transcript strand, ``"+"`` or ``"-"``.
        sequence: upper-case sequence of the region.
        exonness: ``(len(sequence),)`` float array, ``p_exon - p_intron``.
        table: legal dinucleotides.
        max_shift: how far a boundary may move, in nt (0: no change).
        context: bases on each side scored per candidate.

    Returns:
        New sorted exon spans, as many as given.
    """
    if strand not in _STRANDS:
        raise ValueError(f"strand must be '+' or '-', got {strand!r}")
    if len(exons) < 2 or max_shift <= 0:
        return [(int(start), int(end)) for start, end in exons]
    cumulative = np.concatenate(([0.0], np.cumsum(exonness, dtype=np.float64)))
    length = len(sequence)

    def window_sum(lo: int, hi: int) -> float:
        lo, hi = max(lo, 0), min(hi, length)
        return float(cumulative[hi] - cumulative[lo]) if hi > lo else 0.0

    def legal(edge: int, side: str) -> bool:
        return _legal_edge(sequence, edge, side, strand, table)

    def fit(edge: int, side: str) -> float:
        step = window_sum(edge - context, edge) - window_sum(edge, edge + context)
        return step if side == "right" else -step  # "right": the exon lies left of the edge

    return snap_boundaries(exons, legal, fit, max_shift)
