"""The GTF reader: rows collected by ``transcript_id`` into transcripts and genes."""

from __future__ import annotations

import re

from genatator.annotation.genes import make_genes, overlap_clusters, transcript_order
from genatator.annotation.models import Gene
from genatator.annotation.rows import (
    CDS,
    Problems,
    Row,
    TranscriptRows,
    build_transcript,
    parse_row,
    parse_score,
    part_role,
)

__all__ = ["GtfParser"]


#: A bare ID for column 9, as AUGUSTUS writes its gene and transcript rows.
_BARE_ID = re.compile(r"\s*[^\s\";=]+\s*")
_GTF_ATTRIBUTE = re.compile(r'\s*([^\s";]+)\s+(?:"([^"]*)"|([^\s;"]+))\s*(?:;|$)')


def _parse_gtf_attributes(text: str) -> dict[str, str] | None:
    """Column 9 of GTF (``key "value"; key value;``); repeated keys are joined by commas."""
    attributes: dict[str, str] = {}
    pos, size = 0, len(text)
    while pos < size:
        if text[pos:].isspace():
            break
        match = _GTF_ATTRIBUTE.match(text, pos)
        if match is None:
            return None
        key, quoted, bare = match.groups()
        value = quoted if quoted is not None else bare
        attributes[key] = f"{attributes[key]},{value}" if key in attributes else value
        pos = match.end()
    return attributes


class GtfParser:
    """Collects GTF rows by ``transcript_id``."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.transcripts: dict[str, TranscriptRows] = {}
        self.gene_rows: dict[str, tuple[dict[str, str], str]] = {}
        self.has_cds = False
        self.seqids: list[str] = []  # in order of first appearance, set by finish()
        self.gene_unknown: set[str] = set()  # transcripts seen only on a bare-ID row so far

    def add(self, text: str, line: int) -> None:
        problems = self.problems
        row = parse_row(text, line, problems)
        if row is None:
            return
        role = part_role(row.type)
        kind = row.type.lower()
        if role is None and kind not in ("transcript", "gene"):
            return  # introns, Selenocysteine, ...: not needed for the model
        attributes = _parse_gtf_attributes(row.attributes)
        gene_id_known = True
        if attributes is None and role is None and _BARE_ID.fullmatch(row.attributes):
            # AUGUSTUS writes its gene and transcript rows with a bare ID ("g1", "g1.t1"); the
            # transcript's gene_id then comes from its exon/CDS rows.
            key = "gene_id" if kind == "gene" else "transcript_id"
            attributes, gene_id_known = {key: row.attributes.strip()}, kind == "gene"
        if attributes is None:
            problems.report(f"malformed GTF attributes {row.attributes!r}", line=line)
            return
        gene_id = attributes.pop("gene_id", None)
        if kind == "gene":
            if gene_id is None:
                problems.report("gene row without gene_id", line=line)
            else:
                self.gene_rows.setdefault(gene_id, (attributes, row.source))
            return
        tx_id = attributes.pop("transcript_id", None)
        if not tx_id:
            problems.report(f"{row.type} row without transcript_id", line=line)
            return
        if row.strand not in ("+", "-"):
            problems.report(f"strand {row.strand!r} is not + or -", line=line, record=tx_id)
            return
        tx = self.transcripts.get(tx_id)
        if tx is None:
            # A missing gene_id makes the transcript its own gene (see the grouping rule).
            tx = TranscriptRows(tx_id, row.seqid, row.strand, row.source, line, gene_id or tx_id)
            tx.attributes = attributes
            self.transcripts[tx_id] = tx
            if not gene_id_known:
                self.gene_unknown.add(tx_id)
        elif tx_id in self.gene_unknown and gene_id is not None:
            self.gene_unknown.discard(tx_id)
            tx.gene_key = gene_id
        elif not self._consistent(tx, row, gene_id or tx_id):
            return
        else:
            # Keep only attributes shared by every row (exon_number and the like drop out).
            for key in [k for k, v in tx.attributes.items() if attributes.get(k) != v]:
                del tx.attributes[key]
        if role is None:
            tx.row_span = (row.start, row.end)
            tx.row_type = "transcript"
            tx.score = parse_score(row.score, line, problems)
        else:
            self.has_cds |= role == CDS
            tx.parts.append((role, row.start, row.end, line, row.score))

    def _consistent(self, tx: TranscriptRows, row: Row, gene_id: str) -> bool:
        for what, first, here in (
            ("sequence", tx.seqid, row.seqid),
            ("strand", tx.strand, row.strand),
            ("gene_id", tx.gene_key, gene_id),
        ):
            if first != here:
                self.problems.report(
                    f"transcript {tx.id!r} has {what} {here!r} here but {first!r} on line "
                    f"{tx.line}",
                    line=row.line,
                    record=tx.id,
                )
                return False
        return True

    def finish(self) -> list[Gene]:
        builders = list(self.transcripts.values())
        for tx in builders:
            tx.gene_attributes = self.gene_rows.get(tx.gene_key, ({}, ""))[0]
        built = [build_transcript(tx, self.problems, self.has_cds) for tx in builders]
        transcripts = [t for t in built if t is not None]
        self.seqids = list(dict.fromkeys(t.seqid for t in transcripts))
        taken = {t.id for t in transcripts}
        gene_info = {k: (attrs, source) for k, (attrs, source) in self.gene_rows.items()}
        if len(transcripts) > 1 and all(t.gene_id == t.id for t in transcripts):
            # Every isoform is its own "gene" (UCSC ncbiRefSeq GTF): group by exon overlap and
            # name each gene after its first transcript in genomic order.
            for cluster in overlap_clusters(transcripts):
                first = min(cluster, key=transcript_order)
                for t in cluster:
                    t.gene_id = f"gene-{first.id}"
        return make_genes(transcripts, gene_info, taken)
