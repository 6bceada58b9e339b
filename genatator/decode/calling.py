"""Transcripts from a stream of probability-track blocks, and the genes they are named into."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from genatator.annotation.models import Gene, Transcript
from genatator.decode.segments import SiteScorer
from genatator.errors import warn
from genatator.inference.stitch import TrackBlock
from genatator.postprocess import SpliceTable, ThresholdOptions, decode_region, gene_regions

__all__ = ["MAX_GENE_LENGTH", "call_transcripts", "name_genes"]

#: A gene region still open after this many nucleotides is decoded as it stands: it bounds
#: memory when a model calls a whole chromosome genic (an untrained one, say). The longest known
#: genes (human DMD, 2.2 Mb) fit.
MAX_GENE_LENGTH = 3_000_000


def call_transcripts(
    blocks: Iterable[TrackBlock],
    sequence: str,
    *,
    seqid: str,
    offset: int,
    options: ThresholdOptions,
    splice_table: SpliceTable,
    max_gene_length: int = MAX_GENE_LENGTH,
    site_scorer: SiteScorer | None = None,
) -> Iterator[Transcript]:
    """Transcripts of a stream of track blocks, as soon as no later block can change them.

    Blocks start at ``offset`` in ``sequence`` and are contiguous. A gene region is decoded once
    the track has reached ``options.max_region_gap`` non-genic bases past its end, so no region is
    ever cut at a block edge; only the still-open region is carried to the next block. The result
    does not depend on the block size (except for regions longer than ``max_gene_length``, which
    are decoded as they stand, with a warning). ``site_scorer(lo, hi)`` gives a splice-site
    model's scores of ``sequence[lo:hi]`` for :func:`decode_region`.
    """
    buffer = np.zeros((0, 5), dtype=np.float32)
    buffer_start = offset  # genome coordinate of buffer[0]
    blocks = iter(blocks)
    block = next(blocks, None)
    while block is not None:
        following = next(blocks, None)
        if len(buffer):
            buffer = np.concatenate([buffer, block.probabilities])
        else:
            buffer = block.probabilities
        final = following is None
        regions = gene_regions(buffer, options)
        keep_from = len(buffer)
        for start, end in regions:
            closed = final or len(buffer) - end >= options.max_region_gap
            if not closed and end - start > max_gene_length:
                warn(
                    f"{seqid}:{buffer_start + start + 1}-{buffer_start + end}: a gene region "
                    f"longer than {max_gene_length} bp; decoding it as it stands"
                )
                closed = True
            if not closed:
                keep_from = start
                break
            lo, hi = buffer_start + start, buffer_start + end
            transcript = decode_region(
                buffer[start:end],
                sequence[lo:hi],
                seqid=seqid,
                offset=lo,
                options=options,
                splice_table=splice_table,
                site_scores=None if site_scorer is None else site_scorer(lo, hi),
            )
            if transcript is not None:
                yield transcript
        buffer = buffer[keep_from:]
        buffer_start += keep_from
        block = following


def name_genes(seqid: str, transcripts: list[Transcript]) -> list[Gene]:
    """One gene per transcript, numbered along the sequence: ``<seqid>.g<n>`` / ``.g<n>.t1``.

    IDs carry the sequence name so shards of one genome merge without renaming.
    """
    ordered = sorted(transcripts, key=lambda t: (t.start, t.end, t.strand))
    genes = []
    for number, transcript in enumerate(ordered, start=1):
        gene_id = f"{seqid}.g{number}"
        transcript.id, transcript.gene_id = f"{gene_id}.t1", gene_id
        genes.append(Gene(gene_id, seqid, transcript.strand, [transcript]))
    return genes
