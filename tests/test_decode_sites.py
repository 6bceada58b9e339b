"""Splice-site matrices: exact counts, strand symmetry of the scores, save and load."""

from __future__ import annotations

import numpy as np
import pytest

from genatator.annotation.models import Transcript
from genatator.decode.content import encode
from genatator.decode.sites import ACCEPTOR_OFFSETS, DONOR_OFFSETS, SiteCounts, SiteMatrices
from genatator.errors import ModelError
from genatator.genome import reverse_complement

PAD = 24


def _planted(seed: int = 3) -> tuple[str, Transcript]:
    """Random DNA with one + intron [100, 300) (GT…AG) between two exons."""
    rng = np.random.default_rng(seed)
    bases = list("".join(rng.choice(list("ACGT"), size=400)))
    bases[100:102], bases[298:300] = list("GT"), list("AG")
    sequence = "".join(bases)
    return sequence, Transcript("t", "s", "+", [(50, 100), (300, 350)])


def _padded(sequence: str) -> np.ndarray:
    codes = np.full(len(sequence) + 2 * PAD, 4, dtype=np.uint8)
    codes[PAD:-PAD] = encode(sequence)
    return codes


def test_counts_are_the_bases_at_each_offset_on_both_strands():
    sequence, plus = _planted()
    counts = SiteCounts(pseudocount=0.0)
    counts.add(sequence, [plus])
    codes = encode(sequence)
    expected_donor = np.zeros((len(DONOR_OFFSETS), 4))
    expected_donor[np.arange(len(DONOR_OFFSETS)), codes[100 + DONOR_OFFSETS]] = 1
    np.testing.assert_array_equal(counts.donor, expected_donor)
    expected_acceptor = np.zeros((len(ACCEPTOR_OFFSETS), 4))
    expected_acceptor[np.arange(len(ACCEPTOR_OFFSETS)), codes[300 + ACCEPTOR_OFFSETS]] = 1
    np.testing.assert_array_equal(counts.acceptor, expected_acceptor)
    np.testing.assert_array_equal(counts.background, np.bincount(codes, minlength=4))

    # The same intron on the reverse complement, as a - transcript, counts the same.
    mirrored = SiteCounts(pseudocount=0.0)
    n = len(sequence)
    minus = Transcript("t", "s", "-", [(n - 350, n - 300), (n - 100, n - 50)])
    mirrored.add(reverse_complement(sequence), [minus])
    np.testing.assert_array_equal(mirrored.donor, counts.donor)
    np.testing.assert_array_equal(mirrored.acceptor, counts.acceptor)


def test_log_odds_against_the_base_composition():
    counts = SiteCounts(pseudocount=1.0)
    counts.add(
        "AAAAGTAAGTACCCCCCCCCCCCCCCCCCCCCCAGGG", [Transcript("t", "s", "+", [(0, 4), (34, 37)])]
    )
    matrices = counts.matrices()
    # Offset +4 of the donor (the intron's fifth base) is G in the only intron: (1 + 1) / (1 + 4).
    background = counts.background / counts.background.sum()
    row = list(DONOR_OFFSETS).index(4)
    assert matrices.donor[row, 2] == pytest.approx(np.log(2 / 5) - np.log(background[2]))
    assert matrices.donor[row, 0] == pytest.approx(np.log(1 / 5) - np.log(background[0]))
    assert (matrices.donor[:, 4] == 0).all() and (matrices.acceptor[:, 4] == 0).all()


def test_scores_follow_the_condition_conventions_on_both_strands():
    sequence, plus = _planted()
    matrices = SiteMatrices.count([(sequence, [plus], 0)])
    codes = encode(sequence)
    own_donor = matrices.donor[np.arange(len(DONOR_OFFSETS)), codes[100 + DONOR_OFFSETS]].sum()
    own_acceptor = matrices.acceptor[
        np.arange(len(ACCEPTOR_OFFSETS)), codes[300 + ACCEPTOR_OFFSETS]
    ].sum()
    n = len(sequence)
    scores = matrices.scores(_padded(sequence), n, PAD)
    # + intron starts at 100; the next exon starts at 300.
    assert scores["donor_p"][100] == pytest.approx(own_donor)
    assert scores["acceptor_p"][300] == pytest.approx(own_acceptor)
    # Mirrored: the - intron spans [n - 300, n - 100); it starts (acceptor side) at n - 300 and
    # the exon after its donor starts at n - 100.
    mirrored = matrices.scores(_padded(reverse_complement(sequence)), n, PAD)
    assert mirrored["acceptor_m"][n - 300] == pytest.approx(own_acceptor)
    assert mirrored["donor_m"][n - 100] == pytest.approx(own_donor)
    np.testing.assert_allclose(mirrored["donor_m"][::-1][:-1], scores["donor_p"][1:], atol=1e-5)


def test_save_load_round_trip_and_bad_files(tmp_path):
    sequence, plus = _planted()
    matrices = SiteMatrices.count([(sequence, [plus], 0)])
    path = tmp_path / "site_model.npz"
    matrices.save(path)
    loaded = SiteMatrices.load(path)
    np.testing.assert_array_equal(loaded.donor, matrices.donor)
    np.testing.assert_array_equal(loaded.acceptor, matrices.acceptor)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match=r"bad\.npz"):
        SiteMatrices.load(tmp_path / "bad.npz")
    np.savez(tmp_path / "shape.npz", format=1, donor=np.zeros((3, 5)), acceptor=np.zeros((3, 5)))
    with pytest.raises(ModelError, match="shapes"):
        SiteMatrices.load(tmp_path / "shape.npz")
