"""Turn per-nucleotide probabilities into gene regions and exon-intron structures."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from itertools import pairwise
from numbers import Real

import numpy as np

from genatator.annotation.models import Span
from genatator.labels import CLASSES, EXON, INTRON

__all__ = [
    "CDS_MODES",
    "DecodeOptions",
    "check_probabilities",
    "exon_intron_structure",
    "gene_regions",
    "introns_between",
    "runs",
    "spliced_length",
]

#: How the CDS is chosen: from the model's CDS channel, or the longest ORF (the paper's heuristic).
CDS_MODES = ("model", "orf")


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class DecodeOptions:
    """Every post-processing knob, with the defaults used by ``genatator annotate``.

    Attributes:
        genic_threshold: a base is genic when ``max(p_exon, p_intron)`` reaches this value.
        max_region_gap: genic runs separated by fewer non-genic bases than this are one region.
        exon_smoothing: ``p_exon - p_intron`` is averaged over this many bases (0 or 1: off)
            before exons are called.
        min_transcript_length: transcripts with fewer exonic bases are dropped.
        min_exon_length: shorter exons are removed as artefacts (after short introns are filled).
        min_intron_length: shorter introns are filled, merging the exons around them.
        strand_flank: bases at each transcript end whose UTR probabilities give the strand score.
        splice_filter: drop or move exon boundaries whose splice-site dinucleotides are illegal.
        max_boundary_shift: how far (nt) a terminal exon's splice boundary may move to a legal site.
        splice_snap: before the filter, move every splice boundary up to this many nt to the
            legal site that best fits the exon/intron probabilities (0: off, the paper's
            behaviour). Fuzzy boundaries of a weak model then survive the filter.
        site_shift: with a splice-site model (``annotate --splice-model``), how far (nt) each
            splice boundary may move to the best-scoring admissible site.
        rare_site_score: with a splice-site model, the score a site with a rare motif (a donor
            other than GT, an acceptor other than AG) needs before a boundary may sit on it.
        confident_site_score: with a splice-site model, an internal exon whose two splice
            sites both score at least this much is kept even when its dinucleotides are not in
            the model's table; below it the dinucleotide filter decides.
        cds_mode: ``"model"`` (the ORF agreeing with the model's CDS channel) or ``"orf"``
            (the longest complete ORF).
        min_cds_codons: a transcript is coding (mRNA) only when its CDS has at least this many
            codons, the stop codon not counted; otherwise it is an lncRNA without CDS.
        lncrna: report non-coding transcripts (as ``lnc_RNA``); False drops them.
    """

    genic_threshold: float = 0.5
    max_region_gap: int = 20
    exon_smoothing: int = 0
    min_transcript_length: int = 50
    min_exon_length: int = 4
    min_intron_length: int = 20
    strand_flank: int = 50
    splice_filter: bool = True
    max_boundary_shift: int = 20
    splice_snap: int = 0
    site_shift: int = 20
    rare_site_score: float = 0.5
    confident_site_score: float = 0.9
    cds_mode: str = "model"
    min_cds_codons: int = 100
    lncrna: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.genic_threshold, bool) or not isinstance(self.genic_threshold, Real):
            raise ValueError(f"genic_threshold must be a number, got {self.genic_threshold!r}")
        if not 0.0 < self.genic_threshold <= 1.0:
            raise ValueError(f"genic_threshold must be in (0, 1], got {self.genic_threshold}")
        minimums = {
            "max_region_gap": 0,
            "exon_smoothing": 0,
            "min_transcript_length": 1,
            "min_exon_length": 1,
            "min_intron_length": 1,
            "strand_flank": 1,
            "max_boundary_shift": 0,
            "splice_snap": 0,
            "site_shift": 0,
            "min_cds_codons": 0,
        }
        for name, minimum in minimums.items():
            value = getattr(self, name)
            if not _is_int(value) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        for name in ("rare_site_score", "confident_site_score"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
        for name in ("splice_filter", "lncrna"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.cds_mode not in CDS_MODES:
            raise ValueError(f"cds_mode must be one of {CDS_MODES}, got {self.cds_mode!r}")

    def to_dict(self) -> dict:
        """The options as a JSON-ready dict (a model's ``inference.json`` ``decode`` entry)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> DecodeOptions:
        """Options from :meth:`to_dict`'s output; keys left out keep their defaults.

        Raises:
            ValueError: an unknown key or a bad value.
        """
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown decoding option(s): {', '.join(unknown)}")
        return cls(**values)


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


def gene_regions(probabilities: np.ndarray, options: DecodeOptions | None = None) -> list[Span]:
    """Regions that may hold a gene: genic runs joined across short gaps.

    A base is genic when ``max(p_exon, p_intron) >= options.genic_threshold``; genic runs with
    fewer than ``options.max_region_gap`` non-genic bases between them form one region.

    Args:
        probabilities: ``(n, 5)`` probabilities of one sequence or window.
        options: decoding options; defaults when omitted.

    Returns:
        Sorted, disjoint ``[start, end)`` spans relative to the array.
    """
    options = options or DecodeOptions()
    probabilities = check_probabilities(probabilities)
    genic = np.maximum(probabilities[:, EXON], probabilities[:, INTRON]) >= options.genic_threshold
    return _as_spans(_join_close(runs(genic), options.max_region_gap))


def exon_intron_structure(
    probabilities: np.ndarray, options: DecodeOptions | None = None
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
    options = options or DecodeOptions()
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
