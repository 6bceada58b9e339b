"""The gene-structure HMM: states, emission classes and the conditional edges between them.

Read in genome order (left to right), a ``+`` gene runs 5'UTR → start codon → coding exons and
introns → stop codon → 3'UTR, and a ``-`` gene the mirror image: 3'UTR → stop codon (TTA, CTA,
TCA on the genome) → coding → start codon (CAT) → 5'UTR. Coding states carry the position of
their base within its codon, so introns know their phase; a phase-1 or phase-2 intron also
remembers the bases before it that could complete a stop codon across the junction, and the
acceptor edge refuses the exon starts that would. Start and stop codons have states of their own
and are never split by an intron. Non-coding transcripts (lncRNA) have exon and
intron states without a frame. Introns are at least ``min_intron_length`` long (a delayed edge)
and their length is a mixture of a short and a long geometric part.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from genatator.decode.kernel import EdgeList
from genatator.decode.parameters import GeneModelParameters

__all__ = ["CONDITIONS", "EMISSION_CLASSES", "GeneModel", "StateInfo", "build_gene_model"]

#: Emission classes: the rows of the evidence's emission matrix.
EMISSION_CLASSES = (
    "intergenic", "intron", "utr5_exon", "utr3_exon", "noncoding_exon",
    "coding_plus_0", "coding_plus_1", "coding_plus_2",
    "coding_minus_0", "coding_minus_1", "coding_minus_2",
)  # fmt: skip
_CLASS = {name: index for index, name in enumerate(EMISSION_CLASSES)}

#: Conditions (rows of the evidence's condition matrix), each scored at an edge's entry
#: position ``i`` (the first base of the new state). ``p``/``m``: the strand.
#: donor_p: + intron starts at i; acceptor_p: exon starts at i after a + intron;
#: acceptor_m: - intron starts at i (its acceptor, CT on the genome); donor_m: exon starts at i
#: after a - intron (its donor, AC on the genome). start_p: ATG at i; stop_p: a stop at i;
#: nostop_p: bases i-2..i are not a stop (a codon completed in one exon); start_m: CAT at
#: i..i+2; suffixes name the bases before a phase-1/2 donor and the stops refused after.
CONDITIONS = (
    "always",
    "donor_p", "donor_p_t", "donor_p_nt", "donor_p_ta", "donor_p_tg", "donor_p_x2",
    "acceptor_p", "acceptor_p_start", "acceptor_p_stop", "acceptor_p_1t", "acceptor_p_2ta",
    "acceptor_p_2tg",
    "start_p", "stop_p", "nostop_p",
    "acceptor_m", "acceptor_m_t", "acceptor_m_c", "acceptor_m_x1", "acceptor_m_s2",
    "acceptor_m_x2",
    "donor_m", "donor_m_stop", "donor_m_start", "donor_m_1t", "donor_m_1c", "donor_m_2s",
    "stop_m", "nostop_m", "start_m",
)  # fmt: skip
_COND = {name: index for index, name in enumerate(CONDITIONS)}

#: State roles, for turning a path into transcripts.
INTERGENIC, UTR5, UTR3, CODING, INTRON, NONCODING = range(6)


@dataclass(frozen=True)
class StateInfo:
    """What a state means: its name, strand (``+``/``-``, ``.`` for intergenic) and role."""

    name: str
    strand: str
    role: int
    intron_kind: str = ""  # "coding", "utr5", "utr3", "noncoding" for intron states

    @property
    def exonic(self) -> bool:
        return self.role in (UTR5, UTR3, CODING, NONCODING)


@dataclass(frozen=True)
class GeneModel:
    """The compiled edges plus what each state means."""

    edges: EdgeList
    states: tuple[StateInfo, ...]
    #: ``pair[src, dst]``: the one edge from ``src`` to ``dst`` (-1: none).
    pair: np.ndarray

    @property
    def intergenic(self) -> int:
        return 0

    def mask(self, predicate) -> np.ndarray:  # type: ignore[no-untyped-def]
        """Boolean ``(S,)``: the states for which ``predicate(StateInfo)`` holds."""
        return np.array([bool(predicate(info)) for info in self.states])


class _Builder:
    def __init__(self) -> None:
        self.states: list[StateInfo] = []
        self.classes: list[int] = []
        self.index: dict[str, int] = {}
        self.edges: list[tuple[int, int, int, int, float]] = []

    def state(self, name: str, strand: str, role: int, klass: str, intron_kind: str = "") -> None:
        self.index[name] = len(self.states)
        self.states.append(StateInfo(name, strand, role, intron_kind))
        self.classes.append(_CLASS[klass])

    def edge(self, src: str, dst: str, probability: float, condition: str = "always",
             delay: int = 1, bonus: float = 0.0) -> None:  # fmt: skip
        weight = math.log(max(probability, 1e-300)) + bonus
        self.edges.append((self.index[src], self.index[dst], delay, _COND[condition], weight))


def _stay(mean_length: float) -> float:
    """Per-base probability of staying in a geometric state of this mean length."""
    return 1.0 - 1.0 / max(mean_length, 1.000001)


def _intron(b: _Builder, name: str, strand: str, kind: str, p: GeneModelParameters) -> None:
    """Short and long parts of one intron type; entries go through :func:`_enter_intron`."""
    mean = p.utr_intron_length if kind != "coding" else None
    for part in ("short", "long"):
        b.state(f"{name}:{part}", strand, INTRON, "intron", kind)
        length = mean or (p.short_intron_length if part == "short" else p.long_intron_length)
        tail = max(length - p.min_intron_length, 1.0)
        b.edge(f"{name}:{part}", f"{name}:{part}", _stay(tail + 1))


def _enter_intron(b: _Builder, src: str, intron: str, probability: float, condition: str,
                  p: GeneModelParameters, kind: str) -> None:  # fmt: skip
    share = p.short_intron_fraction if kind == "coding" else 0.5
    for part, fraction in (("short", share), ("long", 1.0 - share)):
        b.edge(src, f"{intron}:{part}", probability * fraction, condition, p.min_intron_length)


def _leave_intron(b: _Builder, intron: str, dst: str, condition: str, p: GeneModelParameters,
                  kind: str, share: float = 1.0) -> None:  # fmt: skip
    mean = p.utr_intron_length if kind != "coding" else None
    for part in ("short", "long"):
        length = mean or (p.short_intron_length if part == "short" else p.long_intron_length)
        leave = 1.0 - _stay(max(length - p.min_intron_length, 1.0) + 1)
        b.edge(f"{intron}:{part}", dst, leave * share, condition)


def _plus_strand(b: _Builder, p: GeneModelParameters, gene_start: float, coding: float) -> None:
    s = "+"
    b.state("U5E+", s, UTR5, "utr5_exon")
    b.state("U3E+", s, UTR3, "utr3_exon")
    b.state("NE+", s, NONCODING, "noncoding_exon")
    for frame in range(3):
        b.state(f"C{frame}+", s, CODING, f"coding_plus_{frame}")
    b.state("C1s+", s, CODING, "coding_plus_1")  # first base after a phase-1 intron
    for frame in range(3):
        b.state(f"SC{frame}+", s, CODING, f"coding_plus_{frame}")  # the start codon
    for frame in range(3):
        b.state(f"ST{frame}+", s, CODING, f"coding_plus_{frame}")
    introns = {
        "I0+": "coding", "I1T+": "coding", "I1x+": "coding", "I2TA+": "coding",
        "I2TG+": "coding", "I2x+": "coding", "U5I+": "utr5", "U3I+": "utr3", "NI+": "noncoding",
    }  # fmt: skip
    for name, kind in introns.items():
        _intron(b, name, s, kind, p)

    # Gene starts: coding with or without a 5'UTR, or non-coding.
    b.edge("IG", "U5E+", gene_start * coding * p.five_utr_fraction)
    b.edge("IG", "SC0+", gene_start * coding * (1 - p.five_utr_fraction), "start_p")
    b.edge("IG", "NE+", gene_start * (1 - coding))
    # 5'UTR.
    leave = 1 - _stay(p.five_utr_piece_length)
    b.edge("U5E+", "U5E+", 1 - leave)
    _enter_intron(b, "U5E+", "U5I+", leave * p.five_utr_intron_fraction, "donor_p", p, "utr5")
    b.edge("U5E+", "SC0+", leave * (1 - p.five_utr_intron_fraction), "start_p")
    _leave_intron(b, "U5I+", "U5E+", "acceptor_p", p, "utr5")
    _leave_intron(b, "U5I+", "SC0+", "acceptor_p_start", p, "utr5")
    # Coding exons: frame progression, in-frame stops refused where a codon is completed.
    leave = 1 - _stay(p.cds_piece_length)
    to_intron = leave * p.cds_intron_fraction
    to_stop = 3 * leave * (1 - p.cds_intron_fraction)  # only one frame in three can stop
    # The start codon (checked on entry), then a codon, an intron or the stop codon.
    b.edge("SC0+", "SC1+", 1.0)
    b.edge("SC1+", "SC2+", 1.0)
    b.edge("SC2+", "C0+", 1 - to_intron - to_stop)
    b.edge("SC2+", "ST0+", to_stop, "stop_p")
    _enter_intron(b, "SC2+", "I0+", to_intron, "donor_p", p, "coding")
    b.edge("C0+", "C1+", 1 - to_intron)
    b.edge("C1+", "C2+", 1 - to_intron, "nostop_p")
    b.edge("C1s+", "C2+", 1.0)
    b.edge("C2+", "C0+", 1 - to_intron - to_stop)
    b.edge("C2+", "ST0+", to_stop, "stop_p")
    _enter_intron(b, "C0+", "I1T+", to_intron, "donor_p_t", p, "coding")
    _enter_intron(b, "C0+", "I1x+", to_intron, "donor_p_nt", p, "coding")
    _enter_intron(b, "C1+", "I2TA+", to_intron, "donor_p_ta", p, "coding")
    _enter_intron(b, "C1+", "I2TG+", to_intron, "donor_p_tg", p, "coding")
    _enter_intron(b, "C1+", "I2x+", to_intron, "donor_p_x2", p, "coding")
    _enter_intron(b, "C2+", "I0+", to_intron, "donor_p", p, "coding")
    _leave_intron(b, "I0+", "C0+", "acceptor_p", p, "coding")
    _leave_intron(b, "I0+", "ST0+", "acceptor_p_stop", p, "coding")
    _leave_intron(b, "I1T+", "C1s+", "acceptor_p_1t", p, "coding")
    _leave_intron(b, "I1x+", "C1s+", "acceptor_p", p, "coding")
    _leave_intron(b, "I2TA+", "C2+", "acceptor_p_2ta", p, "coding")
    _leave_intron(b, "I2TG+", "C2+", "acceptor_p_2tg", p, "coding")
    _leave_intron(b, "I2x+", "C2+", "acceptor_p", p, "coding")
    # Stop codon, then a 3'UTR (possibly starting with an intron) or the end of the gene.
    b.edge("ST0+", "ST1+", 1.0)
    b.edge("ST1+", "ST2+", 1.0)
    b.edge("ST2+", "U3E+", p.three_utr_fraction * (1 - p.three_utr_intron_fraction))
    _enter_intron(b, "ST2+", "U3I+", p.three_utr_fraction * p.three_utr_intron_fraction,
                  "donor_p", p, "utr3")  # fmt: skip
    b.edge("ST2+", "IG", 1 - p.three_utr_fraction)
    leave = 1 - _stay(p.three_utr_piece_length)
    b.edge("U3E+", "U3E+", 1 - leave)
    _enter_intron(b, "U3E+", "U3I+", leave * p.three_utr_intron_fraction, "donor_p", p, "utr3")
    b.edge("U3E+", "IG", leave * (1 - p.three_utr_intron_fraction))
    _leave_intron(b, "U3I+", "U3E+", "acceptor_p", p, "utr3")
    # Non-coding transcripts.
    leave = 1 - _stay(p.noncoding_exon_length)
    b.edge("NE+", "NE+", 1 - leave)
    _enter_intron(b, "NE+", "NI+", leave * p.noncoding_intron_fraction, "donor_p", p, "noncoding")
    b.edge("NE+", "IG", leave * (1 - p.noncoding_intron_fraction))
    _leave_intron(b, "NI+", "NE+", "acceptor_p", p, "noncoding")


def _minus_strand(b: _Builder, p: GeneModelParameters, gene_start: float, coding: float) -> None:
    # Genome order reads a - gene from its 3' end: D<g> carries the base's position g within
    # its codon in genome order, which is codon position 2 - g of the transcript.
    s = "-"
    b.state("U5E-", s, UTR5, "utr5_exon")
    b.state("U3E-", s, UTR3, "utr3_exon")
    b.state("NE-", s, NONCODING, "noncoding_exon")
    for g in range(3):
        b.state(f"D{g}-", s, CODING, f"coding_minus_{2 - g}")
    b.state("D1s-", s, CODING, "coding_minus_1")
    for g in range(3):
        b.state(f"DA{g}-", s, CODING, f"coding_minus_{2 - g}")  # the start codon, CAT
    for g in range(3):
        b.state(f"DS{g}-", s, CODING, f"coding_minus_{2 - g}")
    introns = {
        "J0-": "coding", "J1T-": "coding", "J1C-": "coding", "J1x-": "coding", "J2S-": "coding",
        "J2x-": "coding", "U5I-": "utr5", "U3I-": "utr3", "NI-": "noncoding",
    }  # fmt: skip
    for name, kind in introns.items():
        _intron(b, name, s, kind, p)

    b.edge("IG", "U3E-", gene_start * coding * p.three_utr_fraction)
    b.edge("IG", "DS0-", gene_start * coding * (1 - p.three_utr_fraction), "stop_m")
    b.edge("IG", "NE-", gene_start * (1 - coding))
    # 3'UTR (left end of the gene), then the stop codon.
    leave = 1 - _stay(p.three_utr_piece_length)
    b.edge("U3E-", "U3E-", 1 - leave)
    _enter_intron(b, "U3E-", "U3I-", leave * p.three_utr_intron_fraction, "acceptor_m", p, "utr3")
    b.edge("U3E-", "DS0-", leave * (1 - p.three_utr_intron_fraction), "stop_m")
    _leave_intron(b, "U3I-", "U3E-", "donor_m", p, "utr3")
    _leave_intron(b, "U3I-", "DS0-", "donor_m_stop", p, "utr3")
    b.edge("DS0-", "DS1-", 1.0)
    b.edge("DS1-", "DS2-", 1.0)
    leave = 1 - _stay(p.cds_piece_length)
    to_intron = leave * p.cds_intron_fraction
    to_start = 3 * leave * (1 - p.cds_intron_fraction)
    b.edge("DS2-", "D0-", 1 - to_intron - to_start)
    b.edge("DS2-", "DA0-", to_start, "start_m")
    _enter_intron(b, "DS2-", "J0-", to_intron, "acceptor_m", p, "coding")
    # Coding exons.
    b.edge("D0-", "D1-", 1 - to_intron)
    b.edge("D1-", "D2-", 1 - to_intron, "nostop_m")
    b.edge("D1s-", "D2-", 1.0)
    b.edge("D2-", "D0-", 1 - to_intron - to_start)
    _enter_intron(b, "D0-", "J1T-", to_intron, "acceptor_m_t", p, "coding")
    _enter_intron(b, "D0-", "J1C-", to_intron, "acceptor_m_c", p, "coding")
    _enter_intron(b, "D0-", "J1x-", to_intron, "acceptor_m_x1", p, "coding")
    _enter_intron(b, "D1-", "J2S-", to_intron, "acceptor_m_s2", p, "coding")
    _enter_intron(b, "D1-", "J2x-", to_intron, "acceptor_m_x2", p, "coding")
    _enter_intron(b, "D2-", "J0-", to_intron, "acceptor_m", p, "coding")
    _leave_intron(b, "J0-", "D0-", "donor_m", p, "coding")
    _leave_intron(b, "J0-", "DA0-", "donor_m_start", p, "coding", to_start)
    _leave_intron(b, "J1T-", "D1s-", "donor_m_1t", p, "coding")
    _leave_intron(b, "J1C-", "D1s-", "donor_m_1c", p, "coding")
    _leave_intron(b, "J1x-", "D1s-", "donor_m", p, "coding")
    _leave_intron(b, "J2S-", "D2-", "donor_m_2s", p, "coding")
    _leave_intron(b, "J2x-", "D2-", "donor_m", p, "coding")
    # Start codon (CAT on the genome, checked on entry), then the 5'UTR or the gene's end.
    five = p.five_utr_fraction
    b.edge("D2-", "DA0-", to_start, "start_m")
    b.edge("DA0-", "DA1-", 1.0)
    b.edge("DA1-", "DA2-", 1.0)
    b.edge("DA2-", "U5E-", five * (1 - p.five_utr_intron_fraction))
    _enter_intron(b, "DA2-", "U5I-", five * p.five_utr_intron_fraction, "acceptor_m", p, "utr5")
    b.edge("DA2-", "IG", 1 - five)
    leave = 1 - _stay(p.five_utr_piece_length)
    b.edge("U5E-", "U5E-", 1 - leave)
    _enter_intron(b, "U5E-", "U5I-", leave * p.five_utr_intron_fraction, "acceptor_m", p, "utr5")
    b.edge("U5E-", "IG", leave * (1 - p.five_utr_intron_fraction))
    _leave_intron(b, "U5I-", "U5E-", "donor_m", p, "utr5")
    leave = 1 - _stay(p.noncoding_exon_length)
    b.edge("NE-", "NE-", 1 - leave)
    _enter_intron(b, "NE-", "NI-", leave * p.noncoding_intron_fraction, "acceptor_m", p,
                  "noncoding")  # fmt: skip
    b.edge("NE-", "IG", leave * (1 - p.noncoding_intron_fraction))
    _leave_intron(b, "NI-", "NE-", "donor_m", p, "noncoding")


def build_gene_model(
    parameters: GeneModelParameters,
    *,
    gene_penalty: float = 0.0,
    noncoding_penalty: float = 0.0,
    utr_intron_penalty: float = 0.0,
    long_intron_scale: float = 1.0,
) -> GeneModel:
    """The HMM for these counted parameters.

    Args:
        parameters: lengths and fractions from :meth:`GeneModelParameters.count`.
        gene_penalty: subtracted from the log-probability of starting any gene (tuned: it
            trades gene recall for precision on a weak network).
        noncoding_penalty: subtracted again for non-coding genes.
        utr_intron_penalty: subtracted from the log-probability of entering a UTR intron.
        long_intron_scale: multiplies the counted mean length of long coding introns.
    """
    if long_intron_scale != 1.0:
        parameters = dataclasses.replace(
            parameters, long_intron_length=parameters.long_intron_length * long_intron_scale
        )
    b = _Builder()
    b.state("IG", ".", INTERGENIC, "intergenic")
    p = parameters
    gene_start = 1 - _stay(p.intergenic_length)
    b.edge("IG", "IG", 1 - gene_start)
    per_strand = gene_start / 2
    _plus_strand(b, p, per_strand, p.coding_fraction)
    _minus_strand(b, p, per_strand, p.coding_fraction)
    edges = []
    ig = b.index["IG"]
    noncoding = {b.index["NE+"], b.index["NE-"]}
    utr_introns = {i for i, s in enumerate(b.states) if s.intron_kind in ("utr5", "utr3")}
    for src, dst, delay, condition, weight in b.edges:
        if src == ig and dst != ig:
            weight -= gene_penalty + (noncoding_penalty if dst in noncoding else 0.0)
        if dst in utr_introns and src not in utr_introns:
            weight -= utr_intron_penalty
        edges.append((src, dst, delay, condition, weight))
    states, classes, edges = _introns_last(b.states, b.classes, edges)
    compiled = EdgeList.build(edges, classes)
    pair = np.full((len(states), len(states)), -1, dtype=np.int32)
    for k, (src, dst) in enumerate(zip(compiled.src, compiled.dst)):
        if pair[src, dst] != -1:
            raise AssertionError(f"two edges {states[src].name} → {states[dst].name}")
        pair[src, dst] = k
    return GeneModel(compiled, tuple(states), pair)


def _introns_last(
    states: list[StateInfo], classes: list[int], edges: list[tuple[int, int, int, int, float]]
) -> tuple[list[StateInfo], list[int], list[tuple[int, int, int, int, float]]]:
    """The same model with the intron states numbered last, so that the compiled passes update
    them as one contiguous block (:attr:`EdgeList.self_block`); intergenic stays state 0."""
    order = sorted(range(len(states)), key=lambda s: states[s].role == INTRON)
    new = {old: index for index, old in enumerate(order)}
    renumbered = [(new[src], new[dst], *rest) for src, dst, *rest in edges]
    return [states[s] for s in order], [classes[s] for s in order], renumbered
