"""Tests of genatator.postprocess.assembly: options, gene regions and exon-intron structures."""

from __future__ import annotations

import numpy as np
import pytest

from genatator.labels import EXON, INTRON
from genatator.postprocess import (
    ThresholdOptions,
    exon_intron_structure,
    gene_regions,
    introns_between,
    runs,
    spliced_length,
)

# Per-base (p_exon, p_intron) of each letter of a track pattern; UTR and CDS channels stay 0.
_LETTERS = {"E": (0.9, 0.1), "I": (0.1, 0.9), ".": (0.05, 0.05), "=": (0.5, 0.5)}


def track(pattern: str) -> np.ndarray:
    """An (n, 5) float32 probability track from a pattern of :data:`_LETTERS`."""
    probabilities = np.zeros((len(pattern), 5), dtype=np.float32)
    values = np.array([_LETTERS[c] for c in pattern], dtype=np.float32)
    probabilities[:, EXON], probabilities[:, INTRON] = values[:, 0], values[:, 1]
    return probabilities


def test_options_defaults():
    options = ThresholdOptions()
    assert (options.genic_threshold, options.max_region_gap, options.min_transcript_length) == (
        0.5,
        20,
        50,
    )
    assert (options.min_exon_length, options.min_intron_length, options.strand_flank) == (4, 20, 50)
    assert (options.splice_filter, options.max_boundary_shift, options.cds_mode) == (
        True,
        20,
        "model",
    )
    assert (options.min_cds_codons, options.lncrna) == (100, True)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("genic_threshold", 0.0, "genic_threshold must be in"),
        ("genic_threshold", 1.5, "genic_threshold must be in"),
        ("genic_threshold", "0.5", "genic_threshold must be a number"),
        ("max_region_gap", -1, "max_region_gap must be an integer >= 0"),
        ("min_transcript_length", 0, "min_transcript_length must be an integer >= 1"),
        ("min_exon_length", 2.5, "min_exon_length must be an integer"),
        ("min_intron_length", True, "min_intron_length must be an integer"),
        ("strand_flank", 0, "strand_flank must be an integer >= 1"),
        ("max_boundary_shift", -3, "max_boundary_shift"),
        ("min_cds_codons", -1, "min_cds_codons"),
        ("splice_filter", 1, "splice_filter must be True or False"),
        ("lncrna", "yes", "lncrna must be True or False"),
        ("cds_mode", "longest", "cds_mode must be one of"),
    ],
)
def test_options_are_validated(field, value, match):
    with pytest.raises(ValueError, match=match):
        ThresholdOptions(**{field: value})


def test_runs_exact():
    assert runs(np.array([0, 1, 1, 0, 1], dtype=bool)).tolist() == [[1, 3], [4, 5]]
    assert runs(np.ones(3, dtype=bool)).tolist() == [[0, 3]]
    assert runs(np.zeros(4, dtype=bool)).shape == (0, 2)
    assert runs(np.zeros(0, dtype=bool)).shape == (0, 2)


def test_gene_regions_join_gaps_shorter_than_max_region_gap():
    #          0123456789012345678901234
    pattern = "..EEE..III...EE....IE=...."
    options = ThresholdOptions(max_region_gap=3)
    # Gap of 2 joins, gap of 3 does not; intron-only and 0.5-exactly bases are genic.
    assert gene_regions(track(pattern), options) == [(2, 10), (13, 15), (19, 22)]
    assert gene_regions(track(pattern), ThresholdOptions(max_region_gap=4)) == [(2, 15), (19, 22)]
    assert gene_regions(track(pattern), ThresholdOptions(max_region_gap=0)) == [
        (2, 5),
        (7, 10),
        (13, 15),
        (19, 22),
    ]
    # Above 0.5 the '=' base is no longer genic.
    above = ThresholdOptions(genic_threshold=0.6, max_region_gap=3)
    assert gene_regions(track(pattern), above) == [(2, 10), (13, 15), (19, 21)]
    # The default gap of 20 joins all three.
    assert gene_regions(track(pattern)) == [(2, 22)]


def test_gene_regions_empty_and_bad_shape():
    assert gene_regions(track("....")) == []
    assert gene_regions(np.zeros((0, 5), dtype=np.float32)) == []
    with pytest.raises(ValueError, match=r"shape \(n, 5\)"):
        gene_regions(np.zeros((10, 4)))


def test_structure_trims_intron_only_ends_and_ties_are_intronic():
    assert exon_intron_structure(track("IIIEEEEEIIII"), ThresholdOptions(min_exon_length=1)) == [
        (3, 8)
    ]
    # p_exon == p_intron is not exon.
    assert exon_intron_structure(track("EEEE==EEEE"), ThresholdOptions(min_intron_length=1)) == [
        (0, 4),
        (6, 10),
    ]
    assert exon_intron_structure(track("IIII")) == []


def test_short_intron_is_filled():
    #        0         1         2
    #        0123456789012345678901234
    probs = track("EEEEEIIEEEEEIIIIIIIEEEEE")
    assert exon_intron_structure(
        probs, ThresholdOptions(min_intron_length=3, min_exon_length=1)
    ) == [
        (0, 12),
        (19, 24),
    ]
    assert exon_intron_structure(
        probs, ThresholdOptions(min_intron_length=8, min_exon_length=1)
    ) == [(0, 24)]


def test_short_exons_are_removed_internal_and_terminal():
    options = ThresholdOptions(min_intron_length=3, min_exon_length=4)
    # Internal 2-nt exon: its introns merge into one.
    assert exon_intron_structure(track("EEEEEEIIIIIEEIIIIIEEEEEE"), options) == [(0, 6), (18, 24)]
    # Terminal 2-nt exons: the transcript is trimmed to the next exon on either side.
    assert exon_intron_structure(track("EEIIIIIEEEEEEIIIIIEEEEEEIIIIEE"), options) == [
        (7, 13),
        (18, 24),
    ]


def test_filling_comes_before_removing():
    # Two 3-nt exons split by a 1-nt dip: filled first they make one 7-nt exon that is kept;
    # removing first would have dropped both.
    probs = track("IIEEEIEEEIIIIIIIIIIIEEEEEEII")
    options = ThresholdOptions(min_intron_length=2, min_exon_length=4)
    assert exon_intron_structure(probs, options) == [(2, 9), (20, 26)]


def test_helpers():
    exons = [(2, 9), (20, 26), (30, 31)]
    assert introns_between(exons) == [(9, 20), (26, 30)]
    assert introns_between([(0, 5)]) == []
    assert spliced_length(exons) == 14
    assert spliced_length([]) == 0
