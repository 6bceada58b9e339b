"""Per-position evidence for the gene-structure HMM: network tracks, codon content, splice sites."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genatator.decode.content import CodonModel, encode
from genatator.decode.kernel import Evidence
from genatator.decode.options import HmmWeights
from genatator.decode.sites import SiteMatrices
from genatator.decode.topology import _CLASS, _COND, CONDITIONS, EMISSION_CLASSES
from genatator.postprocess.splice import SpliceTable

__all__ = ["MotifPenalties", "build_evidence"]

_PAD = 24  # context bases kept on each side: codons, splice sites, Markov contexts
_A, _C, _G, _T, _N = 0, 1, 2, 3, 4
_EPS = 1e-4


@dataclass(frozen=True)
class MotifPenalties:
    """log frequency of each splice dinucleotide among the training introns' (``-inf``: not
    allowed), indexed ``4 * first + second`` in transcript orientation, A C G T = 0 1 2 3.

    A motif is allowed when the training annotation has it at least ``min_count`` times and in
    at least ``min_fraction`` of the introns: rare ones (GC, AT, AC) then cost what they are
    worth, and one-off annotation errors stay forbidden. A table without real counts (the
    canonical fallback, every motif counted once) allows its motifs at equal cost.
    """

    donor: np.ndarray
    acceptor: np.ndarray

    @classmethod
    def from_table(
        cls, table: SpliceTable, min_count: int = 3, min_fraction: float = 2e-4
    ) -> MotifPenalties:
        if sum(table.donor.values()) < 100:  # no real counts: the canonical fallback
            min_count = 1
        return cls(
            _log_frequencies(table.donor, min_count, min_fraction),
            _log_frequencies(table.acceptor, min_count, min_fraction),
        )


def _log_frequencies(counts: dict[str, int], min_count: int, min_fraction: float) -> np.ndarray:
    out = np.full(16, -np.inf, dtype=np.float32)
    total = sum(counts.values())
    for motif, count in counts.items():
        if count >= min_count and count >= min_fraction * total:
            index = 4 * "ACGT".index(motif[0]) + "ACGT".index(motif[1])
            out[index] = np.log(count / total)
    return out


def _shifted(codes: np.ndarray, n: int, offset: int) -> np.ndarray:
    """Base ``i + offset`` for every segment position ``i`` (codes padded by ``_PAD``)."""
    return codes[_PAD + offset : _PAD + offset + n]


def _codon_is(first: np.ndarray, second: np.ndarray, third: np.ndarray, codons: list[str]):  # type: ignore[no-untyped-def]
    hit = np.zeros(len(first), dtype=bool)
    for codon in codons:
        a, b, c = ("ACGT".index(x) for x in codon)
        hit |= (first == a) & (second == b) & (third == c)
    return hit


def _gate(allowed: np.ndarray) -> np.ndarray:
    return np.where(allowed, 0.0, -np.inf).astype(np.float32)


def _site_log_odds(scores: np.ndarray | None, n: int, weights: HmmWeights) -> np.ndarray:
    if scores is None:
        return np.zeros(n, dtype=np.float32)
    p = np.clip(scores.astype(np.float32), _EPS, 1 - _EPS)
    return (weights.site * (np.log(p) - np.log1p(-p)) + weights.site_bias).astype(np.float32)


def _network_emissions(probabilities: np.ndarray | None, n: int, w: HmmWeights) -> np.ndarray:
    """Emission rows from the five channels; intergenic is the reference (0)."""
    # Stored position-major (the compiled loops read all classes of one position together);
    # the (K, n) view is what Evidence takes, so no copy is ever made.
    rows = np.zeros((n, len(EMISSION_CLASSES)), dtype=np.float32).T
    if probabilities is None:
        return rows
    p = np.clip(probabilities.astype(np.float32), _EPS, 1 - _EPS)
    utr5, exon, intron, utr3, cds = (p[:, c] for c in range(5))
    genic = np.maximum(exon, intron)
    gene = w.gene * (np.log(genic) - np.log1p(-genic))
    exonic = w.exon * 0.5 * (np.log(exon) - np.log(intron))
    coding = w.cds * 0.5 * (np.log(cds) - np.log1p(-cds))
    side = w.utr * 0.5 * (np.log(utr5) - np.log(utr3))
    rows[_CLASS["intron"]] = gene - exonic
    rows[_CLASS["utr5_exon"]] = gene + exonic - coding + side
    rows[_CLASS["utr3_exon"]] = gene + exonic - coding - side
    rows[_CLASS["noncoding_exon"]] = gene + exonic - coding + w.noncoding_bias
    for strand in ("plus", "minus"):
        for frame in range(3):
            rows[_CLASS[f"coding_{strand}_{frame}"]] = gene + exonic + coding
    return rows


def build_evidence(
    sequence: str,
    lo: int,
    hi: int,
    *,
    weights: HmmWeights,
    motifs: MotifPenalties,
    probabilities: np.ndarray | None = None,
    donor: np.ndarray | None = None,
    acceptor: np.ndarray | None = None,
    codon_model: CodonModel | None = None,
    site_matrices: SiteMatrices | None = None,
) -> Evidence:
    """Evidence for positions ``[lo, hi)`` of ``sequence`` (context is read around them).

    Args:
        sequence: the whole sequence (upper case; anything but ACGT counts as N).
        lo, hi: the stretch to decode.
        weights: how much each kind of evidence counts.
        motifs: allowed splice dinucleotides and their log frequencies.
        probabilities: the network's ``(hi - lo, 5)`` track, or None (no network evidence).
        donor, acceptor: a splice-site model's ``(2, hi - lo)`` scores (row 0 ``+``, row 1
            ``-``, transcript-orientation site convention of :mod:`genatator.splice.scoring`),
            or None (dinucleotides only).
        codon_model: coding-vs-background content model, or None.
        site_matrices: counted splice-site matrices, or None.
    """
    n = hi - lo
    left, right = max(lo - _PAD, 0), min(hi + _PAD, len(sequence))
    codes = np.full(n + 2 * _PAD, _N, dtype=np.uint8)
    codes[_PAD - (lo - left) : _PAD + n + (right - hi)] = encode(sequence[left:right])
    emissions = _network_emissions(probabilities, n, weights)
    if codon_model is not None:
        plus, minus = codon_model.log_odds(codes)
        for frame in range(3):
            emissions[_CLASS[f"coding_plus_{frame}"]] += weights.content * plus[frame, _PAD:-_PAD]
            emissions[_CLASS[f"coding_minus_{frame}"]] += weights.content * minus[frame, _PAD:-_PAD]
    matrices = None if site_matrices is None else site_matrices.scores(codes, n, _PAD)
    conditions = _conditions(codes, n, motifs, weights, donor, acceptor, matrices)
    return Evidence(emissions, conditions)


def _conditions(
    codes: np.ndarray,
    n: int,
    motifs: MotifPenalties,
    weights: HmmWeights,
    donor: np.ndarray | None,
    acceptor: np.ndarray | None,
    matrices: dict[str, np.ndarray] | None,
) -> np.ndarray:
    at = {offset: _shifted(codes, n, offset) for offset in range(-3, 3)}
    complement = np.array([_T, _G, _C, _A, _N], dtype=np.uint8)
    valid = {offset: at[offset] < _N for offset in at}

    def motif(table: np.ndarray, first: np.ndarray, second: np.ndarray, ok: np.ndarray):  # type: ignore[no-untyped-def]
        index = np.where(ok, 4 * first.astype(np.int64) + second, 0)
        return np.where(ok, table[index], -np.inf).astype(np.float32)

    def site(scores: np.ndarray | None, strand: int, shift: int) -> np.ndarray:
        row = None if scores is None else scores[strand]
        if row is not None and shift:
            row = np.concatenate((np.zeros(-shift, row.dtype), row[:shift]))  # score at i-1
        return _site_log_odds(row, n, weights)

    comp = {offset: complement[at[offset]] for offset in at}
    donor_p = motif(motifs.donor, at[0], at[1], valid[0] & valid[1]) + site(donor, 0, 0)
    acceptor_p = motif(motifs.acceptor, at[-2], at[-1], valid[-2] & valid[-1]) + site(
        acceptor, 0, -1
    )
    acceptor_m = motif(motifs.acceptor, comp[1], comp[0], valid[0] & valid[1]) + site(
        acceptor, 1, 0
    )
    donor_m = motif(motifs.donor, comp[-1], comp[-2], valid[-2] & valid[-1]) + site(donor, 1, -1)
    if matrices is not None and weights.matrices:
        donor_p += weights.matrices * matrices["donor_p"]
        acceptor_p += weights.matrices * matrices["acceptor_p"]
        acceptor_m += weights.matrices * matrices["acceptor_m"]
        donor_m += weights.matrices * matrices["donor_m"]

    plus_stops, minus_stops = ["TAA", "TAG", "TGA"], ["TTA", "CTA", "TCA"]
    start_p = _gate(_codon_is(at[0], at[1], at[2], ["ATG"]))
    stop_p = _gate(_codon_is(at[0], at[1], at[2], plus_stops))
    nostop_p = _gate(~_codon_is(at[-2], at[-1], at[0], plus_stops))
    stop_m = _gate(_codon_is(at[0], at[1], at[2], minus_stops))
    nostop_m = _gate(~_codon_is(at[-2], at[-1], at[0], minus_stops))
    start_m = _gate(_codon_is(at[0], at[1], at[2], ["CAT"]))
    t_before, c_before = at[-1] == _T, at[-1] == _C
    pair = (at[-2], at[-1])

    def before(*codes_pairs: str) -> np.ndarray:
        hit = np.zeros(n, dtype=bool)
        for text in codes_pairs:
            hit |= (pair[0] == "ACGT".index(text[0])) & (pair[1] == "ACGT".index(text[1]))
        return hit

    rows = {
        "always": np.zeros(n, np.float32),
        "donor_p": donor_p,
        "donor_p_t": donor_p + _gate(t_before),
        "donor_p_nt": donor_p + _gate(~t_before),
        "donor_p_ta": donor_p + _gate(before("TA")),
        "donor_p_tg": donor_p + _gate(before("TG")),
        "donor_p_x2": donor_p + _gate(~before("TA", "TG")),
        "acceptor_p": acceptor_p,
        "acceptor_p_start": acceptor_p + start_p,
        "acceptor_p_stop": acceptor_p + stop_p,
        # T | x y after a phase-1 intron: TAA, TAG, TGA refused.
        "acceptor_p_1t": acceptor_p + _gate(~_codon_is(np.full(n, _T), at[0], at[1], plus_stops)),
        "acceptor_p_2ta": acceptor_p + _gate((at[0] != _A) & (at[0] != _G)),
        "acceptor_p_2tg": acceptor_p + _gate(at[0] != _A),
        "start_p": start_p,
        "stop_p": stop_p,
        "nostop_p": nostop_p,
        "acceptor_m": acceptor_m,
        "acceptor_m_t": acceptor_m + _gate(t_before),
        "acceptor_m_c": acceptor_m + _gate(c_before),
        "acceptor_m_x1": acceptor_m + _gate(~t_before & ~c_before),
        "acceptor_m_s2": acceptor_m + _gate(before("TT", "CT", "TC")),
        "acceptor_m_x2": acceptor_m + _gate(~before("TT", "CT", "TC")),
        "donor_m": donor_m,
        "donor_m_stop": donor_m + stop_m,
        "donor_m_start": donor_m + start_m,
        # On the genome, the minus strand's stops are TTA, CTA, TCA.
        "donor_m_1t": donor_m + _gate(~_codon_is(np.full(n, _T), at[0], at[1], minus_stops)),
        "donor_m_1c": donor_m + _gate(~_codon_is(np.full(n, _C), at[0], at[1], minus_stops)),
        "donor_m_2s": donor_m + _gate(at[0] != _A),
        "stop_m": stop_m,
        "nostop_m": nostop_m,
        "start_m": start_m,
    }
    out = np.empty((n, len(CONDITIONS)), dtype=np.float32).T  # position-major storage
    for name, row in rows.items():
        out[_COND[name]] = row
    return out
