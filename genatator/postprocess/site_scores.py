"""Exon boundaries refined by a splice-site model's scores: snap, gate rare motifs, annotate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genatator.annotation.models import Span
from genatator.postprocess.boundaries import EdgeTest, snap_boundaries
from genatator.postprocess.dinucleotides import SpliceTable, flank

__all__ = [
    "SiteTrack",
    "admissible_edge",
    "edge_site",
    "site_score_attributes",
    "snap_to_site_scores",
]

#: The common motif of each kind; every other legal dinucleotide is rare and needs a high score.
_CANONICAL = {"donor": "GT", "acceptor": "AG"}


@dataclass(frozen=True)
class SiteTrack:
    """A splice-site model's scores over one region, on the transcript's strand.

    ``donor[p]`` and ``acceptor[p]`` score region position ``p`` as the intron base next to the
    exon (a donor's first intron base, an acceptor's last, in transcript orientation).
    """

    donor: np.ndarray
    acceptor: np.ndarray

    @classmethod
    def for_strand(cls, donor: np.ndarray, acceptor: np.ndarray, strand: str) -> SiteTrack:
        """The strand's rows of ``(2, n)`` score arrays (row 0: ``+``, row 1: ``-``)."""
        row = 0 if strand == "+" else 1
        return cls(np.asarray(donor[row]), np.asarray(acceptor[row]))


def edge_site(edge: int, side: str, strand: str) -> tuple[str, int]:
    """The splice site an exon edge makes: ``(kind, position of its intron base)``.

    ``side`` is ``"right"`` when the intron follows the edge (its first base is ``edge``) and
    ``"left"`` when it precedes it (its last base is ``edge - 1``).
    """
    if side == "right":
        return ("donor" if strand == "+" else "acceptor"), edge
    return ("acceptor" if strand == "+" else "donor"), edge - 1


def _score(track: SiteTrack, kind: str, position: int) -> float:
    values = track.donor if kind == "donor" else track.acceptor
    return float(values[position]) if 0 <= position < len(values) else 0.0


def admissible_edge(
    sequence: str,
    strand: str,
    track: SiteTrack,
    table: SpliceTable,
    rare_score: float,
    confident_score: float,
) -> EdgeTest:
    """The test a boundary passes to stay: a legal motif, scored high enough when rare.

    A boundary is admissible when its dinucleotide is legal in ``table`` and is either the
    canonical one (GT donor, AG acceptor) or scores at least ``rare_score``; or, whatever its
    dinucleotide, when it scores at least ``confident_score``.
    """

    def test(edge: int, side: str) -> bool:
        kind, bases = flank(sequence, edge, side, strand)
        score = _score(track, *edge_site(edge, side, strand))
        if score >= confident_score:
            return True
        if not table.is_legal(kind, bases):
            return False
        return bases == _CANONICAL[kind] or score >= rare_score

    return test


def snap_to_site_scores(
    exons: list[Span],
    strand: str,
    track: SiteTrack,
    admissible: EdgeTest,
    max_shift: int,
) -> list[Span]:
    """Move each splice boundary to the best-scoring admissible site within ``max_shift`` nt.

    Boundaries move in genome order and never cross: every exon keeps at least 1 nt and every
    intron at least 4 nt. Equal scores prefer the smaller move. A boundary with no admissible
    candidate in reach stays where it is, for the filter to judge. Transcript ends are not
    splice sites and never move.

    Args:
        exons: sorted exon spans relative to the region.
        strand: transcript strand.
        track: the region's site scores on ``strand``.
        admissible: which boundaries may be chosen (:func:`admissible_edge`).
        max_shift: how far a boundary may move, in nt (0: no change).

    Returns:
        New sorted exon spans, as many as given.
    """

    def site_score(edge: int, side: str) -> float:
        return _score(track, *edge_site(edge, side, strand))

    return snap_boundaries(exons, admissible, site_score, max_shift)


def site_score_attributes(
    exons: list[Span], strand: str, track: SiteTrack
) -> tuple[list[dict[str, str]], dict[str, str]]:
    """GFF3 attributes carrying a transcript's splice-site scores.

    Returns:
        ``(per_exon, transcript)``: per exon in genome order, ``acceptor_score`` for a splice
        site at its 5' end and ``donor_score`` for one at its 3' end (transcription order;
        ``%.3g``); for the transcript, ``min_splice_score``. Both empty for one exon.
    """
    if len(exons) < 2:
        return [], {}
    per_exon: list[dict[str, str]] = [{} for _ in exons]
    scores = []
    for index, (start, end) in enumerate(exons):
        edges = []
        if index > 0:
            edges.append((start, "left"))
        if index < len(exons) - 1:
            edges.append((end, "right"))
        for edge, side in edges:
            kind, position = edge_site(edge, side, strand)
            score = _score(track, kind, position)
            per_exon[index][f"{kind}_score"] = f"{score:.3g}"
            scores.append(score)
    return per_exon, {"min_splice_score": f"{min(scores):.3g}"}
