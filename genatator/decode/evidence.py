"""Per-position evidence for the gene-structure HMM: network tracks, codon content, splice sites."""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from genatator.decode.content import CodonModel, encode
from genatator.decode.kernel import Evidence
from genatator.decode.options import HmmWeights
from genatator.decode.sites import SiteMatrices
from genatator.decode.topology import _CLASS, CONDITIONS, EMISSION_CLASSES
from genatator.postprocess.dinucleotides import SpliceTable

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
    site_floor: float | None = None,
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
        site_floor: sites scoring below this are closed (``-inf``); None: none are.

    Raises:
        ValueError: a track or site scores not of the stretch's length.
    """
    n = hi - lo
    if probabilities is not None and (
        probabilities.ndim != 2 or probabilities.shape[0] != n or probabilities.shape[1] < 5
    ):
        raise ValueError(f"probabilities must be ({n}, 5), got shape {probabilities.shape}")
    for scores in (donor, acceptor):
        if scores is not None and scores.shape != (2, n):
            raise ValueError(f"site scores must be (2, {n}), got shape {scores.shape}")
    left, right = max(lo - _PAD, 0), min(hi + _PAD, len(sequence))
    codes = np.full(n + 2 * _PAD, _N, dtype=np.uint8)
    codes[_PAD - (lo - left) : _PAD + n + (right - hi)] = encode(sequence[left:right])
    emissions = _emissions(codes, n, weights, probabilities, codon_model)
    conditions = _conditions(codes, n, motifs, weights, donor, acceptor, site_matrices, site_floor)
    # Built position-major (the compiled passes read all rows of one position together); the
    # transposed views are what Evidence takes, so no copy is ever made.
    return Evidence(emissions.T, conditions.T)


# --- Emissions ---------------------------------------------------------------------------------

#: Emission classes by the network score they take (arguments of the compiled loops rather than
#: constants in them, so that a compiled cache can never hold another class order).
_NETWORK_CLASSES = np.array(
    [_CLASS[name] for name in ("intron", "utr5_exon", "utr3_exon", "noncoding_exon")]
)
#: The coding classes: + strand frames 0, 1, 2, then - strand frames 0, 1, 2.
_CODING_CLASSES = np.array(
    [_CLASS[f"coding_{strand}_{frame}"] for strand in ("plus", "minus") for frame in range(3)]
)


def _emissions(
    codes: np.ndarray,
    n: int,
    weights: HmmWeights,
    probabilities: np.ndarray | None,
    codon_model: CodonModel | None,
) -> np.ndarray:
    """``(n, K)`` float32 emission scores: network tracks plus codon content; intergenic is the
    reference (0)."""
    out = np.zeros((n, len(EMISSION_CLASSES)), dtype=np.float32)
    if probabilities is not None:
        p = np.ascontiguousarray(probabilities, dtype=np.float32)
        clipped, negated = _clip_probabilities(p, np.float32(_EPS), np.float32(1 - _EPS))
        # The logarithms are numpy's, not the compiled loop's: the two differ in the last bit
        # now and then, and the weights were fitted on numpy's.
        w = weights
        factors = np.array([w.gene, w.exon * 0.5, w.cds * 0.5, w.utr * 0.5, w.noncoding_bias])
        _fill_network(
            np.log(clipped, out=clipped),
            np.log1p(negated, out=negated),
            factors.astype(np.float32),
            _NETWORK_CLASSES,
            _CODING_CLASSES,
            out,
        )
    if codon_model is not None:
        plus, minus = codon_model.log_odds(codes)
        _add_content(plus, minus, np.float32(weights.content), _CODING_CLASSES, out)
    return out


@numba.njit(cache=True, nogil=True)
def _clip(value, low, high):
    """As ``np.clip``: a NaN stays NaN."""
    if value < low:
        return low
    if value > high:
        return high
    return value


@numba.njit(cache=True, nogil=True)
def _clip_probabilities(probabilities, low, high):
    """The five channels clipped to ``[low, high]``, with the genic score ``max(exon, intron)``
    appended as a sixth column: ``(n, 6)``; and the arguments of the two ``log1p`` terms,
    ``-genic`` and ``-cds``: ``(n, 2)``."""
    n = probabilities.shape[0]
    clipped = np.empty((n, 6), dtype=np.float32)
    negated = np.empty((n, 2), dtype=np.float32)
    for i in range(n):
        for channel in range(5):
            clipped[i, channel] = _clip(probabilities[i, channel], low, high)
        exon, intron = clipped[i, 1], clipped[i, 2]
        genic = exon if exon >= intron or np.isnan(exon) else intron  # np.maximum's rule
        clipped[i, 5] = genic
        negated[i, 0] = -genic
        negated[i, 1] = -clipped[i, 4]
    return clipped, negated


@numba.njit(cache=True, nogil=True)
def _fill_network(logs, log1m, factors, classes, coding_classes, out):
    """The network's emission scores from the logs of the clipped channels (5' UTR, exon,
    intron, 3' UTR, CDS, genic) and ``log1p(-genic)``, ``log1p(-cds)``; ``factors``: the gene,
    exon, CDS and UTR weights (the last three halved) and the non-coding bias. Every operation
    is float32, in the order the scores were defined in."""
    gene_weight, exon_weight, cds_weight, utr_weight, noncoding_bias = (
        factors[0], factors[1], factors[2], factors[3], factors[4],
    )  # fmt: skip
    for i in range(out.shape[0]):
        log = logs[i]
        gene = gene_weight * (log[5] - log1m[i, 0])
        exonic = exon_weight * (log[1] - log[2])
        coding = cds_weight * (log[4] - log1m[i, 1])
        side = utr_weight * (log[0] - log[3])
        row = out[i]
        row[classes[0]] = gene - exonic
        row[classes[1]] = gene + exonic - coding + side
        row[classes[2]] = gene + exonic - coding - side
        row[classes[3]] = gene + exonic - coding + noncoding_bias
        for klass in coding_classes:
            row[klass] = gene + exonic + coding


@numba.njit(cache=True, nogil=True)
def _add_content(plus, minus, weight, coding_classes, out):
    """Add the codon model's weighted log-odds (of the padded stretch) to the coding classes."""
    for i in range(out.shape[0]):
        row = out[i]
        for frame in range(3):
            row[coding_classes[frame]] += weight * plus[frame, _PAD + i]
            row[coding_classes[3 + frame]] += weight * minus[frame, _PAD + i]


# --- Conditions --------------------------------------------------------------------------------
#
# Every condition row is a splice site's score (or none) plus a gate on the bases around the
# position (0 where they allow the edge, -inf where they refuse it). Both depend on the position
# only through its *context*, bases i-2 … i+2, so they are tabulated for all 5**5 contexts
# (A C G T N = 0 … 4, read as a base-5 number, the first base most significant) and the compiled
# loop only looks them up.

_CONTEXT_BASES = 5
_CONTEXTS = 5**_CONTEXT_BASES
#: The splice sites the rows score, in the order of the site columns (column 0: no site, 0).
_SITES = ("donor_p", "acceptor_p", "acceptor_m", "donor_m")
_COMPLEMENT = np.array([_T, _G, _C, _A, _N], dtype=np.uint8)


def _context_bases() -> dict[int, np.ndarray]:
    """The base at each offset -2 … 2 of every context."""
    digits = np.unravel_index(np.arange(_CONTEXTS), (5,) * _CONTEXT_BASES)
    return {offset: digit.astype(np.uint8) for offset, digit in zip(range(-2, 3), digits)}


def _codon_is(
    first: np.ndarray, second: np.ndarray, third: np.ndarray, codons: list[str]
) -> np.ndarray:
    """Whether bases ``first``, ``second``, ``third`` read one of ``codons``."""
    hit = np.zeros(len(first), dtype=bool)
    for codon in codons:
        a, b, c = ("ACGT".index(x) for x in codon)
        hit |= (first == a) & (second == b) & (third == c)
    return hit


def _condition_rows() -> tuple[np.ndarray, np.ndarray]:
    """Each condition row's splice-site column (:data:`_SITES` plus one; 0: none), and its
    gates: float32 ``(contexts, C)``."""
    at = _context_bases()
    plus_stops, minus_stops = ["TAA", "TAG", "TGA"], ["TTA", "CTA", "TCA"]
    start_p = _codon_is(at[0], at[1], at[2], ["ATG"])
    stop_p = _codon_is(at[0], at[1], at[2], plus_stops)
    stop_m = _codon_is(at[0], at[1], at[2], minus_stops)
    start_m = _codon_is(at[0], at[1], at[2], ["CAT"])
    t_before, c_before = at[-1] == _T, at[-1] == _C
    t, c = np.full(_CONTEXTS, _T), np.full(_CONTEXTS, _C)

    def before(*pairs: str) -> np.ndarray:
        hit = np.zeros(_CONTEXTS, dtype=bool)
        for text in pairs:
            hit |= (at[-2] == "ACGT".index(text[0])) & (at[-1] == "ACGT".index(text[1]))
        return hit

    anything = np.ones(_CONTEXTS, dtype=bool)
    rows = {  # row: (the splice site it scores, the bases it allows)
        "always": (None, anything),
        "donor_p": ("donor_p", anything),
        "donor_p_t": ("donor_p", t_before),
        "donor_p_nt": ("donor_p", ~t_before),
        "donor_p_ta": ("donor_p", before("TA")),
        "donor_p_tg": ("donor_p", before("TG")),
        "donor_p_x2": ("donor_p", ~before("TA", "TG")),
        "acceptor_p": ("acceptor_p", anything),
        "acceptor_p_start": ("acceptor_p", start_p),
        "acceptor_p_stop": ("acceptor_p", stop_p),
        # T | x y after a phase-1 intron: TAA, TAG, TGA refused.
        "acceptor_p_1t": ("acceptor_p", ~_codon_is(t, at[0], at[1], plus_stops)),
        "acceptor_p_2ta": ("acceptor_p", (at[0] != _A) & (at[0] != _G)),
        "acceptor_p_2tg": ("acceptor_p", at[0] != _A),
        "start_p": (None, start_p),
        "stop_p": (None, stop_p),
        "nostop_p": (None, ~_codon_is(at[-2], at[-1], at[0], plus_stops)),
        "acceptor_m": ("acceptor_m", anything),
        "acceptor_m_t": ("acceptor_m", t_before),
        "acceptor_m_c": ("acceptor_m", c_before),
        "acceptor_m_x1": ("acceptor_m", ~t_before & ~c_before),
        "acceptor_m_s2": ("acceptor_m", before("TT", "CT", "TC")),
        "acceptor_m_x2": ("acceptor_m", ~before("TT", "CT", "TC")),
        "donor_m": ("donor_m", anything),
        "donor_m_stop": ("donor_m", stop_m),
        "donor_m_start": ("donor_m", start_m),
        # On the genome, the minus strand's stops are TTA, CTA, TCA.
        "donor_m_1t": ("donor_m", ~_codon_is(t, at[0], at[1], minus_stops)),
        "donor_m_1c": ("donor_m", ~_codon_is(c, at[0], at[1], minus_stops)),
        "donor_m_2s": ("donor_m", at[0] != _A),
        "stop_m": (None, stop_m),
        "nostop_m": (None, ~_codon_is(at[-2], at[-1], at[0], minus_stops)),
        "start_m": (None, start_m),
    }
    if set(rows) != set(CONDITIONS):
        raise ImportError("the evidence's condition rows differ from the gene model's")
    site = [0 if rows[name][0] is None else 1 + _SITES.index(rows[name][0]) for name in CONDITIONS]
    gates = [np.where(rows[name][1], 0.0, -np.inf) for name in CONDITIONS]
    return np.array(site, dtype=np.intp), np.stack(gates, axis=1).astype(np.float32)


_SITE_OF_ROW, _GATES = _condition_rows()


def _motif_scores(motifs: MotifPenalties) -> np.ndarray:
    """float32 ``(contexts, 5)``: each splice site's dinucleotide log frequency in every context
    (``-inf``: not allowed, or an N), in the site columns."""
    at = _context_bases()
    comp = {offset: _COMPLEMENT[bases] for offset, bases in at.items()}
    ok = {offset: bases < _N for offset, bases in at.items()}

    def motif(
        table: np.ndarray, first: np.ndarray, second: np.ndarray, valid: np.ndarray
    ) -> np.ndarray:
        index = np.where(valid, 4 * first.astype(np.int64) + second, 0)
        return np.where(valid, table[index], -np.inf).astype(np.float32)

    out = np.zeros((_CONTEXTS, 1 + len(_SITES)), dtype=np.float32)
    out[:, 1] = motif(motifs.donor, at[0], at[1], ok[0] & ok[1])
    out[:, 2] = motif(motifs.acceptor, at[-2], at[-1], ok[-2] & ok[-1])
    out[:, 3] = motif(motifs.acceptor, comp[1], comp[0], ok[0] & ok[1])
    out[:, 4] = motif(motifs.donor, comp[-1], comp[-2], ok[-2] & ok[-1])
    return out


def _splice_model_scores(
    donor: np.ndarray | None, acceptor: np.ndarray | None, n: int, weights: HmmWeights
) -> np.ndarray:
    """float32 ``(4, n)``: the splice-site model's log-odds of each of :data:`_SITES`, 0 without
    one. The rows where an exon starts at i (acceptor_p, donor_m) take the score of base i - 1,
    the intron's last, and at i = 0 that of a score of 0."""
    rows = ((donor, 0, 0), (acceptor, 0, 1), (acceptor, 1, 0), (donor, 1, 1))
    scores = np.zeros((len(_SITES), n), dtype=np.float32)
    if donor is None and acceptor is None:
        return scores
    for row, (model, strand, shift) in enumerate(rows):
        if model is not None:
            scores[row, shift:] = model[strand, : n - shift]
    # weight * logit(p) + bias, in place: the same float32 operations as written out, without
    # their temporaries.
    p = np.clip(scores, _EPS, 1 - _EPS, out=scores)
    log1m = np.log1p(np.negative(p))
    odds = np.log(p, out=p)
    odds -= log1m
    odds *= weights.site
    odds += weights.site_bias
    for row, (model, _, _) in enumerate(rows):
        if model is None:
            odds[row] = 0.0
    return odds


def _conditions(
    codes: np.ndarray,
    n: int,
    motifs: MotifPenalties,
    weights: HmmWeights,
    donor: np.ndarray | None,
    acceptor: np.ndarray | None,
    site_matrices: SiteMatrices | None,
    site_floor: float | None,
) -> np.ndarray:
    """``(n, C)`` float32 condition scores."""
    if site_matrices is not None and weights.matrices:
        scores = site_matrices.scores(codes, n, _PAD)
        matrices = np.stack([scores[site] for site in _SITES])
    else:
        matrices = np.zeros((len(_SITES), 0), dtype=np.float32)
    out = np.empty((n, len(CONDITIONS)), dtype=np.float32)
    _fill_conditions(
        codes,
        _motif_scores(motifs),
        _SITE_OF_ROW,
        _GATES,
        _splice_model_scores(donor, acceptor, n, weights),
        matrices,
        np.float32(weights.matrices),
        np.float32(-np.inf if site_floor is None else site_floor),
        out,
    )
    return out


@numba.njit(cache=True, nogil=True)
def _context(codes, j):
    """The context of ``codes[j]``: bases j-2 … j+2 as a base-5 number."""
    index = 0
    for k in range(j - 2, j + 3):
        index = 5 * index + codes[k]
    return index


@numba.njit(cache=True, nogil=True)
def _fill_conditions(codes, motif, site_of_row, gates, splice, matrices, matrix_weight, floor, out):
    """``out[i, row]``: the row's splice-site score at position i plus its gate in i's context.

    A site's score is its motif's log frequency, plus the splice model's log-odds, plus the
    weighted site matrices' (``matrices`` ``(4, n)``, or ``(4, 0)``: none), added in that order
    in float32; below ``floor`` it is ``-inf`` (closed). (Written out for the four sites:
    through a helper the loop runs twice as slow.)
    """
    closed = np.float32(-np.inf)
    for i in range(out.shape[0]):
        context = _context(codes, _PAD + i)
        frequency = motif[context]
        donor_p = frequency[1] + splice[0, i]
        acceptor_p = frequency[2] + splice[1, i]
        acceptor_m = frequency[3] + splice[2, i]
        donor_m = frequency[4] + splice[3, i]
        if matrices.shape[1]:
            donor_p += matrix_weight * matrices[0, i]
            acceptor_p += matrix_weight * matrices[1, i]
            acceptor_m += matrix_weight * matrices[2, i]
            donor_m += matrix_weight * matrices[3, i]
        donor_p = donor_p if donor_p >= floor else closed
        acceptor_p = acceptor_p if acceptor_p >= floor else closed
        acceptor_m = acceptor_m if acceptor_m >= floor else closed
        donor_m = donor_m if donor_m >= floor else closed
        row, gate = out[i], gates[context]
        for k in range(row.shape[0]):
            # A branch per row picks its site's score: faster than indexing an array of them.
            site = site_of_row[k]
            score = np.float32(0.0)
            if site == 1:
                score = donor_p
            elif site == 2:
                score = acceptor_p
            elif site == 3:
                score = acceptor_m
            elif site == 4:
                score = donor_m
            row[k] = score + gate[k]
