"""Interval arithmetic for evaluation: base overlaps and lookups of 0-based half-open spans."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

from genatator.annotation.models import Span

T = TypeVar("T")


def total_length(disjoint: Sequence[Span]) -> int:
    """Bases covered by sorted, disjoint spans."""
    return sum(end - start for start, end in disjoint)


def intersection_length(a: Sequence[Span], b: Sequence[Span]) -> int:
    """Bases covered by both of two sorted, disjoint span lists (one linear sweep)."""
    i = j = shared = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if hi > lo:
            shared += hi - lo
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return shared


def reciprocal_overlap(a: Span, b: Span) -> float:
    """Shared bases divided by the longer span's length (so both spans are covered that much)."""
    shared = min(a[1], b[1]) - max(a[0], b[0])
    return max(shared, 0) / max(a[1] - a[0], b[1] - b[0])


class StartIndex(Generic[T]):
    """Items with a span, grouped by (seqid, strand) and sorted by start, for range lookups."""

    def __init__(self, items: Iterable[tuple[str, str, Span, T]]) -> None:
        groups: dict[tuple[str, str], list[tuple[int, int, T]]] = defaultdict(list)
        for seqid, strand, (start, end), item in items:
            groups[(seqid, strand)].append((start, end, item))
        self._starts: dict[tuple[str, str], list[int]] = {}
        self._entries: dict[tuple[str, str], list[tuple[int, int, T]]] = {}
        self._longest: dict[tuple[str, str], int] = {}
        for key, entries in groups.items():
            entries.sort(key=lambda entry: (entry[0], entry[1]))
            self._entries[key] = entries
            self._starts[key] = [entry[0] for entry in entries]
            self._longest[key] = max(end - start for start, end, _ in entries)

    def starting_within(
        self, seqid: str, strand: str, lo: int, hi: int
    ) -> list[tuple[int, int, T]]:
        """Entries ``(start, end, item)`` whose start lies in the closed range ``[lo, hi]``."""
        starts = self._starts.get((seqid, strand))
        if starts is None:
            return []
        first = bisect.bisect_left(starts, lo)
        last = bisect.bisect_right(starts, hi)
        return self._entries[(seqid, strand)][first:last]

    def overlapping(self, seqid: str, strand: str, span: Span) -> list[tuple[int, int, T]]:
        """Entries sharing at least one base with ``span``."""
        longest = self._longest.get((seqid, strand), 0)
        candidates = self.starting_within(seqid, strand, span[0] - longest, span[1] - 1)
        return [entry for entry in candidates if entry[1] > span[0]]
