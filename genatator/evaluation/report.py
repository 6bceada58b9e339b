"""Evaluate one annotation against a reference and report the metrics as JSON or a text table."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genatator._io import display_name
from genatator.annotation import Annotation, read_annotation
from genatator.errors import GenatatorWarning, InputError
from genatator.evaluation.metrics import (
    RULES,
    BaseScore,
    IntervalScore,
    RuleScore,
    ToleranceScore,
    base_scores,
    cds_of,
    class_counts,
    exons_of,
    gene_scores,
    interval_scores,
    recall_by_length,
    tolerance_scores,
)
from genatator.evaluation.scope import CLASSES, Scope, loci, select
from genatator.regions import Region

_RULE_TITLES = {
    "exon_chain": "exact exon chain",
    "intron_chain": "intron chain",
    "cds_chain": "exact CDS chain",
}
_CLASS_TITLES = {"all": "all", "coding": "coding", "noncoding": "non-coding"}


@dataclass
class Evaluation:
    """Every metric of one prediction against one reference (see ``docs/evaluation.md``)."""

    prediction_name: str
    reference_name: str
    regions: list[Region] | None
    prediction_counts: dict[str, int]
    reference_counts: dict[str, int]
    exon: dict[str, IntervalScore]
    cds: dict[str, IntervalScore]
    exon_bases: dict[str, BaseScore]
    cds_bases: dict[str, BaseScore]
    gene: dict[str, RuleScore]
    tolerance: list[ToleranceScore]
    by_length: dict

    def to_dict(self) -> dict:
        """JSON-ready nested dict; fractions are None where their denominator is zero."""
        return {
            "prediction": self.prediction_name,
            "reference": self.reference_name,
            "regions": None if self.regions is None else [str(r) for r in self.regions],
            "counts": {"prediction": self.prediction_counts, "reference": self.reference_counts},
            "exon": {name: score.as_dict() for name, score in self.exon.items()},
            "cds": {name: score.as_dict() for name, score in self.cds.items()},
            "nucleotide": {
                "exon": {name: score.as_dict() for name, score in self.exon_bases.items()},
                "cds": {name: score.as_dict() for name, score in self.cds_bases.items()},
            },
            "gene": {rule: score.as_dict() for rule, score in self.gene.items()},
            "tolerance": [score.as_dict() for score in self.tolerance],
            "by_length": self.by_length,
        }


def evaluate(
    prediction: Annotation,
    reference: Annotation,
    *,
    regions: Sequence[Region] | None = None,
    prediction_name: str = "prediction",
    reference_name: str = "reference",
) -> Evaluation:
    """Score ``prediction`` against ``reference`` with every metric of ``docs/evaluation.md``.

    Raises:
        InputError: the reference has no scored transcript (mRNA, lnc_RNA or ``transcript``) in
            the evaluated regions, so no metric would be defined.
    """
    regions = None if regions is None else list(regions)
    predicted: Scope = select(prediction, regions)
    expected: Scope = select(reference, regions)
    if not expected.transcripts:
        where = " inside the given regions" if regions is not None else ""
        raise InputError(
            f"no mRNA, lnc_RNA or transcript features{where} to evaluate against",
            path=reference_name,
        )
    shared = {t.seqid for t in predicted.transcripts} & {t.seqid for t in expected.transcripts}
    if predicted.transcripts and not shared:
        warnings.warn(
            f"{prediction_name} and {reference_name} share no sequence name: "
            "check that both use the same assembly's names (e.g. 'chr2R' vs '2R')",
            GenatatorWarning,
            stacklevel=2,
        )
    ours, theirs = predicted.transcripts, expected.transcripts
    reference_loci = loci(theirs)
    gene, reference_hits = gene_scores(ours, theirs, reference_loci)
    return Evaluation(
        prediction_name=prediction_name,
        reference_name=reference_name,
        regions=regions,
        prediction_counts=predicted.counts(),
        reference_counts={**expected.counts(), **class_counts(reference_loci)},
        exon=interval_scores(ours, theirs, exons_of),
        cds=interval_scores(ours, theirs, cds_of, classes=("coding",)),
        exon_bases=base_scores(ours, theirs, exons_of),
        cds_bases=base_scores(ours, theirs, cds_of, classes=("coding",)),
        gene=gene,
        tolerance=tolerance_scores(ours, theirs, reference_loci),
        by_length=recall_by_length(theirs, reference_hits),
    )


def evaluate_paths(
    prediction: str | Path,
    reference: str | Path,
    *,
    regions: Sequence[Region] | None = None,
    lenient: bool = False,
) -> Evaluation:
    """Read two GFF3/GTF files (plain or gzipped, ``-`` for stdin) and evaluate the first.

    Raises:
        InputError: a file is missing or malformed (unless ``lenient``), or the reference has
            nothing to evaluate against.
    """
    if str(prediction) == "-" and str(reference) == "-":
        raise InputError("only one of PRED and REF can be read from standard input", path="-")
    return evaluate(
        read_annotation(prediction, lenient=lenient),
        read_annotation(reference, lenient=lenient),
        regions=regions,
        prediction_name=display_name(prediction),
        reference_name=display_name(reference),
    )


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _row(metric: str, name: str, *cells: str) -> str:
    return f"{metric:<36}{_CLASS_TITLES[name]:<12}" + "".join(f"{cell:>21}" for cell in cells)


def _fraction(value: float | None, numerator: int, denominator: int) -> str:
    return f"{_number(value)} ({numerator}/{denominator})"


def format_text(evaluation: Evaluation) -> str:
    """The report as an aligned plain-text table (the default ``genatator evaluate`` output)."""
    p, r = evaluation.prediction_counts, evaluation.reference_counts
    lines = [
        f"prediction: {evaluation.prediction_name}: {p['transcripts']} transcripts "
        f"({p['coding']} coding, {p['noncoding']} non-coding, {p['unknown']} unknown); "
        f"{p['ignored']} of other kinds ignored",
        f"reference:  {evaluation.reference_name}: {r['transcripts']} transcripts in "
        f"{r['loci']} loci ({r['coding_loci']} coding, {r['noncoding_loci']} non-coding, "
        f"{r['unknown_loci']} unknown); {r['ignored']} of other kinds ignored",
    ]
    if evaluation.regions is not None:
        lines.append(
            "regions:    "
            + ", ".join(str(region) for region in evaluation.regions)
            + f" ({p['outside_regions']} predicted and {r['outside_regions']} reference "
            "transcripts not entirely inside were left out)"
        )
    header = _row("metric", "all", "precision", "recall", "F1").replace("all", "class", 1)
    lines += ["", header, "-" * len(header)]
    for title, scores in (("exon", evaluation.exon), ("CDS", evaluation.cds)):
        for name, s in scores.items():
            lines.append(
                _row(
                    title,
                    name,
                    _fraction(s.precision, s.matched_predicted, s.predicted),
                    _fraction(s.recall, s.matched_reference, s.reference),
                    _number(s.f1),
                )
            )
    for title, bases in (("exon bases (Sp, Sn)", evaluation.exon_bases),
                         ("CDS bases (Sp, Sn)", evaluation.cds_bases)):  # fmt: skip
        for name, b in bases.items():
            lines.append(
                _row(title, name, _number(b.specificity), _number(b.sensitivity), _number(b.f1))
            )
    lines.append("")
    for rule in RULES:
        score = evaluation.gene[rule]
        for name in score.recall:
            found, matched = score.recall[name], score.precision[name]
            lines.append(
                _row(
                    f"gene: {_RULE_TITLES[rule]}",
                    name,
                    _fraction(matched.fraction, matched.matched, matched.predicted),
                    _fraction(found.fraction, found.found, found.total),
                    _number(score.f1(name)),
                )
            )
    lines.append("")
    for tolerance in evaluation.tolerance:
        for kind, score in (("ends", tolerance.span), ("ends + introns", tolerance.structure)):
            matched, found = score.precision["all"], score.recall["all"]
            lines.append(
                _row(
                    f"transcript ±{tolerance.k} nt ({kind})",
                    "all",
                    _fraction(matched.fraction, matched.matched, matched.predicted),
                    _fraction(found.fraction, found.found, found.total),
                    _number(score.f1("all")),
                )
            )
    lines += [
        "",
        "precision: matched predicted / predicted; recall: found reference / reference "
        "(gene rows: loci). Definitions: docs/evaluation.md",
    ]
    return "\n".join(lines) + "\n"


__all__ = ["CLASSES", "Evaluation", "evaluate", "evaluate_paths", "format_text"]
