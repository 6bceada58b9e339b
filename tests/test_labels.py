"""Tests of genatator.labels: exact label tracks of hand-built transcripts on both strands."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genatator.annotation.models import Gene, Transcript
from genatator.labels import (
    CLASSES,
    RC_PERMUTATION,
    gene_label_track,
    label_track,
    representative_transcripts,
    reverse_complement_labels,
)


def expected(table: str) -> np.ndarray:
    """An (L, 5) track from lines ``<class> <row>`` ('#' = 1, '.' = 0); absent classes are 0."""
    rows = dict(line.split() for line in table.strip().splitlines())
    length = len(next(iter(rows.values())))
    track = np.zeros((length, len(CLASSES)), dtype=np.uint8)
    for name, row in rows.items():
        assert len(row) == length, name
        track[:, CLASSES.index(name)] = [c == "#" for c in row]
    return track


def mirror(transcript: Transcript, length: int, *, keep_strand: bool = False) -> Transcript:
    """The same transcript on the reverse-complement strand of a sequence of ``length``.

    ``keep_strand`` mirrors the coordinates only (not a physical operation): its UTRs trade names,
    which is what GENATATOR's channel swap assumes.
    """

    def flip(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        return sorted((length - end, length - start) for start, end in spans)

    return Transcript(
        id=transcript.id + "_rc",
        seqid=transcript.seqid,
        strand=transcript.strand if keep_strand else {"+": "-", "-": "+"}[transcript.strand],
        exons=flip(transcript.exons),
        cds=flip(transcript.cds),
        kind=transcript.kind,
    )


PLUS = Transcript(
    "tx1", "chr1", "+", exons=[(2, 8), (12, 20), (24, 28)], cds=[(5, 8), (12, 20), (24, 26)]
)
MINUS = Transcript(
    "tx2", "chr1", "-", exons=[(2, 8), (12, 20), (24, 28)], cds=[(4, 8), (12, 20), (24, 25)]
)
LNC = Transcript("tx3", "chr1", "+", exons=[(3, 10), (15, 22)], kind="lnc_RNA")


def test_classes_and_permutation() -> None:
    assert CLASSES == ("five_prime_UTR", "exon", "intron", "three_prime_UTR", "CDS")
    assert RC_PERMUTATION == (3, 1, 2, 0, 4)


def test_plus_strand_coding() -> None:
    got = label_track([PLUS], 0, 30)
    assert got.shape == (30, 5) and got.dtype == np.uint8
    #                   0         1         2
    #                   012345678901234567890123456789
    want = expected(
        """
        five_prime_UTR  ..###.........................
        exon            ..######....########....####..
        intron          ........####........####......
        three_prime_UTR ..........................##..
        CDS             .....###....########....##....
        """
    )
    np.testing.assert_array_equal(got, want)


def test_minus_strand_coding_has_five_prime_utr_on_the_right() -> None:
    got = label_track([MINUS], 0, 30)
    #                   0         1         2
    #                   012345678901234567890123456789
    want = expected(
        """
        five_prime_UTR  .........................###..
        exon            ..######....########....####..
        intron          ........####........####......
        three_prime_UTR ..##..........................
        CDS             ....####....########....#.....
        """
    )
    np.testing.assert_array_equal(got, want)


def test_noncoding_transcript_has_only_exon_and_intron() -> None:
    got = label_track([LNC], 0, 30)
    want = expected(
        """
        exon            ...#######.....#######........
        intron          ..........#####...............
        """
    )
    np.testing.assert_array_equal(got, want)


def test_overlapping_isoforms_are_a_union() -> None:
    long = Transcript("a", "chr1", "+", exons=[(2, 10), (20, 28)])
    short = Transcript("b", "chr1", "+", exons=[(2, 6), (8, 14), (20, 28)])
    got = label_track([long, short], 0, 30)
    #                   0         1         2
    #                   012345678901234567890123456789
    want = expected(
        """
        exon            ..############......########..
        intron          ......##..##########..........
        """
    )
    np.testing.assert_array_equal(got, want)


def test_clipping_at_both_interval_edges() -> None:
    # Interval [10, 26) cuts PLUS inside its first intron and inside its last exon.
    got = label_track([PLUS], 10, 26)
    #                   1         2
    #                   0123456789012345
    want = expected(
        """
        exon            ..########....##
        intron          ##........####..
        CDS             ..########....##
        """
    )
    np.testing.assert_array_equal(got, want)
    outside = Transcript("far", "chr1", "+", exons=[(40, 50)])
    assert not label_track([outside], 0, 30).any()
    spanning = Transcript("span", "chr1", "+", exons=[(0, 3), (40, 50)])
    np.testing.assert_array_equal(label_track([spanning], 5, 10), expected("intron #####"))


def test_seqid_filter_and_empty_interval() -> None:
    other = Transcript("o", "chr2", "+", exons=[(0, 30)])
    np.testing.assert_array_equal(
        label_track([PLUS, other], 0, 30, seqid="chr1"), label_track([PLUS], 0, 30)
    )
    assert label_track([PLUS], 7, 7).shape == (0, 5)
    with pytest.raises(ValueError, match="invalid interval"):
        label_track([PLUS], 10, 5)


def test_representative_transcript_is_the_longest_by_exon_sum() -> None:
    # 'short_span' spans more genome but has fewer exonic bases than 'long_exons'.
    short_span = Transcript("short_span", "chr1", "+", exons=[(0, 4), (20, 26)])  # 10 nt
    long_exons = Transcript("long_exons", "chr1", "+", exons=[(2, 16)])  # 14 nt
    gene = Gene("g1", "chr1", "+", transcripts=[short_span, long_exons])
    lonely = Gene("g2", "chr1", "-", transcripts=[MINUS])
    assert [t.id for t in representative_transcripts([gene, lonely])] == ["long_exons", "tx2"]

    got = gene_label_track([gene], 0, 30, representative_only=True)
    np.testing.assert_array_equal(got, label_track([long_exons], 0, 30))
    union = gene_label_track([gene], 0, 30)
    np.testing.assert_array_equal(union, label_track([short_span, long_exons], 0, 30))


@pytest.mark.parametrize("transcript", [PLUS, MINUS, LNC], ids=["plus", "minus", "lnc"])
def test_reverse_complement_equals_mirrored_transcript(transcript: Transcript) -> None:
    # On the reverse strand a transcript keeps its 5' UTR: the channels must not be swapped.
    forward = label_track([transcript], 0, 30)
    mirrored = label_track([mirror(transcript, 30)], 0, 30)
    np.testing.assert_array_equal(reverse_complement_labels(forward), mirrored)
    np.testing.assert_array_equal(reverse_complement_labels(mirrored), forward)
    positional = label_track([mirror(transcript, 30, keep_strand=True)], 0, 30)
    np.testing.assert_array_equal(reverse_complement_labels(forward, swap_utrs=True), positional)


def test_reverse_complement_handles_batches_and_floats() -> None:
    probs = np.random.default_rng(0).random((2, 7, 5)).astype(np.float32)
    flipped = reverse_complement_labels(probs)
    assert flipped.shape == probs.shape and flipped.dtype == np.float32
    np.testing.assert_array_equal(flipped[1, 0], probs[1, 6])
    np.testing.assert_array_equal(reverse_complement_labels(flipped), probs)
    swapped = reverse_complement_labels(probs, swap_utrs=True)
    np.testing.assert_array_equal(swapped[1, 0], probs[1, 6, [3, 1, 2, 0, 4]])
    np.testing.assert_array_equal(reverse_complement_labels(swapped, swap_utrs=True), probs)
    with pytest.raises(ValueError, match="expected shape"):
        reverse_complement_labels(np.zeros((4, 3)))


@st.composite
def transcripts(draw: st.DrawFn, length: int = 60) -> Transcript:
    bounds = sorted(draw(st.sets(st.integers(0, length), min_size=2, max_size=8)))
    if len(bounds) % 2:
        bounds = bounds[:-1]
    exons = list(zip(bounds[::2], bounds[1::2]))
    cds: list[tuple[int, int]] = []
    if draw(st.booleans()):
        exonic = [x for s, e in exons for x in range(s, e)]
        i, j = sorted(draw(st.lists(st.integers(0, len(exonic) - 1), min_size=2, max_size=2)))
        lo, hi = exonic[i], exonic[j] + 1
        cds = [(max(s, lo), min(e, hi)) for s, e in exons if max(s, lo) < min(e, hi)]
    return Transcript("t", "chr1", draw(st.sampled_from("+-")), exons=exons, cds=cds)


@settings(max_examples=60, deadline=None, database=None)
@given(transcripts(), st.integers(0, 60), st.integers(0, 60))
def test_labels_match_per_base_reference(transcript: Transcript, a: int, b: int) -> None:
    start, end = min(a, b), max(a, b)
    got = label_track([transcript], start, end)
    want = np.zeros((end - start, 5), dtype=np.uint8)
    for pos in range(start, end):
        exonic = any(s <= pos < e for s, e in transcript.exons)
        coding = any(s <= pos < e for s, e in transcript.cds)
        want[pos - start, 1] = exonic
        want[pos - start, 2] = transcript.start <= pos < transcript.end and not exonic
        want[pos - start, 4] = coding
        if exonic and transcript.cds and not coding:
            before = pos < transcript.cds[0][0]
            five = before if transcript.strand == "+" else not before
            want[pos - start, 0 if five else 3] = 1
    np.testing.assert_array_equal(got, want)
    # The reverse-complement identity holds on the full sequence for every transcript shape.
    full = label_track([transcript], 0, 60)
    np.testing.assert_array_equal(
        reverse_complement_labels(full), label_track([mirror(transcript, 60)], 0, 60)
    )
