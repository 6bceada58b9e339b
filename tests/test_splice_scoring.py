"""Per-position splice scoring with fake models, and its BED / bedGraph output."""

from __future__ import annotations

import io
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from genatator.splice.bed import write_bedgraph, write_sites_bed
from genatator.splice.scoring import (
    ACCEPTOR_MOTIFS,
    DONOR_MOTIFS,
    SiteScores,
    candidate_masks,
    iter_blocks,
    score_region,
    score_sequence,
)
from genatator.splice.windows import PAD, encode

A, C, G, T = range(4)
LN3 = math.log(3.0)
# Hand-built sequence (genome orientation), 18 nt:
#   0 C  1 C  2 G  3 T  4 C  5 C  6 C  7 T  8 C  9 C  10 C  11 A  12 C  13 C  14 A  15 G  16 C  17 C
# + strand: GT at 2-3 -> donor 2; AG at 14-15 -> acceptor 15.
# - strand: the reverse complement of a minus-strand intron "GT...AG" reads "CT...AC" on the
#   genome: CT at 6-7 -> acceptor 6 (motif [p, p+2)); AC at 11-12 -> donor 12 (motif [p-1, p+1)).
SEQUENCE = "CCGTCCCTCCCACCAGCC"


def _revcomp(text: str) -> str:
    return text[::-1].translate(str.maketrans("ACGTN", "TGCAN"))


class DenseFake(nn.Module):
    """Dense fake: logits at t depend on codes t-1, t, t+1 only (context 2, i.e. +-1).

    Donor logit ln 3 at a G followed by T, acceptor logit ln 3 at a G preceded by A, else -50;
    neither logit 0. A lone site scores 3 / (3 + 1) = 0.75, a non-site ~0.
    """

    dense = True
    context = 2

    def __init__(self) -> None:
        super().__init__()
        self.config = SimpleNamespace(window=8)
        self.calls: list[tuple[int, ...]] = []

    def forward_dense(self, codes: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(codes.shape))
        nxt = nn.functional.pad(codes[:, 1:], (0, 1), value=PAD)
        prev = nn.functional.pad(codes[:, :-1], (1, 0), value=PAD)
        donor = (codes == G) & (nxt == T)
        acceptor = (prev == A) & (codes == G)
        low = torch.full(codes.shape, -50.0)
        return torch.stack(
            [
                torch.where(donor, LN3, low),
                torch.where(acceptor, LN3, low),
                torch.zeros(codes.shape),
            ],
            dim=-1,
        )


class ConvFake(nn.Module):
    """Dense fake with random weights and a receptive field of exactly +-3 (context 6)."""

    dense = True
    context = 6

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.config = SimpleNamespace(window=8)
        self.embed = nn.Embedding(6, 4)
        self.conv = nn.Conv1d(4, 3, kernel_size=7, padding=3)

    def forward_dense(self, codes: torch.Tensor) -> torch.Tensor:
        return self.conv(self.embed(codes).transpose(1, 2)).transpose(1, 2)


class WindowFake(nn.Module):
    """Window fake reading the centre dinucleotides; records every window it is shown.

    Donor logit ln 3 when window[c:c+2] is a donor motif, acceptor logit ln 3 when
    window[c-1:c+1] is an acceptor motif, else 0 (so a non-candidate would score 1/3).
    """

    dense = False

    def __init__(self, window: int = 8) -> None:
        super().__init__()
        self.config = SimpleNamespace(window=window)
        self.seen: list[torch.Tensor] = []

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        self.seen.append(codes.clone())
        c = codes.shape[1] // 2
        pair_donor = codes[:, c] * 6 + codes[:, c + 1]
        pair_acceptor = codes[:, c - 1] * 6 + codes[:, c]
        donor = torch.zeros(len(codes), dtype=torch.bool)
        acceptor = torch.zeros(len(codes), dtype=torch.bool)
        for motif in DONOR_MOTIFS:
            first, second = encode(motif)
            donor |= pair_donor == int(first) * 6 + int(second)
        for motif in ACCEPTOR_MOTIFS:
            first, second = encode(motif)
            acceptor |= pair_acceptor == int(first) * 6 + int(second)
        return torch.stack(
            [donor.float() * LN3, acceptor.float() * LN3, torch.zeros(len(codes))], dim=-1
        )


def _expected_dense() -> SiteScores:
    expected = SiteScores.zeros(len(SEQUENCE))
    expected.donor[0, 2] = expected.acceptor[0, 15] = 0.75
    expected.donor[1, 12] = expected.acceptor[1, 6] = 0.75
    return expected


def _assert_scores(actual: SiteScores, expected: SiteScores) -> None:
    assert actual.donor.dtype == np.float32 and actual.acceptor.dtype == np.float32
    np.testing.assert_allclose(actual.donor, expected.donor, atol=1e-6)
    np.testing.assert_allclose(actual.acceptor, expected.acceptor, atol=1e-6)


def test_dense_scores_both_strands_at_the_site_positions():
    model = DenseFake()
    model.train()
    scores = score_sequence(model, encode(SEQUENCE), candidates_only=False)
    _assert_scores(scores, _expected_dense())
    assert model.training  # training mode restored


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 17, 50_000])
def test_dense_scores_do_not_depend_on_chunk(chunk):
    model = DenseFake()
    scores = score_sequence(
        model, encode(SEQUENCE), chunk=chunk, batch_size=2, candidates_only=False
    )
    _assert_scores(scores, _expected_dense())
    width = {shape[1] for shape in model.calls}
    assert width == {min(chunk, len(SEQUENCE)) + 2}  # chunks of at most n, 1 flank base a side


def test_dense_batches_hold_about_batch_size_windows_of_positions():
    # batch_size 2 x window 8 = 16 positions; chunks of 3 + 2 flank bases -> 3 chunks a pass.
    # 18 positions -> 6 chunks -> 2 passes per strand.
    model = DenseFake()
    score_sequence(model, encode(SEQUENCE), chunk=3, batch_size=2, candidates_only=False)
    assert model.calls == [(3, 5)] * 4
    model = DenseFake()
    score_sequence(model, encode(SEQUENCE), chunk=100, batch_size=1)
    assert model.calls == [(1, 20)] * 2  # one chunk, no longer than the sequence


def test_dense_region_takes_flanks_from_the_sequence():
    codes = encode(SEQUENCE)
    expected = _expected_dense()
    # [2, 3): the + donor needs the T at 3; [12, 16): the - donor at 12 needs the A at 11, and
    # the + acceptor at 15 the A at 14 (inside). Both flank bases lie outside the region.
    for start, end in [(2, 3), (12, 16), (0, 18), (5, 13), (7, 7)]:
        scores = score_region(DenseFake(), codes, start, end, chunk=3, candidates_only=False)
        _assert_scores(scores, expected.slice(start, end))
        assert len(scores) == end - start


def test_dense_scores_match_one_pass_with_pad_flanks():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, 101).astype(np.uint8)  # includes N
    model = ConvFake()
    with torch.no_grad():
        padded = np.concatenate([np.full(3, PAD), codes, np.full(3, PAD)]).astype(np.int64)
        plus = torch.softmax(model.forward_dense(torch.from_numpy(padded)[None]), -1)[0, 3:-3]
        rc = np.array([3, 2, 1, 0, 4, 5])[padded[::-1]]
        minus = torch.softmax(model.forward_dense(torch.from_numpy(rc)[None]), -1)[0, 3:-3]
    minus = minus.numpy()[::-1]
    for chunk in (4, 10, 33, 1000):
        scores = score_sequence(model, codes, chunk=chunk, batch_size=3, candidates_only=False)
        np.testing.assert_allclose(scores.donor[0], plus[:, 0].numpy(), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(scores.acceptor[0], plus[:, 1].numpy(), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(scores.donor[1], minus[:, 0], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(scores.acceptor[1], minus[:, 1], rtol=1e-5, atol=1e-7)
    region = score_region(model, codes, 40, 77, chunk=6, candidates_only=False)
    whole = score_sequence(model, codes, candidates_only=False)
    np.testing.assert_allclose(region.donor, whole.donor[:, 40:77], 1e-5)


def test_dense_candidates_only_zeroes_other_positions():
    codes = encode("CCGCCAGCCC")  # + donor candidate 2 (GC); + acceptor 6 (AG)
    scores = score_sequence(DenseFake(), codes, candidates_only=True)
    donor, acceptor = candidate_masks(codes, 0, len(codes))
    assert np.all(scores.donor[~donor] == 0) and np.all(scores.acceptor[~acceptor] == 0)
    # The AG at 5-6 is both a candidate and a site of the fake: kept.
    assert scores.acceptor[0, 6] == pytest.approx(0.75)
    full = score_sequence(DenseFake(), codes, candidates_only=False)
    assert full.donor[0, 0] > 0  # without the mask non-sites keep their (tiny) probability


def test_candidate_masks_of_the_hand_built_sequence():
    donor, acceptor = candidate_masks(encode(SEQUENCE), 0, len(SEQUENCE))
    # + donor GT/GC/AT at [p, p+2): GT 2, GC 15. + acceptor AG/AC at [p-1, p+1): AC 12, AG 15.
    # - donor: genome [p-1, p+1) is AC/GC/AT: AC -> 12, GC -> 16.
    # - acceptor: genome [p, p+2) is CT/GT: GT -> 2, CT -> 6.
    assert np.flatnonzero(donor[0]).tolist() == [2, 15]
    assert np.flatnonzero(acceptor[0]).tolist() == [12, 15]
    assert np.flatnonzero(donor[1]).tolist() == [12, 16]
    assert np.flatnonzero(acceptor[1]).tolist() == [2, 6]
    # A region sees the bases just outside it; motifs off the sequence's ends do not count.
    sub_donor, sub_acceptor = candidate_masks(encode(SEQUENCE), 12, 17)
    assert np.flatnonzero(sub_donor[1]).tolist() == [0, 4]  # 12 and 16
    assert np.flatnonzero(sub_acceptor[0]).tolist() == [0, 3]  # 12 and 15
    edge_donor, edge_acceptor = candidate_masks(encode("TG"), 0, 2)
    assert not edge_donor.any() and not edge_acceptor.any()


def _brute_force_candidates(sequence: str) -> tuple[np.ndarray, np.ndarray]:
    n = len(sequence)
    donor, acceptor = np.zeros((2, n), bool), np.zeros((2, n), bool)
    for p in range(n):
        right = sequence[p : p + 2] if p + 2 <= n else ""
        left = sequence[p - 1 : p + 1] if p >= 1 else ""
        donor[0, p] = right in DONOR_MOTIFS
        acceptor[0, p] = left in ACCEPTOR_MOTIFS
        donor[1, p] = _revcomp(left) in DONOR_MOTIFS if left else False
        acceptor[1, p] = _revcomp(right) in ACCEPTOR_MOTIFS if right else False
    return donor, acceptor


def test_candidate_masks_match_brute_force():
    rng = np.random.default_rng(5)
    sequence = "".join(rng.choice(list("ACGTN"), 300))
    donor, acceptor = candidate_masks(encode(sequence), 0, len(sequence))
    want_donor, want_acceptor = _brute_force_candidates(sequence)
    np.testing.assert_array_equal(donor, want_donor)
    np.testing.assert_array_equal(acceptor, want_acceptor)


def test_window_model_scores_candidates_only():
    model = WindowFake()
    scores = score_sequence(model, encode(SEQUENCE), batch_size=3)
    expected = SiteScores.zeros(len(SEQUENCE))
    # A window with one motif: 3 / (3 + 1 + 1) = 0.6; with both (+ 15: AG then GC): 3 / 7.
    expected.donor[0, 2] = 0.6
    expected.donor[0, 15] = expected.acceptor[0, 15] = 3 / 7
    expected.acceptor[0, 12] = 0.6
    expected.donor[1, 12] = expected.donor[1, 16] = 0.6
    expected.acceptor[1, 2] = expected.acceptor[1, 6] = 0.6
    _assert_scores(scores, expected)
    windows = torch.cat(model.seen)
    assert len(windows) == 7  # one window per candidate (strand, position): 3 + 4
    assert max(len(batch) for batch in model.seen) == 3
    # The - acceptor at 2 (genome GT at 2-3) has window genome [-1, 7) reverse-complemented:
    # "GGGACGG" then the PAD of position -1, its motif "AC" at [c-1, c+1) = [3, 5).
    # The + donor at 2 has window [-2, 6): two PADs, then "CCGTCC".
    rows = {tuple(w.tolist()) for w in windows}
    assert (*encode("GGGACGG"), PAD) in rows
    assert (PAD, PAD, *encode("CCGTCC")) in rows


def test_window_model_matches_brute_force_on_random_sequence():
    rng = np.random.default_rng(6)
    sequence = "".join(rng.choice(list("ACGT"), 200))
    model = WindowFake(window=10)
    scores = score_region(model, encode(sequence), 20, 180, batch_size=16)
    donor, acceptor = _brute_force_candidates(sequence)
    donor, acceptor = donor[:, 20:180], acceptor[:, 20:180]
    both = donor & acceptor
    want_donor = np.where(donor, np.where(both, 3 / 7, 0.6), 0.0)
    want_acceptor = np.where(acceptor, np.where(both, 3 / 7, 0.6), 0.0)
    np.testing.assert_allclose(scores.donor, want_donor, atol=1e-6)
    np.testing.assert_allclose(scores.acceptor, want_acceptor, atol=1e-6)
    assert sum(len(batch) for batch in model.seen) == int((donor | acceptor).sum())


def test_window_model_without_candidate_filter_scores_every_position():
    model = WindowFake()
    scores = score_sequence(model, encode("CCCCAA"), candidates_only=False)
    assert sum(len(batch) for batch in model.seen) == 12  # 6 positions x 2 strands
    # No motif anywhere, so every window's logits are 0: 1/3 for each class.
    np.testing.assert_allclose(scores.donor, np.full((2, 6), 1 / 3), atol=1e-6)
    np.testing.assert_allclose(scores.acceptor, np.full((2, 6), 1 / 3), atol=1e-6)


def test_region_validation_and_helpers():
    codes = encode(SEQUENCE)
    with pytest.raises(ValueError, match="outside"):
        score_region(DenseFake(), codes, 5, 40)
    with pytest.raises(ValueError, match="positive"):
        score_region(DenseFake(), codes, 0, 5, chunk=0)
    assert list(iter_blocks(25, block=10)) == [(0, 10), (10, 20), (20, 25)]
    assert list(iter_blocks(0)) == []
    parts = [score_region(DenseFake(), codes, s, e) for s, e in iter_blocks(len(codes), 7)]
    _assert_scores(SiteScores.concat(parts), _expected_dense())


def _bed_scores() -> SiteScores:
    scores = SiteScores.zeros(6)
    scores.acceptor[0, 0] = 0.5  # + acceptor at 100 -> [99, 101), score 500 (min_score inclusive)
    scores.donor[0, 2] = 0.9  # + donor at 102 -> [102, 104)
    scores.acceptor[0, 3] = 0.8  # + acceptor at 103 -> [102, 104): same span, sorts before donor
    scores.donor[1, 2] = 0.6  # - donor at 102 -> [101, 103)
    scores.acceptor[1, 3] = 0.75  # - acceptor at 103 -> [103, 105)
    scores.donor[1, 3] = 0.4999  # below min_score
    return scores


def test_write_sites_bed_exact_lines():
    handle = io.StringIO()
    count = write_sites_bed(handle, "chr2", _bed_scores(), offset=100, min_score=0.5)
    assert count == 5
    assert handle.getvalue() == (
        "chr2\t99\t101\tacceptor\t500\t+\n"
        "chr2\t101\t103\tdonor\t600\t-\n"
        "chr2\t102\t104\tacceptor\t800\t+\n"
        "chr2\t102\t104\tdonor\t900\t+\n"
        "chr2\t103\t105\tacceptor\t750\t-\n"
    )
    binary = io.BytesIO()
    assert write_sites_bed(binary, "chr2", _bed_scores(), offset=100, min_score=0.7) == 3
    assert binary.getvalue().decode().splitlines()[0] == "chr2\t102\t104\tacceptor\t800\t+"


def test_write_sites_bed_clips_and_sorts_strands():
    scores = SiteScores.zeros(3)
    scores.acceptor[0, 0] = 1.0  # + acceptor at 0 -> [-1, 1) clipped to [0, 1)
    scores.donor[1, 0] = 0.25  # - donor at 0 -> [0, 1) as well: '+' sorts before '-'
    scores.donor[0, 2] = 0.0004  # + donor at 2 -> [2, 4) clipped to [2, 3); score rounds to 0
    handle = io.StringIO()
    assert write_sites_bed(handle, "s", scores, offset=0, min_score=0.0001, length=3) == 3
    assert handle.getvalue() == (
        "s\t0\t1\tacceptor\t1000\t+\ns\t0\t1\tdonor\t250\t-\ns\t2\t3\tdonor\t0\t+\n"
    )
    # All four kinds at position 0: clipped [0, 1) spans sort before [0, 2) whatever the strand.
    scores = SiteScores(np.array([[0.5], [0.5]]), np.array([[0.5], [0.5]]))
    handle = io.StringIO()
    assert write_sites_bed(handle, "s", scores, offset=0, min_score=0.5) == 4
    assert handle.getvalue() == (
        "s\t0\t1\tacceptor\t500\t+\ns\t0\t1\tdonor\t500\t-\n"
        "s\t0\t2\tdonor\t500\t+\ns\t0\t2\tacceptor\t500\t-\n"
    )
    empty = io.StringIO()
    assert write_sites_bed(empty, "s", scores, offset=0, min_score=2.0) == 0
    assert empty.getvalue() == ""


def test_write_sites_bed_many_lines_match_python_formatting():
    rng = np.random.default_rng(7)
    scores = SiteScores(
        rng.random((2, 5000)).astype(np.float32), rng.random((2, 5000)).astype(np.float32)
    )
    handle = io.StringIO()
    count = write_sites_bed(handle, "chrX", scores, offset=123_456_789, min_score=0.9)
    rows = []
    for strand_index, strand in enumerate("+-"):
        for kind in ("donor", "acceptor"):
            track = getattr(scores, kind)[strand_index]
            shift = -1 if (strand == "+") == (kind == "acceptor") else 0
            for p in np.flatnonzero(track >= 0.9):
                start = 123_456_789 + int(p) + shift
                score = round(float(track[p]) * 1000)
                rows.append((start, start + 2, strand, kind, score))
    rows.sort()
    want = "".join(f"chrX\t{s}\t{e}\t{k}\t{v}\t{st}\n" for s, e, st, k, v in rows)
    assert count == len(rows) and handle.getvalue() == want


def test_write_bedgraph_merges_runs_and_skips_zeros():
    values = np.array([0, 0, 0.5, 0.5, 0.25, 0, 0, 1, 1, 1, np.nan], dtype=np.float32)
    handle = io.StringIO()
    assert write_bedgraph(handle, "chr1", values, offset=10) == 3
    assert handle.getvalue() == "chr1\t12\t14\t0.5\nchr1\t14\t15\t0.25\nchr1\t17\t20\t1\n"
    assert write_bedgraph(io.StringIO(), "chr1", np.zeros(4), offset=0) == 0
    assert write_bedgraph(io.StringIO(), "chr1", np.zeros(0), offset=0) == 0


class GridFake(DenseFake):
    """A dense fake whose receptive field is its whole input (as an SSM's): every logit also
    carries the mean code of the input it was fed, so a score depends on where chunks lie."""

    scan_chunk = 4

    def forward_dense(self, codes: torch.Tensor) -> torch.Tensor:
        logits = super().forward_dense(codes)
        return logits + codes.float().mean(dim=1)[:, None, None] * torch.tensor([0.1, 0.2, 0.0])


def test_unbounded_models_score_on_a_grid_fixed_in_sequence_coordinates():
    model = GridFake()
    codes = encode(SEQUENCE)
    whole = score_sequence(model, codes, chunk=7, candidates_only=False)
    for start, end in [(0, 18), (1, 17), (5, 6), (3, 15), (8, 18)]:
        part = score_region(model, codes, start, end, chunk=3, candidates_only=False)
        assert np.array_equal(part.donor, whole.donor[:, start:end])
        assert np.array_equal(part.acceptor, whole.acceptor[:, start:end])
    # The model's own chunk, whole grid cells with its flanks (18 nt -> 5 cells of 4 + 2).
    assert {shape[1] for shape in model.calls} == {4 + 2}
    # Without the grid the same fake's scores do depend on the region.
    ungridded = type("Ungridded", (GridFake,), {"scan_chunk": None})()
    shifted = score_region(ungridded, codes, 1, 17, chunk=3, candidates_only=False)
    assert not np.array_equal(shifted.donor, whole.donor[:, 1:17])
