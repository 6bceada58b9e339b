"""The gene-model decoder: Viterbi over the gene-structure HMM, transcripts, posterior scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genatator.annotation.kinds import noncoding_kind
from genatator.annotation.models import CODING_KIND, Span, Transcript
from genatator.decode.content import CodonModel
from genatator.decode.evidence import MotifPenalties, build_evidence
from genatator.decode.kernel import Evidence, backward, forward, viterbi
from genatator.decode.options import HmmOptions
from genatator.decode.parameters import GeneModelParameters
from genatator.decode.sites import SiteMatrices
from genatator.decode.topology import CODING, INTERGENIC, INTRON, GeneModel, build_gene_model
from genatator.postprocess.assembly import runs
from genatator.postprocess.dinucleotides import SpliceTable

__all__ = ["HmmDecoder", "SegmentInputs"]


@dataclass(frozen=True)
class SegmentInputs:
    """Evidence sources for one stretch ``[lo, hi)`` of a sequence (arrays cover the stretch)."""

    lo: int
    hi: int
    probabilities: np.ndarray | None = None
    donor: np.ndarray | None = None
    acceptor: np.ndarray | None = None


class HmmDecoder:
    """Decodes stretches of a sequence that start and end in intergenic DNA into transcripts."""

    def __init__(
        self,
        parameters: GeneModelParameters,
        splice_table: SpliceTable,
        options: HmmOptions,
        codon_model: CodonModel | None = None,
        site_matrices: SiteMatrices | None = None,
    ) -> None:
        self.options = options
        self.codon_model = codon_model
        self.site_matrices = site_matrices
        self.motifs = MotifPenalties.from_table(splice_table)
        weights = options.weights
        self.model: GeneModel = build_gene_model(
            parameters,
            gene_penalty=weights.gene_penalty,
            noncoding_penalty=weights.noncoding_penalty,
            utr_intron_penalty=weights.utr_intron_penalty,
            long_intron_scale=weights.long_intron_scale,
        )
        model = self.model
        self._exonic = model.mask(lambda s: s.exonic)
        self._coding = model.mask(lambda s: s.role == CODING)
        self._coding_intron = model.mask(lambda s: s.role == INTRON and s.intron_kind == "coding")
        self._genic = model.mask(lambda s: s.role != INTERGENIC)
        self._plus = model.mask(lambda s: s.strand == "+")

    def evidence(self, sequence: str, inputs: SegmentInputs) -> Evidence:
        probabilities = inputs.probabilities if self.options.use_network else None
        return build_evidence(
            sequence,
            inputs.lo,
            inputs.hi,
            weights=self.options.weights,
            motifs=self.motifs,
            probabilities=probabilities,
            donor=inputs.donor,
            acceptor=inputs.acceptor,
            codon_model=self.codon_model,
            site_matrices=self.site_matrices,
            site_floor=self.options.site_floor,
        )

    def decode(
        self, sequence: str, inputs: SegmentInputs, *, seqid: str, posteriors: bool = True
    ) -> list[Transcript]:
        """Transcripts of ``sequence[lo:hi]``, in genome coordinates, with posterior scores
        (unless ``posteriors`` is False: weight fitting needs only the structures).

        The path is forced to be intergenic at both ends of the stretch.
        """
        evidence = self.evidence(sequence, inputs)
        states = viterbi(self.model.edges, evidence, 0, 0).states
        if len(states) and states[0] < 0:  # no legal path (cannot happen: IG may always stay)
            return []
        genes = runs(states > 0)
        # The decoded path's log factor at each position, summed once for every gene's window.
        cumulative = (
            np.cumsum(_path_increments(self.model, evidence, states)) if posteriors else None
        )
        transcripts = []
        for index, (a, b) in enumerate(genes):
            transcript = self._transcript(states, a, b, seqid, inputs.lo)
            if transcript is None:
                continue
            transcripts.append(transcript)
            if not posteriors:
                continue
            lo = max(
                a - self.options.posterior_flank, (genes[index - 1][1] + a) // 2 if index else 0
            )
            hi = len(states)
            if index + 1 < len(genes):
                hi = (b + genes[index + 1][0]) // 2 + 1
            hi = min(b + self.options.posterior_flank, hi)
            self._score(transcript, evidence, states, cumulative, a, b, lo, hi)
        return transcripts

    def _transcript(
        self, states: np.ndarray, a: int, b: int, seqid: str, offset: int
    ) -> Transcript | None:
        path = states[a:b]
        strand = "+" if self._plus[path[0]] else "-"
        exons = _spans(runs(self._exonic[path]), int(a) + offset)
        cds = _spans(runs(self._coding[path]), int(a) + offset)
        length = sum(end - start for start, end in exons)
        if not cds:
            options = self.options
            if not options.lncrna or length < options.min_lncrna_length:
                return None
            if len(exons) < options.min_lncrna_exons:
                return None
        return Transcript(
            id="",
            seqid=seqid,
            strand=strand,
            exons=exons,
            cds=cds,
            kind=CODING_KIND if cds else noncoding_kind(length),
            source="genatator",
        )

    def _score(
        self,
        transcript: Transcript,
        evidence: Evidence,
        states: np.ndarray,
        cumulative: np.ndarray,
        a: int,
        b: int,
        lo: int,
        hi: int,
    ) -> None:
        """Posterior probabilities of the transcript, its exons and its CDS, from
        forward–backward over ``[lo, hi)`` (intergenic at both ends, as decoded)."""
        window = evidence.window(lo, hi)
        offset = transcript.exons[0][0] - (a - lo)  # genome coordinate of window position 0
        gene = (a - lo, b - lo)
        exons = [(start - offset, end - offset) for start, end in transcript.exons]
        cds = (
            [(transcript.cds[0][0] - offset, transcript.cds[-1][1] - offset)]
            if transcript.cds
            else []
        )
        asked = [gene, *exons, *cds]
        scorer = _PosteriorScorer(self.model, window, states[lo:hi], cumulative[lo:hi], asked)
        exon_scores = [scorer.segment(*exon, self._exonic) for exon in exons]
        first, last = self._reported_exons(transcript, exon_scores)
        transcript.exons = transcript.exons[first : last + 1]
        transcript.exon_scores = exon_scores[first : last + 1]
        # The transcript as reported: from its first reported exon to its last.
        transcript.score = scorer.segment(exons[first][0], exons[last][1], self._genic)
        if transcript.cds:
            inside = self._coding | self._coding_intron
            transcript.attributes["cds_probability"] = f"{scorer.segment(*cds[0], inside):.4g}"

    def _reported_exons(self, transcript: Transcript, scores: list[float]) -> tuple[int, int]:
        """First and last exon reported: a coding transcript's UTR-only exons are kept outward
        from the CDS while each has at least ``min_utr_exon_posterior``."""
        last = len(transcript.exons) - 1
        threshold = self.options.min_utr_exon_posterior
        if not transcript.cds or threshold <= 0.0:
            return 0, last
        lo, hi = transcript.cds[0][0], transcript.cds[-1][1]
        coding = [i for i, (start, end) in enumerate(transcript.exons) if end > lo and start < hi]
        first, final = coding[0], coding[-1]
        while first > 0 and scores[first - 1] >= threshold:
            first -= 1
        while final < last and scores[final + 1] >= threshold:
            final += 1
        return first, final


def _spans(runs: np.ndarray, offset: int) -> list[Span]:
    return [(int(start) + offset, int(end) + offset) for start, end in runs]


def _path_increments(model: GeneModel, evidence: Evidence, path: np.ndarray) -> np.ndarray:
    """Log factor of the decoded path at each position (edge entered there + emission)."""
    edges, path = model.edges, path.astype(np.int64)
    n = len(path)
    emission = evidence.emissions[edges.state_class[path], np.arange(n)].astype(np.float64)
    edge = np.full(n, -1)
    edge[1:] = model.pair[path[:-1], path[1:]]
    gain = np.zeros(n)
    valid = edge >= 0
    positions = np.flatnonzero(valid)
    gain[valid] = (
        edges.weight[edge[valid]] + evidence.conditions[edges.condition[edge[valid]], positions]
    )
    # A delayed edge's factor covers its first `delay` positions: no self-loops inside.
    for start in np.flatnonzero(valid & (edges.delay[np.maximum(edge, 0)] > 1)):
        gain[start + 1 : start + edges.delay[edge[start]]] = 0.0
    return gain + emission


class _PosteriorScorer:
    """Posterior probability that a stretch of the decoded path is exactly as decoded.

    For ``[a, b)`` and a set of states ``inside``: the path enters ``inside`` at ``a`` from
    outside it, follows the decoded states through ``b - 1`` and leaves ``inside`` right after.
    """

    def __init__(
        self,
        model: GeneModel,
        evidence: Evidence,
        path: np.ndarray,
        cumulative: np.ndarray,
        segments: list[tuple[int, int]],
    ) -> None:
        """Runs forward–backward over ``evidence``, keeping only the rows that ``segment`` will
        read for the ``segments`` ``[a, b)`` asked for (alpha before ``a``, beta where an
        edge out of ``b - 1`` ends). ``cumulative``: running sums of the path's log factors
        over the window (:func:`_path_increments`); only their differences are read."""
        self.model, self.evidence, self.path = model, evidence, path
        edges, n = model.edges, len(path)
        delays = np.unique(edges.delay)
        starts = {a - 1 for a, _ in segments if a >= 1}
        ends = {b - 1 + int(d) for _, b in segments for d in delays if b - 1 + d < n}
        alpha_rows = np.array(sorted(starts | {n - 1}), dtype=np.int64)
        beta_rows = np.array(sorted(ends), dtype=np.int64)
        alpha, self.log_scale = forward(edges, evidence, 0, alpha_rows)
        beta = backward(edges, evidence, 0, self.log_scale, beta_rows)
        self.alpha = dict(zip(alpha_rows.tolist(), alpha, strict=True))
        self.beta = dict(zip(beta_rows.tolist(), beta, strict=True))
        self.log_end = np.log(self.alpha[n - 1][0])
        self.prefix = evidence.prefix(edges.delayed_classes)
        self.cumulative = cumulative

    def _factor(self, k: int, end: int) -> float:
        """Log factor of edge ``k`` ending at ``end`` (weight, entry condition, emissions)."""
        edges = self.model.edges
        delay, klass = int(edges.delay[k]), int(edges.state_class[edges.dst[k]])
        entry = end - delay + 1
        gate = float(self.evidence.conditions[edges.condition[k], entry])
        if delay == 1:  # running sums exist only for the classes delayed edges cover
            return float(edges.weight[k]) + gate + float(self.evidence.emissions[klass, end])
        return (
            float(edges.weight[k]) + gate + self.prefix[klass, end + 1] - self.prefix[klass, entry]
        )

    def segment(self, a: int, b: int, inside: np.ndarray) -> float:
        edges, path, n = self.model.edges, self.path, len(self.path)
        if a < 1 or b > n - 1:
            return 0.0
        first, last = int(path[a]), int(path[b - 1])
        before = self.alpha[a - 1]
        entry = [
            np.log(before[edges.src[k]]) + self._factor(k, a)
            for k in range(edges.incoming[first], edges.incoming[first + 1])
            if not inside[edges.src[k]] and edges.delay[k] == 1 and before[edges.src[k]] > 0
        ]
        exits = []
        for k in np.flatnonzero(edges.src == last):
            end = b - 1 + int(edges.delay[k])
            if inside[edges.dst[k]] or end > n - 1 or self.beta[end][edges.dst[k]] <= 0:
                continue
            exits.append(
                self._factor(int(k), end)
                + np.log(self.beta[end][edges.dst[k]])
                + self.log_scale[a - 1]
                - self.log_scale[end]
            )
        if not entry or not exits:
            return 0.0
        inner = self.cumulative[b - 1] - self.cumulative[a]
        log_p = np.logaddexp.reduce(entry) + inner + np.logaddexp.reduce(exits) - self.log_end
        return float(min(max(np.exp(log_p), 0.0), 1.0))
