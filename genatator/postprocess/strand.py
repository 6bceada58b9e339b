"""Call a transcript's strand from its UTR probabilities, falling back to intron motifs."""

from __future__ import annotations

import numpy as np

from genatator.annotation.models import Span
from genatator.labels import FIVE_PRIME_UTR, THREE_PRIME_UTR
from genatator.postprocess.assembly import check_probabilities, introns_between

__all__ = ["MIN_UTR_SCORE", "STRAND_EVIDENCE", "call_strand", "intron_votes", "strand_score"]

#: The strand score must be at least this far from zero to decide the strand on its own: UTR
#: evidence worth 5 confidently called bases (5% of the 2 x 50 scored). Below it, per-base noise in
#: the UTR channels of a transcript without UTRs (a lncRNA) can outweigh the signal: with
#: +-0.1 uniform noise the score's spread is about +-0.8 (tests/test_postprocess_real.py).
MIN_UTR_SCORE = 5.0
#: Evidence a strand call rests on: the UTR score, intron motifs, or nothing (``+``).
STRAND_EVIDENCE = ("utr", "splice", "default")

# Intron end motifs in genome orientation: GT-AG and GC-AG read on the + strand, and their
# reverse complements, which is how the same introns look on a - strand transcript.
_PLUS_MOTIFS = frozenset({("GT", "AG"), ("GC", "AG")})
_MINUS_MOTIFS = frozenset({("CT", "AC"), ("CT", "GC")})


def strand_score(probabilities: np.ndarray, exons: list[Span], flank: int = 50) -> float:
    """The GENATATOR strand score ``(FirstU5 - FirstU3) - (LastU5 - LastU3)``.

    ``FirstU5``/``FirstU3`` are the summed 5'/3' UTR probabilities over the first ``flank``
    genomic bases of the transcript (from its first exon's start), ``LastU5``/``LastU3`` over the
    last ``flank`` bases (ending at its last exon's end); windows are clipped to the transcript.
    A + strand transcript has its 5'UTR on the left, so the score is positive; on - it is
    negative.

    Args:
        probabilities: ``(n, 5)`` probabilities of the region.
        exons: sorted exon spans relative to the region.
        flank: window length in bases.

    Returns:
        The score; positive means + strand.

    Raises:
        ValueError: no exons or ``flank < 1``.
    """
    probabilities = check_probabilities(probabilities)
    if not exons:
        raise ValueError("strand_score needs at least one exon")
    if flank < 1:
        raise ValueError(f"flank must be >= 1, got {flank}")
    start, end = exons[0][0], exons[-1][1]
    utrs = probabilities[:, [FIVE_PRIME_UTR, THREE_PRIME_UTR]].astype(np.float64)
    first = utrs[start : min(start + flank, end)].sum(axis=0)
    last = utrs[max(end - flank, start) : end].sum(axis=0)
    return float((first[0] - first[1]) - (last[0] - last[1]))


def intron_votes(sequence: str, exons: list[Span]) -> tuple[int, int]:
    """Introns whose end motifs are canonical on + and on -, in genome orientation.

    An intron votes + when it reads GT..AG or GC..AG, - when it reads CT..AC or CT..GC (the same
    motifs reverse complemented); others do not vote. Introns shorter than 4 nt do not vote.

    Args:
        sequence: upper-case sequence of the region.
        exons: sorted exon spans relative to the region.

    Returns:
        ``(plus_votes, minus_votes)``.
    """
    plus = minus = 0
    for start, end in introns_between(exons):
        if end - start < 4:
            continue
        motif = (sequence[start : start + 2], sequence[end - 2 : end])
        plus += motif in _PLUS_MOTIFS
        minus += motif in _MINUS_MOTIFS
    return plus, minus


def call_strand(score: float, sequence: str, exons: list[Span]) -> tuple[str, str]:
    """The strand of a transcript and the evidence it rests on.

    The strand score decides when ``abs(score) >= MIN_UTR_SCORE`` (evidence ``"utr"``). A
    non-coding transcript has no UTR signal, so next the introns vote with their end motifs
    (see :func:`intron_votes`; evidence ``"splice"``); a tie or no introns gives ``"+"`` with
    evidence ``"default"``.

    Args:
        score: :func:`strand_score` of the transcript.
        sequence: upper-case sequence of the region.
        exons: sorted exon spans relative to the region.

    Returns:
        ``(strand, evidence)`` with strand ``"+"`` or ``"-"``.
    """
    if abs(score) >= MIN_UTR_SCORE:
        return ("+" if score > 0 else "-"), "utr"
    plus, minus = intron_votes(sequence, exons)
    if plus != minus:
        return ("+" if plus > minus else "-"), "splice"
    return "+", "default"
