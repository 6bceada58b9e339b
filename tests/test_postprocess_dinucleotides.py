"""genatator.postprocess.dinucleotides (the splice-site table, the dinucleotide filter) and the
boundary snapping it shares with the site-score snapper."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genatator.annotation.models import Transcript
from genatator.genome import reverse_complement
from genatator.postprocess import SpliceTable, filter_splice_sites
from genatator.postprocess.dinucleotides import flank

# Only GT donors and AG acceptors: a table learned from data, unlike canonical() that also
# allows AC acceptors (which would hide the minus-strand bug tested below).
STRICT = SpliceTable(donor={"GT": 5}, acceptor={"AG": 5})


def planted(length: int, motifs: dict[int, str], filler: str = "C") -> str:
    """A ``filler`` sequence with each motif written at its position."""
    bases = list(filler * length)
    for position, motif in motifs.items():
        bases[position : position + len(motif)] = motif
    return "".join(bases)


def mirror(exons: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    return sorted((length - end, length - start) for start, end in exons)


# --- flank ---------------------------------------------------------------------------------------


def test_flank_in_transcript_orientation():
    sequence = "AAGTCCCAGTTT"
    assert flank(sequence, 2, "right", "+") == ("donor", "GT")
    assert flank(sequence, 9, "left", "+") == ("acceptor", "AG")
    # On - the right side of an exon is its acceptor, read reverse complemented.
    assert flank(sequence, 2, "right", "-") == ("acceptor", "AC")
    assert flank(sequence, 9, "left", "-") == ("donor", "CT")
    assert flank(sequence, 1, "left", "+") == ("acceptor", "")
    assert flank(sequence, 11, "right", "+") == ("donor", "")
    with pytest.raises(ValueError, match="strand"):
        flank(sequence, 2, "right", ".")
    with pytest.raises(ValueError, match="intron_side"):
        flank(sequence, 2, "up", "+")


# --- SpliceTable -----------------------------------------------------------------------------


PLUS_REGION = "CCCC" + "GTTTAG" + "CCCC" + "GCAAAC" + "CCCC"  # exons at 10-14, 20-24, 30-34


def test_add_transcript_counts_both_strands_in_transcript_orientation():
    exons = [(10, 14), (20, 24), (30, 34)]
    table = SpliceTable.empty()
    table.add_transcript(Transcript("p", "c", "+", exons), PLUS_REGION, offset=10)
    minus_region = reverse_complement(PLUS_REGION)
    minus_exons = [(s + 10, e + 10) for s, e in mirror([(0, 4), (10, 14), (20, 24)], 24)]
    table.add_transcript(Transcript("m", "c", "-", minus_exons), minus_region, offset=10)
    assert table.donor == {"GT": 2, "GC": 2}
    assert table.acceptor == {"AG": 2, "AC": 2}
    assert table.by_strand["+"] == {"donor": {"GT": 1, "GC": 1}, "acceptor": {"AG": 1, "AC": 1}}
    assert table.by_strand["-"] == table.by_strand["+"]
    assert table.is_legal_donor("GT") and table.is_legal_donor("gc")
    assert not table.is_legal_donor("AG") and not table.is_legal_acceptor("GT")


def test_add_transcript_skips_n_outside_and_tiny_introns():
    table = SpliceTable.empty()
    region = "CCCC" + "NTTTAG" + "CC" + "G" + "CC"  # intron 14-20 (N donor), intron 22-23
    table.add_transcript(Transcript("t", "c", "+", [(10, 14), (20, 22), (23, 25)]), region, 10)
    assert table.donor == {} and table.acceptor == {"AG": 1}
    # The transcript reaches past the sequence: its flanks there are skipped.
    table.add_transcript(Transcript("u", "c", "+", [(0, 4), (10, 20)]), "CCCCGT", offset=0)
    assert table.donor == {"GT": 1} and table.acceptor == {"AG": 1}
    with pytest.raises(ValueError, match=r"strand '\.'"):
        table.add_transcript(Transcript("v", "c", ".", [(0, 4), (10, 12)]), "C" * 12)


def test_merge_is_a_new_table_with_summed_counts():
    a = SpliceTable.empty()
    a.add_transcript(Transcript("p", "c", "+", [(10, 14), (20, 24)]), PLUS_REGION, offset=10)
    b = SpliceTable.canonical()
    merged = a.merge(b)
    assert merged.donor == {"GT": 2, "GC": 1, "AT": 1}
    assert merged.acceptor == {"AG": 2, "AC": 1}
    assert merged.by_strand["+"] == {"donor": {"GT": 1}, "acceptor": {"AG": 1}}
    assert a.donor == {"GT": 1}  # unchanged


def test_min_count_and_canonical():
    table = SpliceTable(donor={"GT": 3, "GC": 1}, acceptor={"AG": 2}, min_count=2)
    assert table.is_legal_donor("GT") and not table.is_legal_donor("GC")
    assert table.is_legal_acceptor("AG")
    canonical = SpliceTable.canonical()
    legal_donors = {d for d in ("GT", "GC", "AT", "AG", "CT", "NN") if canonical.is_legal_donor(d)}
    legal_acceptors = {a for a in ("AG", "AC", "GT", "CT") if canonical.is_legal_acceptor(a)}
    assert (legal_donors, legal_acceptors) == ({"GT", "GC", "AT"}, {"AG", "AC"})
    with pytest.raises(ValueError, match="min_count must be >= 1"):
        SpliceTable(min_count=0)


def test_dict_round_trip_through_json():
    table = SpliceTable.empty(min_count=2)
    table.add_transcript(Transcript("p", "c", "+", [(10, 14), (20, 24), (30, 34)]), PLUS_REGION, 10)
    data = table.to_dict()
    assert data == {
        "format": 1,
        "min_count": 2,
        "donor": {"GC": 1, "GT": 1},
        "acceptor": {"AC": 1, "AG": 1},
        "by_strand": {
            "+": {"donor": {"GC": 1, "GT": 1}, "acceptor": {"AC": 1, "AG": 1}},
            "-": {"donor": {}, "acceptor": {}},
        },
    }
    assert SpliceTable.from_dict(json.loads(json.dumps(data))) == table
    minimal = SpliceTable.from_dict({"format": 1, "donor": {"GT": 1}, "acceptor": {}})
    assert minimal.min_count == 1 and minimal.by_strand["-"] == {"donor": {}, "acceptor": {}}


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([1, 2], "must be an object, got list"),
        ({"donor": {}, "acceptor": {}}, "unsupported splice table format None"),
        ({"format": 2, "donor": {}, "acceptor": {}}, "format 2; expected 1"),
        ({"format": 1, "donor": {}}, r"lacks \['acceptor'\]"),
        ({"format": 1, "donor": {}, "acceptor": {}, "extra": 1}, r"unknown .* \['extra'\]"),
        ({"format": 1, "donor": {"GTA": 1}, "acceptor": {}}, "'GTA' is not an ACGT dinucleotide"),
        ({"format": 1, "donor": {"gt": 1}, "acceptor": {}}, "'gt' is not an ACGT"),
        ({"format": 1, "donor": {"GT": -1}, "acceptor": {}}, r"donor\[GT\] must be an integer"),
        ({"format": 1, "donor": {"GT": 1.5}, "acceptor": {}}, "must be an integer >= 0"),
        ({"format": 1, "donor": [], "acceptor": {}}, "donor must be an object of counts"),
        ({"format": 1, "donor": {}, "acceptor": {}, "min_count": 0}, "min_count must be >= 1"),
        ({"format": 1, "donor": {}, "acceptor": {}, "by_strand": {".": {}}}, r"bad entry '\.'"),
        (
            {"format": 1, "donor": {}, "acceptor": {}, "by_strand": {"+": {"x": {}}}},
            r"by_strand\[\+\] has unknown keys",
        ),
    ],
)
def test_from_dict_rejects_malformed_input(data, match):
    with pytest.raises(ValueError, match=match):
        SpliceTable.from_dict(data)


# --- filter_splice_sites ---------------------------------------------------------------------

EXONS4 = [(0, 10), (20, 30), (40, 50), (60, 70)]


def test_plus_internal_exon_with_illegal_flank_is_dropped():
    # Intron 10-20 GT..AG, intron 30-40 GT..(CC), intron 50-60 GT..AG.
    sequence = planted(80, {10: "GT", 18: "AG", 30: "GT", 50: "GT", 58: "AG"})
    # Exon 40-50's acceptor is CC: dropped; the exon 20-30 keeps its legal GT donor.
    assert filter_splice_sites(EXONS4, "+", sequence, STRICT, 20) == [(0, 10), (20, 30), (60, 70)]
    legal = planted(80, {10: "GT", 18: "AG", 30: "GT", 38: "AG", 50: "GT", 58: "AG"})
    assert filter_splice_sites(EXONS4, "+", legal, STRICT, 20) == EXONS4


def test_minus_strand_reads_flanks_reverse_complemented():
    # On - a correct intron reads CT..AC in genome orientation (GT..AG reverse complemented).
    sequence = planted(
        80,
        {
            10: "CT",  # exon 0-10's acceptor (AG): legal
            18: "AC",  # exon 20-30's donor (GT): legal
            30: "CT",  # exon 20-30's acceptor (AG): legal
            38: "AG",  # exon 40-50's donor reads CT: illegal
            50: "GT",  # exon 40-50's acceptor reads AC: illegal
            58: "AC",  # exon 60-70's donor (GT): legal
        },
    )
    assert filter_splice_sites(EXONS4, "-", sequence, STRICT, 20) == [(0, 10), (20, 30), (60, 70)]

    def buggy_keeps(start: int, end: int) -> bool:
        # The reference pipeline's rule for -: the left flank against the + acceptor set (and the
        # right flank against the + donor set), with no reverse complement.
        return STRICT.is_legal_acceptor(sequence[start - 2 : start]) and STRICT.is_legal_donor(
            sequence[end : end + 2]
        )

    # The bug would keep the wrong internal exon and drop the right one.
    assert (buggy_keeps(20, 30), buggy_keeps(40, 50)) == (False, True)


def test_terminal_boundaries_move_to_nearest_legal_site_inside_first_on_ties():
    # First exon 0-10: its donor at 10 is CC; GT at edge 8 (2 inside) and at edge 12 (2 outside).
    # Last exon 60-70: its acceptor at 60 is CC; AG ending at 57 (3 outside) and 63 (3 inside).
    sequence = planted(
        80, {8: "GT", 12: "GT", 18: "AG", 30: "GT", 38: "AG", 50: "GT", 55: "AG", 61: "AG"}
    )
    assert filter_splice_sites(EXONS4, "+", sequence, STRICT, 20) == [
        (0, 8),
        (20, 30),
        (40, 50),
        (63, 70),
    ]
    # Only the outside sites: they are used when nothing nearer exists.
    sequence = planted(80, {12: "GT", 18: "AG", 30: "GT", 38: "AG", 50: "GT", 55: "AG"})
    assert filter_splice_sites(EXONS4, "+", sequence, STRICT, 20) == [
        (0, 12),
        (20, 30),
        (40, 50),
        (57, 70),
    ]
    # Out of reach: both terminal exons are dropped.
    assert filter_splice_sites(EXONS4, "+", sequence, STRICT, 1) == [(20, 30), (40, 50)]


def test_moved_boundaries_keep_exon_and_intron_sizes():
    # Both boundaries are illegal in place (CC). The only donors: edge 0 (would empty the exon)
    # and edge 17 (would leave a 3-nt intron before the exon at 20): the first exon is dropped.
    sequence = planted(40, {0: "GT", 17: "GT", 23: "AG"})
    assert filter_splice_sites([(0, 10), (20, 30)], "+", sequence, STRICT, 10) == [(20, 30)]
    # Edge 16 leaves a 4-nt intron: allowed; then the last exon moves to the AG ending at 25.
    sequence = planted(40, {16: "GT", 23: "AG"})
    assert filter_splice_sites([(0, 10), (20, 30)], "+", sequence, STRICT, 10) == [
        (0, 16),
        (25, 30),
    ]


def test_dropping_the_five_prime_exon_leaves_a_single_exon_unchecked():
    sequence = planted(40, {})  # no legal site anywhere
    for strand in "+-":
        assert filter_splice_sites([(0, 10), (20, 30)], strand, sequence, STRICT, 5) == [
            (20, 30) if strand == "+" else (0, 10)
        ]


def test_single_exon_and_empty_are_unchanged():
    assert filter_splice_sites([(3, 9)], "+", "C" * 12, STRICT, 5) == [(3, 9)]
    assert filter_splice_sites([], "-", "C" * 12, STRICT, 5) == []
    with pytest.raises(ValueError, match="strand"):
        filter_splice_sites([(0, 3), (9, 12)], "?", "C" * 12, STRICT, 5)
    with pytest.raises(ValueError, match="max_shift"):
        filter_splice_sites([(0, 3), (9, 12)], "+", "C" * 12, STRICT, -1)


def test_n_never_forms_a_legal_site():
    sequence = planted(40, {10: "NT", 18: "AG"})
    assert filter_splice_sites([(0, 10), (20, 30)], "+", sequence, SpliceTable.canonical(), 0) == [
        (20, 30)
    ]


def test_strands_are_mirror_images():
    rng = np.random.default_rng(7)
    canonical = SpliceTable.canonical()
    changed = 0
    for _ in range(60):
        length = 300
        sequence = "".join(rng.choice(list("ACGT"), size=length))
        cuts = np.sort(rng.choice(np.arange(5, length - 5), size=8, replace=False))
        exons = [(int(a), int(b)) for a, b in cuts.reshape(-1, 2)]
        plus = filter_splice_sites(exons, "+", sequence, canonical, 6)
        minus = filter_splice_sites(
            mirror(exons, length), "-", reverse_complement(sequence), canonical, 6
        )
        assert minus == mirror(plus, length)
        changed += plus != exons
    assert changed > 30  # random flanks: the filter did work


def test_snap_boundaries_takes_the_best_admissible_move_without_crossing() -> None:
    from genatator.postprocess.boundaries import MIN_MOVED_INTRON, snap_boundaries

    exons = [(0, 10), (20, 30)]
    # Every position is admissible; the score prefers positions near 14 for the first exon's
    # end and near 26 for the second's start, which would leave a 12-nt intron: both move.
    target = {"right": 14, "left": 26}

    def score(edge: int, side: str) -> float:
        return -abs(edge - target[side])

    assert snap_boundaries(exons, lambda e, s: True, score, 5) == [(0, 14), (25, 30)]
    # Moves stop at the intron's minimum: the end may go no further than start - 4.
    target.update(right=40, left=0)
    snapped = snap_boundaries(exons, lambda e, s: True, score, 30)
    assert snapped[1][0] - snapped[0][1] >= MIN_MOVED_INTRON
    assert snapped[0][0] == 0 and snapped[1][1] == 30  # transcript ends never move
    # Ties prefer the smaller move; nothing admissible in reach leaves the boundary alone.
    assert snap_boundaries(exons, lambda e, s: True, lambda e, s: 0.0, 5) == exons
    assert snap_boundaries(exons, lambda e, s: e > 100, score, 5) == exons
