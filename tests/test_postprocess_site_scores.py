"""Tests of genatator.postprocess.site_scores: exon boundaries refined by splice-site scores."""

from __future__ import annotations

import numpy as np
import pytest

from genatator.annotation.models import Gene
from genatator.annotation.write import write_gff3
from genatator.genome import reverse_complement
from genatator.labels import EXON, INTRON
from genatator.postprocess import SpliceTable, ThresholdOptions, decode_region, filter_splice_sites
from genatator.postprocess.site_scores import (
    SiteTrack,
    admissible_edge,
    edge_site,
    site_score_attributes,
    snap_to_site_scores,
)
from tests.helpers import assert_valid_gff3

TABLE = SpliceTable.canonical()  # donors GT, GC, AT; acceptors AG, AC


def planted(length: int, motifs: dict[int, str], filler: str = "C") -> str:
    """A ``filler`` sequence with each motif written at its position."""
    bases = list(filler * length)
    for position, motif in motifs.items():
        bases[position : position + len(motif)] = motif
    return "".join(bases)


def track(length: int, donors: dict[int, float], acceptors: dict[int, float]) -> SiteTrack:
    donor, acceptor = np.zeros(length), np.zeros(length)
    for position, value in donors.items():
        donor[position] = value
    for position, value in acceptors.items():
        acceptor[position] = value
    return SiteTrack(donor, acceptor)


def test_edge_site_both_strands():
    # Intron [10, 20): on + its donor is base 10 and its acceptor base 19; on - the reverse.
    assert edge_site(10, "right", "+") == ("donor", 10)
    assert edge_site(20, "left", "+") == ("acceptor", 19)
    assert edge_site(10, "right", "-") == ("acceptor", 10)
    assert edge_site(20, "left", "-") == ("donor", 19)


def test_snap_picks_the_best_scoring_legal_site_not_the_nearest():
    # Exon [0, 30) then intron, exon [60, 100). GT donors at 28 and 35; AG acceptors ending at 58
    # and 64 (acceptor site bases 57 and 63).
    sequence = planted(100, {28: "GT", 35: "GT", 56: "AG", 62: "AG"})
    scores = track(100, donors={28: 0.2, 35: 0.9}, acceptors={57: 0.3, 63: 0.8})
    ok = admissible_edge(sequence, "+", scores, TABLE, rare_score=0.5, confident_score=0.99)
    snapped = snap_to_site_scores([(0, 30), (60, 100)], "+", scores, ok, max_shift=10)
    assert snapped == [(0, 35), (64, 100)]
    # Out of reach (max_shift 3): the nearer, lower-scoring sites win.
    snapped = snap_to_site_scores([(0, 30), (60, 100)], "+", scores, ok, max_shift=3)
    assert snapped == [(0, 28), (58, 100)]


def test_snap_on_the_minus_strand_matches_the_mirrored_plus_case():
    plus = planted(100, {28: "GT", 35: "GT", 56: "AG", 62: "AG"})
    minus = reverse_complement(plus)
    # Mirror: plus position p maps to 99 - p; the plus donor at 35 becomes a minus donor at 64.
    scores = track(100, donors={99 - 28: 0.2, 99 - 35: 0.9}, acceptors={99 - 57: 0.3, 99 - 63: 0.8})
    ok = admissible_edge(minus, "-", scores, TABLE, rare_score=0.5, confident_score=0.99)
    snapped = snap_to_site_scores([(0, 40), (70, 100)], "-", scores, ok, max_shift=10)
    assert snapped == [(0, 36), (65, 100)]


def test_rare_motifs_need_a_high_score():
    # A GC donor at 32 scores 0.4: below rare_score 0.5 it is not a candidate; GT at 27 wins.
    sequence = planted(100, {27: "GT", 32: "GC", 58: "AG"})
    scores = track(100, donors={27: 0.3, 32: 0.4}, acceptors={59: 0.9})
    ok = admissible_edge(sequence, "+", scores, TABLE, rare_score=0.5, confident_score=0.99)
    assert snap_to_site_scores([(0, 30), (60, 100)], "+", scores, ok, 10) == [(0, 27), (60, 100)]
    # Scored 0.6 the GC donor is admissible and, scoring highest, chosen.
    scores.donor[32] = 0.6
    assert snap_to_site_scores([(0, 30), (60, 100)], "+", scores, ok, 10) == [(0, 32), (60, 100)]


def test_internal_exon_with_illegal_motif_is_kept_only_when_confident():
    # Exons [0,20) [40,60) [80,100); the middle exon's acceptor dinucleotide (38..40) is "CC".
    sequence = planted(100, {20: "GT", 60: "GT", 78: "AG"})
    exons = [(0, 20), (40, 60), (80, 100)]
    low = track(100, donors={20: 0.9, 60: 0.9}, acceptors={39: 0.5, 79: 0.9})
    ok = admissible_edge(sequence, "+", low, TABLE, rare_score=0.5, confident_score=0.95)
    assert filter_splice_sites(exons, "+", sequence, TABLE, 0, ok) == [(0, 20), (80, 100)]
    high = track(100, donors={20: 0.9, 60: 0.97}, acceptors={39: 0.96, 79: 0.9})
    ok = admissible_edge(sequence, "+", high, TABLE, rare_score=0.5, confident_score=0.95)
    assert filter_splice_sites(exons, "+", sequence, TABLE, 0, ok) == exons


def test_site_score_attributes_per_exon_in_transcription_order():
    exons = [(0, 20), (40, 60), (80, 100)]
    plus = track(100, donors={20: 0.91, 60: 0.5}, acceptors={39: 0.25, 79: 0.75})
    per_exon, transcript = site_score_attributes(exons, "+", plus)
    assert per_exon == [
        {"donor_score": "0.91"},
        {"acceptor_score": "0.25", "donor_score": "0.5"},
        {"acceptor_score": "0.75"},
    ]
    assert transcript == {"min_splice_score": "0.25"}
    # On - the first exon in genome order is the last one transcribed: its right edge is an
    # acceptor (base 20), and the last exon's left edge a donor (base 79).
    minus = track(100, donors={39: 0.6, 79: 0.7}, acceptors={20: 0.8, 60: 0.1})
    per_exon, transcript = site_score_attributes(exons, "-", minus)
    assert per_exon == [
        {"acceptor_score": "0.8"},
        {"donor_score": "0.6", "acceptor_score": "0.1"},
        {"donor_score": "0.7"},
    ]
    assert transcript == {"min_splice_score": "0.1"}
    assert site_score_attributes([(0, 50)], "+", plus) == ([], {})


def _probabilities(length: int, exons: list[tuple[int, int]]) -> np.ndarray:
    probabilities = np.zeros((length, 5), dtype=np.float32)
    probabilities[exons[0][0] : exons[-1][1], INTRON] = 0.9
    for start, end in exons:
        probabilities[start:end, EXON] = 0.9
        probabilities[start:end, INTRON] = 0.05
    return probabilities


def test_decode_region_with_site_scores_moves_boundaries_and_writes_attributes(tmp_path, gt_binary):
    # Model exons [0,100) [150,300) with fuzzy edges; the splice model puts the sites at 106 / 143.
    sequence = planted(300, {100: "GT", 106: "GT", 148: "AG", 142: "AG"}, filler="A")
    probabilities = _probabilities(300, [(0, 100), (150, 300)])
    donor, acceptor = np.zeros((2, 300)), np.zeros((2, 300))
    donor[0, 106], donor[0, 100] = 0.95, 0.2
    acceptor[0, 143], acceptor[0, 149] = 0.9, 0.1
    options = ThresholdOptions(min_cds_codons=1000, strand_flank=10)
    plain = decode_region(probabilities, sequence, seqid="c", options=options)
    assert plain is not None and plain.exons == [(0, 100), (150, 300)]
    refined = decode_region(
        probabilities, sequence, seqid="c", options=options, site_scores=(donor, acceptor)
    )
    assert refined is not None and refined.strand == "+"
    assert refined.exons == [(0, 106), (144, 300)]
    assert refined.exon_attributes == [{"donor_score": "0.95"}, {"acceptor_score": "0.9"}]
    assert refined.attributes["min_splice_score"] == "0.9"
    refined.id, refined.gene_id = "c.g1.t1", "c.g1"
    path = tmp_path / "refined.gff3"
    with open(path, "w") as handle:
        write_gff3([Gene("c.g1", "c", "+", [refined])], handle, sequence_lengths={"c": 300})
    text = path.read_text()
    assert "donor_score=0.95" in text and "acceptor_score=0.9" in text
    assert_valid_gff3(gt_binary, path)


@pytest.mark.parametrize("name", ["rare_site_score", "confident_site_score"])
def test_score_options_are_checked(name):
    with pytest.raises(ValueError, match=name):
        ThresholdOptions(**{name: 1.5})
    with pytest.raises(ValueError, match="site_shift"):
        ThresholdOptions(site_shift=-1)
