"""Find a transcript's coding sequence: complete ORFs, chosen by length or by the model's CDS.

The ORF primitives live in :mod:`genatator.annotation.orf` and are re-exported here.
"""

from __future__ import annotations

import numpy as np
from Bio.Seq import Seq

from genatator.annotation.models import Span, Transcript
from genatator.annotation.orf import (
    cds_spans,
    is_complete_orf,
    longest_orf_cds,
    orfs,
    spliced_positions,
    spliced_sequence,
)
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
    return cds_spans(spliced, positions, found[best])


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
