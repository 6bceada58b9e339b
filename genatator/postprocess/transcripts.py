"""Decode one gene region's probabilities and sequence into one scored transcript."""

from __future__ import annotations

import numpy as np

from genatator.annotation.kinds import noncoding_kind
from genatator.annotation.models import CODING_KIND, Span, Transcript
from genatator.labels import CDS, EXON, INTRON
from genatator.postprocess.assembly import (
    ThresholdOptions,
    check_probabilities,
    exon_intron_structure,
    introns_between,
    spliced_length,
)
from genatator.postprocess.cds import longest_orf_cds, model_cds
from genatator.postprocess.dinucleotides import SpliceTable, filter_splice_sites, snap_splice_sites
from genatator.postprocess.site_scores import (
    SiteTrack,
    admissible_edge,
    site_score_attributes,
    snap_to_site_scores,
)
from genatator.postprocess.strand import call_strand, strand_score

__all__ = ["decode_region"]


def _span_sums(cumulative: np.ndarray, spans: list[Span]) -> np.ndarray:
    """Sum of a track over each span, from its prefix sums."""
    if not spans:
        return np.zeros(0)
    array = np.asarray(spans, dtype=np.int64)
    return cumulative[array[:, 1]] - cumulative[array[:, 0]]


def _prefix_sums(track: np.ndarray) -> np.ndarray:
    return np.concatenate(([0.0], np.cumsum(track, dtype=np.float64)))


def _mean(cumulative: np.ndarray, spans: list[Span]) -> float:
    return float(_span_sums(cumulative, spans).sum() / spliced_length(spans))


def decode_region(
    probabilities: np.ndarray,
    sequence: str,
    *,
    seqid: str,
    offset: int = 0,
    options: ThresholdOptions | None = None,
    splice_table: SpliceTable | None = None,
    site_scores: tuple[np.ndarray, np.ndarray] | None = None,
) -> Transcript | None:
    """The transcript of one gene region, or None when nothing worth reporting is there.

    Steps: exon-intron structure (:func:`exon_intron_structure`), strand (:func:`strand_score`
    then :func:`call_strand`), splice-site snapping (:func:`snap_splice_sites`, when
    ``options.splice_snap`` > 0) and filter (:func:`filter_splice_sites`), when enabled and
    multi-exon, CDS (:func:`model_cds` or :func:`longest_orf_cds` per ``options.cds_mode``),
    then the type: ``mRNA`` when the CDS has at least ``options.min_cds_codons`` codons besides
    the stop, else non-coding without CDS: ``lnc_RNA`` from 200 exonic nt, ``ncRNA`` below
    (:func:`genatator.annotation.kinds.noncoding_kind`).

    With ``site_scores`` (a splice-site model's), the snapping moves each splice boundary up to
    ``options.site_shift`` nt to the best-scoring admissible site, and the filter keeps a
    boundary only when it is admissible (:func:`admissible_edge`: a legal motif, scored at least
    ``options.rare_site_score`` when rare, or any motif scored ``options.confident_site_score``);
    exons carry ``donor_score``/``acceptor_score`` and the transcript ``min_splice_score``.

    Confidence: ``exon_scores`` is the mean ``p_exon`` of each exon; ``score`` the mean, over
    the transcript's span, of the probability of the class each base was given (``p_exon`` on
    exons, ``p_intron`` on introns). Attributes (``%.4g`` strings): ``exon_confidence``,
    ``intron_confidence`` (with introns), ``cds_confidence`` (mean ``p_CDS`` over the CDS, when
    coding), ``strand_score`` and ``strand_evidence``.

    Args:
        probabilities: ``(n, 5)`` probabilities of the region.
        sequence: upper-case sequence of the region, ``n`` bases.
        seqid: sequence name for the transcript.
        offset: genome coordinate of the region's first base.
        options: decoding options; defaults when omitted.
        splice_table: legal splice sites; :meth:`SpliceTable.canonical` when omitted.
        site_scores: ``(donor, acceptor)`` splice-site model scores of the region, each
            ``(2, n)`` (row 0 the ``+`` strand, row 1 ``-``); None decides by dinucleotide only.

    Returns:
        A transcript in genome coordinates with empty ``id`` and ``gene_id`` (the caller names
        it), or None: no exon survives, fewer than ``options.min_transcript_length`` exonic
        bases, or non-coding while ``options.lncrna`` is False.

    Raises:
        ValueError: probabilities and sequence differ in length or have a bad shape.
    """
    options = options or ThresholdOptions()
    probabilities = check_probabilities(probabilities)
    if len(sequence) != len(probabilities):
        raise ValueError(
            f"sequence has {len(sequence)} bases but probabilities {len(probabilities)}"
        )
    exons = exon_intron_structure(probabilities, options)
    if spliced_length(exons) < options.min_transcript_length:
        return None

    score = strand_score(probabilities, exons, options.strand_flank)
    strand, evidence = call_strand(score, sequence, exons)
    track = None if site_scores is None else SiteTrack.for_strand(*site_scores, strand)
    if options.splice_filter and len(exons) > 1:
        table = splice_table if splice_table is not None else SpliceTable.canonical()
        exons = _splice_checked(exons, strand, sequence, probabilities, table, track, options)
        if spliced_length(exons) < options.min_transcript_length:
            return None

    if options.cds_mode == "model":
        cds = model_cds(probabilities, sequence, exons, strand)
    else:
        cds = longest_orf_cds(sequence, exons, strand)
    coding = bool(cds) and spliced_length(cds) - 3 >= 3 * options.min_cds_codons
    if not coding:
        if not options.lncrna:
            return None
        cds = []
    transcript = _scored_transcript(probabilities, exons, cds, strand, seqid, offset)
    transcript.attributes["strand_score"] = f"{score:.4g}"
    transcript.attributes["strand_evidence"] = evidence
    if track is not None:
        transcript.exon_attributes, site_attributes = site_score_attributes(exons, strand, track)
        transcript.attributes.update(site_attributes)
    return transcript


def _splice_checked(
    exons: list[Span],
    strand: str,
    sequence: str,
    probabilities: np.ndarray,
    table: SpliceTable,
    track: SiteTrack | None,
    options: ThresholdOptions,
) -> list[Span]:
    """Snap the splice boundaries (to site scores, or to the exon track), then filter them."""
    admissible = None
    if track is not None:
        admissible = admissible_edge(
            sequence, strand, track, table, options.rare_site_score, options.confident_site_score
        )
        exons = snap_to_site_scores(exons, strand, track, admissible, options.site_shift)
    elif options.splice_snap:
        exonness = probabilities[:, EXON] - probabilities[:, INTRON]
        exons = snap_splice_sites(exons, strand, sequence, exonness, table, options.splice_snap)
    return filter_splice_sites(
        exons, strand, sequence, table, options.max_boundary_shift, admissible
    )


def _scored_transcript(
    probabilities: np.ndarray,
    exons: list[Span],
    cds: list[Span],
    strand: str,
    seqid: str,
    offset: int,
) -> Transcript:
    """The transcript in genome coordinates with its confidences (see :func:`decode_region`)."""
    exon_sums = _prefix_sums(probabilities[:, EXON])
    intron_sums = _prefix_sums(probabilities[:, INTRON])
    introns = introns_between(exons)
    per_exon = _span_sums(exon_sums, exons)
    exon_total = float(per_exon.sum())
    intron_total = float(_span_sums(intron_sums, introns).sum())
    attributes = {"exon_confidence": f"{exon_total / spliced_length(exons):.4g}"}
    if introns:
        attributes["intron_confidence"] = f"{intron_total / spliced_length(introns):.4g}"
    if cds:
        attributes["cds_confidence"] = f"{_mean(_prefix_sums(probabilities[:, CDS]), cds):.4g}"
    span = exons[-1][1] - exons[0][0]
    exon_means = per_exon / [end - start for start, end in exons]
    return Transcript(
        id="",
        seqid=seqid,
        strand=strand,
        exons=[(start + offset, end + offset) for start, end in exons],
        cds=[(start + offset, end + offset) for start, end in cds],
        kind=CODING_KIND if cds else noncoding_kind(spliced_length(exons)),
        gene_id="",
        score=(exon_total + intron_total) / span,
        source="genatator",
        attributes=attributes,
        exon_scores=[float(value) for value in exon_means],
    )
