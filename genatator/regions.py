"""Genome regions as users write them (``chr:start-end``, 1-based closed) and their parsing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from genatator.errors import ConfigError


@dataclass(frozen=True, order=True)
class Region:
    """A 0-based half-open interval of one sequence (printed 1-based closed, as users write it)."""

    seqid: str
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.seqid}:{self.start + 1}-{self.end}"


def parse_regions(text: str, *, option: str = "--regions") -> list[Region]:
    """Parse ``chr:start-end[,chr:start-end...]`` (1-based, closed) into regions.

    Args:
        text: the option's value.
        option: the option's name, for error messages.

    Raises:
        ConfigError: a region is malformed or empty, or none is given.
    """
    regions = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        # rpartition: sequence names may themselves contain ':' (e.g. HLA-A*01:01).
        seqid, colon, span = item.rpartition(":")
        first, dash, last = span.partition("-")
        try:
            start, end = int(first), int(last)
        except ValueError:
            start = end = 0
        if not colon or not seqid or not dash or start < 1 or end < start:
            raise ConfigError(f"{option}: {item!r} is not chr:start-end (1-based, start ≤ end)")
        regions.append(Region(seqid, start - 1, end))
    if not regions:
        raise ConfigError(f"{option}: no region given")
    return regions


def regions_by_sequence(regions: Iterable[Region] | None) -> dict[str, list[Region]] | None:
    """Regions grouped by sequence, each group sorted (``None`` stays ``None``: everything).

    Raises:
        ConfigError: two regions overlap.
    """
    if regions is None:
        return None
    by_sequence: dict[str, list[Region]] = {}
    for region in sorted(regions):
        spans = by_sequence.setdefault(region.seqid, [])
        if spans and region.start < spans[-1].end:
            raise ConfigError(f"--regions: {spans[-1]} and {region} overlap")
        spans.append(region)
    return by_sequence
