"""Tests of genatator.postprocess.cds: spliced sequences, ORFs and CDS choice on both strands."""

from __future__ import annotations

import numpy as np
import pytest
from Bio.Seq import Seq

from genatator.annotation.models import Transcript
from genatator.annotation.write import cds_phases
from genatator.genome import reverse_complement
from genatator.labels import CDS, EXON, FIVE_PRIME_UTR, INTRON, THREE_PRIME_UTR
from genatator.postprocess import (
    coding_sequence,
    is_complete_orf,
    longest_orf_cds,
    model_cds,
    orfs,
    protein,
    spliced_positions,
    spliced_sequence,
)

STOPS = ("TAA", "TAG", "TGA")


def mirror(spans: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    return sorted((length - end, length - start) for start, end in spans)


def naive_orfs(sequence: str) -> list[tuple[int, int]]:
    """Reference ORF finder, one codon at a time."""
    found = []
    for frame in range(3):
        start = None
        for i in range(frame, len(sequence) - 2, 3):
            codon = sequence[i : i + 3]
            if codon == "ATG" and start is None:
                start = i
            elif codon in STOPS:
                if start is not None:
                    found.append((start, i + 3))
                start = None
    return sorted(found)


def coding_track(length: int, cds_positions: list[tuple[int, int]]) -> np.ndarray:
    """Probabilities: exon everywhere, CDS on the given spans, 3'UTR elsewhere."""
    probabilities = np.full((length, 5), 0.1, dtype=np.float32)
    probabilities[:, EXON] = 0.9
    probabilities[:, THREE_PRIME_UTR] = 0.6
    for start, end in cds_positions:
        probabilities[start:end, CDS] = 0.9
        probabilities[start:end, THREE_PRIME_UTR] = 0.1
    return probabilities


# --- spliced sequence and positions ------------------------------------------------------------


def test_spliced_sequence_and_positions_both_strands():
    sequence = "AACCGGTTAC"
    exons = [(1, 3), (5, 8)]
    assert spliced_sequence(sequence, exons, "+") == "ACGTT"
    assert spliced_sequence(sequence, exons, "-") == "AACGT"
    assert spliced_positions(exons, "+").tolist() == [1, 2, 5, 6, 7]
    assert spliced_positions(exons, "-").tolist() == [7, 6, 5, 2, 1]
    assert spliced_positions([], "+").tolist() == []
    with pytest.raises(ValueError, match="reach outside"):
        spliced_sequence(sequence, [(8, 12)], "+")
    with pytest.raises(ValueError, match="strand"):
        spliced_positions(exons, ".")


# --- ORFs --------------------------------------------------------------------------------------


def test_orfs_exact():
    assert orfs("CCCATGAAATAGGG") == [(3, 12)]
    # Two ORFs in frame 0; frame 1 has a stop but no ATG before it; frame 2 no stop.
    assert orfs("ATGATGTAAATGCCCTGA") == [(0, 9), (9, 18)]
    assert orfs("ATGAAA") == []  # no stop: not complete
    assert orfs("TAG") == [] and orfs("") == [] and orfs("AT") == []


def test_orfs_match_a_codon_by_codon_reference():
    rng = np.random.default_rng(3)
    total = 0
    for length in (50, 200, 1000, 1001, 1002):
        sequence = "".join(rng.choice(list("ACGT"), size=length))
        found = orfs(sequence)
        assert found == naive_orfs(sequence)
        assert all(is_complete_orf(sequence[a:b]) for a, b in found)
        total += len(found)
    assert total > 20


def test_is_complete_orf():
    assert is_complete_orf("ATGAAATAG")
    assert is_complete_orf("ATGTAG")
    assert not is_complete_orf("ATGTAATAG")  # internal stop
    assert not is_complete_orf("ATGAAAAAA")  # no stop
    assert not is_complete_orf("CTGAAATAG")  # no ATG
    assert not is_complete_orf("ATGAATAG")  # not whole codons
    assert not is_complete_orf("TAG")


# --- longest ORF -------------------------------------------------------------------------------


def test_single_exon_reference_case_both_strands():
    sequence = "CCCATGAAATAGGG"
    assert longest_orf_cds(sequence, [(0, 14)], "+") == [(3, 12)]
    minus = reverse_complement(sequence)
    assert longest_orf_cds(minus, [(0, 14)], "-") == [(2, 11)]
    # On + the reverse complement holds no ORF.
    assert longest_orf_cds(minus, [(0, 14)], "+") == []


# Exon 95-105 ends ...ATGAA, intron 105-110, exon 110-120 starts ATAG: spliced ATG AAA TAG.
SPLIT = "C" * 95 + "CCCCCATGAA" + "GTCAG" + "ATAGCCCCCC" + "C" * 10
SPLIT_EXONS = [(95, 105), (110, 120)]
SPLIT_CDS = [(100, 105), (110, 114)]


def test_cds_split_at_an_intron_plus():
    assert longest_orf_cds(SPLIT, SPLIT_EXONS, "+") == SPLIT_CDS
    t = Transcript("t", "c", "+", SPLIT_EXONS, SPLIT_CDS)
    assert cds_phases(t) == [0, 1]
    assert coding_sequence(t, SPLIT) == "ATGAAATAG"
    assert protein(t, SPLIT) == "MK"
    probabilities = coding_track(len(SPLIT), SPLIT_CDS)
    assert model_cds(probabilities, SPLIT, SPLIT_EXONS, "+") == SPLIT_CDS


def test_cds_split_at_an_intron_minus():
    length = len(SPLIT)
    sequence = reverse_complement(SPLIT)
    exons, expected = mirror(SPLIT_EXONS, length), mirror(SPLIT_CDS, length)
    assert expected == [(length - 114, length - 110), (length - 105, length - 100)]
    assert longest_orf_cds(sequence, exons, "-") == expected
    t = Transcript("t", "c", "-", exons, expected)
    # The 5-nt segment comes first in transcription order: phase 0, then 1 (genome order 1, 0).
    assert cds_phases(t) == [1, 0]
    assert coding_sequence(t, sequence) == "ATGAAATAG"
    assert protein(t, sequence) == "MK"
    probabilities = coding_track(length, expected)
    assert model_cds(probabilities, sequence, exons, "-") == expected


def test_coding_sequence_with_offset_and_non_coding():
    t = Transcript("t", "c", "+", [(1095, 1105), (1110, 1120)], [(1100, 1105), (1110, 1114)])
    assert coding_sequence(t, SPLIT, offset=1000) == "ATGAAATAG"
    assert protein(t, SPLIT, offset=1000) == "MK"
    lnc = Transcript("l", "c", "-", [(0, 10)], kind="lnc_RNA")
    assert coding_sequence(lnc, SPLIT) == "" and protein(lnc, SPLIT) == ""
    # A CDS from elsewhere with a trailing partial codon: the whole codons are translated.
    partial = Transcript("p", "c", "+", [(0, 14)], [(3, 11)])
    assert protein(partial, "CCCATGAAATAGGG") == "MK"


def test_longest_orf_ties_go_to_the_earliest():
    # Two equally long ORFs (9 nt) and a shorter one (6 nt).
    sequence = "CATGCCCTGACCATGAAATAACCATGTGA"
    assert orfs(sequence) == [(1, 10), (12, 21), (23, 29)]
    assert longest_orf_cds(sequence, [(0, len(sequence))], "+") == [(1, 10)]


# --- model CDS ---------------------------------------------------------------------------------

# A 30-nt ORF (0-30) then a 12-nt one (33-45): the longest ORF and the model can disagree.
TWO_ORFS = "ATG" + "GCC" * 8 + "TAA" + "CCC" + "ATGGCCGCCTGA" + "C" * 10
LONG, SHORT = (0, 30), (33, 45)


def test_model_cds_prefers_overlap_over_length():
    exons = [(0, len(TWO_ORFS))]
    assert orfs(TWO_ORFS) == [LONG, SHORT]
    assert longest_orf_cds(TWO_ORFS, exons, "+") == [LONG]
    probabilities = coding_track(len(TWO_ORFS), [SHORT])
    assert model_cds(probabilities, TWO_ORFS, exons, "+") == [SHORT]


def test_model_cds_needs_half_of_its_bases_covered():
    exons = [(0, len(TWO_ORFS))]
    # 12 model bases, 6 of them inside the short ORF (exactly half): kept.
    probabilities = coding_track(len(TWO_ORFS), [(39, 51)])
    assert model_cds(probabilities, TWO_ORFS, exons, "+") == [SHORT]
    # 13 model bases, 6 covered (under half): no CDS.
    probabilities = coding_track(len(TWO_ORFS), [(39, 52)])
    assert model_cds(probabilities, TWO_ORFS, exons, "+") == []


def test_model_cds_ties_go_to_the_longer_orf():
    exons = [(0, len(TWO_ORFS))]
    # Model bases 27-30 (the long ORF's stop) and 33-36 (the short one's ATG): 3 each.
    probabilities = coding_track(len(TWO_ORFS), [(27, 30), (33, 36)])
    assert model_cds(probabilities, TWO_ORFS, exons, "+") == [LONG]


def test_model_cds_ignores_intronic_and_weaker_cds_probability():
    exons = [(0, len(TWO_ORFS))]
    probabilities = coding_track(len(TWO_ORFS), [])
    assert model_cds(probabilities, TWO_ORFS, exons, "+") == []
    # Two bases only: fewer than 3.
    assert model_cds(coding_track(len(TWO_ORFS), [(33, 35)]), TWO_ORFS, exons, "+") == []
    # p_CDS must beat each of p_intron, p_5UTR and p_3UTR.
    for rival in (INTRON, FIVE_PRIME_UTR, THREE_PRIME_UTR):
        probabilities = coding_track(len(TWO_ORFS), [SHORT])
        probabilities[:, rival] = 0.95
        assert model_cds(probabilities, TWO_ORFS, exons, "+") == []
    # CDS probability outside the exons does not count.
    probabilities = coding_track(len(TWO_ORFS), [SHORT])
    assert model_cds(probabilities, TWO_ORFS, [(0, 30)], "+") == []


def test_cds_from_random_transcripts_always_translates():
    rng = np.random.default_rng(11)
    checked = 0
    for _ in range(40):
        sequence = "".join(rng.choice(list("ACGT"), size=600))
        cuts = np.sort(rng.choice(np.arange(1, 599), size=6, replace=False))
        exons = [(int(a), int(b)) for a, b in cuts.reshape(-1, 2)]
        for strand in "+-":
            cds = longest_orf_cds(sequence, exons, strand)
            if not cds:
                continue
            t = Transcript("t", "c", strand, exons, cds)
            coding = coding_sequence(t, sequence)
            translated = str(Seq(coding).translate())
            assert translated[0] == "M" and translated.index("*") == len(translated) - 1
            assert protein(t, sequence) == translated[:-1]
            # Every CDS segment lies inside an exon.
            assert all(any(a <= s and e <= b for a, b in exons) for s, e in cds)
            checked += 1
    assert checked > 40
