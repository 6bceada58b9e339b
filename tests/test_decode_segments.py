"""Segments of a streamed track: anchors, the max_segment cut, independence of block sizes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from genatator.decode.content import (
    CodonModel,
    background_sequences_from_transcripts,
    coding_sequences_from_transcripts,
)
from genatator.decode.hmm import HmmDecoder
from genatator.decode.options import HmmOptions
from genatator.decode.parameters import GeneModelParameters
from genatator.decode.segments import Segmenter, genic_score, hmm_transcripts
from genatator.inference.stitch import TrackBlock
from genatator.labels import CDS, EXON
from genatator.postprocess.dinucleotides import SpliceTable

STOPS = {"TAA", "TAG", "TGA"}
CODONS = [a + b + c for a in "ACGT" for b in "ACGT" for c in "ACGT" if a + b + c not in STOPS]


def blocks_of(track: np.ndarray, size: int) -> list[TrackBlock]:
    return [TrackBlock(i, track[i : i + size]) for i in range(0, len(track), size)]


def segments(scores: np.ndarray, sizes: int, **options) -> list[tuple[int, int]]:
    segmenter = Segmenter(**options)
    found = []
    for i in range(0, len(scores), sizes):
        found += segmenter.add(scores[i : i + sizes])
    return found + segmenter.finish()


def reference_segments(scores, *, anchor_length, anchor_threshold, max_segment, start=0):
    """The module docstring's definition, on the whole track at once."""
    low = np.concatenate(([False], scores < anchor_threshold, [False]))
    edges = np.flatnonzero(low[1:] != low[:-1]).reshape(-1, 2)
    anchors = [start + a + (b - a) // 2 for a, b in edges if b - a >= anchor_length]
    end, s, out = start + len(scores), start, []
    while s < end:
        following = [a for a in anchors if a > s]
        if following and following[0] - s + 1 <= max_segment:
            out.append((s, following[0] + 1))
            s = following[0]
        elif not following and end - s <= max_segment:
            out.append((s, end))
            break
        else:
            window = scores[s - start + max_segment // 2 : s - start + max_segment]
            cut = s + max_segment // 2 + int(np.argmin(window))
            out.append((s, cut + 1))
            s = cut
        if s == end - 1 and not [a for a in anchors if a > s]:
            break
    return out


def track_with(genic_runs: list[tuple[int, int]], length: int) -> np.ndarray:
    """Genic score 0.9 inside the runs, 0.01 elsewhere."""
    scores = np.full(length, 0.01, dtype=np.float32)
    for a, b in genic_runs:
        scores[a:b] = 0.9
    return scores


# --- anchors on hand-built tracks ----------------------------------------------------------------


def test_anchors_sit_in_the_middle_of_long_intergenic_runs():
    # Low runs: [0, 100) (length 100), [150, 160) (10, too short), [200, 300) (100).
    scores = track_with([(100, 150), (160, 200)], 300)
    options = {"anchor_length": 50, "anchor_threshold": 0.05, "max_segment": 10_000}
    # Anchors at 50 and 250; segments share their anchor base.
    assert segments(scores, 300, **options) == [(0, 51), (50, 251), (250, 300)]
    for size in (1, 7, 99, 100, 101):
        assert segments(scores, size, **options) == [(0, 51), (50, 251), (250, 300)]


def test_a_run_is_an_anchor_only_from_anchor_length_and_below_the_threshold():
    scores = track_with([(100, 150)], 250)
    scores[180:230] = 0.06  # above the threshold: the run after the gene is [150, 180) + [230, 250)
    options = {"anchor_threshold": 0.05, "max_segment": 10_000}
    assert segments(scores, 250, anchor_length=30, **options) == [(0, 51), (50, 166), (165, 250)]
    assert segments(scores, 250, anchor_length=31, **options) == [(0, 51), (50, 250)]
    # An even-length run [0, 100) has its anchor at 50; an odd one [0, 101) too.
    odd = track_with([(101, 150)], 150)
    assert segments(odd, 150, anchor_length=30, **options) == [(0, 51), (50, 150)]


def test_a_run_reaching_the_end_of_the_track_is_an_anchor():
    scores = track_with([(0, 100)], 200)
    options = {"anchor_length": 50, "anchor_threshold": 0.05, "max_segment": 10_000}
    assert segments(scores, 200, **options) == [(0, 151), (150, 200)]
    assert segments(scores, 3, **options) == [(0, 151), (150, 200)]


def test_segments_start_at_the_offset():
    scores = track_with([(100, 150)], 300)
    options = {"anchor_length": 50, "anchor_threshold": 0.05, "max_segment": 10_000}
    segmenter = Segmenter(start=1_000, **options)
    found = segmenter.add(scores[:120]) + segmenter.add(scores[120:]) + segmenter.finish()
    assert found == [(1_000, 1_051), (1_050, 1_226), (1_225, 1_300)]


def test_an_all_genic_or_empty_track():
    options = {"anchor_length": 50, "anchor_threshold": 0.05, "max_segment": 10_000}
    assert segments(np.full(500, 0.9, dtype=np.float32), 64, **options) == [(0, 500)]
    segmenter = Segmenter(**options)
    assert segmenter.finish() == []


# --- the max_segment cut ----------------------------------------------------------------------


def test_a_long_segment_is_cut_at_the_lowest_base_of_its_last_half():
    rng = np.random.default_rng(0)
    scores = (0.5 + 0.4 * rng.random(5_000)).astype(np.float32)  # all genic: no anchors
    scores[300] = 0.1  # in the first half of the first 1000 bases: ignored
    scores[700] = 0.2  # the lowest of [500, 1000)
    scores[900] = 0.2  # a tie comes later: the first wins
    options = {"anchor_length": 50, "anchor_threshold": 0.05, "max_segment": 1_000}
    found = segments(scores, 5_000, **options)
    assert found[0] == (0, 701)
    assert found[1][0] == 700
    assert all(hi - lo <= 1_000 for lo, hi in found)
    assert found[-1][1] == 5_000
    for size in (1, 333, 1_000, 1_001):
        assert segments(scores, size, **options) == found
    assert found == reference_segments(scores, **options)


@pytest.mark.parametrize("seed", range(20))
def test_streamed_segments_match_the_definition(seed):
    rng = np.random.default_rng(seed)
    length = int(rng.integers(1, 6_000))
    # Alternating genic and intergenic stretches of random lengths, with noise.
    scores = np.empty(length, dtype=np.float32)
    position, genic = 0, bool(rng.integers(2))
    while position < length:
        run = int(rng.integers(1, 900))
        scores[position : position + run] = 0.9 if genic else 0.01
        position, genic = position + run, not genic
    flips = rng.random(length) < 0.002
    scores[flips] = 0.9
    options = {
        "anchor_length": int(rng.integers(1, 400)),
        "anchor_threshold": 0.05,
        "max_segment": int(rng.integers(1_000, 3_000)),
    }
    expected = reference_segments(scores, **options)
    for size in (1, 97, 1_000, 7_777):
        assert segments(scores, size, **options) == expected, size
    # Consecutive segments share exactly one base and cover the track.
    assert expected[0][0] == 0 and expected[-1][1] == length
    assert all(b[0] == a[1] - 1 for a, b in itertools.pairwise(expected))


# --- hmm_transcripts: block sizes never change the transcripts ---------------------------------


def planted_genome(seed: int = 7, genes: int = 4, gap: int = 6_000):
    """Random DNA with single-exon ORF genes (ATG, random sense codons, TAA) and a track
    that says exon + CDS over each gene."""
    from genatator.annotation.models import Transcript

    rng = np.random.default_rng(seed)
    pieces, spans, position = [], [], 0
    for g in range(genes):
        intergenic = "".join(rng.choice(list("ACGT"), size=gap))
        codons = rng.choice(CODONS, size=int(rng.integers(200, 400)))
        orf = "ATG" + "".join(codons) + "TAA"
        if g % 2:
            orf = orf[::-1].translate(str.maketrans("ACGT", "TGCA"))
        pieces += [intergenic, orf]
        start = position + gap
        spans.append((start, start + len(orf), "-" if g % 2 else "+"))
        position = start + len(orf)
    pieces.append("".join(rng.choice(list("ACGT"), size=gap)))
    sequence = "".join(pieces)
    track = np.full((len(sequence), 5), 0.01, dtype=np.float32)
    for start, end, _ in spans:
        track[start:end, EXON] = 0.95
        track[start:end, CDS] = 0.95
    transcripts = [
        Transcript(f"t{i}", "s", strand, [(a, b)], [(a, b)])
        for i, (a, b, strand) in enumerate(spans)
    ]
    return sequence, track, transcripts


@pytest.fixture(scope="module")
def planted():
    sequence, track, transcripts = planted_genome()
    codon_model = CodonModel.count(
        list(coding_sequences_from_transcripts(transcripts, sequence)),
        background_sequences_from_transcripts(transcripts, sequence),
        order=2,
    )
    parameters = GeneModelParameters(intergenic_length=6_000.0)
    return sequence, track, transcripts, parameters, codon_model


def _decoder(planted, **options) -> HmmDecoder:
    _, _, _, parameters, codon_model = planted
    hmm = HmmOptions(anchor_length=1_000, max_segment=20_000, **options)
    return HmmDecoder(parameters, SpliceTable.canonical(), hmm, codon_model)


def _key(transcripts):
    return [(t.strand, t.exons, t.cds, t.kind, round(t.score or 0.0, 6)) for t in transcripts]


@pytest.mark.parametrize("use_network", [True, False])
def test_hmm_transcripts_do_not_depend_on_block_sizes(planted, use_network):
    sequence, track, transcripts, _, _ = planted
    decoder = _decoder(planted, use_network=use_network)
    results = []
    for size in (1_000, 7_777, len(track)):
        found = list(
            hmm_transcripts(blocks_of(track, size), sequence, seqid="s", offset=0, decoder=decoder)
        )
        results.append(_key(found))
    assert results[0] == results[1] == results[2]
    if use_network:
        found_spans = {(t.strand, t.cds[0], t.cds[-1]) for t in found if t.cds}
        planted_spans = {(t.strand, t.cds[0], t.cds[-1]) for t in transcripts}
        assert found_spans == planted_spans


def test_hmm_transcripts_with_a_site_scorer_and_an_offset(planted):
    sequence, track, _, _, _ = planted
    decoder = _decoder(planted)
    calls = []

    def scorer(lo, hi):
        calls.append((lo, hi))
        return np.full((2, hi - lo), 0.01), np.full((2, hi - lo), 0.01)

    offset = 500
    part = track[offset:]
    whole = list(
        hmm_transcripts(
            [TrackBlock(0, part)], sequence, seqid="s", offset=offset, decoder=decoder,
            site_scorer=scorer,
        )
    )  # fmt: skip
    assert calls[0][0] == offset and calls[-1][1] == len(sequence)
    assert all(b[0] == a[1] - 1 for a, b in itertools.pairwise(calls))
    assert all(t.start >= offset for t in whole)
    calls.clear()
    pieces = list(
        hmm_transcripts(
            blocks_of(part, 777), sequence, seqid="s", offset=offset, decoder=decoder,
            site_scorer=scorer,
        )
    )  # fmt: skip
    assert _key(pieces) == _key(whole)


def test_hmm_transcripts_reject_gapped_blocks(planted):
    sequence, track, _, _, _ = planted
    blocks = [TrackBlock(0, track[:100]), TrackBlock(200, track[200:300])]
    with pytest.raises(ValueError, match="contiguous"):
        list(hmm_transcripts(blocks, sequence, seqid="s", offset=0, decoder=_decoder(planted)))


def test_genic_score_is_the_larger_of_exon_and_intron():
    track = np.zeros((3, 5), dtype=np.float32)
    track[0, 1], track[1, 2], track[2, 0] = 0.7, 0.4, 0.9
    assert genic_score(track).tolist() == pytest.approx([0.7, 0.4, 0.0])
