"""Per-nucleotide label tracks of the five classes (5'UTR, exon, intron, 3'UTR, CDS)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from genatator.annotation.models import Gene, Span, Transcript

#: Label channels in the GENATATOR paper's order; index = channel.
CLASSES = ("five_prime_UTR", "exon", "intron", "three_prime_UTR", "CDS")
FIVE_PRIME_UTR, EXON, INTRON, THREE_PRIME_UTR, CDS = range(len(CLASSES))
#: GENATATOR's channel remap when undoing a reverse-complement pass (5'UTR <-> 3'UTR). It is right
#: only for UTR channels meaning "left/right of the CDS in genomic order"; the strand-aware labels
#: built here are unchanged by reverse complement (see :func:`reverse_complement_labels`).
RC_PERMUTATION = (3, 1, 2, 0, 4)


def _channel_spans(transcript: Transcript) -> tuple[tuple[int, list[Span]], ...]:
    """(channel, spans) of one transcript; exons include the UTR parts, as GFF exons do."""
    return (
        (FIVE_PRIME_UTR, transcript.five_prime_utrs),
        (EXON, transcript.exons),
        (INTRON, transcript.introns),
        (THREE_PRIME_UTR, transcript.three_prime_utrs),
        (CDS, transcript.cds),
    )


def label_track(
    transcripts: Iterable[Transcript],
    start: int,
    end: int,
    *,
    seqid: str | None = None,
) -> np.ndarray:
    """Multi-label track of the interval ``[start, end)`` of one sequence.

    A base is labelled with every class any transcript gives it (union over isoforms): exon for
    every exonic base (UTRs included), intron between consecutive exons of a transcript, 5'/3' UTR
    for exonic bases before/after the CDS in transcription order, CDS for CDS bases (stop codon
    included, as in :class:`~genatator.annotation.models.Transcript`). Transcripts reaching past
    the interval are clipped to it.

    Args:
        transcripts: transcripts with 0-based half-open coordinates on the sequence.
        start: first base of the interval, 0-based.
        end: end of the interval, exclusive.
        seqid: when given, transcripts on other sequences are ignored.

    Returns:
        uint8 array of shape ``(end - start, 5)``, channels in :data:`CLASSES` order, values 0/1.

    Raises:
        ValueError: ``end < start`` or ``start < 0``.
    """
    if start < 0 or end < start:
        raise ValueError(f"invalid interval [{start}, {end})")
    # Channel-major while filling, so each span is one contiguous memset whatever its length.
    track = np.zeros((len(CLASSES), end - start), dtype=np.uint8)
    for transcript in transcripts:
        if seqid is not None and transcript.seqid != seqid:
            continue
        if not transcript.exons or transcript.end <= start or transcript.start >= end:
            continue
        for channel, spans in _channel_spans(transcript):
            for span_start, span_end in spans:
                lo, hi = max(span_start, start), min(span_end, end)
                if lo < hi:
                    track[channel, lo - start : hi - start] = 1
    return np.ascontiguousarray(track.T)  # (5, L) -> (L, 5)


def packed_label_track(transcripts: Iterable[Transcript], length: int) -> np.ndarray:
    """:func:`label_track` of a whole sequence ``[0, length)`` packed one byte per base.

    Bit ``c`` of a base's byte is class ``c`` (:data:`CLASSES` order): five times less memory
    than the unpacked track, so a whole chromosome's labels fit beside its sequence.

    Raises:
        ValueError: a transcript reaches past ``length``.
    """
    packed = np.zeros(length, dtype=np.uint8)
    for transcript in transcripts:
        if not transcript.exons:
            continue
        if transcript.end > length:
            raise ValueError(f"transcript {transcript.id} ends at {transcript.end} > {length}")
        for channel, spans in _channel_spans(transcript):
            bit = np.uint8(1 << channel)
            for span_start, span_end in spans:
                packed[span_start:span_end] |= bit
    return packed


def unpack_labels(packed: np.ndarray) -> np.ndarray:
    """``(L,)`` packed bytes (see :func:`packed_label_track`) to the ``(L, 5)`` uint8 track."""
    bits = np.arange(len(CLASSES), dtype=np.uint8)
    return (np.asarray(packed, dtype=np.uint8)[:, None] >> bits) & np.uint8(1)


def representative_transcripts(genes: Iterable[Gene]) -> list[Transcript]:
    """One transcript per gene: the one with the longest total exon length (the paper's choice).

    Genes without transcripts are skipped.
    """
    return [gene.representative() for gene in genes if gene.transcripts]


def gene_label_track(
    genes: Iterable[Gene],
    start: int,
    end: int,
    *,
    seqid: str | None = None,
    representative_only: bool = False,
) -> np.ndarray:
    """:func:`label_track` over the transcripts of ``genes``.

    Args:
        genes: genes with 0-based half-open coordinates.
        start: first base of the interval, 0-based.
        end: end of the interval, exclusive.
        seqid: when given, genes on other sequences are ignored.
        representative_only: label only each gene's representative transcript (GENATATOR trains so);
            otherwise the union over all isoforms.

    Returns:
        uint8 array of shape ``(end - start, 5)``.
    """
    genes = [g for g in genes if seqid is None or g.seqid == seqid]
    if representative_only:
        transcripts: list[Transcript] = representative_transcripts(genes)
    else:
        transcripts = [t for gene in genes for t in gene.transcripts]
    return label_track(transcripts, start, end, seqid=seqid)


def reverse_complement_labels(labels: np.ndarray, *, swap_utrs: bool = False) -> np.ndarray:
    """Labels (or probabilities, logits) seen from the reverse-complement strand, or back.

    Reverse complement moves a transcript to the other strand at mirrored positions but does not
    change which of its UTRs is 5' and which is 3', so for the strand-aware labels of
    :func:`label_track` it only reverses the position axis. ``swap_utrs=True`` also applies
    :data:`RC_PERMUTATION`, as GENATATOR does; use it only for a model trained with positional
    (left/right) UTR channels. Either way, applying it twice gives the input back.

    Args:
        labels: array of shape ``(..., L, 5)``, channels in :data:`CLASSES` order.
        swap_utrs: swap the 5'UTR and 3'UTR channels (GENATATOR's convention).

    Returns:
        New contiguous array of the same shape and dtype.

    Raises:
        ValueError: the last axis is not the 5 classes.
    """
    labels = np.asarray(labels)
    if labels.ndim < 2 or labels.shape[-1] != len(CLASSES):
        raise ValueError(f"expected shape (..., L, {len(CLASSES)}), got {labels.shape}")
    flipped = np.flip(labels, axis=-2)
    if swap_utrs:
        flipped = flipped[..., list(RC_PERMUTATION)]
    return np.ascontiguousarray(flipped)
