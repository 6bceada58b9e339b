"""Transcript classes (SO types) from feature types, biotype attributes and RefSeq prefixes."""

from __future__ import annotations

import re

from genatator.annotation.models import CODING_KIND, LNC_KIND

__all__ = ["LNC_MIN_LENGTH", "TRANSCRIPT_KINDS", "TRANSCRIPT_TYPES", "transcript_kind"]

#: Transcript kinds the reader produces (and the writer accepts): SO transcript types.
#: ``transcript`` means "coding status unknown" (a file without any CDS rows).
TRANSCRIPT_KINDS = frozenset(
    {
        "mRNA", "lnc_RNA", "ncRNA", "miRNA", "snoRNA", "snRNA", "rRNA", "tRNA", "scaRNA",
        "scRNA", "piRNA", "guide_RNA", "RNase_MRP_RNA", "RNase_P_RNA", "SRP_RNA",
        "telomerase_RNA", "vault_RNA", "Y_RNA", "tmRNA", "antisense_RNA", "primary_transcript",
        "pseudogenic_transcript", "transcript",
    }
)  # fmt: skip

#: Exonic length (nt) from which a RefSeq non-coding (NR_/XR_) transcript is ``lnc_RNA``.
LNC_MIN_LENGTH = 200

# GFF3 feature types that name a transcript kind directly; ``transcript`` is left to the fallbacks.
_TYPE_KINDS = {kind: kind for kind in TRANSCRIPT_KINDS - {"transcript"}} | {
    "lncRNA": LNC_KIND,
    "lincRNA": LNC_KIND,
}
# Feature types that are transcripts even when written without exon children.
TRANSCRIPT_TYPES = frozenset(_TYPE_KINDS) | {"transcript"}

_LNC_BIOTYPES = frozenset(
    {
        "lncrna", "lnc_rna", "lincrna", "antisense", "antisense_rna", "sense_intronic",
        "sense_overlapping", "3prime_overlapping_ncrna", "bidirectional_promoter_lncrna",
        "macro_lncrna", "non_coding",
    }
)  # fmt: skip
_BIOTYPE_KINDS = {
    "protein_coding": CODING_KIND, "mrna": CODING_KIND, "nonsense_mediated_decay": CODING_KIND,
    "non_stop_decay": CODING_KIND, "mirna": "miRNA", "snorna": "snoRNA", "snrna": "snRNA",
    "rrna": "rRNA", "mt_rrna": "rRNA", "trna": "tRNA", "mt_trna": "tRNA", "scarna": "scaRNA",
    "scrna": "scRNA", "pirna": "piRNA", "vaultrna": "vault_RNA", "vault_rna": "vault_RNA",
    "y_rna": "Y_RNA", "ncrna": "ncRNA", "misc_rna": "ncRNA", "ribozyme": "ncRNA", "srna": "ncRNA",
} | dict.fromkeys(_LNC_BIOTYPES, LNC_KIND)  # fmt: skip
# Biotype keys of a transcript row, then gene-level ones (which may also sit on a GTF row).
_TX_BIOTYPE_KEYS = ("transcript_biotype", "transcript_type", "biotype")
_GENE_BIOTYPE_KEYS = ("gene_biotype", "gene_type")
_REFSEQ_PREFIX = re.compile(r"^(?:rna-)?([NX][MR])_\d")


def _biotype_kind(attributes: dict[str, str], gene_attributes: dict[str, str]) -> str | None:
    """Kind from biotype attributes; a transcript's own biotype, even unknown, beats its gene's."""
    value = _first(attributes, _TX_BIOTYPE_KEYS)
    if value is None:
        value = _first(attributes, _GENE_BIOTYPE_KEYS) or _first(
            gene_attributes, (*_GENE_BIOTYPE_KEYS, "biotype")
        )
    if value is None:
        return None
    value = value.lower()
    if value in _BIOTYPE_KINDS:
        return _BIOTYPE_KINDS[value]
    if "pseudogene" in value:
        return "pseudogenic_transcript"
    if value.startswith(("ig_", "tr_")) and value.endswith("_gene"):
        return CODING_KIND  # immunoglobulin / T-cell receptor segments code for protein
    return None


def _first(attributes: dict[str, str], keys: tuple[str, ...]) -> str | None:
    return next((attributes[key] for key in keys if key in attributes), None)


def transcript_kind(
    *,
    row_type: str | None,
    names: tuple[str, ...],
    attributes: dict[str, str],
    gene_attributes: dict[str, str],
    exon_length: int,
    has_cds: bool,
    file_has_cds: bool,
) -> str:
    """A transcript's SO kind: explicit type, then biotype, then RefSeq prefix, then CDS presence.

    Args:
        row_type: the transcript row's feature type (GFF3), or None.
        names: identifiers to test for RefSeq prefixes (``NM_``/``XM_`` coding, ``NR_``/``XR_``
            non-coding).
        attributes: the transcript's attributes; ``gene_attributes``: its gene's.
        exon_length: exonic nucleotides (RefSeq non-coding ≥ 200 nt is ``lnc_RNA``).
        has_cds: the transcript has CDS rows (then it is always ``mRNA``).
        file_has_cds: the file has CDS rows at all; without them an unclassified transcript is
            ``transcript`` (coding status unknown) rather than ``ncRNA``.
    """
    if has_cds:
        return CODING_KIND
    kind = _TYPE_KINDS.get(row_type or "") or _biotype_kind(attributes, gene_attributes)
    if kind is not None:
        return kind
    for name in names:
        match = _REFSEQ_PREFIX.match(name)
        if match:
            if match.group(1)[1] == "M":
                return CODING_KIND
            return noncoding_kind(exon_length)
    # A file without any CDS rows says nothing about coding potential: keep the generic type.
    return "ncRNA" if file_has_cds else "transcript"


def noncoding_kind(exon_length: int) -> str:
    """SO type of a non-coding transcript with ``exon_length`` exonic nucleotides: ``lnc_RNA``
    from :data:`LNC_MIN_LENGTH` (the Sequence Ontology's lnc_RNA is over 200 nt), else ``ncRNA``."""
    return LNC_KIND if exon_length >= LNC_MIN_LENGTH else "ncRNA"
