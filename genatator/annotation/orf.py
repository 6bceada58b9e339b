"""Open reading frames of spliced transcripts, and CDS derived from the longest complete one."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from genatator.annotation.models import CODING_KIND, Gene, Span, Transcript
from genatator.genome import reverse_complement

__all__ = [
    "DERIVE_CDS_RULES",
    "MIN_DERIVED_CODONS",
    "cds_spans",
    "derive_cds",
    "derive_gene_cds",
    "is_complete_orf",
    "longest_orf_cds",
    "orfs",
    "spliced_positions",
    "spliced_sequence",
]

#: ``--derive-cds`` values: ``none`` keeps the annotation as read; ``longest-orf`` gives
#: transcripts without CDS whose coding status is claimed or unknown their longest complete ORF.
DERIVE_CDS_RULES = ("none", "longest-orf")
#: A derived CDS needs at least this many codons besides the stop (the lncRNA criterion of
#: ``--min-cds-codons``).
MIN_DERIVED_CODONS = 100
#: Kinds that may receive a derived CDS: coding claimed (``mRNA``) or unknown (``transcript``,
#: what the reader calls a transcript of a file without CDS rows). Annotated non-coding kinds
#: (``lnc_RNA``, ``ncRNA``, ``miRNA``, ...) never do.
_DERIVABLE_KINDS = frozenset({CODING_KIND, "transcript"})


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
    An ATG with no in-frame stop after it (an ORF running off the end) gives nothing.

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
    from Bio.Seq import Seq  # imported here: the command line's start-up does not need it

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


def cds_spans(spliced: str, positions: np.ndarray, orf: Span) -> list[Span]:
    """Genome spans of one ORF of ``spliced`` (split at introns), checked to translate as a
    complete CDS.

    Args:
        spliced: the transcript's spliced sequence (:func:`spliced_sequence`).
        positions: its bases' sequence positions (:func:`spliced_positions`).
        orf: ``(start, end)`` in spliced coordinates, stop codon included.

    Raises:
        RuntimeError: the ORF is not ATG, whole codons, one terminal stop (a bug of the caller).
    """
    start, end = orf
    if not is_complete_orf(spliced[start:end]):
        raise RuntimeError(f"ORF {start}-{end} does not translate as a complete CDS")
    return _genome_spans(positions[start:end])


def longest_orf_cds(sequence: str, exons: list[Span], strand: str) -> list[Span]:
    """CDS as the longest complete ORF of the spliced exons (ties: the 5'-most).

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
    return cds_spans(spliced, spliced_positions(exons, strand), best)


def derive_cds(
    transcript: Transcript, sequence: str, *, min_codons: int = MIN_DERIVED_CODONS
) -> Transcript:
    """The transcript with its longest complete ORF as CDS, where it lacks one and may code.

    Only a transcript without CDS whose kind is ``mRNA`` or ``transcript`` (coding status
    unknown) is changed, and only when its longest complete ORF (ATG to an in-frame stop in
    the spliced exons, on its strand; ties to the 5'-most) has at least ``min_codons`` codons
    besides the stop. Its CDS spans are then in genome coordinates, stop codon included (the
    project's convention, as the readers store RefSeq CDS + stop_codon rows), and its kind
    becomes ``mRNA``. Any other transcript comes back unchanged (the same object), as does one
    whose exons reach outside ``sequence``.

    Args:
        transcript: transcript in ``sequence``'s coordinates.
        sequence: upper-case sequence it lies on (a whole chromosome, say).
        min_codons: fewest codons of a derived CDS, stop codon not counted.
    """
    if (
        transcript.cds
        or transcript.kind not in _DERIVABLE_KINDS
        or not transcript.exons
        or transcript.start < 0
        or transcript.end > len(sequence)
    ):
        return transcript
    cds = longest_orf_cds(sequence, transcript.exons, transcript.strand)
    if sum(end - start for start, end in cds) < 3 * (min_codons + 1):
        return transcript
    return dataclasses.replace(transcript, cds=cds, kind=CODING_KIND)


def derive_gene_cds(
    genes: Iterable[Gene],
    sequence: str,
    rule: str = "longest-orf",
    *,
    min_codons: int = MIN_DERIVED_CODONS,
) -> list[Gene]:
    """Genes of one sequence with :func:`derive_cds` applied to each transcript under ``rule``.

    Genes with a changed transcript are copies; the others are returned as they are.

    Raises:
        ValueError: ``rule`` is not one of :data:`DERIVE_CDS_RULES`.
    """
    if rule not in DERIVE_CDS_RULES:
        raise ValueError(f"derive-cds rule must be one of {', '.join(DERIVE_CDS_RULES)}")
    genes = list(genes)
    if rule == "none":
        return genes
    derived = []
    for gene in genes:
        transcripts = [derive_cds(t, sequence, min_codons=min_codons) for t in gene.transcripts]
        changed = any(new is not old for new, old in zip(transcripts, gene.transcripts))
        derived.append(dataclasses.replace(gene, transcripts=transcripts) if changed else gene)
    return derived
