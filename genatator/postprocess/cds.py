"""Find a transcript's coding sequence: complete ORFs, chosen by length or by the model's CDS."""

from __future__ import annotations

import numpy as np
from Bio.Seq import Seq

from genatator.annotation.models import Span, Transcript
from genatator.genome import reverse_complement
from genatator.labels import CDS, FIVE_PRIME_UTR, INTRON, THREE_PRIME_UTR
from genatator.postprocess.assembly import check_probabilities

__all__ = [
    "coding_sequence",
    "is_complete_orf",
    "longest_orf_cds",
    "model_cds",
    "orfs",
    "protein",
    "spliced_positions",
    "spliced_sequence",
]


def _check_strand(strand: str) -> None:
    if strand not in ("+", "-"):
        raise ValueError(f"strand must be '+' or '-', got {strand!r}")


def spliced_sequence(sequence: str, exons: list[Span], strand: str) -> str:
    """The exons' bases joined, in transcript orientation (reverse complemented on ``-``).

    Args:
        sequence: upper-case sequence the exon coordinates refer to.
        exons: sorted exon spans.
        strand: ``"+"`` or ``"-"``.

    Raises:
        ValueError: bad strand or an exon outside ``sequence``.
    """
    _check_strand(strand)
    if exons and (exons[0][0] < 0 or exons[-1][1] > len(sequence)):
        raise ValueError(f"exons {exons[0][0]}-{exons[-1][1]} reach outside the sequence")
    joined = "".join(sequence[start:end] for start, end in exons)
    return joined if strand == "+" else reverse_complement(joined)


def spliced_positions(exons: list[Span], strand: str) -> np.ndarray:
    """Sequence position of each spliced base, in transcript orientation.

    Position ``i`` of :func:`spliced_sequence` is base ``spliced_positions(...)[i]`` of the
    sequence (on ``-`` it pairs with that base's complement).

    Returns:
        int64 array of length equal to the exonic bases.
    """
    _check_strand(strand)
    if not exons:
        return np.zeros(0, dtype=np.int64)
    spans = np.asarray(exons, dtype=np.int64)
    lengths = spans[:, 1] - spans[:, 0]
    # Each base's offset inside its exon plus that exon's start, without a loop per base.
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    positions = np.repeat(spans[:, 0], lengths) + within
    return positions if strand == "+" else positions[::-1].copy()


def _codon_flags(spliced: str) -> tuple[np.ndarray, np.ndarray]:
    """Whether a start (ATG) and whether a stop codon (TAA, TAG, TGA) begins at each position."""
    bases = np.frombuffer(spliced.encode("ascii"), dtype=np.uint8)
    if len(bases) < 3:
        empty = np.zeros(0, dtype=bool)
        return empty, empty
    first, second, third = bases[:-2], bases[1:-1], bases[2:]
    a, g, t = ord("A"), ord("G"), ord("T")
    start = (first == a) & (second == t) & (third == g)
    stop = (first == t) & (
        ((second == a) & ((third == a) | (third == g))) | ((second == g) & (third == a))
    )
    return start, stop


def orfs(spliced: str) -> list[Span]:
    """Complete ORFs of a sequence: the first ATG of each stop-delimited stretch to its stop.

    In each frame the stop codons (standard code) cut the sequence into stretches; a stretch
    ending in a stop and holding an ATG gives the ORF from its first ATG to the stop included.

    Args:
        spliced: upper-case sequence in transcript orientation.

    Returns:
        ``(start, end)`` spans in sequence coordinates, stop codon included, sorted.
    """
    start_flags, stop_flags = _codon_flags(spliced)
    found: list[Span] = []
    for frame in range(3):
        starts = np.flatnonzero(start_flags[frame::3]) * 3 + frame
        stops = np.flatnonzero(stop_flags[frame::3]) * 3 + frame
        if not len(starts) or not len(stops):
            continue
        # Each stretch begins after the previous stop in this frame (or at the frame start).
        stretch_begins = np.concatenate(([frame], stops[:-1] + 3))
        first_start = np.searchsorted(starts, stretch_begins)
        has_start = first_start < len(starts)
        candidates = starts[np.minimum(first_start, len(starts) - 1)]
        complete = has_start & (candidates < stops)
        found += zip(candidates[complete].tolist(), (stops[complete] + 3).tolist())
    return sorted(found)


def is_complete_orf(coding: str) -> bool:
    """Whether ``coding`` translates from an ATG to a single, terminal stop codon."""
    if len(coding) < 6 or len(coding) % 3 or not coding.startswith("ATG"):
        return False
    translated = str(Seq(coding).translate())
    return translated.endswith("*") and translated.count("*") == 1


def _genome_spans(positions: np.ndarray) -> list[Span]:
    """Sorted contiguous spans covering a set of sequence positions."""
    ordered = np.sort(positions)
    breaks = np.flatnonzero(np.diff(ordered) != 1) + 1
    starts = ordered[np.concatenate(([0], breaks))]
    ends = ordered[np.concatenate((breaks - 1, [len(ordered) - 1]))] + 1
    return list(zip(starts.tolist(), ends.tolist()))


def _cds_spans(spliced: str, positions: np.ndarray, orf: Span) -> list[Span]:
    """Genome spans of one ORF, after checking that it translates as a complete CDS."""
    start, end = orf
    if not is_complete_orf(spliced[start:end]):
        raise RuntimeError(f"ORF {start}-{end} does not translate as a complete CDS")
    return _genome_spans(positions[start:end])


def longest_orf_cds(sequence: str, exons: list[Span], strand: str) -> list[Span]:
    """CDS as the longest complete ORF of the spliced exons (ties: the earliest).

    This is the GENATATOR authors' heuristic (``cds_mode="orf"``).

    Args:
        sequence: upper-case sequence the exon coordinates refer to.
        exons: sorted exon spans.
        strand: ``"+"`` or ``"-"``.

    Returns:
        Sorted CDS spans in sequence coordinates, split at introns, stop codon included; empty
        when there is no complete ORF.
    """
    spliced = spliced_sequence(sequence, exons, strand)
    found = orfs(spliced)
    if not found:
        return []
    # max() keeps the first of equal keys and ``found`` is sorted, so ties go to the earliest.
    best = max(found, key=lambda orf: orf[1] - orf[0])
    return _cds_spans(spliced, spliced_positions(exons, strand), best)


def model_cds(
    probabilities: np.ndarray, sequence: str, exons: list[Span], strand: str
) -> list[Span]:
    """CDS as the complete ORF that best agrees with the model's CDS channel.

    The model's CDS bases are exonic bases where ``p_CDS > max(p_intron, p_5UTR, p_3UTR)``.
    With fewer than 3 of them there is no CDS. Otherwise the complete ORF covering most of them
    (in spliced bases) wins, ties going to the longer ORF, then the earlier; it must cover at
    least half of the model's CDS bases, else there is no CDS.

    Args:
        probabilities: ``(n, 5)`` probabilities of the region ``sequence`` covers.
        sequence: upper-case sequence of the region.
        exons: sorted exon spans relative to the region.
        strand: ``"+"`` or ``"-"``.

    Returns:
        Sorted CDS spans in region coordinates, split at introns, stop codon included; empty
        when the model calls no CDS or no ORF agrees with it.
    """
    probabilities = check_probabilities(probabilities)
    positions = spliced_positions(exons, strand)
    rivals = probabilities[:, [INTRON, FIVE_PRIME_UTR, THREE_PRIME_UTR]].max(axis=1)
    coding = (probabilities[:, CDS] > rivals)[positions]
    n_coding = int(coding.sum())
    if n_coding < 3:
        return []
    spliced = spliced_sequence(sequence, exons, strand)
    found = orfs(spliced)
    if not found:
        return []
    spans = np.asarray(found, dtype=np.int64)
    covered = np.concatenate(([0], np.cumsum(coding, dtype=np.int64)))
    overlap = covered[spans[:, 1]] - covered[spans[:, 0]]
    length = spans[:, 1] - spans[:, 0]
    # lexsort sorts by its last key first: overlap, then length, both descending, then start.
    best = int(np.lexsort((spans[:, 0], -length, -overlap))[0])
    if 2 * overlap[best] < n_coding:
        return []
    return _cds_spans(spliced, positions, found[best])


def coding_sequence(transcript: Transcript, sequence: str, offset: int = 0) -> str:
    """The CDS bases of a transcript in transcript orientation, stop codon included.

    Args:
        transcript: transcript in genome coordinates.
        sequence: upper-case sequence covering the transcript's CDS.
        offset: genome coordinate of ``sequence[0]``.

    Returns:
        The coding sequence; ``""`` for a non-coding transcript.
    """
    cds = [(start - offset, end - offset) for start, end in transcript.cds]
    return spliced_sequence(sequence, cds, transcript.strand)


def protein(transcript: Transcript, sequence: str, offset: int = 0) -> str:
    """The translated CDS (standard code) without its final ``*``; ``""`` when non-coding.

    A trailing partial codon, possible only in CDS from elsewhere, is not translated.
    """
    coding = coding_sequence(transcript, sequence, offset)
    translated = str(Seq(coding[: len(coding) - len(coding) % 3]).translate())
    return translated.removesuffix("*")
