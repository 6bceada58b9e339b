"""Splice sites at intron boundaries of annotated transcripts, their motifs and a motif QC report.

Sites follow :mod:`genatator.splice.windows`: a donor is the intron's first base and an acceptor
its last, in transcript orientation, as a 0-based genomic position. On ``+`` an intron
``[s, e)`` has its donor at ``s`` and acceptor at ``e - 1``; on ``-`` the donor is at ``e - 1``
and the acceptor at ``s``. Transcript starts and ends are never sites.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genatator.annotation.models import Gene, Transcript
from genatator.splice.windows import ACCEPTOR, COMPLEMENT, DONOR, N, encode

__all__ = [
    "ACCEPTOR_MOTIFS",
    "CANONICAL_PAIRS",
    "DONOR_MOTIFS",
    "MotifReport",
    "SpliceSite",
    "motif_in",
    "motif_positions",
    "motif_report",
    "site_motifs",
    "site_support",
    "splice_sites",
    "unique_introns",
]

#: Donor dinucleotides accepted as real (canonical GT and the known minor GC and AT).
DONOR_MOTIFS = ("GT", "GC", "AT")
#: Acceptor dinucleotides accepted as real (canonical AG and the minor AC of AT-AC introns).
ACCEPTOR_MOTIFS = ("AG", "AC")
#: Donor-acceptor pairs the motif report names; every other pair counts as "other".
CANONICAL_PAIRS = ("GT-AG", "GC-AG", "AT-AC")

Intron = tuple[str, str, int, int]
_PAIR_LETTERS = "ACGTNN"  # code 5 (padding) prints as N


@dataclass(frozen=True)
class SpliceSite:
    """One annotated splice site.

    Attributes:
        seqid: sequence name.
        strand: ``"+"`` or ``"-"``.
        position: 0-based genomic position of the site base (see the module docstring).
        kind: ``DONOR`` (0) or ``ACCEPTOR`` (1).
        support: number of transcripts that use the site.
    """

    seqid: str
    strand: str
    position: int
    kind: int
    support: int


def _kept(transcript: Transcript, kinds: Collection[str] | None) -> bool:
    return kinds is None or transcript.kind in kinds


def _transcripts(genes: Iterable[Gene], kinds: Collection[str] | None) -> Iterable[Transcript]:
    for gene in genes:
        for transcript in gene.transcripts:
            if _kept(transcript, kinds):
                yield transcript


def site_support(
    genes: Iterable[Gene], kinds: Collection[str] | None = None
) -> Counter[tuple[str, int, str, int]]:
    """Number of transcripts using each site, keyed ``(seqid, position, strand, kind)``.

    The object-free core of :func:`splice_sites`, for callers that want arrays.

    Args:
        genes: annotated genes.
        kinds: transcript kinds (``Transcript.kind``) to use; None uses every transcript.
    """
    keys: list[tuple[str, int, str, int]] = []
    for transcript in _transcripts(genes, kinds):
        seqid, strand = transcript.seqid, transcript.strand
        # One transcript never uses a site twice: its introns are disjoint.
        if strand == "+":
            for start, end in transcript.introns:
                keys += ((seqid, start, strand, DONOR), (seqid, end - 1, strand, ACCEPTOR))
        else:
            for start, end in transcript.introns:
                keys += ((seqid, end - 1, strand, DONOR), (seqid, start, strand, ACCEPTOR))
    return Counter(keys)  # C-level counting


def splice_sites(genes: Iterable[Gene], kinds: Collection[str] | None = None) -> list[SpliceSite]:
    """Deduplicated donor and acceptor sites of every intron of the transcripts.

    Args:
        genes: annotated genes.
        kinds: transcript kinds (``Transcript.kind``) to use; None uses every transcript.

    Returns:
        Sites sorted by (seqid, position, strand, kind), each with the number of transcripts
        using it. Single-exon transcripts contribute nothing.
    """
    # Keys are already in output order, so plain tuple sorting sorts them.
    support = sorted(site_support(genes, kinds).items())
    return [SpliceSite(s, st, p, k, n) for (s, p, st, k), n in support]


def unique_introns(genes: Iterable[Gene], kinds: Collection[str] | None = None) -> list[Intron]:
    """Distinct introns ``(seqid, strand, start, end)`` (0-based half-open), sorted by position.

    Args:
        genes: annotated genes.
        kinds: transcript kinds to use; None uses every transcript.
    """
    introns = {
        (t.seqid, t.strand, start, end)
        for t in _transcripts(genes, kinds)
        for start, end in t.introns
    }
    return sorted(introns, key=lambda i: (i[0], i[2], i[3], i[1]))


def _signs(strands: Any, n: int) -> np.ndarray:
    """+1/-1 per site from an array of +1/-1 or of ``"+"``/``"-"`` (or one value for all)."""
    array = np.asarray(strands)
    if array.dtype.kind in "USO":
        array = np.where(array == "-", -1, 1)
    return np.broadcast_to(np.where(array.astype(np.int64) < 0, -1, 1), (n,))


def site_motifs(codes: np.ndarray, positions: Any, strands: Any, kind: int) -> np.ndarray:
    """Dinucleotide codes of sites in transcript orientation (donor: intron's first two bases,
    acceptor: its last two); bases off the sequence read as N.

    Args:
        codes: the sequence's codes (``windows.encode``).
        positions: 0-based site positions.
        strands: +1/-1 or ``"+"``/``"-"`` per site (or one value for all).
        kind: ``DONOR`` or ``ACCEPTOR``.

    Returns:
        A ``(n, 2)`` uint8 array of codes.
    """
    positions = np.asarray(positions, dtype=np.int64).reshape(-1)
    sign = _signs(strands, len(positions))
    # In transcript orientation the next base is genomic p + sign, so for the window convention
    # the donor reads (p, p + sign) and the acceptor (p - sign, p).
    if kind == DONOR:
        first, second = positions, positions + sign
    elif kind == ACCEPTOR:
        first, second = positions - sign, positions
    else:
        raise ValueError(f"kind must be DONOR or ACCEPTOR, not {kind!r}")
    padded = np.append(np.asarray(codes, dtype=np.uint8), np.uint8(N))
    size = len(codes)
    motif = np.empty((len(positions), 2), dtype=np.uint8)
    for column, index in enumerate((first, second)):
        letters = padded[np.where((index >= 0) & (index < size), index, size)]
        motif[:, column] = np.where(sign < 0, COMPLEMENT[letters], letters)
    return motif


def motif_in(motifs: np.ndarray, allowed: Iterable[str]) -> np.ndarray:
    """True for each ``(n, 2)`` motif row equal to one of the ``allowed`` dinucleotides."""
    motifs = np.asarray(motifs).reshape(-1, 2)
    key = motifs[:, 0].astype(np.int64) * 8 + motifs[:, 1]
    wanted = [int(c[0]) * 8 + int(c[1]) for c in (encode(text) for text in allowed)]
    return np.isin(key, wanted)


def motif_positions(codes: np.ndarray, motif: str, strand: Any, kind: int) -> np.ndarray:
    """Every position whose site motif (as :func:`site_motifs` reads it) equals ``motif``.

    Args:
        codes: the sequence's codes.
        motif: dinucleotide in transcript orientation, e.g. ``"GT"``.
        strand: ``"+"``/``"-"`` or +1/-1.
        kind: ``DONOR`` or ``ACCEPTOR`` (which base of the pair is the site).

    Returns:
        Sorted int64 positions.
    """
    first, second = encode(motif)
    minus = strand == "-" or (not isinstance(strand, str) and strand < 0)
    if minus:
        # Transcript-orientation pair (m0, m1) is genomic (comp m1, comp m0) read left to right.
        first, second = COMPLEMENT[second], COMPLEMENT[first]
    codes = np.asarray(codes, dtype=np.uint8)
    left = np.flatnonzero((codes[:-1] == first) & (codes[1:] == second))
    # Site base: the pair's left base for + donors and - acceptors, the right one otherwise.
    if (kind == DONOR) != minus:
        return left.astype(np.int64)
    return left.astype(np.int64) + 1


@dataclass
class MotifReport:
    """Introns counted by donor-acceptor dinucleotide pair, in transcript orientation.

    Attributes:
        counts: pair (``"GT-AG"``) to number of introns.
        skipped: introns not checked (sequence missing or intron past its end).
    """

    counts: dict[str, int] = field(default_factory=dict)
    skipped: int = 0

    @property
    def total(self) -> int:
        """Number of introns checked."""
        return sum(self.counts.values())

    @property
    def fractions(self) -> dict[str, float]:
        """Fractions of GT-AG, GC-AG, AT-AC and other introns (zeros when none was checked)."""
        total = self.total
        named = {pair: self.counts.get(pair, 0) for pair in CANONICAL_PAIRS}
        named["other"] = total - sum(named.values())
        return {pair: (n / total if total else 0.0) for pair, n in named.items()}

    def top_other(self, n: int = 5) -> list[tuple[str, int]]:
        """The ``n`` most common non-canonical pairs, most common first (ties by name)."""
        other = [(p, c) for p, c in self.counts.items() if p not in CANONICAL_PAIRS]
        return sorted(other, key=lambda item: (-item[1], item[0]))[:n]

    def __add__(self, other: MotifReport) -> MotifReport:
        counts = Counter(self.counts)
        counts.update(other.counts)
        return MotifReport(dict(counts), self.skipped + other.skipped)

    def format(self) -> str:
        """One paragraph for people: the fractions, common odd pairs and a hint when low."""
        if not self.total:
            text = "Intron motifs: no intron could be checked"
            return text + (f" ({self.skipped} skipped)." if self.skipped else ".")
        fractions = self.fractions
        parts = ", ".join(f"{pair} {fractions[pair]:.2%}" for pair in (*CANONICAL_PAIRS, "other"))
        text = f"Intron motifs (donor-acceptor, transcript orientation) of {self.total:,} "
        text += f"unique introns: {parts}."
        top = self.top_other()
        if top:
            text += " Most common other pairs: " + ", ".join(f"{p} {c:,}" for p, c in top) + "."
        canonical = 1.0 - fractions["other"]
        if canonical < 0.9:
            text += (
                f" Only {canonical:.1%} use a known motif (real introns: ~99%): check that the"
                " annotation belongs to this genome assembly and that its coordinates are right."
            )
        if self.skipped:
            text += f" {self.skipped:,} introns were not checked (sequence absent or too short)."
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: total, skipped, fractions, counts and the top other pairs."""
        return {
            "total": self.total,
            "skipped": self.skipped,
            "fractions": self.fractions,
            "counts": dict(sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))),
            "top_other": [list(item) for item in self.top_other()],
        }


def _pair_names(donor: np.ndarray, acceptor: np.ndarray) -> list[str]:
    return [
        f"{_PAIR_LETTERS[a]}{_PAIR_LETTERS[b]}-{_PAIR_LETTERS[c]}{_PAIR_LETTERS[d]}"
        for a, b, c, d in np.concatenate([donor, acceptor], axis=1).tolist()
    ]


def motif_report(
    introns: Sequence[Intron], sequences: Mapping[str, str | np.ndarray]
) -> MotifReport:
    """Count introns by their donor-acceptor dinucleotide pair, in transcript orientation.

    Args:
        introns: ``(seqid, strand, start, end)``, 0-based half-open (e.g. :func:`unique_introns`).
        sequences: sequence name to its DNA string (or its codes from ``windows.encode``).
            Introns on sequences not in the mapping, or past a sequence's end, are ``skipped``.

    Returns:
        The report.
    """
    by_seqid: dict[str, list[Intron]] = {}
    for intron in introns:
        by_seqid.setdefault(intron[0], []).append(intron)
    counts: Counter[str] = Counter()
    skipped = 0
    for seqid, items in by_seqid.items():
        sequence = sequences.get(seqid)
        if sequence is None:
            skipped += len(items)
            continue
        codes = encode(sequence) if isinstance(sequence, str) else np.asarray(sequence)
        array = np.array([(1 if s == "+" else -1, a, b) for _, s, a, b in items], dtype=np.int64)
        sign, start, end = array.T
        inside = (start >= 0) & (end <= len(codes)) & (start < end)
        skipped += int(np.count_nonzero(~inside))
        sign, start, end = sign[inside], start[inside], end[inside]
        plus = sign > 0
        donor = site_motifs(codes, np.where(plus, start, end - 1), sign, DONOR)
        acceptor = site_motifs(codes, np.where(plus, end - 1, start), sign, ACCEPTOR)
        counts.update(_pair_names(donor, acceptor))
    return MotifReport(dict(counts), skipped)
