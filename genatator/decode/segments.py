"""Cutting a streamed probability track into independently decoded segments at confidently
intergenic anchors.

An *anchor run* is a maximal run of at least ``HmmOptions.anchor_length`` bases whose genic
score ``max(p_exon, p_intron)`` stays below ``HmmOptions.anchor_threshold``; its middle base
(``start + length // 2``) is an *anchor*. Segments run from one anchor to the next, both
included (an anchor base is decoded as intergenic by both segments that share it); the first
starts at the track's first base, the last ends at its end. Starting from ``S`` (the track's
start, then each segment's last base), the next segment ends at the first anchor ``A > S`` when
``[S, A]`` holds at most ``HmmOptions.max_segment`` bases; otherwise it ends at the base of
``[S + max_segment // 2, S + max_segment)`` with the lowest genic score (the first one on
ties). The segmentation is a function of the track alone, never of how it was cut into blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

from genatator.annotation.models import Transcript
from genatator.decode.hmm import HmmDecoder, SegmentInputs
from genatator.inference.stitch import TrackBlock
from genatator.labels import EXON, INTRON

__all__ = ["Segmenter", "SiteScorer", "genic_score", "hmm_transcripts"]

#: ``(lo, hi) -> (donor, acceptor)``: a splice-site model's ``(2, hi - lo)`` scores of a stretch.
SiteScorer = Callable[[int, int], tuple[np.ndarray, np.ndarray]]


def genic_score(probabilities: np.ndarray) -> np.ndarray:
    """``max(p_exon, p_intron)`` of each row of an ``(n, 5)`` track."""
    return np.maximum(probabilities[:, EXON], probabilities[:, INTRON])


class Segmenter:
    """Streams segment boundaries out of a genic-score track fed block by block.

    Feed the scores of consecutive bases with :meth:`add` and end with :meth:`finish`; each
    returns the segments ``(lo, hi)`` (genome coordinates, half-open) that became final. Only
    the scores of the open segment (and of the bases that may still decide its end) are kept.
    """

    def __init__(
        self,
        *,
        anchor_length: int,
        anchor_threshold: float,
        max_segment: int,
        start: int = 0,
    ) -> None:
        self.anchor_length = anchor_length
        self.anchor_threshold = anchor_threshold
        self.max_segment = max_segment
        self.start = start  # S: first base of the open segment
        self.position = start  # bases seen so far end here
        self.scores = np.zeros(0, dtype=np.float32)  # genic scores of [start, position)
        self.run_start: int | None = None  # start of the low run reaching `position`, if any
        self.anchors: list[int] = []  # known anchors > start, ascending
        self.finished = False

    def add(self, scores: np.ndarray) -> list[tuple[int, int]]:
        """Scores of the next ``len(scores)`` bases; returns the segments now final."""
        if self.finished:
            raise ValueError("the track has already ended")
        scores = np.asarray(scores, dtype=np.float32)
        if len(scores) == 0:
            return []
        self._find_anchors(scores)
        self.scores = np.concatenate([self.scores, scores]) if len(self.scores) else scores
        self.position += len(scores)
        return self._cut(final=False)

    def finish(self) -> list[tuple[int, int]]:
        """The end of the track: closes the last run and returns the remaining segments."""
        if self.finished:
            return []
        self.finished = True
        if self.run_start is not None:
            self._close_run(self.run_start, self.position)
            self.run_start = None
        if self.position == self.start:
            return []
        return self._cut(final=True)

    # -- anchors --------------------------------------------------------------------------------

    def _find_anchors(self, scores: np.ndarray) -> None:
        low = scores < self.anchor_threshold
        padded = np.concatenate(([False], low, [False]))
        edges = np.flatnonzero(padded[1:] != padded[:-1]).reshape(-1, 2)
        n = len(scores)
        if self.run_start is not None and (not len(edges) or edges[0, 0] != 0):
            self._close_run(self.run_start, self.position)  # the block starts genic
            self.run_start = None
        if not len(edges):
            return
        starts = edges[:, 0] + self.position
        ends = edges[:, 1] + self.position
        if edges[0, 0] == 0 and self.run_start is not None:
            starts[0] = self.run_start  # the open run goes on
        self.run_start = None
        if edges[-1, 1] == n:  # the last run reaches the block's end: it may go on
            self.run_start = int(starts[-1])
            starts, ends = starts[:-1], ends[:-1]
        long = (ends - starts) >= self.anchor_length
        middles = starts[long] + (ends[long] - starts[long]) // 2
        self.anchors.extend(int(m) for m in middles if m > self.start)

    def _close_run(self, start: int, end: int) -> None:
        if end - start >= self.anchor_length:
            middle = start + (end - start) // 2
            if middle > self.start:
                self.anchors.append(middle)

    # -- segments -------------------------------------------------------------------------------

    def _cut(self, *, final: bool) -> list[tuple[int, int]]:
        segments = []
        limit = self.max_segment
        while True:
            start = self.start
            if self.anchors and self.anchors[0] - start + 1 <= limit:
                end = self.anchors.pop(0) + 1
            elif self.anchors or self._no_anchor_in_reach(final):
                if final and not self.anchors and self.position - start <= limit:
                    segments.append((start, self.position))
                    self.start = self.position
                    self.scores = self.scores[:0]
                    return segments
                half = limit // 2
                window = self.scores[half:limit]
                end = start + half + int(np.argmin(window)) + 1
            else:
                return segments
            segments.append((start, end))
            self.start = end - 1
            self.scores = self.scores[end - 1 - start :]
            if final and self.start == self.position - 1 and not self.anchors:
                # Only the shared anchor base is left: it belongs to the segment just cut.
                return segments

    def _no_anchor_in_reach(self, final: bool) -> bool:
        """Whether it is certain that no anchor lies in ``(S, S + max_segment)`` and that the
        open segment is longer than ``max_segment`` (known anchors are handled by the caller)."""
        if final:
            return True
        if self.position - self.start <= self.max_segment:
            return False
        if self.run_start is None:
            return True
        # The open run's middle is at least its start plus half its length so far.
        seen = self.position - self.run_start
        return self.run_start + seen // 2 > self.start + self.max_segment - 1


def hmm_transcripts(
    blocks: Iterable[TrackBlock],
    sequence: str,
    *,
    seqid: str,
    offset: int,
    decoder: HmmDecoder,
    site_scorer: SiteScorer | None = None,
) -> Iterator[Transcript]:
    """Transcripts of a stream of track blocks, decoded segment by segment with the HMM.

    Blocks are contiguous and start at ``offset`` in ``sequence`` (their ``start`` is relative
    to ``offset``). Each segment (see the module's docstring) is decoded as soon as it is final,
    with the path forced intergenic at both ends; only the open segment's probabilities are
    kept. ``site_scorer(lo, hi)`` gives a splice-site model's scores of ``sequence[lo:hi]``.
    The result does not depend on the block sizes.

    Raises:
        ValueError: blocks that are not contiguous, or not ``(m, 5)``.
    """
    options = decoder.options
    segmenter = Segmenter(
        anchor_length=options.anchor_length,
        anchor_threshold=options.anchor_threshold,
        max_segment=options.max_segment,
        start=offset,
    )
    buffer = np.zeros((0, 5), dtype=np.float32)
    buffer_start = offset  # genome coordinate of buffer[0]

    def decode(lo: int, hi: int) -> list[Transcript]:
        probabilities = buffer[lo - buffer_start : hi - buffer_start]
        donor = acceptor = None
        if site_scorer is not None:
            donor, acceptor = site_scorer(lo, hi)
        inputs = SegmentInputs(lo, hi, probabilities, donor, acceptor)
        return decoder.decode(sequence, inputs, seqid=seqid)

    expected = 0
    for block in blocks:
        probabilities = np.asarray(block.probabilities)
        if probabilities.ndim != 2 or probabilities.shape[1] != 5:
            raise ValueError(f"a track block must be (m, 5), got shape {probabilities.shape}")
        if block.start != expected:
            raise ValueError(
                f"track blocks must be contiguous: expected {expected}, got {block.start}"
            )
        expected = block.end
        buffer = np.concatenate([buffer, probabilities]) if len(buffer) else probabilities
        for lo, hi in segmenter.add(genic_score(probabilities)):
            yield from decode(lo, hi)
        # Keep only the open segment's rows.
        drop = segmenter.start - buffer_start
        if drop > 0:
            buffer = buffer[drop:]
            buffer_start = segmenter.start
    for lo, hi in segmenter.finish():
        yield from decode(lo, hi)
