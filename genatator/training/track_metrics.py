"""Validation metrics for per-nucleotide tracks: exact interval F1 and per-class PR-AUC."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def binary_intervals(mask: np.ndarray) -> np.ndarray:
    """Contiguous runs of ``True`` in a 1-D boolean array.

    Args:
        mask: 1-D array, truthy where a position belongs to a run.

    Returns:
        int64 array of shape ``(n, 2)``, one half-open ``[start, end)`` row per run, in order.

    Raises:
        ValueError: ``mask`` is not 1-D.
    """
    mask = np.asarray(mask)
    if mask.ndim != 1:
        raise ValueError(f"mask must be 1-D, got shape {mask.shape}")
    # A False on either side makes runs touching the ends produce both a rising and a falling edge.
    padded = np.zeros(mask.size + 2, dtype=np.int8)
    padded[1:-1] = mask.astype(bool)
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return np.stack([starts, ends], axis=1).astype(np.int64, copy=False)


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


@dataclass
class IntervalCounts:
    """Pooled exact-interval counts: a reference run is found only if predicted with both ends."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def update(self, reference_mask: np.ndarray, predicted_mask: np.ndarray) -> None:
        """Add the counts of one sample.

        Args:
            reference_mask: 1-D boolean array, ``True`` inside reference intervals.
            predicted_mask: 1-D boolean array of the same length, ``True`` inside predictions.

        Raises:
            ValueError: the masks are not 1-D or differ in length.
        """
        reference_mask = np.asarray(reference_mask)
        predicted_mask = np.asarray(predicted_mask)
        if reference_mask.ndim != 1 or reference_mask.shape != predicted_mask.shape:
            raise ValueError(
                "masks must be 1-D and of equal length, got shapes "
                f"{reference_mask.shape} and {predicted_mask.shape}"
            )
        reference = binary_intervals(reference_mask)
        predicted = binary_intervals(predicted_mask)
        # end <= length, so start * (length + 1) + end is a collision-free key of a run.
        base = reference_mask.size + 1
        matched = np.intersect1d(
            reference[:, 0] * base + reference[:, 1],
            predicted[:, 0] * base + predicted[:, 1],
            assume_unique=True,
        ).size
        self.tp += int(matched)
        self.fp += int(len(predicted) - matched)
        self.fn += int(len(reference) - matched)

    def merge(self, other: IntervalCounts) -> IntervalCounts:
        """Sum of two sets of counts, as a new object."""
        return IntervalCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 0.0 when nothing was predicted."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 0.0 when there is no reference interval."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        """2TP / (2TP + FP + FN); 0.0 when there are neither references nor predictions."""
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)


def average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision.

    Same definition as scikit-learn's ``average_precision_score`` for binary targets: one
    threshold per distinct score (tied scores enter together), and
    ``AP = sum_k (R_k - R_{k-1}) * P_k`` over thresholds in decreasing order, with ``R_0 = 0``.

    Args:
        scores: 1-D array of scores, higher meaning more likely positive.
        targets: 1-D array of the same length, truthy for positives.

    Returns:
        The average precision, or nan when there is no positive target.

    Raises:
        ValueError: the arrays are not 1-D or differ in length.
    """
    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets).astype(bool, copy=False)
    if scores.ndim != 1 or scores.shape != targets.shape:
        raise ValueError(
            f"scores and targets must be 1-D and of equal length, got {scores.shape} and "
            f"{targets.shape}"
        )
    order = np.argsort(scores)[::-1]
    sorted_scores = scores[order]
    true_positives = np.cumsum(targets[order], dtype=np.int64)
    positives = int(true_positives[-1]) if true_positives.size else 0
    if positives == 0:
        return float("nan")
    # The last index of each group of tied scores: the order inside a tie group cannot matter.
    last = np.append(np.flatnonzero(np.diff(sorted_scores)), sorted_scores.size - 1)
    tp = true_positives[last].astype(np.float64)
    precision = tp / (last + 1)
    recall = tp / positives
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


class TrackMetrics:
    """Validation metrics accumulated over samples of per-nucleotide probability tracks.

    Exon and CDS intervals are decoded by thresholding each channel's probability at
    ``threshold`` (0.5), not by GENATATOR's argmax groups: our validation windows include
    intergenic DNA, where all channels are low, and our exon channel also covers UTR exonic bases.
    Reference intervals are runs of labels >= 0.5. Interval counts are pooled over samples, then
    F1 = 2TP / (2TP + FP + FN), as in GENATATOR's exact interval F1. PR-AUC is the average
    precision of each channel over all valid positions of all samples.

    Attributes:
        exon: pooled interval counts of the exon channel.
        cds: pooled interval counts of the CDS channel.
    """

    def __init__(
        self,
        class_names: Sequence[str],
        *,
        exon_channel: int,
        cds_channel: int,
        threshold: float = 0.5,
    ) -> None:
        """Empty accumulator.

        Args:
            class_names: one name per channel, used in the ``pr_auc_<name>`` keys.
            exon_channel: channel index of exons.
            cds_channel: channel index of CDS.
            threshold: probability at or above which a position is predicted positive.

        Raises:
            ValueError: a channel index is out of range.
        """
        self.class_names = tuple(class_names)
        for channel in (exon_channel, cds_channel):
            if not 0 <= channel < len(self.class_names):
                raise ValueError(f"channel {channel} out of range for {len(self.class_names)}")
        self.exon_channel = exon_channel
        self.cds_channel = cds_channel
        self.threshold = threshold
        self.exon = IntervalCounts()
        self.cds = IntervalCounts()
        self._scores: list[np.ndarray] = []
        self._targets: list[np.ndarray] = []
        self._defined: list[np.ndarray] = []

    def update(
        self,
        probabilities: np.ndarray,
        labels: np.ndarray,
        mask: np.ndarray,
        *,
        channels: np.ndarray | None = None,
    ) -> None:
        """Add one sample.

        Args:
            probabilities: ``(L, C)`` float array of per-channel probabilities.
            labels: ``(L, C)`` array of 0/1 labels.
            mask: ``(L,)`` boolean array, ``True`` at positions to score.
            channels: ``(C,)`` boolean array of the channels the sample's annotation defines
                (default: all); the others are left out of every metric.

        Raises:
            ValueError: the shapes do not agree with each other or with the class names.
        """
        probabilities = np.asarray(probabilities)
        labels = np.asarray(labels)
        mask = np.asarray(mask).astype(bool, copy=False)
        width = len(self.class_names)
        if (
            probabilities.ndim != 2
            or probabilities.shape[1] != width
            or labels.shape != probabilities.shape
            or mask.shape != probabilities.shape[:1]
        ):
            raise ValueError(
                f"expected probabilities and labels of shape (L, {width}) and mask of shape "
                f"(L,), got {probabilities.shape}, {labels.shape} and {mask.shape}"
            )
        defined = np.ones(width, dtype=bool) if channels is None else np.asarray(channels, bool)
        if defined.shape != (width,):
            raise ValueError(f"expected channels of shape ({width},), got {defined.shape}")
        reference = labels >= 0.5
        for counts, channel in ((self.exon, self.exon_channel), (self.cds, self.cds_channel)):
            if defined[channel]:
                counts.update(
                    reference[:, channel] & mask,
                    (probabilities[:, channel] >= self.threshold) & mask,
                )
        # float32 scores and bool targets bound the memory kept for a whole validation set.
        self._scores.append(probabilities[mask].astype(np.float32))
        self._targets.append(reference[mask])
        self._defined.append(np.broadcast_to(defined, (int(mask.sum()), width)))

    def compute(self) -> dict[str, float]:
        """Metrics over all samples added so far.

        Returns:
            ``exon_f1``, ``exon_precision``, ``exon_recall``, ``cds_f1``, ``cds_precision``,
            ``cds_recall``, ``pr_auc_<class name>`` per class (nan without positives) and
            ``pr_auc_mean``, the mean over classes with a defined PR-AUC (nan if none).
        """
        result: dict[str, float] = {}
        for prefix, counts in (("exon", self.exon), ("cds", self.cds)):
            result[f"{prefix}_f1"] = counts.f1
            result[f"{prefix}_precision"] = counts.precision
            result[f"{prefix}_recall"] = counts.recall
        channels = len(self.class_names)
        if self._scores:
            scores = np.concatenate(self._scores)
            targets = np.concatenate(self._targets)
            scored = np.concatenate(self._defined)
        else:
            scores = np.zeros((0, channels), dtype=np.float32)
            targets = np.zeros((0, channels), dtype=bool)
            scored = np.zeros((0, channels), dtype=bool)
        defined = []
        for channel, name in enumerate(self.class_names):
            rows = scored[:, channel]
            value = average_precision(scores[rows, channel], targets[rows, channel])
            result[f"pr_auc_{name}"] = value
            if not np.isnan(value):
                defined.append(value)
        result["pr_auc_mean"] = float(np.mean(defined)) if defined else float("nan")
        return result
