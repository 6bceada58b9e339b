"""Shard plans: which whole sequences each of n ``annotate --shard`` jobs takes (count, length)."""

from __future__ import annotations

import heapq
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from genatator.errors import ConfigError, InputError
from genatator.genome import read_fasta
from genatator.regions import Region

__all__ = [
    "BALANCES",
    "ShardPlan",
    "ShardSelector",
    "assign_shards",
    "genome_lengths",
    "plan_genome",
    "plan_lengths",
]

logger = logging.getLogger(__name__)

#: ``count``: every n-th sequence from the i-th (round robin, in file order); ``length``: whole
#: sequences, longest first, each to the shard with the fewest bases so far.
BALANCES = ("count", "length")


def assign_shards(weights: Sequence[int], count: int, balance: str) -> list[int]:
    """The 1-based shard of each sequence, given in genome order.

    ``count`` deals sequences out in turn. ``length`` is greedy longest-first assignment: the
    heaviest sequence goes to the lightest shard, ties broken by genome order and then by the
    lower shard number, so every job computes the same plan. Its largest shard is at most
    ``max(largest weight, 4/3 × the best possible)``; a sequence is never cut, so no shard can be
    lighter than the longest sequence.

    Raises:
        ConfigError: ``count`` below 1 or an unknown ``balance``.
    """
    if count < 1:
        raise ConfigError(f"--shards must be at least 1, got {count}")
    if balance not in BALANCES:
        raise ConfigError(f"--balance: {balance!r} is not one of {', '.join(BALANCES)}")
    if balance == "count":
        return [index % count + 1 for index in range(len(weights))]
    shards = [0] * len(weights)
    lightest = [(0, shard) for shard in range(1, count + 1)]  # (bases so far, shard): a heap
    for index in sorted(range(len(weights)), key=lambda i: (-weights[i], i)):
        total, shard = heapq.heappop(lightest)
        shards[index] = shard
        heapq.heappush(lightest, (total + weights[index], shard))
    return shards


@dataclass(frozen=True)
class ShardPlan:
    """A genome's sequences and the shard each one goes to.

    Attributes:
        names: sequence names, in genome order.
        weights: bases each sequence gives to annotate (its length, or the part inside
            ``--regions``).
        shards: the 1-based shard of each sequence.
        count: the number of shards.
        balance: how they were assigned (:data:`BALANCES`).
    """

    names: tuple[str, ...]
    weights: tuple[int, ...]
    shards: tuple[int, ...]
    count: int
    balance: str

    @classmethod
    def build(
        cls, names: Sequence[str], weights: Sequence[int], count: int, balance: str
    ) -> ShardPlan:
        """Assign ``names`` (with their ``weights``) to ``count`` shards by ``balance``."""
        shards = assign_shards(weights, count, balance)
        return cls(tuple(names), tuple(weights), tuple(shards), count, balance)

    def totals(self) -> list[int]:
        """Bases of each shard, shard 1 first."""
        totals = [0] * self.count
        for weight, shard in zip(self.weights, self.shards):
            totals[shard - 1] += weight
        return totals

    def members(self, shard: int) -> list[int]:
        """0-based genome indices of the sequences of ``shard``, in genome order."""
        return [index for index, owner in enumerate(self.shards) if owner == shard]

    @property
    def mean(self) -> float:
        """Bases per shard if they were spread perfectly."""
        return sum(self.weights) / self.count

    @property
    def imbalance(self) -> float:
        """Largest shard / mean (1.0 is perfect; 0.0 for a genome without bases)."""
        return max(self.totals()) / self.mean if self.mean else 0.0

    @property
    def floor(self) -> float:
        """The smallest imbalance any plan of whole sequences could reach: the longest sequence
        (or the mean, if larger) over the mean."""
        if not self.mean:
            return 0.0
        return max(max(self.weights), self.mean) / self.mean

    def summary(self) -> str:
        """One line: shard count, the balance reached and the best one whole sequences allow."""
        longest = max(range(len(self.weights)), key=lambda i: (self.weights[i], -i))
        return (
            f"{self.count} shard{'s' if self.count != 1 else ''} of {sum(self.weights):,} bp "
            f"(balance {self.balance}): largest {max(self.totals()):,} bp = "
            f"{self.imbalance:.3f} × the mean; whole sequences allow no less than "
            f"{self.floor:.3f} × (the longest, {self.names[longest]}, is "
            f"{self.weights[longest]:,} bp)"
        )

    def shard_table(self) -> str:
        """TSV, one row per shard: sequences, bases, bases over the mean."""
        rows = ["#shard\tsequences\tbases\tof_mean"]
        counts = [0] * self.count
        for shard in self.shards:
            counts[shard - 1] += 1
        for shard, (sequences, bases) in enumerate(zip(counts, self.totals()), start=1):
            share = bases / self.mean if self.mean else 0.0
            rows.append(f"{shard}\t{sequences}\t{bases}\t{share:.3f}")
        return "\n".join(rows) + "\n"

    def sequence_table(self) -> str:
        """TSV, one row per sequence in genome order: name, bases, shard."""
        rows = ["#sequence\tbases\tshard"]
        rows += [f"{n}\t{w}\t{s}" for n, w, s in zip(self.names, self.weights, self.shards)]
        return "\n".join(rows) + "\n"


def genome_lengths(genome: str) -> list[tuple[str, int]]:
    """Names and lengths of a genome's sequences, in file order.

    Read from the ``.fai`` index beside the file (``samtools faidx``) when there is one no older
    than the genome, else from one pass over the FASTA (``-``: standard input).

    Raises:
        InputError: the genome or its index cannot be read.
    """
    index = Path(f"{genome}.fai")
    try:
        fresh = (
            genome != "-"
            and index.is_file()
            and index.stat().st_mtime_ns >= os.stat(genome).st_mtime_ns
        )
    except OSError:
        fresh = False  # the genome is missing: read_fasta names the problem
    if fresh:
        return _read_fai(index)
    return [(record.name, record.length) for record in read_fasta(genome)]


def _read_fai(path: Path) -> list[tuple[str, int]]:
    lengths = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for lineno, line in enumerate(handle, start=1):
            fields = line.rstrip("\n").split("\t")
            if not line.strip():
                continue
            if len(fields) < 2 or not fields[1].isdigit():
                raise InputError("not a .fai index (name<TAB>length...)", path=path, line=lineno)
            lengths.append((fields[0], int(fields[1])))
    if not lengths:
        raise InputError("empty .fai index", path=path)
    return lengths


def plan_genome(
    genome: str,
    count: int,
    balance: str,
    regions: Mapping[str, Sequence[Region]] | None = None,
) -> ShardPlan:
    """The shard plan of ``genome``: what ``annotate --shard i/count --balance balance`` takes.

    With ``regions`` (sequence name → its regions), each sequence weighs the bases of its
    regions; the others weigh nothing.
    """
    return plan_lengths(genome_lengths(genome), count, balance, regions)


def plan_lengths(
    lengths: Sequence[tuple[str, int]],
    count: int,
    balance: str,
    regions: Mapping[str, Sequence[Region]] | None = None,
) -> ShardPlan:
    """:func:`plan_genome` from (name, length) pairs in genome order."""
    names = [name for name, _ in lengths]
    if regions is None:
        weights = [length for _, length in lengths]
    else:
        weights = [
            sum(max(0, min(r.end, length) - r.start) for r in regions.get(name, ()))
            for name, length in lengths
        ]
    return ShardPlan.build(names, weights, count, balance)


class ShardSelector:
    """Which sequences of a streamed genome one shard annotates, and their order within it.

    Round robin (``count``) needs nothing but the record's index. ``length`` computes the plan
    up front (:func:`plan_genome`) and checks, as the genome streams, that every record is the
    one the plan was made from: a stale ``.fai`` must not silently drop or repeat sequences.
    """

    def __init__(
        self,
        genome: str,
        shard: tuple[int, int],
        balance: str,
        regions: Mapping[str, Sequence[Region]] | None = None,
    ) -> None:
        if balance not in BALANCES:
            raise ConfigError(f"--balance: {balance!r} is not one of {', '.join(BALANCES)}")
        if balance == "length" and shard[1] > 1 and genome == "-":
            raise ConfigError("--balance length reads the genome twice: give it as a file, not '-'")
        self.genome = genome
        self.index, self.count = shard
        self.plan: ShardPlan | None = None
        self.lengths: list[tuple[str, int]] = []
        self.positions: dict[int, int] = {}
        if balance == "length" and self.count > 1:
            self.lengths = genome_lengths(genome)
            self.plan = plan_lengths(self.lengths, self.count, balance, regions)
            members = self.plan.members(self.index)
            self.positions = {index: position for position, index in enumerate(members)}
            logger.info(
                "shard %d/%d: %d of %d sequences, %s of %s bp",
                self.index,
                self.count,
                len(members),
                len(self.plan.names),
                f"{self.plan.totals()[self.index - 1]:,}",
                f"{sum(self.plan.weights):,}",
            )

    def position(self, index: int, name: str, length: int) -> int | None:
        """This shard's 0-based number for the genome's ``index``-th record, or ``None`` when
        another shard takes it.

        Raises:
            InputError: the record is not the one the plan expects there.
        """
        if self.plan is None:
            if index % self.count != self.index - 1:
                return None
            return index // self.count
        expected = self.lengths[index] if index < len(self.lengths) else None
        if expected != (name, length):
            planned = "nothing" if expected is None else f"{expected[0]!r} of {expected[1]} bp"
            raise self._stale(f"record {index + 1} is {name!r} of {length} bp, not {planned}")
        return self.positions.get(index)

    def check_complete(self, records: int) -> None:
        """After the last record: the genome had as many records as the plan.

        Raises:
            InputError: it had fewer.
        """
        if self.plan is not None and records != len(self.lengths):
            raise self._stale(f"{records} records, not {len(self.lengths)}")

    def _stale(self, what: str) -> InputError:
        return InputError(
            f"the genome changed while it was read for --balance length ({what}); if a .fai "
            "index lies beside it, it is stale: rebuild it with 'samtools faidx'",
            path=self.genome,
        )
