"""Turn per-nucleotide probabilities into gene regions and exon-intron structures."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from genatator.annotation.models import Span
from genatator.decode.options import CDS_MODES, ThresholdOptions
from genatator.labels import CLASSES, EXON, INTRON

__all__ = [
    "CDS_MODES",
    "ThresholdOptions",
    "check_probabilities",
    "exon_intron_structure",
    "gene_regions",
    "introns_between",
    "runs",
    "spliced_length",
]


def check_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """The probability track as an array, after checking its shape.

    Args:
        probabilities: ``(n, 5)`` per-nucleotide probabilities, channels in ``CLASSES`` order.

    Returns:
        The same data as a numpy array (no copy when it already is one).

    Raises:
        ValueError: the array is not two-dimensional with 5 channels.
    """
    array = np.asarray(probabilities)
    if array.ndim != 2 or array.shape[1] != len(CLASSES):
        raise ValueError(f"expected probabilities of shape (n, {len(CLASSES)}), got {array.shape}")
    return array


def runs(mask: np.ndarray) -> np.ndarray:
    """Maximal runs of True in a boolean vector.

    Args:
        mask: one-dimensional boolean array.

    Returns:
        int64 array of shape ``(k, 2)``: the half-open ``[start, end)`` of each run, in order.
    """
    padded = np.concatenate(([0], np.asarray(mask, dtype=np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return edges.reshape(-1, 2).astype(np.int64)


def _join_close(spans: np.ndarray, min_gap: int) -> np.ndarray:
    """Merge consecutive spans separated by fewer than ``min_gap`` bases."""
    if len(spans) < 2:
        return spans
    kept_gap = spans[1:, 0] - spans[:-1, 1] >= min_gap
    starts = np.concatenate((spans[:1, 0], spans[1:, 0][kept_gap]))
    ends = np.concatenate((spans[:-1, 1][kept_gap], spans[-1:, 1]))
    return np.stack((starts, ends), axis=1)


def smooth(track: np.ndarray, width: int) -> np.ndarray:
    """Centred running mean of a 1-D track over ``width`` bases (shrunk at the ends)."""
    if width <= 1 or len(track) == 0:
        return track
    cumulative = np.concatenate(([0.0], np.cumsum(track, dtype=np.float64)))
    positions = np.arange(len(track))
    lo = np.maximum(positions - width // 2, 0)
    hi = np.minimum(positions - width // 2 + width, len(track))
    return ((cumulative[hi] - cumulative[lo]) / (hi - lo)).astype(np.float32)


def _as_spans(array: np.ndarray) -> list[Span]:
    return [(int(start), int(end)) for start, end in array.tolist()]


def gene_regions(probabilities: np.ndarray, options: ThresholdOptions | None = None) -> list[Span]:
    """Regions that may hold a gene: genic runs joined across short gaps.

    A base is genic when ``max(p_exon, p_intron) >= options.genic_threshold``; genic runs with
    fewer than ``options.max_region_gap`` non-genic bases between them form one region.

    Args:
        probabilities: ``(n, 5)`` probabilities of one sequence or window.
        options: decoding options; defaults when omitted.

    Returns:
        Sorted, disjoint ``[start, end)`` spans relative to the array.
    """
    options = options or ThresholdOptions()
    probabilities = check_probabilities(probabilities)
    genic = np.maximum(probabilities[:, EXON], probabilities[:, INTRON]) >= options.genic_threshold
    return _as_spans(_join_close(runs(genic), options.max_region_gap))


def exon_intron_structure(
    probabilities: np.ndarray, options: ThresholdOptions | None = None
) -> list[Span]:
    """Exons of the transcript in one region, after removing short artefacts.

    Exons are the runs where ``p_exon > p_intron`` (averaged over ``options.exon_smoothing``
    bases); the gaps between them are introns, so the structure starts and ends with an exon
    (intron-only flanks are dropped). Artefacts are then removed in this order:

    a. an intron shorter than ``options.min_intron_length`` is filled: its two exons merge;
    b. an exon shorter than ``options.min_exon_length`` is removed: an internal one merges the
       introns around it, a terminal one trims the transcript to the next exon.

    Filling comes first so that short exon pieces split by a tiny dip are merged, not removed.

    Args:
        probabilities: ``(n, 5)`` probabilities of the region.
        options: decoding options; defaults when omitted.

    Returns:
        Sorted exon spans relative to the region; empty when no exon survives.
    """
    options = options or ThresholdOptions()
    probabilities = check_probabilities(probabilities)
    exonic = smooth(probabilities[:, EXON] - probabilities[:, INTRON], options.exon_smoothing) > 0
    exons = _join_close(runs(exonic), options.min_intron_length)
    # Filling never creates a short exon and removing never creates a short intron, so one
    # pass of each rule is final.
    exons = exons[exons[:, 1] - exons[:, 0] >= options.min_exon_length]
    return _as_spans(exons)


def introns_between(exons: list[Span]) -> list[Span]:
    """The gaps between consecutive sorted exons."""
    return [(a_end, b_start) for (_, a_end), (b_start, _) in pairwise(exons)]


def spliced_length(exons: list[Span]) -> int:
    """Total exonic bases of a list of exon spans."""
    return sum(end - start for start, end in exons)
