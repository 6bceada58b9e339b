"""Splice-site metrics: balanced window classification and genome-scale (SpliceAI-style) scoring.

Two families, reported separately because they answer different questions:

* **Balanced** (:func:`balanced_metrics`): accuracy, per-class precision/recall/F1, confusion
  matrix and one-vs-rest AUROC of a 3-class window classifier on a labelled window set. Useful
  only for comparison with papers that report balanced accuracy.
* **Genome-scale** (:func:`site_metrics`, :func:`genome_scale_report`): every scored position is a
  candidate, so the class prior is tiny. Average precision (PR-AUC), top-k accuracy, precision at
  90% recall and false positives per 10 kb follow the SpliceAI protocol.

Every function takes numpy arrays and returns plain Python numbers, lists and dicts (JSON ready).
Undefined values (no positive, empty input) are NaN and a line is added to the result's ``notes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from genatator.splice.windows import CLASS_NAMES

if TYPE_CHECKING:
    from genatator.splice.scoring import SiteScores

#: Site classes scored genome-wide, in the order of the model's first two logits.
SITE_KINDS = ("donor", "acceptor")
#: Scopes of the genome-scale report.
SCOPES = ("in_gene", "genome")
#: Recall target of the reported operating point.
RECALL_TARGET = 0.9
#: False positives are reported per this many bases.
FP_BASES = 10_000


@dataclass
class _Curve:
    """Cumulative counts at each distinct score threshold, highest threshold first.

    Row ``i`` counts the positions with ``score >= thresholds[i]``. The curve stops at the
    lowest positive score (full recall): lower thresholds change no metric computed from it.
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    positives: int
    total: int


def _as_pair(scores: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flattened scores and bool truth; ValueError on shape mismatch or NaN scores."""
    scores = np.asarray(scores)
    truth = np.asarray(truth)
    if scores.shape != truth.shape:
        raise ValueError(f"scores {scores.shape} and truth {truth.shape} differ in shape")
    scores = scores.ravel()
    if not np.issubdtype(scores.dtype, np.floating):
        scores = scores.astype(np.float64)
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    return scores, truth.ravel().astype(bool, copy=False)


def _curve(scores: np.ndarray, truth: np.ndarray) -> _Curve:
    """Counts of the precision-recall curve (inputs from :func:`_as_pair`), sorting what matters.

    Positions scored below the lowest positive are dropped (they sit after full recall), and the
    group tied at the lowest positive score is counted without sorting: at genome scale that
    group (e.g. every non-candidate scored 0) is most of the array.
    """
    positives = int(np.count_nonzero(truth))
    if positives == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _Curve(np.zeros(0), empty, empty, 0, scores.size)
    floor = scores[truth].min()
    above = scores > floor
    upper = scores[above]
    upper_truth = truth[above]
    order = np.argsort(upper, kind="stable")[::-1]
    upper = upper[order]
    tp_cum = np.cumsum(upper_truth[order], dtype=np.int64)
    # Last index of each group of tied scores: a tie enters the curve as one threshold.
    last = np.append(np.flatnonzero(upper[1:] != upper[:-1]), upper.size - 1)
    last = last[last >= 0]
    tp = tp_cum[last]
    fp = last + 1 - tp
    at_floor = int(np.count_nonzero(scores == floor))
    thresholds = np.append(upper[last], floor).astype(np.float64)
    tp = np.append(tp, positives)
    fp = np.append(fp, upper.size + at_floor - positives)
    return _Curve(thresholds, tp, fp, positives, scores.size)


def _ap(curve: _Curve) -> float:
    if curve.positives == 0:
        return math.nan
    precision = curve.tp / (curve.tp + curve.fp)
    recall = curve.tp / curve.positives
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def _top_k(curve: _Curve) -> float:
    k = curve.positives
    if k == 0:
        return math.nan
    counted = curve.tp + curve.fp
    i = int(np.searchsorted(counted, k, side="left"))  # first group reaching k predictions
    above = int(counted[i - 1]) if i else 0
    tp_above = int(curve.tp[i - 1]) if i else 0
    block = int(counted[i]) - above
    tp_block = int(curve.tp[i]) - tp_above
    # The k - above remaining slots are drawn from the tied block at random: expected positives.
    expected = tp_above + (k - above) * tp_block / block
    return float(expected / k)


def _at_recall(curve: _Curve, recall: float) -> tuple[float, float, int]:
    """(precision, threshold, false positives) at the highest threshold reaching ``recall``."""
    if curve.positives == 0:
        return math.nan, math.nan, 0
    needed = max(1, math.ceil(recall * curve.positives - 1e-9))
    i = int(np.searchsorted(curve.tp, needed, side="left"))
    tp, fp = int(curve.tp[i]), int(curve.fp[i])
    return tp / (tp + fp), float(curve.thresholds[i]), fp


def average_precision(scores: np.ndarray, truth: np.ndarray) -> float:
    """Area under the step precision-recall curve (scikit-learn's ``average_precision_score``).

    One threshold per distinct score, highest first; ``AP = sum_i (R_i - R_{i-1}) * P_i`` with
    ``R_0 = 0``, where ``P_i``/``R_i`` are the precision/recall of ``score >= threshold_i``.
    Tied scores enter together, so the order inside a tie cannot change the result.

    Args:
        scores: scores of any shape, higher meaning more likely a site.
        truth: bool array of the same shape.

    Returns:
        The average precision, or NaN when there is no positive.
    """
    return _ap(_curve(*_as_pair(scores, truth)))


def top_k_accuracy(scores: np.ndarray, truth: np.ndarray) -> float:
    """SpliceAI's top-k accuracy: the fraction of true sites among the ``k`` best-scored positions.

    ``k`` is the number of true sites, so this equals precision = recall at that cut. When the
    k-th score is tied with positions outside the top k, the tied block fills the remaining slots
    proportionally: it contributes ``(slots left) * (true in block) / (block size)`` true sites,
    the expected count under a random order of the tie.

    Args:
        scores: scores of any shape.
        truth: bool array of the same shape.

    Returns:
        Top-k accuracy in [0, 1], or NaN when there is no positive.
    """
    return _top_k(_curve(*_as_pair(scores, truth)))


def precision_at_recall(
    scores: np.ndarray, truth: np.ndarray, recall: float = RECALL_TARGET
) -> tuple[float, float]:
    """Precision at the highest threshold whose recall reaches ``recall``.

    Positions with ``score >= threshold`` are predicted sites; thresholds are the distinct scores.

    Args:
        scores: scores of any shape.
        truth: bool array of the same shape.
        recall: target recall in (0, 1].

    Returns:
        ``(precision, threshold)``, both NaN when there is no positive.
    """
    precision, threshold, _ = _at_recall(_curve(*_as_pair(scores, truth)), recall)
    return precision, threshold


def _fp_rate(false_positives: int, n_bases: int) -> float:
    return false_positives * FP_BASES / n_bases if n_bases else math.nan


def site_metrics(
    scores: np.ndarray, truth: np.ndarray, n_bases: int, threshold: float = 0.5
) -> dict:
    """Genome-scale metrics of one site class over one scope.

    Args:
        scores: per-position scores of the class (any shape; every entry is one scored
            position-strand pair).
        truth: bool array of the same shape, True at true sites.
        n_bases: bases in the scope, counting each strand once: a base scored on both strands
            counts twice. False positives per 10 kb are ``FP * 10_000 / n_bases``.
        threshold: fixed score threshold of the second false-positive rate.

    Returns:
        A dict with ``pr_auc``, ``top_k``, ``precision_at_90_recall``,
        ``threshold_at_90_recall``, ``fp_per_10kb_at_90_recall``, ``threshold``,
        ``fp_per_10kb_at_threshold``, ``n_true``, ``n_scored``, ``n_bases``, ``prior``
        (``n_true / n_scored``) and ``notes`` (why a value is NaN).
    """
    scores, truth = _as_pair(scores, truth)
    curve = _curve(scores, truth)
    notes = []
    if scores.size == 0:
        notes.append("no position scored")
    elif curve.positives == 0:
        notes.append("no true site in scope: PR-AUC, top-k and precision at recall undefined")
    precision, cut, fp_cut = _at_recall(curve, RECALL_TARGET)
    fp_fixed = int(np.count_nonzero(~truth & (scores >= threshold)))
    return {
        "pr_auc": _ap(curve),
        "top_k": _top_k(curve),
        "precision_at_90_recall": precision,
        "threshold_at_90_recall": cut,
        "fp_per_10kb_at_90_recall": _fp_rate(fp_cut, n_bases) if curve.positives else math.nan,
        "threshold": float(threshold),
        "fp_per_10kb_at_threshold": _fp_rate(fp_fixed, n_bases),
        "n_true": curve.positives,
        "n_scored": int(scores.size),
        "n_bases": int(n_bases),
        "prior": curve.positives / scores.size if scores.size else math.nan,
        "notes": notes,
    }


def genome_scale_report(
    scores: SiteScores,
    truth_donor: np.ndarray,
    truth_acceptor: np.ndarray,
    in_gene: np.ndarray,
    threshold: float = 0.5,
) -> dict:
    """Site metrics per class and scope from both strands' per-position scores.

    Args:
        scores: a :class:`genatator.splice.scoring.SiteScores` (``donor``/``acceptor`` arrays of
            shape ``(2, n)``, row 0 the + strand, row 1 the - strand).
        truth_donor: bool ``(2, n)``, True at annotated donor sites of that strand.
        truth_acceptor: bool ``(2, n)``, True at annotated acceptor sites.
        in_gene: bool ``(2, n)``, True inside an annotated gene on that strand.
        threshold: fixed threshold of the second false-positive rate.

    Returns:
        ``{"donor": {"in_gene": {...}, "genome": {...}}, "acceptor": {...}}``, each leaf a
        :func:`site_metrics` dict. ``in_gene`` scores only positions inside genes of their
        strand; ``genome`` scores every position of both strands.
    """
    in_gene = np.asarray(in_gene, dtype=bool)
    report: dict = {}
    for kind, truth in zip(SITE_KINDS, (truth_donor, truth_acceptor)):
        values = np.asarray(getattr(scores, kind))
        truth = np.asarray(truth, dtype=bool)
        if not values.shape == truth.shape == in_gene.shape:
            raise ValueError(
                f"{kind} scores {values.shape}, truth {truth.shape} and in_gene "
                f"{in_gene.shape} differ in shape"
            )
        report[kind] = {
            "in_gene": site_metrics(values[in_gene], truth[in_gene], int(in_gene.sum()), threshold),
            "genome": site_metrics(values, truth, values.size, threshold),
        }
    return report


def _midranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values`` with tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], ordered.size]
    group_rank = (starts + 1 + ends) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(group_rank, ends - starts)
    return ranks


def auroc(scores: np.ndarray, truth: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with midranks: a tied pair counts one half).

    Returns:
        AUROC, or NaN when either class is absent.
    """
    scores, truth = _as_pair(scores, truth)
    positives = int(np.count_nonzero(truth))
    negatives = truth.size - positives
    if positives == 0 or negatives == 0:
        return math.nan
    ranks = _midranks(scores)
    u = ranks[truth].sum() - positives * (positives + 1) / 2.0
    return float(u / (positives * negatives))


def _ratio_string(counts: np.ndarray) -> str:
    """Class counts relative to the smallest non-zero count, 3 significant digits: '1:1:2'."""
    nonzero = counts[counts > 0]
    if nonzero.size == 0:
        return ":".join("0" for _ in counts)
    return ":".join(f"{c / nonzero.min():.3g}" for c in counts)


def _safe(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def balanced_metrics(labels: np.ndarray, probs: np.ndarray) -> dict:
    """Metrics of a 3-class window classifier (donor, acceptor, neither) on labelled windows.

    The prediction is the argmax of ``probs`` (the first class wins an exact tie). Precision,
    recall and F1 of a class are 0 when undefined (no prediction / no example of it).

    Args:
        labels: int array ``(n,)`` of true classes (0 donor, 1 acceptor, 2 neither).
        probs: float array ``(n, 3)`` of class probabilities (or logits: only the order matters).

    Returns:
        A dict with ``n``, ``accuracy``, ``per_class`` (name -> precision, recall, f1,
        support), ``macro_f1``, ``confusion`` (3x3 list, rows true, columns predicted),
        ``class_counts`` (name -> count), ``class_ratio`` (e.g. ``"1:1:2"``, relative to the
        smallest non-zero count), ``auroc`` (donor and acceptor, one-vs-rest on that class's
        probability) and ``notes``.
    """
    labels = np.asarray(labels, dtype=np.int64).ravel()
    probs = np.asarray(probs, dtype=np.float64)
    classes = len(CLASS_NAMES)
    if probs.shape != (labels.size, classes):
        raise ValueError(f"probs must have shape ({labels.size}, {classes}), got {probs.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"labels must be in 0..{classes - 1}")
    notes = []
    predicted = probs.argmax(axis=1) if labels.size else labels
    confusion = np.bincount(labels * classes + predicted, minlength=classes * classes).reshape(
        classes, classes
    )
    counts = confusion.sum(axis=1)
    per_class = {}
    for index, name in enumerate(CLASS_NAMES):
        tp = int(confusion[index, index])
        precision = _safe(tp, int(confusion[:, index].sum()))
        recall = _safe(tp, int(counts[index]))
        per_class[name] = {
            "precision": precision,
            "recall": recall,
            "f1": _safe(2 * precision * recall, precision + recall),
            "support": int(counts[index]),
        }
    scores = {}
    for index, name in enumerate(SITE_KINDS):
        scores[name] = auroc(probs[:, index], labels == index) if labels.size else math.nan
        if math.isnan(scores[name]):
            notes.append(f"AUROC of {name} undefined: one side of one-vs-rest is empty")
    if labels.size == 0:
        notes.append("no window to evaluate")
    return {
        "n": int(labels.size),
        "accuracy": _safe(int(np.trace(confusion)), labels.size) if labels.size else math.nan,
        "per_class": per_class,
        "macro_f1": float(np.mean([m["f1"] for m in per_class.values()])),
        "confusion": confusion.tolist(),
        "class_counts": {name: int(c) for name, c in zip(CLASS_NAMES, counts)},
        "class_ratio": _ratio_string(counts),
        "auroc": scores,
        "notes": notes,
    }


def _number(value: float, digits: int = 4) -> str:
    return "nan" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _prior(metrics: dict) -> str:
    if not metrics["n_true"]:
        return "-"
    return f"1:{metrics['n_scored'] / metrics['n_true'] - 1:.0f}"


def format_genome_scale(report: dict) -> str:
    """A fixed-width text table of :func:`genome_scale_report`, one row per class and scope."""
    header = (
        f"{'class':<9}{'scope':<9}{'scored':>12}{'true':>9}{'prior':>10}{'PR-AUC':>8}"
        f"{'top-k':>8}{'P@90R':>8}{'thr@90R':>9}{'FP/10kb@90R':>13}{'FP/10kb@thr':>13}"
    )
    lines = ["genome-scale site metrics (SpliceAI protocol; prior = true : other)", header]
    notes = []
    for kind in SITE_KINDS:
        for scope in SCOPES:
            m = report[kind][scope]
            lines.append(
                f"{kind:<9}{scope:<9}{m['n_scored']:>12}{m['n_true']:>9}{_prior(m):>10}"
                f"{_number(m['pr_auc']):>8}{_number(m['top_k']):>8}"
                f"{_number(m['precision_at_90_recall']):>8}"
                f"{_number(m['threshold_at_90_recall']):>9}"
                f"{_number(m['fp_per_10kb_at_90_recall'], 2):>13}"
                f"{_number(m['fp_per_10kb_at_threshold'], 2):>13}"
            )
            notes.extend(f"{kind}/{scope}: {note}" for note in m["notes"])
    threshold = report[SITE_KINDS[0]][SCOPES[0]]["threshold"]
    lines.append(f"FP/10kb@thr: false positives per 10 kb (strands counted apart) at {threshold}")
    return "\n".join(lines + notes) + "\n"


def format_balanced(report: dict) -> str:
    """A text summary of :func:`balanced_metrics`: accuracy, per-class table, confusion matrix."""
    lines = [
        "balanced window metrics (comparability only: the genome's class prior is far smaller)",
        f"windows {report['n']}  class ratio (donor:acceptor:neither) {report['class_ratio']}",
        f"accuracy {_number(report['accuracy'])}  macro F1 {_number(report['macro_f1'])}",
        f"{'class':<10}{'precision':>10}{'recall':>10}{'F1':>10}{'support':>10}{'AUROC':>10}",
    ]
    for name in CLASS_NAMES:
        m = report["per_class"][name]
        auc = report["auroc"].get(name)
        lines.append(
            f"{name:<10}{_number(m['precision']):>10}{_number(m['recall']):>10}"
            f"{_number(m['f1']):>10}{m['support']:>10}{'' if auc is None else _number(auc):>10}"
        )
    lines.append("confusion (rows true, columns predicted)")
    lines.append(f"{'':<10}" + "".join(f"{name:>10}" for name in CLASS_NAMES))
    for name, row in zip(CLASS_NAMES, report["confusion"]):
        lines.append(f"{name:<10}" + "".join(f"{value:>10}" for value in row))
    lines.extend(report["notes"])
    return "\n".join(lines) + "\n"
