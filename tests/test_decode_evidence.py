"""The gene-model HMM's evidence against a brute-force reference, bit for bit.

The reference below reads every score off its definition, one position and one row at a time,
in float32 and in the order the scores are defined in: what the compiled evidence builder must
reproduce exactly (``-inf`` placement included), on random sequences with N's, both strands'
splice motifs, start and stop codons planted, with and without each kind of evidence.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from genatator.decode.content import CodonModel
from genatator.decode.evidence import MotifPenalties, build_evidence
from genatator.decode.options import HmmWeights
from genatator.decode.sites import ACCEPTOR_OFFSETS, DONOR_OFFSETS, SiteMatrices, _sum
from genatator.decode.topology import CONDITIONS, EMISSION_CLASSES

F = np.float32
EPS = 1e-4
COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}
PLUS_STOPS, MINUS_STOPS = ("TAA", "TAG", "TGA"), ("TTA", "CTA", "TCA")
#: Motifs, codons and phase contexts to plant, so that every gate is met both ways.
PLANTS = (
    "GT", "AG", "CT", "AC", "GC", "AT", "ATG", "CAT", *PLUS_STOPS, *MINUS_STOPS,
    "TAGT", "TGGT", "TTCT", "CTCT", "TCCT", "AGTA", "AGAA", "ACTA", "ACCA", "NNGT", "AGNN",
    "AGATG", "AGTAA", "ACTTA", "ACCAT", "CTGA", "AGTT", "AGTC",
)  # fmt: skip


# --- The reference -------------------------------------------------------------------------------


def base(sequence: str, j: int) -> str:
    """Base ``j`` of the sequence, N off its ends or for anything but ACGT."""
    return sequence[j] if 0 <= j < len(sequence) and sequence[j] in "ACGT" else "N"


def code(letter: str) -> int:
    return "ACGTN".index(letter)


def comp(letter: str) -> str:
    return COMPLEMENT.get(letter, "N")


def allowed(ok: bool) -> np.float32:
    return F(0.0) if ok else F(-np.inf)


def motif_score(table: np.ndarray, first: str, second: str) -> np.float32:
    if "N" in first + second:
        return F(-np.inf)
    return F(table[4 * code(first) + code(second)])


def log_odds(score: float, weights: HmmWeights) -> np.float32:
    """The splice model's weighted log-odds of one score."""
    p = min(max(F(score), F(EPS)), F(1 - EPS))
    return F(F(weights.site) * (np.log(p) - np.log1p(-p))) + F(weights.site_bias)


def matrix_sum(table: np.ndarray, letters: list[str]) -> np.float32:
    total = F(0.0)
    for row, letter in enumerate(letters):
        total = F(total + table[row, code(letter)])
    return total


def reference_conditions(
    sequence: str,
    lo: int,
    hi: int,
    weights: HmmWeights,
    motifs: MotifPenalties,
    donor: np.ndarray | None,
    acceptor: np.ndarray | None,
    matrices: SiteMatrices | None,
) -> np.ndarray:
    """float32 ``(C, hi - lo)`` condition scores, each from its definition."""
    out = np.zeros((len(CONDITIONS), hi - lo), dtype=np.float32)
    for i in range(hi - lo):
        b = {k: base(sequence, lo + i + k) for k in range(-21, 22)}
        pair = b[-2] + b[-1]
        codon = b[0] + b[1] + b[2]
        # Splice sites: + intron starts at i (GT at i, i+1); exon starts at i after a + intron
        # (AG at i-2, i-1); - intron starts at i (CT on the genome); exon starts at i after a -
        # intron (AC at i-2, i-1). The splice model scores the intron's first base, or its
        # last (i - 1), whose score before the stretch counts as 0.
        before = i - 1
        site = {
            "donor_p": motif_score(motifs.donor, b[0], b[1]),
            "acceptor_p": motif_score(motifs.acceptor, b[-2], b[-1]),
            "acceptor_m": motif_score(motifs.acceptor, comp(b[1]), comp(b[0])),
            "donor_m": motif_score(motifs.donor, comp(b[-1]), comp(b[-2])),
        }
        if donor is not None:
            site["donor_p"] = F(site["donor_p"] + log_odds(donor[0, i], weights))
            earlier = donor[1, before] if before >= 0 else 0.0
            site["donor_m"] = F(site["donor_m"] + log_odds(earlier, weights))
        if acceptor is not None:
            earlier = acceptor[0, before] if before >= 0 else 0.0
            site["acceptor_p"] = F(site["acceptor_p"] + log_odds(earlier, weights))
            site["acceptor_m"] = F(site["acceptor_m"] + log_odds(acceptor[1, i], weights))
        if matrices is not None and weights.matrices:
            # Transcript orientation: the - strand's sites read the complement backwards from
            # the intron's end.
            sums = {
                "donor_p": matrix_sum(matrices.donor, [b[o] for o in DONOR_OFFSETS]),
                "acceptor_p": matrix_sum(matrices.acceptor, [b[o] for o in ACCEPTOR_OFFSETS]),
                "donor_m": matrix_sum(matrices.donor, [comp(b[-1 - o]) for o in DONOR_OFFSETS]),
                "acceptor_m": matrix_sum(
                    matrices.acceptor, [comp(b[-1 - o]) for o in ACCEPTOR_OFFSETS]
                ),
            }
            for name in site:
                site[name] = F(site[name] + F(F(weights.matrices) * sums[name]))
        nostop_p = b[-2] + b[-1] + b[0] not in PLUS_STOPS
        nostop_m = b[-2] + b[-1] + b[0] not in MINUS_STOPS
        rows = {  # row: (the site it scores or None, whether the bases allow it)
            "always": (None, True),
            "donor_p": ("donor_p", True),
            "donor_p_t": ("donor_p", b[-1] == "T"),
            "donor_p_nt": ("donor_p", b[-1] != "T"),
            "donor_p_ta": ("donor_p", pair == "TA"),
            "donor_p_tg": ("donor_p", pair == "TG"),
            "donor_p_x2": ("donor_p", pair not in ("TA", "TG")),
            "acceptor_p": ("acceptor_p", True),
            "acceptor_p_start": ("acceptor_p", codon == "ATG"),
            "acceptor_p_stop": ("acceptor_p", codon in PLUS_STOPS),
            "acceptor_p_1t": ("acceptor_p", "T" + b[0] + b[1] not in PLUS_STOPS),
            "acceptor_p_2ta": ("acceptor_p", b[0] not in "AG"),
            "acceptor_p_2tg": ("acceptor_p", b[0] != "A"),
            "start_p": (None, codon == "ATG"),
            "stop_p": (None, codon in PLUS_STOPS),
            "nostop_p": (None, nostop_p),
            "acceptor_m": ("acceptor_m", True),
            "acceptor_m_t": ("acceptor_m", b[-1] == "T"),
            "acceptor_m_c": ("acceptor_m", b[-1] == "C"),
            "acceptor_m_x1": ("acceptor_m", b[-1] not in "TC"),
            "acceptor_m_s2": ("acceptor_m", pair in ("TT", "CT", "TC")),
            "acceptor_m_x2": ("acceptor_m", pair not in ("TT", "CT", "TC")),
            "donor_m": ("donor_m", True),
            "donor_m_stop": ("donor_m", codon in MINUS_STOPS),
            "donor_m_start": ("donor_m", codon == "CAT"),
            "donor_m_1t": ("donor_m", "T" + b[0] + b[1] not in MINUS_STOPS),
            "donor_m_1c": ("donor_m", "C" + b[0] + b[1] not in MINUS_STOPS),
            "donor_m_2s": ("donor_m", b[0] != "A"),
            "stop_m": (None, codon in MINUS_STOPS),
            "nostop_m": (None, nostop_m),
            "start_m": (None, codon == "CAT"),
        }
        assert set(rows) == set(CONDITIONS)
        for row, name in enumerate(CONDITIONS):
            scored, ok = rows[name]
            gate = allowed(ok)
            out[row, i] = gate if scored is None else F(site[scored] + gate)
    return out


def codon_log_odds(model: CodonModel, letters: list[str], frame: int) -> np.float32:
    """Coding-minus-background log-odds of a window (last base last), 0 if it holds an N."""
    if "N" in letters:
        return F(0.0)
    index = 0
    for letter in letters:
        index = 4 * index + code(letter)
    return F(model.coding[frame, index] - model.background[index])


def reference_emissions(
    sequence: str,
    lo: int,
    hi: int,
    weights: HmmWeights,
    probabilities: np.ndarray | None,
    codon_model: CodonModel | None,
) -> np.ndarray:
    """float32 ``(K, hi - lo)`` emission scores, each from its definition."""
    w = weights
    klass = {name: row for row, name in enumerate(EMISSION_CLASSES)}
    out = np.zeros((len(EMISSION_CLASSES), hi - lo), dtype=np.float32)
    for i in range(hi - lo):
        if probabilities is not None:
            utr5, exon, intron, utr3, cds = (
                min(max(F(p), F(EPS)), F(1 - EPS)) for p in probabilities[i, :5]
            )
            genic = max(exon, intron)
            gene = F(w.gene) * (np.log(genic) - np.log1p(-genic))
            exonic = F(w.exon * 0.5) * (np.log(exon) - np.log(intron))
            coding = F(w.cds * 0.5) * (np.log(cds) - np.log1p(-cds))
            side = F(w.utr * 0.5) * (np.log(utr5) - np.log(utr3))
            out[klass["intron"], i] = gene - exonic
            out[klass["utr5_exon"], i] = gene + exonic - coding + side
            out[klass["utr3_exon"], i] = gene + exonic - coding - side
            out[klass["noncoding_exon"], i] = gene + exonic - coding + F(w.noncoding_bias)
            for name in EMISSION_CLASSES:
                if name.startswith("coding_"):
                    out[klass[name], i] = gene + exonic + coding
        if codon_model is not None:
            j, k = lo + i, codon_model.order
            # + strand: the window ending at base i; - strand: the complements of bases
            # i + k … i, read in transcript orientation.
            plus = [base(sequence, j - k + t) for t in range(k + 1)]
            minus = [comp(base(sequence, j + k - t)) for t in range(k + 1)]
            for frame in range(3):
                for strand, letters in (("plus", plus), ("minus", minus)):
                    row = klass[f"coding_{strand}_{frame}"]
                    term = F(w.content) * codon_log_odds(codon_model, letters, frame)
                    out[row, i] = F(out[row, i] + term)
    return out


# --- Random cases --------------------------------------------------------------------------------


def random_sequence(rng: np.random.Generator, length: int = 360) -> str:
    """Random DNA with plants and N's anywhere, and every plant once in ``[62, 262)``."""
    letters = list(rng.choice(list("ACGT"), size=length, p=[0.3, 0.2, 0.2, 0.3]))
    for _ in range(length // 8):
        plant = PLANTS[int(rng.integers(len(PLANTS)))]
        at = int(rng.integers(0, length - len(plant)))
        letters[at : at + len(plant)] = list(plant)
    for at in rng.integers(0, length, size=length // 40):
        letters[at] = "N" if rng.random() < 0.8 else "R"  # any non-ACGT base counts as N
    at = 62
    for plant in rng.permutation(PLANTS):
        at += int(rng.integers(1, 3))
        letters[at : at + len(plant)] = list(plant)
        at += len(plant)
    assert at < 262 <= length
    return "".join(letters)


def random_motifs(rng: np.random.Generator) -> MotifPenalties:
    def table() -> np.ndarray:
        values = np.log(rng.dirichlet(np.ones(16))).astype(np.float32)
        values[rng.random(16) < 0.4] = -np.inf
        values[[4 * 2 + 3, 4 * 0 + 2]] = -1.0  # GT and AG always allowed
        return values

    return MotifPenalties(table(), table())


def random_scores(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """Probabilities with exact 0s and 1s and values inside the clipping margin."""
    values = rng.random(shape)
    values[rng.random(shape) < 0.05] = 0.0
    values[rng.random(shape) < 0.05] = 1.0
    values[rng.random(shape) < 0.03] = 1e-6
    return values.astype(dtype)


def random_site_matrices(rng: np.random.Generator) -> SiteMatrices:
    # Column 4 (N) is 0 in counted matrices; nonzero here, so that N's are seen to be looked up.
    return SiteMatrices(
        rng.normal(size=(len(DONOR_OFFSETS), 5)).astype(np.float32),
        rng.normal(size=(len(ACCEPTOR_OFFSETS), 5)).astype(np.float32),
    )


def random_codon_model(rng: np.random.Generator, order: int) -> CodonModel:
    cells = 4 ** (order + 1)
    return CodonModel(order, rng.normal(size=(3, cells)), rng.normal(size=cells))


WEIGHTS = HmmWeights(
    gene=0.7, exon=0.4, cds=0.9, utr=0.3, noncoding_bias=-0.25, content=0.8, site=2.8,
    site_bias=-1.0, matrices=1.5,
)  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "with_network, with_splice_model, with_matrices, with_codons",
    [
        (True, True, True, True),
        (True, False, False, False),
        (False, True, False, True),
        (False, False, True, False),
        (False, False, False, False),
        (True, True, False, False),
    ],
)
def test_evidence_matches_the_reference_bit_for_bit(
    seed: int, with_network: bool, with_splice_model: bool, with_matrices: bool, with_codons: bool
) -> None:
    rng = np.random.default_rng(seed)
    sequence = random_sequence(rng)
    # A stretch inside the sequence (context read around it), or one at its ends.
    lo, hi = (0, len(sequence)) if seed % 3 == 0 else (int(rng.integers(1, 60)), 300)
    n = hi - lo
    dtype = np.float64 if seed % 2 else np.float32
    probabilities = random_scores(rng, (n, 5), dtype) if with_network else None
    donor = random_scores(rng, (2, n), dtype) if with_splice_model else None
    acceptor = random_scores(rng, (2, n), dtype) if with_splice_model else None
    matrices = random_site_matrices(rng) if with_matrices else None
    codon_model = random_codon_model(rng, order=int(rng.integers(0, 6))) if with_codons else None
    motifs = random_motifs(rng)
    weights = dataclasses.replace(WEIGHTS, site_bias=float(rng.normal()))

    evidence = build_evidence(
        sequence,
        lo,
        hi,
        weights=weights,
        motifs=motifs,
        probabilities=probabilities,
        donor=donor,
        acceptor=acceptor,
        codon_model=codon_model,
        site_matrices=matrices,
    )

    conditions = reference_conditions(sequence, lo, hi, weights, motifs, donor, acceptor, matrices)
    emissions = reference_emissions(sequence, lo, hi, weights, probabilities, codon_model)
    assert evidence.conditions.dtype == np.float32 and evidence.emissions.dtype == np.float32
    np.testing.assert_array_equal(evidence.conditions, conditions)
    np.testing.assert_array_equal(evidence.emissions, emissions)
    # Every row is allowed somewhere and (but "always") refused somewhere: the planted motifs
    # met each gate both ways.
    assert np.isfinite(conditions).any(axis=1).all()
    assert (conditions[1:] == -np.inf).any(axis=1).all()


def test_site_matrices_are_skipped_at_weight_zero() -> None:
    rng = np.random.default_rng(7)
    sequence = random_sequence(rng)
    motifs = random_motifs(rng)
    weights = dataclasses.replace(WEIGHTS, matrices=0.0)
    donor = random_scores(rng, (2, 200), np.float32)
    matrices = random_site_matrices(rng)
    with_matrices = build_evidence(
        sequence, 0, 200, weights=weights, motifs=motifs, donor=donor, site_matrices=matrices
    )
    without = build_evidence(sequence, 0, 200, weights=weights, motifs=motifs, donor=donor)
    np.testing.assert_array_equal(with_matrices.conditions, without.conditions)


def test_sites_below_the_floor_are_closed_and_nothing_else_changes() -> None:
    rng = np.random.default_rng(9)
    sequence = random_sequence(rng)
    motifs = random_motifs(rng)
    donor, acceptor = (random_scores(rng, (2, 300), np.float32) for _ in range(2))
    matrices = random_site_matrices(rng)

    def conditions(site_floor: float | None) -> np.ndarray:
        return build_evidence(
            sequence, 0, 300, weights=WEIGHTS, motifs=motifs, donor=donor, acceptor=acceptor,
            site_matrices=matrices, site_floor=site_floor,
        ).conditions  # fmt: skip

    open_, floored = conditions(None), conditions(-3.0)
    sited = np.array([name.startswith(("donor", "acceptor")) for name in CONDITIONS])
    # Rows without a site (codons, "always") are untouched; a site row keeps each score at or
    # above the floor and closes the rest.
    np.testing.assert_array_equal(floored[~sited], open_[~sited])
    expected = np.where(open_[sited] >= -3.0, open_[sited], -np.inf)
    np.testing.assert_array_equal(floored[sited], expected)
    finite = open_[sited][np.isfinite(open_[sited])]
    assert (finite < -3.0).any() and (finite >= -3.0).any()  # the floor cut both ways


def test_evidence_is_stored_position_major_and_handles_empty_stretches() -> None:
    rng = np.random.default_rng(8)
    sequence = random_sequence(rng)
    evidence = build_evidence(
        sequence, 10, 90, weights=WEIGHTS, motifs=random_motifs(rng),
        probabilities=random_scores(rng, (80, 5), np.float32),
    )  # fmt: skip
    # The compiled passes read (n, K) and (n, C) arrays: those are the storage, not copies.
    assert evidence.emissions.T.flags.c_contiguous and evidence.conditions.T.flags.c_contiguous
    emissions, conditions = evidence.by_position
    assert np.shares_memory(emissions, evidence.emissions)
    assert np.shares_memory(conditions, evidence.conditions)

    empty = build_evidence(sequence, 50, 50, weights=WEIGHTS, motifs=random_motifs(rng))
    assert empty.emissions.shape == (len(EMISSION_CLASSES), 0)
    assert empty.conditions.shape == (len(CONDITIONS), 0)


def test_evidence_refuses_tracks_of_the_wrong_length() -> None:
    rng = np.random.default_rng(9)
    sequence = random_sequence(rng)
    motifs = random_motifs(rng)
    with pytest.raises(ValueError):
        build_evidence(
            sequence, 0, 100, weights=WEIGHTS, motifs=motifs,
            probabilities=random_scores(rng, (99, 5), np.float32),
        )  # fmt: skip
    with pytest.raises(ValueError):
        build_evidence(
            sequence, 0, 100, weights=WEIGHTS, motifs=motifs,
            donor=random_scores(rng, (2, 101), np.float32),
        )  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_site_matrix_sums_match_a_plain_loop(seed: int) -> None:
    """The compiled sums, four positions at a time, equal the sum read off the definition,
    bases off the array counting 0, whatever the offsets."""
    rng = np.random.default_rng(seed)
    for _ in range(50):
        rows, n = int(rng.integers(1, 25)), int(rng.integers(0, 40))
        table = rng.normal(size=(rows, 5)).astype(np.float32)
        codes = rng.integers(0, 5, size=int(rng.integers(0, 50))).astype(np.uint8)
        starts = rng.integers(-30, 40, size=rows).astype(np.int64)
        expected = np.zeros(n, dtype=np.float32)
        for i in range(n):
            for row, start in enumerate(starts):
                if 0 <= start + i < len(codes):
                    expected[i] = F(expected[i] + table[row, codes[start + i]])
        np.testing.assert_array_equal(_sum(table, codes, n, starts), expected)
