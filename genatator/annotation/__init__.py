"""Gene annotations: the data model, GFF3/GTF reading and GFF3 writing."""

from __future__ import annotations

from genatator.annotation.merge import merge_annotations
from genatator.annotation.models import (
    CODING_KIND,
    LNC_KIND,
    Annotation,
    Gene,
    Span,
    Transcript,
)
from genatator.annotation.read import TRANSCRIPT_KINDS, read_annotation
from genatator.annotation.write import cds_phases, save_gff3, write_gff3

__all__ = [
    "CODING_KIND",
    "LNC_KIND",
    "TRANSCRIPT_KINDS",
    "Annotation",
    "Gene",
    "Span",
    "Transcript",
    "cds_phases",
    "merge_annotations",
    "read_annotation",
    "save_gff3",
    "write_gff3",
]
