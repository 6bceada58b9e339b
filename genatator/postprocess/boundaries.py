"""Moving splice boundaries of a transcript: the one snapping loop the threshold decoder uses."""

from __future__ import annotations

from collections.abc import Callable

from genatator.annotation.models import Span

__all__ = ["MIN_MOVED_INTRON", "EdgeScore", "EdgeTest", "snap_boundaries"]

#: Shortest intron a moved boundary may leave (room for its donor and acceptor dinucleotides).
MIN_MOVED_INTRON = 4

#: ``(edge, intron_side) -> bool``: may an exon boundary sit at ``edge``? ``intron_side`` is
#: ``"right"`` for an exon's end (the intron follows) and ``"left"`` for its start.
EdgeTest = Callable[[int, str], bool]
#: ``(edge, intron_side) -> float``: how good a boundary at ``edge`` is (higher is better).
EdgeScore = Callable[[int, str], float]


def snap_boundaries(
    exons: list[Span], admissible: EdgeTest, score: EdgeScore, max_shift: int
) -> list[Span]:
    """Move each splice boundary to the best-scoring admissible position within ``max_shift``.

    Boundaries move in genome order and never cross: every exon keeps at least 1 nt and every
    intron at least :data:`MIN_MOVED_INTRON`. Equal scores prefer the smaller move. A boundary
    with no admissible candidate in reach stays where it is (a filter judges it later).
    Transcript ends are not splice sites and never move.

    Args:
        exons: sorted exon spans.
        admissible: which positions a boundary may take.
        score: how good each admissible position is.
        max_shift: how far a boundary may move, in nt (0: no change).

    Returns:
        New sorted exon spans, as many as given.
    """
    exons = [(int(start), int(end)) for start, end in exons]
    if len(exons) < 2 or max_shift <= 0:
        return exons
    edges = [edge for span in exons for edge in span]  # start0, end0, start1, end1, ...
    for index in range(1, len(edges) - 1):
        edge = edges[index]
        exon_on_left = index % 2 == 1  # an exon end: the intron follows
        side = "right" if exon_on_left else "left"
        lo = edges[index - 1] + (1 if exon_on_left else MIN_MOVED_INTRON)
        hi = edges[index + 1] - (MIN_MOVED_INTRON if exon_on_left else 1)
        best, best_key = edge, None
        for moved in range(max(lo, edge - max_shift), min(hi, edge + max_shift) + 1):
            if not admissible(moved, side):
                continue
            key = (score(moved, side), -abs(moved - edge))
            if best_key is None or key > best_key:
                best, best_key = moved, key
        edges[index] = best
    return [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]
