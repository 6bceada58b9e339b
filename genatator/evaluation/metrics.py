"""The evaluation metrics: interval, nucleotide, gene-level (three match rules), tolerance, length.

Definitions are written out in ``docs/evaluation.md``. Every function takes the scored
transcripts of both sides (``scope.select``) and returns counts; fractions are derived from
counts, so a report can always be checked by hand.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from genatator.annotation.models import Span, Transcript, merge_spans
from genatator.evaluation.intervals import (
    StartIndex,
    intersection_length,
    reciprocal_overlap,
    total_length,
)
from genatator.evaluation.scope import CLASSES, Locus, in_class

#: Transcript-end tolerances (nt) of the GENATATOR leaderboard.
TOLERANCES = (0, 50, 100, 250, 500)
#: Reference transcript length bins (genomic span, nt) of the recall-by-length curve.
LENGTH_EDGES: tuple[int | None, ...] = (0, 1000, 2000, 5000, 10000, 20000, 50000, None)
#: Gene-level match rules, strictest structure first.
RULES = ("exon_chain", "intron_chain", "cds_chain")
#: Reciprocal overlap at which two single-exon transcripts match under the intron-chain rule.
SINGLE_EXON_OVERLAP = 0.8

Parts = Callable[[Transcript], list[Span]]


def ratio(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator``, or None when nothing was counted."""
    return numerator / denominator if denominator else None


def harmonic_mean(a: float | None, b: float | None) -> float | None:
    """F1 of a precision and a recall; None when either is undefined."""
    if a is None or b is None:
        return None
    return 2 * a * b / (a + b) if a + b else 0.0


def exons_of(transcript: Transcript) -> list[Span]:
    return transcript.exons


def cds_of(transcript: Transcript) -> list[Span]:
    return transcript.cds


@dataclass(frozen=True)
class IntervalScore:
    """Unique intervals on each side and how many of them the other side also has."""

    predicted: int
    reference: int
    matched_predicted: int
    matched_reference: int

    @property
    def precision(self) -> float | None:
        return ratio(self.matched_predicted, self.predicted)

    @property
    def recall(self) -> float | None:
        return ratio(self.matched_reference, self.reference)

    @property
    def f1(self) -> float | None:
        return harmonic_mean(self.precision, self.recall)

    def as_dict(self) -> dict:
        return {
            "predicted": self.predicted,
            "reference": self.reference,
            "matched_predicted": self.matched_predicted,
            "matched_reference": self.matched_reference,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


@dataclass(frozen=True)
class BaseScore:
    """Bases on each side and how many of them the other side also covers (strand-aware)."""

    predicted_bases: int
    reference_bases: int
    matched_predicted_bases: int
    matched_reference_bases: int

    @property
    def sensitivity(self) -> float | None:
        return ratio(self.matched_reference_bases, self.reference_bases)

    @property
    def specificity(self) -> float | None:
        """Gene-finding specificity (Burset & Guigó): correct predicted bases / predicted bases."""
        return ratio(self.matched_predicted_bases, self.predicted_bases)

    @property
    def f1(self) -> float | None:
        return harmonic_mean(self.specificity, self.sensitivity)

    def as_dict(self) -> dict:
        return {
            "predicted_bases": self.predicted_bases,
            "reference_bases": self.reference_bases,
            "matched_predicted_bases": self.matched_predicted_bases,
            "matched_reference_bases": self.matched_reference_bases,
            "sensitivity": self.sensitivity,
            "specificity": self.specificity,
            "f1": self.f1,
        }


@dataclass(frozen=True)
class Recall:
    """Reference loci (or transcripts) found, out of all."""

    found: int
    total: int

    @property
    def fraction(self) -> float | None:
        return ratio(self.found, self.total)

    def as_dict(self) -> dict:
        return {"found": self.found, "total": self.total, "fraction": self.fraction}


@dataclass(frozen=True)
class Precision:
    """Predicted transcripts that match a reference transcript, out of all predicted."""

    matched: int
    predicted: int

    @property
    def fraction(self) -> float | None:
        return ratio(self.matched, self.predicted)

    def as_dict(self) -> dict:
        return {"matched": self.matched, "predicted": self.predicted, "fraction": self.fraction}


@dataclass(frozen=True)
class RuleScore:
    """One match rule's gene recall (over loci) and transcript precision, per class."""

    recall: dict[str, Recall]
    precision: dict[str, Precision]

    def f1(self, name: str) -> float | None:
        if name not in self.recall or name not in self.precision:
            return None
        return harmonic_mean(self.precision[name].fraction, self.recall[name].fraction)

    def as_dict(self) -> dict:
        return {
            "recall": {name: score.as_dict() for name, score in self.recall.items()},
            "precision": {name: score.as_dict() for name, score in self.precision.items()},
            "f1": {name: self.f1(name) for name in self.recall if name in self.precision},
        }


def _interval_keys(
    transcripts: Sequence[Transcript], parts: Parts, name: str
) -> set[tuple[str, str, int, int]]:
    return {
        (t.seqid, t.strand, start, end)
        for t in transcripts
        if in_class(t, name)
        for start, end in parts(t)
    }


def interval_scores(
    predicted: Sequence[Transcript],
    reference: Sequence[Transcript],
    parts: Parts,
    classes: Sequence[str] = CLASSES,
) -> dict[str, IntervalScore]:
    """Exact-match scores of unique (sequence, strand, start, end) intervals, per class.

    A class's precision counts its predicted intervals found anywhere in the reference; its recall
    counts its reference intervals found anywhere in the prediction. So a coding exon predicted
    inside a transcript called lncRNA still counts as found, and the class split shows where the
    errors are without mixing classification into structure.
    """
    all_predicted = _interval_keys(predicted, parts, "all")
    all_reference = _interval_keys(reference, parts, "all")
    scores = {}
    for name in classes:
        ours = _interval_keys(predicted, parts, name)
        theirs = _interval_keys(reference, parts, name)
        scores[name] = IntervalScore(
            predicted=len(ours),
            reference=len(theirs),
            matched_predicted=len(ours & all_reference),
            matched_reference=len(theirs & all_predicted),
        )
    return scores


def _covered(
    transcripts: Sequence[Transcript], parts: Parts, name: str
) -> dict[tuple[str, str], list[Span]]:
    spans: dict[tuple[str, str], list[Span]] = defaultdict(list)
    for t in transcripts:
        if in_class(t, name):
            spans[(t.seqid, t.strand)].extend(parts(t))
    return {key: merge_spans(value) for key, value in spans.items()}


def _shared_bases(
    ours: dict[tuple[str, str], list[Span]], theirs: dict[tuple[str, str], list[Span]]
) -> int:
    return sum(intersection_length(spans, theirs.get(key, [])) for key, spans in ours.items())


def base_scores(
    predicted: Sequence[Transcript],
    reference: Sequence[Transcript],
    parts: Parts,
    classes: Sequence[str] = CLASSES,
) -> dict[str, BaseScore]:
    """Nucleotide-level sensitivity and specificity per class, bases counted once per strand."""
    all_predicted = _covered(predicted, parts, "all")
    all_reference = _covered(reference, parts, "all")
    scores = {}
    for name in classes:
        ours = _covered(predicted, parts, name)
        theirs = _covered(reference, parts, name)
        scores[name] = BaseScore(
            predicted_bases=sum(total_length(spans) for spans in ours.values()),
            reference_bases=sum(total_length(spans) for spans in theirs.values()),
            matched_predicted_bases=_shared_bases(ours, all_reference),
            matched_reference_bases=_shared_bases(theirs, all_predicted),
        )
    return scores


def _introns(transcript: Transcript) -> tuple[Span, ...]:
    return tuple(transcript.introns)


class ChainMatcher:
    """Answers, for a transcript, which rules it matches some transcript of one annotation by.

    - ``exon_chain``: identical exons.
    - ``intron_chain``: identical introns, outer ends free; single-exon transcripts instead need
      a reciprocal overlap of at least ``SINGLE_EXON_OVERLAP`` with a single-exon transcript.
    - ``cds_chain``: identical CDS segments (both coding).
    """

    def __init__(self, transcripts: Sequence[Transcript]) -> None:
        self._exon_chains = {(t.seqid, t.strand, tuple(t.exons)) for t in transcripts}
        self._intron_chains = {
            (t.seqid, t.strand, _introns(t)) for t in transcripts if len(t.exons) > 1
        }
        self._cds_chains = {(t.seqid, t.strand, tuple(t.cds)) for t in transcripts if t.cds}
        self._single_exon = StartIndex(
            (t.seqid, t.strand, (t.start, t.end), None) for t in transcripts if len(t.exons) == 1
        )

    def matches(self, t: Transcript) -> dict[str, bool]:
        if len(t.exons) > 1:
            intron_chain = (t.seqid, t.strand, _introns(t)) in self._intron_chains
        else:
            span = (t.start, t.end)
            intron_chain = any(
                reciprocal_overlap(span, (start, end)) >= SINGLE_EXON_OVERLAP
                for start, end, _ in self._single_exon.overlapping(t.seqid, t.strand, span)
            )
        return {
            "exon_chain": (t.seqid, t.strand, tuple(t.exons)) in self._exon_chains,
            "intron_chain": intron_chain,
            "cds_chain": bool(t.cds) and (t.seqid, t.strand, tuple(t.cds)) in self._cds_chains,
        }


def _rule_classes(rule: str) -> tuple[str, ...]:
    # Non-coding transcripts have no CDS chain to match.
    return ("all", "coding") if rule == "cds_chain" else CLASSES


def _eligible(transcript: Transcript, rule: str) -> bool:
    return rule != "cds_chain" or bool(transcript.cds)


def locus_recall(
    loci: Sequence[Locus], hits: dict[int, dict[str, bool]], rule: str, name: str
) -> Recall:
    """Loci of a class with at least one transcript matched by ``rule``; hits keyed by id()."""
    found = total = 0
    for locus in loci:
        if name != "all" and locus.gene_class != name:
            continue
        members = [t for t in locus.transcripts if _eligible(t, rule)]
        if not members:
            continue
        total += 1
        found += any(hits[id(t)][rule] for t in members)
    return Recall(found, total)


def transcript_precision(
    predicted: Sequence[Transcript], hits: dict[int, dict[str, bool]], rule: str, name: str
) -> Precision:
    """Predicted transcripts of a class that match a reference transcript by ``rule``."""
    members = [t for t in predicted if in_class(t, name) and _eligible(t, rule)]
    return Precision(sum(hits[id(t)][rule] for t in members), len(members))


def gene_scores(
    predicted: Sequence[Transcript], reference: Sequence[Transcript], loci: Sequence[Locus]
) -> tuple[dict[str, RuleScore], dict[int, dict[str, bool]]]:
    """Per rule: recall over reference loci and precision over predicted transcripts.

    Returns the scores and each reference transcript's matches (keyed by ``id()``), which the
    recall-by-length curve reuses.
    """
    predicted_matcher = ChainMatcher(predicted)
    reference_matcher = ChainMatcher(reference)
    reference_hits = {id(t): predicted_matcher.matches(t) for t in reference}
    predicted_hits = {id(t): reference_matcher.matches(t) for t in predicted}
    scores = {
        rule: RuleScore(
            recall={
                name: locus_recall(loci, reference_hits, rule, name) for name in _rule_classes(rule)
            },
            precision={
                name: transcript_precision(predicted, predicted_hits, rule, name)
                for name in _rule_classes(rule)
            },
        )
        for rule in RULES
    }
    return scores, reference_hits


@dataclass(frozen=True)
class ToleranceScore:
    """Transcript matches at one end tolerance: by span alone and by span plus intron chain."""

    k: int
    span: RuleScore
    structure: RuleScore

    def as_dict(self) -> dict:
        return {"k": self.k, "span": self.span.as_dict(), "structure": self.structure.as_dict()}


def tolerance_scores(
    predicted: Sequence[Transcript],
    reference: Sequence[Transcript],
    loci: Sequence[Locus],
    tolerances: Sequence[int] = TOLERANCES,
) -> list[ToleranceScore]:
    """Leaderboard-style matches: same sequence and strand, both transcript ends within ``k`` nt.

    ``span`` compares the transcript ends only (the leaderboard's interval level); ``structure``
    also demands the same intron chain (both single-exon, or identical introns), so at ``k = 0``
    it equals the exact exon chain rule.
    """
    index = StartIndex((t.seqid, t.strand, (t.start, t.end), t) for t in predicted)
    introns = {id(t): _introns(t) for t in (*predicted, *reference)}
    results = []
    for k in tolerances:
        reference_hits: dict[int, dict[str, bool]] = {}
        predicted_hits = {id(t): {"span": False, "structure": False} for t in predicted}
        for t in reference:
            hit = {"span": False, "structure": False}
            for _, end, other in index.starting_within(t.seqid, t.strand, t.start - k, t.start + k):
                if abs(end - t.end) > k:
                    continue
                hit["span"] = predicted_hits[id(other)]["span"] = True
                if introns[id(other)] == introns[id(t)]:
                    hit["structure"] = predicted_hits[id(other)]["structure"] = True
            reference_hits[id(t)] = hit
        scores = {
            kind: RuleScore(
                recall={name: locus_recall(loci, reference_hits, kind, name) for name in CLASSES},
                precision={
                    name: transcript_precision(predicted, predicted_hits, kind, name)
                    for name in CLASSES
                },
            )
            for kind in ("span", "structure")
        }
        results.append(ToleranceScore(k, scores["span"], scores["structure"]))
    return results


def length_bin(length: int, edges: Sequence[int | None] = LENGTH_EDGES) -> int:
    """Index of the bin ``[edges[i], edges[i+1])`` holding ``length`` (None: no upper bound)."""
    for i in range(len(edges) - 1):
        upper = edges[i + 1]
        if upper is None or length < upper:
            return i
    raise ValueError(f"length {length} is beyond the last bin")


def recall_by_length(
    reference: Sequence[Transcript],
    hits: dict[int, dict[str, bool]],
    edges: Sequence[int | None] = LENGTH_EDGES,
) -> dict:
    """Fraction of reference transcripts found per genomic-length bin, for each rule.

    The CDS-chain fraction counts coding transcripts only (``coding_transcripts`` per bin).
    """
    bins = len(edges) - 1
    counts = [0] * bins
    coding = [0] * bins
    found = {rule: [0] * bins for rule in RULES}
    for t in reference:
        i = length_bin(t.end - t.start, edges)
        counts[i] += 1
        coding[i] += bool(t.cds)
        for rule in RULES:
            found[rule][i] += hits[id(t)][rule]
    curves = {
        rule: [
            ratio(found[rule][i], coding[i] if rule == "cds_chain" else counts[i])
            for i in range(bins)
        ]
        for rule in RULES
    }
    return {
        "edges": list(edges),
        "transcripts": counts,
        "coding_transcripts": coding,
        **curves,
    }


def class_counts(loci: Sequence[Locus]) -> dict[str, int]:
    """Number of reference loci, in total and per gene class."""
    counts = {"loci": len(loci), "coding_loci": 0, "noncoding_loci": 0, "unknown_loci": 0}
    for locus in loci:
        counts[f"{locus.gene_class}_loci"] += 1
    return counts


__all__ = [
    "LENGTH_EDGES",
    "RULES",
    "SINGLE_EXON_OVERLAP",
    "TOLERANCES",
    "BaseScore",
    "ChainMatcher",
    "IntervalScore",
    "Precision",
    "Recall",
    "RuleScore",
    "ToleranceScore",
    "base_scores",
    "cds_of",
    "class_counts",
    "exons_of",
    "gene_scores",
    "interval_scores",
    "length_bin",
    "recall_by_length",
    "tolerance_scores",
]
