"""Tests of genatator.training.track_metrics: exact numbers on hand-built intervals and rankings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genatator.training.track_metrics import (
    IntervalCounts,
    TrackMetrics,
    average_precision,
    binary_intervals,
)


def mask(row: str) -> np.ndarray:
    """A boolean array from a string ('#' = True, '.' = False)."""
    return np.array([c == "#" for c in row], dtype=bool)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("", []),
        (".....", []),
        ("#####", [(0, 5)]),
        ("#", [(0, 1)]),
        ("##..#.###", [(0, 2), (4, 5), (6, 9)]),
        (".#.##.", [(1, 2), (3, 5)]),
    ],
)
def test_binary_intervals(row: str, expected: list[tuple[int, int]]) -> None:
    intervals = binary_intervals(mask(row))
    assert intervals.dtype == np.int64
    assert intervals.shape == (len(expected), 2)
    assert intervals.tolist() == [list(pair) for pair in expected]


def test_binary_intervals_rejects_2d() -> None:
    with pytest.raises(ValueError, match="1-D"):
        binary_intervals(np.zeros((2, 2), dtype=bool))


def test_interval_counts_hand_case() -> None:
    # Reference [2,5), [7,9); predictions [2,5) (exact), [7,8) (wrong end), [10,11) (spurious).
    counts = IntervalCounts()
    counts.update(mask("..###..##..."), mask("..###..#..#."))
    assert (counts.tp, counts.fp, counts.fn) == (1, 2, 1)
    assert counts.precision == pytest.approx(1 / 3)
    assert counts.recall == pytest.approx(1 / 2)
    assert counts.f1 == pytest.approx(2 / (2 + 2 + 1))


def test_interval_counts_pool_over_samples() -> None:
    counts = IntervalCounts()
    counts.update(mask("..###..##..."), mask("..###..#..#."))  # tp 1, fp 2, fn 1
    # A run merged across a gap matches neither reference run: tp 0, fp 1, fn 2; then tp 1.
    counts.update(mask("##.##"), mask("#####"))
    counts.update(mask(".#."), mask(".#."))
    assert counts == IntervalCounts(tp=2, fp=3, fn=3)
    assert counts.f1 == pytest.approx(4 / (4 + 3 + 3))
    assert counts.precision == pytest.approx(2 / 5)
    assert counts.recall == pytest.approx(2 / 5)


def test_interval_counts_merge() -> None:
    merged = IntervalCounts(1, 2, 3).merge(IntervalCounts(10, 20, 30))
    assert merged == IntervalCounts(11, 22, 33)


def test_interval_counts_empty_is_zero_not_nan() -> None:
    counts = IntervalCounts()
    counts.update(mask("...."), mask("...."))
    assert counts == IntervalCounts()
    assert (counts.f1, counts.precision, counts.recall) == (0.0, 0.0, 0.0)


def test_interval_counts_rejects_length_mismatch() -> None:
    with pytest.raises(ValueError, match="equal length"):
        IntervalCounts().update(mask("..."), mask("...."))


def test_average_precision_with_ties() -> None:
    # Thresholds 0.9: P = 1, R = 1/2; 0.8 (two tied, one positive): P = 2/3, R = 1; 0.1: dR = 0.
    # AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
    ap = average_precision(np.array([0.9, 0.8, 0.8, 0.1]), np.array([1, 0, 1, 0]))
    assert ap == pytest.approx(5 / 6)


def test_average_precision_ties_independent_of_order() -> None:
    # The same data with the tied pair swapped: a tie is one threshold whatever the order.
    ap = average_precision(np.array([0.9, 0.8, 0.8, 0.1]), np.array([1, 1, 0, 0]))
    assert ap == pytest.approx(5 / 6)


def test_average_precision_hand_case() -> None:
    # Descending: 0.7 (+) P 1 R 1/3; 0.6 (-) dR 0; 0.5 (+) P 2/3 R 2/3; 0.3 (-) dR 0;
    # 0.2 (+) P 3/5 R 1. AP = 1/3 * 1 + 1/3 * 2/3 + 1/3 * 3/5 = (15 + 10 + 9) / 45 = 34/45.
    scores = np.array([0.3, 0.5, 0.7, 0.2, 0.6])
    targets = np.array([0, 1, 1, 1, 0])
    assert average_precision(scores, targets) == pytest.approx(34 / 45)


def test_average_precision_perfect_ranking() -> None:
    assert average_precision(np.array([0.1, 0.9, 0.8, 0.2]), np.array([0, 1, 1, 0])) == 1.0


def test_average_precision_all_tied() -> None:
    # One threshold holding everything: P = prevalence, R = 1.
    ap = average_precision(np.full(8, 0.5), np.array([1, 0, 0, 1, 0, 0, 0, 1]))
    assert ap == pytest.approx(3 / 8)


def test_average_precision_no_positive_is_nan() -> None:
    assert math.isnan(average_precision(np.array([0.9, 0.1]), np.array([0, 0])))
    assert math.isnan(average_precision(np.zeros(0), np.zeros(0)))


def brute_force_average_precision(scores: list[float], targets: list[int]) -> float:
    """The same definition, one threshold at a time in pure Python."""
    positives = sum(targets)
    ap, previous_recall = 0.0, 0.0
    for threshold in sorted(set(scores), reverse=True):
        selected = [t for s, t in zip(scores, targets) if s >= threshold]
        recall = sum(selected) / positives
        ap += (recall - previous_recall) * (sum(selected) / len(selected))
        previous_recall = recall
    return ap


def test_average_precision_matches_brute_force() -> None:
    rng = np.random.default_rng(20240611)
    for _ in range(200):
        size = int(rng.integers(1, 40))
        # One decimal forces many ties.
        scores = np.round(rng.random(size), 1)
        targets = (rng.random(size) < rng.random()).astype(np.int64)
        if targets.sum() == 0:
            targets[int(rng.integers(size))] = 1
        expected = brute_force_average_precision(scores.tolist(), targets.tolist())
        assert average_precision(scores, targets) == pytest.approx(expected, rel=1e-12)


def test_track_metrics_end_to_end() -> None:
    classes = ("exon", "intron", "CDS")
    metrics = TrackMetrics(classes, exon_channel=0, cds_channel=2)
    # Sample 1: position 5 is masked out. Unmasked, its exon label would extend the reference
    # run to [4,6) (no longer matching the prediction [4,5)), and its CDS score 0.9 would be the
    # top-ranked negative.
    probabilities_1 = np.array(
        [
            [0.1, 0.3, 0.2],
            [0.9, 0.2, 0.4],
            [0.6, 0.1, 0.8],
            [0.2, 0.4, 0.75],
            [0.7, 0.2, 0.3],
            [0.1, 0.9, 0.9],
        ]
    )
    labels_1 = np.array([[0, 0, 0], [1, 0, 0], [1, 0, 1], [0, 0, 0], [1, 0, 0], [1, 0, 0]])
    metrics.update(probabilities_1, labels_1, mask("#####."))
    # Exon: reference [1,3), [4,5), predicted [1,3), [4,5): tp 2.
    # CDS: reference [2,3), predicted [2,4): fp 1, fn 1.
    assert metrics.exon == IntervalCounts(tp=2)
    assert metrics.cds == IntervalCounts(fp=1, fn=1)

    probabilities_2 = np.array(
        [
            [0.6, 0.1, 0.1],
            [0.2, 0.1, 0.7],
            [0.3, 0.1, 0.9],
            [0.2, 0.1, 0.2],
        ]
    )
    labels_2 = np.array([[1, 0, 0], [1, 0, 1], [0, 0, 1], [0, 0, 0]])
    metrics.update(probabilities_2, labels_2, mask("####"))
    # Exon: reference [0,2), predicted [0,1): fp 1, fn 1. CDS: [1,3) both: tp 1.
    assert metrics.exon == IntervalCounts(tp=2, fp=1, fn=1)
    assert metrics.cds == IntervalCounts(tp=1, fp=1, fn=1)

    # Exon PR-AUC over the 9 valid positions, descending: 0.9 (+) P 1 R 1/5; 0.7 (+) P 1 R 2/5;
    # 0.6 x2 (+,+) P 1 R 4/5; 0.3 (-) dR 0; 0.2 x3 (-,+,-) P 5/8 R 1; 0.1 (-) dR 0.
    # AP = 4/5 * 1 + 1/5 * 5/8 = 0.925.
    # CDS: 0.9 (+) P 1 R 1/3; 0.8 (+) P 1 R 2/3; 0.75 (-) dR 0; 0.7 (+) P 3/4 R 1; rest dR 0.
    # AP = 2/3 + 1/3 * 3/4 = 11/12. Intron has no positive: nan, left out of the mean.
    expected = {
        "exon_f1": 2 / 3,
        "exon_precision": 2 / 3,
        "exon_recall": 2 / 3,
        "cds_f1": 1 / 2,
        "cds_precision": 1 / 2,
        "cds_recall": 1 / 2,
        "pr_auc_exon": 0.925,
        "pr_auc_intron": float("nan"),
        "pr_auc_CDS": 11 / 12,
        "pr_auc_mean": (0.925 + 11 / 12) / 2,
    }
    result = metrics.compute()
    assert result.keys() == expected.keys()
    assert result == pytest.approx(expected, nan_ok=True)


def test_track_metrics_empty() -> None:
    result = TrackMetrics(("exon", "CDS"), exon_channel=0, cds_channel=1).compute()
    assert result["exon_f1"] == 0.0
    assert result["cds_recall"] == 0.0
    assert math.isnan(result["pr_auc_exon"])
    assert math.isnan(result["pr_auc_mean"])


def test_track_metrics_rejects_bad_shapes() -> None:
    metrics = TrackMetrics(("exon", "CDS"), exon_channel=0, cds_channel=1)
    with pytest.raises(ValueError, match="shape"):
        metrics.update(np.zeros((4, 3)), np.zeros((4, 3)), np.ones(4, dtype=bool))
    with pytest.raises(ValueError, match="shape"):
        metrics.update(np.zeros((4, 2)), np.zeros((4, 2)), np.ones(5, dtype=bool))
    with pytest.raises(ValueError, match="out of range"):
        TrackMetrics(("exon", "CDS"), exon_channel=0, cds_channel=2)
