"""Post-processing on real fly transcripts: decode label-derived noisy tracks back to the truth.

The tracks are what a good model would output: the true labels of one transcript blurred to
0.15/0.85 with noise. Strand, exons and CDS must come back from them on both strands, with the
real splice sites (the illegal-dinucleotide filter sees real flanks).
"""

from __future__ import annotations

import numpy as np
import pytest

from genatator.annotation import read_annotation
from genatator.decode.calling import call_transcripts
from genatator.genome import IndexedFasta
from genatator.inference import TrackBlock
from genatator.labels import label_track
from genatator.postprocess import SpliceTable, ThresholdOptions

FLANK = 200


@pytest.fixture(scope="module")
def fly(shared_data):
    annotation = read_annotation(shared_data / "dmel_chr2R_1-19980000.refseq.gtf.gz")
    with IndexedFasta(shared_data / "dmel_chr2R_1-19980000.fa.gz") as fasta:
        sequence = fasta.fetch("chr2R").sequence
    representatives = [g.representative() for g in annotation.genes if g.transcripts]
    return representatives, sequence


def decode(transcript, sequence, rng, table, options):
    """The one transcript the annotator's streaming decoder finds in a blurred label track."""
    start, end = transcript.start - FLANK, transcript.end + FLANK
    truth = label_track([transcript], start, end).astype(np.float32)
    track = 0.15 + 0.7 * truth + rng.uniform(-0.1, 0.1, truth.shape).astype(np.float32)
    (found,) = call_transcripts(
        [TrackBlock(0, track)],
        sequence,
        seqid="chr2R",
        offset=start,
        options=options,
        splice_table=table,
    )
    return found


def test_strand_exons_and_cds_come_back_from_label_tracks_of_real_transcripts(fly):
    transcripts, sequence = fly
    table = SpliceTable.empty()
    for transcript in transcripts[::2]:  # "training" half
        table.add_transcript(transcript, sequence)
    tested = [t for t in transcripts[1::2] if t.start >= FLANK and t.end + FLANK <= len(sequence)]
    tested = [t for t in tested if t.exon_length >= 200 and min(b - a for a, b in t.exons) >= 4]
    tested = [t for t in tested if all(b - a >= 20 for a, b in t.introns)][:400]
    rng = np.random.default_rng(0)
    options = ThresholdOptions(min_cds_codons=30)

    coding_with_utrs = [t for t in tested if t.five_prime_utrs and t.three_prime_utrs]
    strand_right = exons_right = cds_right = 0
    for transcript in coding_with_utrs:
        got = decode(transcript, sequence, rng, table, options)
        assert got is not None
        strand_right += got.strand == transcript.strand
        exons_right += got.exons == transcript.exons
        cds_right += got.cds == transcript.cds
    n = len(coding_with_utrs)
    assert n >= 150
    assert strand_right == n  # the strand score alone decides these: every one right
    assert exons_right >= 0.95 * n, (exons_right, n)
    assert cds_right >= 0.9 * n, (cds_right, n)

    # Non-coding multi-exon transcripts have no UTR signal: their strand comes from splice motifs.
    noncoding = [t for t in tested if not t.cds and len(t.exons) > 1]
    options = ThresholdOptions(min_cds_codons=10_000)  # keep them non-coding
    right = sum(decode(t, sequence, rng, table, options).strand == t.strand for t in noncoding)
    assert len(noncoding) >= 20
    assert right >= 0.95 * len(noncoding), (right, len(noncoding))
