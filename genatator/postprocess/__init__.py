"""Post-processing: per-nucleotide class probabilities to scored GFF3-ready transcripts."""

from __future__ import annotations

from genatator.postprocess.assembly import (
    CDS_MODES,
    ThresholdOptions,
    check_probabilities,
    exon_intron_structure,
    gene_regions,
    introns_between,
    runs,
    spliced_length,
)
from genatator.postprocess.cds import (
    coding_sequence,
    is_complete_orf,
    longest_orf_cds,
    model_cds,
    orfs,
    protein,
    spliced_positions,
    spliced_sequence,
)
from genatator.postprocess.dinucleotides import (
    SPLICE_TABLE_FORMAT,
    SpliceTable,
    filter_splice_sites,
)
from genatator.postprocess.strand import MIN_UTR_SCORE, call_strand, intron_votes, strand_score
from genatator.postprocess.transcripts import decode_region

__all__ = [
    "CDS_MODES",
    "MIN_UTR_SCORE",
    "SPLICE_TABLE_FORMAT",
    "SpliceTable",
    "ThresholdOptions",
    "call_strand",
    "check_probabilities",
    "coding_sequence",
    "decode_region",
    "exon_intron_structure",
    "filter_splice_sites",
    "gene_regions",
    "intron_votes",
    "introns_between",
    "is_complete_orf",
    "longest_orf_cds",
    "model_cds",
    "orfs",
    "protein",
    "runs",
    "spliced_length",
    "spliced_positions",
    "spliced_sequence",
    "strand_score",
]
