"""The GFF3 reader: features by ID, exonic parts by Parent, links resolved at the end."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote

from genatator.annotation.genes import make_genes
from genatator.annotation.kinds import TRANSCRIPT_TYPES
from genatator.annotation.models import Gene, Transcript
from genatator.annotation.rows import (
    CDS,
    GENE_STRANDS,
    ROLE_NAMES,
    Problems,
    Row,
    TranscriptRows,
    build_transcript,
    is_gene_type,
    parse_row,
    parse_score,
    part_role,
)

__all__ = ["Gff3Parser", "decode_percent"]


def decode_percent(text: str) -> str:
    return unquote(text) if "%" in text else text


def _parse_gff3_attributes(text: str) -> tuple[dict[str, str], list[str]] | None:
    """Column 9 of GFF3 as (decoded attributes without Parent, decoded Parent list); None if bad."""
    attributes: dict[str, str] = {}
    parents: list[str] = []
    if text in (".", ""):
        return attributes, parents
    for pair in text.split(";"):
        if not pair or pair.isspace():
            continue
        key, eq, value = pair.partition("=")
        key = key.strip()  # tolerate "ID=a; Name=b"; values keep their spaces
        if not eq or not key:
            return None
        key = decode_percent(key)
        if key == "Parent":
            # Split before decoding: an escaped comma (%2C) belongs inside one value.
            parents.extend(decode_percent(p) for p in value.split(",") if p)
        else:
            attributes[key] = decode_percent(value)
    return attributes, parents


@dataclass(slots=True)
class _Feature:
    """A GFF3 line with an ID that is not an exonic part (gene, transcript, region, ...)."""

    row: Row
    attributes: dict[str, str]
    parents: list[str]


class Gff3Parser:
    """Collects GFF3 features by ID and exonic parts by Parent, resolving links at the end."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.features: dict[str, _Feature] = {}
        self.duplicates: dict[str, int] = {}  # ID -> line of its second definition
        self.part_ids: set[str] = set()
        self.skipped: set[str] = set()  # IDs on lines dropped in lenient mode
        # Parent -> (role, start, end, line, seqid, strand, score column text)
        self.parts: dict[str, list[tuple[int, int, int, int, str, str, str]]] = defaultdict(list)
        self.orphan_candidates: list[tuple[int, str]] = []  # (line, parent) of features
        self.has_cds = False
        self.seqids: list[str] = []  # in order of first appearance, set by finish()

    def add(self, text: str, line: int) -> None:
        problems = self.problems
        row = parse_row(text, line, problems)
        if row is None:
            self._skip_ids(text)
            return
        if "%" in row.seqid:
            row.seqid = unquote(row.seqid)
        parsed = _parse_gff3_attributes(row.attributes)
        if parsed is None:
            problems.report(f"malformed GFF3 attributes {row.attributes!r}", line=line)
            self._skip_ids(text)
            return
        attributes, parents = parsed
        feature_id = attributes.pop("ID", None)
        role = part_role(row.type)
        if role is not None:
            self._add_part(row, role, feature_id, parents)
        elif feature_id is None:
            if is_gene_type(row.type) or row.type in TRANSCRIPT_TYPES:
                problems.report(f"{row.type} without ID", line=line)
            else:
                self.orphan_candidates.extend((line, p) for p in parents)
        elif feature_id in self.features or feature_id in self.part_ids:
            self.duplicates.setdefault(feature_id, line)
        else:
            self.features[feature_id] = _Feature(row, attributes, parents)
            self.orphan_candidates.extend((line, p) for p in parents)

    def _skip_ids(self, text: str) -> None:
        """Remember the ID of a dropped line so its children are not reported as orphans."""
        match = re.search(r"(?:^|[\t;])ID=([^;\t]*)", text)
        if match:
            self.skipped.add(decode_percent(match.group(1)))

    def _add_part(self, row: Row, role: int, feature_id: str | None, parents: list[str]) -> None:
        if not parents:
            self.problems.report(f"{row.type} without Parent", line=row.line, record=feature_id)
            return
        if row.strand not in ("+", "-"):
            self.problems.report(
                f"strand {row.strand!r} is not + or -", line=row.line, record=feature_id
            )
            return
        if feature_id is not None:
            # CDS segments may share one ID (legal in GFF3): parts are never keyed by their ID.
            self.part_ids.add(feature_id)
        self.has_cds |= role == CDS
        for parent in parents:
            self.parts[parent].append(
                (role, row.start, row.end, row.line, row.seqid, row.strand, row.score)
            )

    def _check_orphans(self) -> None:
        known = self.features.keys() | self.part_ids | self.skipped
        orphans = [(line, p) for line, p in self.orphan_candidates if p not in known]
        for parent, rows in self.parts.items():
            if parent not in known:
                orphans.extend((row[3], parent) for row in rows)
        for line, parent in sorted(orphans):
            self.problems.report(f"Parent {parent!r} is not defined in the file", line=line)

    def _builder(self, tx_id: str, feature: _Feature) -> TranscriptRows | None:
        row = feature.row
        if tx_id in self.duplicates:
            self.problems.report(
                f"duplicate ID {tx_id!r} (first defined on line {row.line})",
                line=self.duplicates.pop(tx_id),
            )
        if row.strand not in ("+", "-"):
            self.problems.report(
                f"transcript strand {row.strand!r} is not + or -", line=row.line, record=tx_id
            )
            return None
        tx = TranscriptRows(tx_id, row.seqid, row.strand, row.source, row.line, "")
        tx.row_span = (row.start, row.end)
        tx.row_type = row.type
        tx.score = parse_score(row.score, row.line, self.problems)
        tx.attributes = feature.attributes
        for part in self.parts.get(tx_id, ()):
            role, start, end, line, seqid, strand, score = part
            if seqid != tx.seqid or strand != tx.strand:
                self.problems.report(
                    f"{ROLE_NAMES[role]} on {seqid}{strand} but its transcript {tx_id!r} is on "
                    f"{tx.seqid}{tx.strand}",
                    line=line,
                )
                continue
            tx.parts.append((role, start, end, line, score))
        return tx

    def _gene_of(self, tx_id: str, is_transcript: set[str]) -> str | None:
        """Nearest non-transcript ancestor (miRNA -> primary_transcript -> gene)."""
        seen = {tx_id}
        parents = self.features[tx_id].parents
        parent = parents[0] if parents else None
        while parent is not None and parent in is_transcript and parent not in seen:
            seen.add(parent)
            parents = self.features[parent].parents
            parent = parents[0] if parents else None
        return None if parent in seen else parent

    def _parent_cycles(self) -> Iterator[list[str]]:
        """Each Parent cycle among the features (``[a, b, a]``), by depth-first search.

        Every cycle holds an edge back into the search path, and each such edge is yielded
        once, so dropping the yielded features leaves no cycle.
        """
        features = self.features
        state: dict[str, bool] = {}  # True while on the search path, False when done
        for root, feature in features.items():
            if root in state:
                continue
            for parent in feature.parents:
                if parent in features and state.get(parent) is not False:
                    break
            else:  # no parent left to search (genes, and transcripts after their gene): done
                state[root] = False
                continue
            state[root] = True
            path, pending = [root], [iter(feature.parents)]
            while path:
                parent = next(pending[-1], None)
                if parent is None:
                    state[path.pop()] = False
                    pending.pop()
                elif state.get(parent):
                    yield [*path[path.index(parent) :], parent]
                elif parent in features and parent not in state:
                    state[parent] = True
                    path.append(parent)
                    pending.append(iter(features[parent].parents))

    def _drop_cycles(self) -> None:
        """Report Parent cycles (GFF3 forbids them); lenient, drop the features in them."""
        dropped: set[str] = set()
        for cycle in self._parent_cycles():
            # Name the cycle from the feature defined first, on whose line it is reported.
            first = min(range(len(cycle) - 1), key=lambda i: self.features[cycle[i]].row.line)
            cycle = cycle[first:-1] + cycle[: first + 1]
            self.problems.report(
                f"Parent cycle {' -> '.join(map(repr, cycle))}",
                line=self.features[cycle[0]].row.line,
            )
            dropped.update(cycle)
        for feature_id in dropped:
            del self.features[feature_id]
        self.skipped |= dropped  # their children were skipped with them, not orphaned

    def finish(self) -> list[Gene]:
        self._drop_cycles()
        self._check_orphans()
        is_transcript = {
            fid
            for fid, f in self.features.items()
            if fid in self.parts or f.row.type in TRANSCRIPT_TYPES
        }
        gene_info: dict[str, tuple[dict[str, str], str | None]] = {}
        transcripts: list[Transcript] = []
        for tx_id in [fid for fid in self.features if fid in is_transcript]:
            gene_key = self._gene_of(tx_id, is_transcript)
            if gene_key is not None and gene_key not in self.features:
                continue  # orphan, or its gene line was dropped (lenient): already reported
            tx = self._builder(tx_id, self.features[tx_id])
            if tx is None:
                continue
            gene = self.features.get(gene_key) if gene_key is not None else None
            if gene is None:
                # No gene parent: gffread-style transcripts name theirs in geneID/gene_id.
                gene_key = tx.attributes.get("geneID") or tx.attributes.get("gene_id")
                gene_key = gene_key or f"gene-{tx_id}"
            elif not self._gene_matches(tx, gene, gene_key):
                continue
            else:
                tx.gene_attributes = gene.attributes
                gene_info[gene_key] = (gene.attributes, gene.row.source)
            tx.gene_key = gene_key
            built = build_transcript(tx, self.problems, self.has_cds)
            if built is not None:
                transcripts.append(built)
        self.seqids = list(dict.fromkeys(t.seqid for t in transcripts))
        taken = {t.id for t in transcripts} | (self.features.keys() - gene_info.keys())
        return make_genes(transcripts, gene_info, taken)

    def _gene_matches(self, tx: TranscriptRows, gene: _Feature, gene_id: str) -> bool:
        if gene_id in self.duplicates:
            self.problems.report(
                f"duplicate ID {gene_id!r} (first defined on line {gene.row.line})",
                line=self.duplicates.pop(gene_id),
            )
        if gene.row.strand not in GENE_STRANDS:
            self.problems.report(
                f"gene strand {gene.row.strand!r} is not +, -, . or ?",
                line=gene.row.line,
                record=gene_id,
            )
            return False
        # A gene row may leave its strand '.' or '?': its transcripts carry the strand.
        strand_ok = gene.row.strand not in ("+", "-") or gene.row.strand == tx.strand
        if gene.row.seqid != tx.seqid or not strand_ok:
            self.problems.report(
                f"transcript {tx.id!r} on {tx.seqid}{tx.strand} but its gene {gene_id!r} is on "
                f"{gene.row.seqid}{gene.row.strand}",
                line=tx.line,
            )
            return False
        return True
