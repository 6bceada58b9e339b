"""Splice metrics: exact values on hand-computed cases (balanced and genome-scale)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genatator.splice.scoring import SiteScores
from genatator.splice.site_metrics import (
    auroc,
    average_precision,
    balanced_metrics,
    format_balanced,
    format_genome_scale,
    genome_scale_report,
    precision_at_recall,
    site_metrics,
    top_k_accuracy,
)


def _naive_ap(scores: np.ndarray, truth: np.ndarray) -> float:
    """AP by its definition, one threshold per distinct score, in plain Python."""
    total, previous_recall = 0.0, 0.0
    for threshold in sorted(set(scores.tolist()), reverse=True):
        predicted = scores >= threshold
        tp = int(np.sum(predicted & truth))
        recall = tp / truth.sum()
        total += (recall - previous_recall) * tp / predicted.sum()
        previous_recall = recall
    return total


def _naive_auroc(scores: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of (positive, negative) pairs ordered correctly, ties counting one half."""
    pos, neg = scores[truth], scores[~truth]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (pos.size * neg.size)


def test_average_precision_without_ties():
    # Sorted: 0.9 T, 0.8 F, 0.7 T, 0.6 F; P/R at each threshold: 1/.5, .5/.5, 2/3/1, .5/1.
    # AP = .5*1 + 0*.5 + .5*(2/3) + 0*.5 = 5/6.
    scores = np.array([0.7, 0.9, 0.6, 0.8])
    truth = np.array([True, True, False, False])
    assert average_precision(scores, truth) == pytest.approx(5 / 6)


def test_average_precision_groups_ties():
    # Thresholds 0.9 (tp 1 of 1), 0.5 (tp 2 of 4), 0.1 (tp 3 of 5); P = 1, .5, .6; R = 1/3, 2/3, 1.
    # AP = (1 + .5 + .6) / 3 = 0.7, whatever the order inside the 0.5 tie.
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    for truth in ([1, 1, 0, 0, 1], [1, 0, 0, 1, 1], [1, 0, 1, 0, 1]):
        assert average_precision(scores, np.array(truth, bool)) == pytest.approx(0.7)


def test_average_precision_ignores_scores_below_lowest_positive():
    # 0.9 T (P 1, R .5), 0.5 F, 0.2 T (P 2/3, R 1): AP = .5 + .5 * 2/3; 0.1 and 0.0 do not count.
    truth = np.array([True, False, True, False, False])
    assert average_precision(np.array([0.9, 0.5, 0.2, 0.1, 0.0]), truth) == pytest.approx(5 / 6)
    # A positive tied with the bulk of zeros: 0.5 T (P 1, R .5), 0.0 (4 positions, 2 T: P .5, R 1).
    scores = np.array([0.5, 0.0, 0.0, 0.0])
    assert average_precision(scores, np.array([1, 0, 1, 0], bool)) == pytest.approx(0.75)


def test_average_precision_matches_definition_on_random_ties():
    rng = np.random.default_rng(1)
    for _ in range(20):
        scores = np.round(rng.random(60), 1) * (rng.random(60) < 0.6)  # many ties, many zeros
        truth = rng.random(60) < 0.2
        if truth.any():
            assert average_precision(scores, truth) == pytest.approx(_naive_ap(scores, truth))


def test_average_precision_accepts_two_dimensional_arrays_and_float32():
    scores = np.array([[0.7, 0.9], [0.6, 0.8]], dtype=np.float32)
    truth = np.array([[True, True], [False, False]])
    assert average_precision(scores, truth) == pytest.approx(5 / 6)


def test_top_k_accuracy_without_ties():
    # k = 2: the two best are 0.9 (T) and 0.8 (F) -> 1/2.
    scores = np.array([0.7, 0.9, 0.6, 0.8])
    assert top_k_accuracy(scores, np.array([1, 1, 0, 0], bool)) == 0.5
    assert top_k_accuracy(scores, np.array([0, 1, 0, 1], bool)) == 1.0


def test_top_k_accuracy_shares_a_tie_at_the_cut():
    # k = 3; sorted 0.9 T | 0.5 T, 0.5 F, 0.5 F | 0.1 T. One true above the tie, 2 slots left for
    # a block of 3 holding 1 true: expected 2 * 1/3 true -> (1 + 2/3) / 3 = 5/9.
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    assert top_k_accuracy(scores, np.array([1, 1, 0, 0, 1], bool)) == pytest.approx(5 / 9)
    # A tie ending exactly at k counts whole: k = 2, top two are the 0.5s, one of them true.
    scores = np.array([0.5, 0.5, 0.1, 0.0])
    assert top_k_accuracy(scores, np.array([1, 0, 0, 1], bool)) == pytest.approx(0.5)


def test_precision_at_recall():
    # Sorted 0.9 T, 0.8 T, 0.7 F, 0.6 T, 0.5 F (3 positives).
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    truth = np.array([1, 1, 0, 1, 0], bool)
    # 90% of 3 needs all 3: threshold 0.6, 3 of 4 predicted are true.
    assert precision_at_recall(scores, truth) == (pytest.approx(0.75), 0.6)
    # 60% of 3 needs 2: the highest such threshold is 0.8, precision 1.
    assert precision_at_recall(scores, truth, recall=0.6) == (1.0, 0.8)


def test_precision_at_recall_is_robust_to_float_rounding():
    # 0.56 * 25 = 14.000000000000002 in floating point; 14 positives are enough.
    scores = np.arange(40, 0, -1) / 40.0
    truth = np.zeros(40, bool)
    truth[:14] = True  # the 14 best
    truth[15:26] = True  # 11 more after one negative (25 positives)
    precision, threshold = precision_at_recall(scores, truth, recall=0.56)
    assert (precision, threshold) == (1.0, scores[13])


def test_site_metrics_false_positives_per_10kb():
    # Sorted 0.9 T, 0.8 F, 0.7 F, 0.6 T, 0.4 F, 0.3 T; positives 3, so 90% recall needs all 3:
    # threshold 0.3 with 3 FP; at 0.5: 0.8 and 0.7 -> 2 FP. n_bases 2000: FP * 10000 / 2000.
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.1, 0.0])
    truth = np.array([1, 0, 0, 1, 0, 1, 0, 0], bool)
    m = site_metrics(scores, truth, n_bases=2000)
    assert m["threshold_at_90_recall"] == 0.3
    assert m["precision_at_90_recall"] == pytest.approx(0.5)
    assert m["fp_per_10kb_at_90_recall"] == pytest.approx(15.0)
    assert m["fp_per_10kb_at_threshold"] == pytest.approx(10.0)
    assert m["threshold"] == 0.5
    assert (m["n_true"], m["n_scored"], m["n_bases"]) == (3, 8, 2000)
    assert m["prior"] == pytest.approx(3 / 8)
    # AP: 0.9 (1, 1/3), 0.6 (2/4, 2/3), 0.3 (3/6, 1) -> (1 + .5 + .5) / 3.
    assert m["pr_auc"] == pytest.approx(2 / 3)
    assert m["top_k"] == pytest.approx(1 / 3)  # top 3: 0.9 T, 0.8 F, 0.7 F
    assert m["notes"] == []
    assert site_metrics(scores, truth, n_bases=2000, threshold=0.75)[
        "fp_per_10kb_at_threshold"
    ] == pytest.approx(5.0)


def test_no_positive_and_empty_inputs_give_nan_with_a_note():
    scores, truth = np.array([0.9, 0.1]), np.zeros(2, bool)
    assert math.isnan(average_precision(scores, truth))
    assert math.isnan(top_k_accuracy(scores, truth))
    assert all(math.isnan(x) for x in precision_at_recall(scores, truth))
    m = site_metrics(scores, truth, n_bases=2)
    assert math.isnan(m["pr_auc"]) and math.isnan(m["fp_per_10kb_at_90_recall"])
    assert m["fp_per_10kb_at_threshold"] == pytest.approx(5000.0)  # 1 FP in 2 bases
    assert m["prior"] == 0.0 and m["notes"]
    empty = site_metrics(np.zeros(0), np.zeros(0, bool), n_bases=0)
    assert empty["n_scored"] == 0 and math.isnan(empty["prior"]) and empty["notes"]
    assert math.isnan(empty["fp_per_10kb_at_threshold"])
    assert math.isnan(auroc(scores, truth))


def test_shape_mismatch_and_nan_scores_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        average_precision(np.zeros(3), np.zeros(2, bool))
    with pytest.raises(ValueError, match="NaN"):
        average_precision(np.array([0.1, np.nan]), np.array([True, False]))


def test_auroc_with_ties_uses_midranks():
    # Pairs (pos, neg): (.8,.5) 1, (.8,.2) 1, (.5,.5) 1/2, (.5,.2) 1 -> 3.5 / 4.
    scores = np.array([0.8, 0.5, 0.5, 0.2])
    assert auroc(scores, np.array([1, 1, 0, 0], bool)) == 0.875
    rng = np.random.default_rng(2)
    for _ in range(10):
        scores = np.round(rng.random(50), 1)
        truth = rng.random(50) < 0.3
        assert auroc(scores, truth) == pytest.approx(_naive_auroc(scores, truth))


def test_balanced_metrics_exact():
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    probs = np.array(
        [
            [0.7, 0.2, 0.1],  # donor -> donor
            [0.3, 0.6, 0.1],  # donor -> acceptor
            [0.1, 0.8, 0.1],  # acceptor -> acceptor
            [0.2, 0.5, 0.3],  # acceptor -> acceptor
            [0.1, 0.1, 0.8],  # neither -> neither
            [0.5, 0.1, 0.4],  # neither -> donor
            [0.3, 0.2, 0.5],  # neither -> neither
        ]
    )
    m = balanced_metrics(labels, probs)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    assert m["accuracy"] == pytest.approx(5 / 7)
    # donor P 1/2 R 1/2; acceptor P 2/3 R 1 F1 .8; neither P 1 R 2/3 F1 .8.
    assert m["per_class"]["donor"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert m["per_class"]["acceptor"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["acceptor"]["recall"] == 1.0
    assert m["per_class"]["acceptor"]["f1"] == pytest.approx(0.8)
    assert m["per_class"]["neither"]["f1"] == pytest.approx(0.8)
    assert m["macro_f1"] == pytest.approx(0.7)
    assert m["class_counts"] == {"donor": 2, "acceptor": 2, "neither": 3}
    assert m["class_ratio"] == "1:1:1.5"
    # Donor AUROC: 0.7 beats all 5 negatives; 0.3 beats 0.1, 0.2, 0.1, ties 0.3, loses to 0.5
    # -> (5 + 3.5) / 10. Acceptor: 0.8 beats all; 0.5 beats 4, loses to 0.6 -> 9 / 10.
    assert m["auroc"]["donor"] == pytest.approx(0.85)
    assert m["auroc"]["acceptor"] == pytest.approx(0.9)
    assert m["n"] == 7 and m["notes"] == []
    text = format_balanced(m)
    assert "1:1:1.5" in text and "0.7143" in text and "0.8500" in text


def test_balanced_metrics_undefined_values():
    # Nothing predicted as acceptor and no acceptor example: precision, recall, F1 all 0.
    labels = np.array([0, 2])
    probs = np.array([[0.9, 0.0, 0.1], [0.1, 0.0, 0.9]])
    m = balanced_metrics(labels, probs)
    assert m["per_class"]["acceptor"] == {"precision": 0, "recall": 0, "f1": 0, "support": 0}
    assert m["class_ratio"] == "1:0:1"
    assert math.isnan(m["auroc"]["acceptor"]) and m["notes"]
    empty = balanced_metrics(np.zeros(0, int), np.zeros((0, 3)))
    assert empty["n"] == 0 and math.isnan(empty["accuracy"]) and empty["class_ratio"] == "0:0:0"
    format_balanced(empty)
    with pytest.raises(ValueError, match="shape"):
        balanced_metrics(labels, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="labels"):
        balanced_metrics(np.array([0, 3]), probs)


def test_genome_scale_report_scopes():
    donor = np.array([[0.9, 0.1, 0.8, 0.0, 0.0], [0.0, 0.7, 0.0, 0.0, 0.3]], np.float32)
    scores = SiteScores(donor, np.zeros((2, 5), np.float32))
    truth_donor = np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 1]], bool)
    in_gene = np.array([[1, 1, 1, 0, 0], [0, 0, 0, 1, 1]], bool)
    report = genome_scale_report(scores, truth_donor, np.zeros((2, 5), bool), in_gene)
    gene, genome = report["donor"]["in_gene"], report["donor"]["genome"]
    # In genes: 0.9 T, 0.8 F, 0.3 T, 0.1 F, 0.0 F (the minus 0.7 lies outside the minus gene).
    # AP = .5 * 1 + .5 * 2/3; top-2 = {0.9 T, 0.8 F}; 90% recall at 0.3 with 1 FP in 5 bases.
    assert gene["pr_auc"] == pytest.approx(5 / 6)
    assert gene["top_k"] == 0.5
    assert (gene["precision_at_90_recall"], gene["threshold_at_90_recall"]) == (
        pytest.approx(2 / 3),
        pytest.approx(0.3),
    )
    assert gene["fp_per_10kb_at_90_recall"] == pytest.approx(2000.0)
    assert gene["fp_per_10kb_at_threshold"] == pytest.approx(2000.0)  # 0.8
    assert (gene["n_true"], gene["n_scored"], gene["n_bases"]) == (2, 5, 5)
    # Genome: 0.9 T, 0.8 F, 0.7 F, 0.3 T, ...: AP = .5 + .5 * 2/4; 2 FP at 0.3 and at 0.5 in 10.
    assert genome["pr_auc"] == pytest.approx(0.75)
    assert genome["precision_at_90_recall"] == pytest.approx(0.5)
    assert genome["fp_per_10kb_at_90_recall"] == pytest.approx(2000.0)
    assert genome["fp_per_10kb_at_threshold"] == pytest.approx(2000.0)
    assert (genome["n_true"], genome["n_scored"], genome["prior"]) == (2, 10, 0.2)
    acceptor = report["acceptor"]["genome"]
    assert math.isnan(acceptor["pr_auc"]) and acceptor["n_true"] == 0 and acceptor["notes"]
    text = format_genome_scale(report)
    assert "0.8333" in text and "0.7500" in text and "acceptor/genome: no true site" in text
    with pytest.raises(ValueError, match="shape"):
        genome_scale_report(scores, truth_donor[:, :4], truth_donor, in_gene)


def test_cross_check_with_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    scores = np.round(rng.random(500), 2)
    truth = rng.random(500) < 0.1
    assert average_precision(scores, truth) == pytest.approx(
        metrics.average_precision_score(truth, scores)
    )
    assert auroc(scores, truth) == pytest.approx(metrics.roc_auc_score(truth, scores))
