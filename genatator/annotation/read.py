"""Read GFF3 and GTF annotations into genes and transcripts, normalising real files' quirks."""

from __future__ import annotations

import contextlib
import itertools
import math
import re
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal
from urllib.parse import unquote

from genatator._io import READ_ERRORS, display_name, open_text, read_error
from genatator.annotation.kinds import TRANSCRIPT_KINDS, TRANSCRIPT_TYPES, transcript_kind
from genatator.annotation.models import Annotation, Gene, Span, Transcript, merge_spans
from genatator.errors import GenatatorWarning, InputError

__all__ = ["TRANSCRIPT_KINDS", "read_annotation"]

Format = Literal["auto", "gff3", "gtf"]

# Roles of the rows that make up a transcript.
_EXON, _CDS, _UTR, _START, _STOP = range(5)
_ROLE_NAMES = {_EXON: "exon", _CDS: "CDS", _UTR: "UTR", _START: "start_codon", _STOP: "stop_codon"}
_EXON_KEYS = frozenset({"exon", "noncodingexon", "codingexon", "pseudogenicexon"})
_GTF_ATTRIBUTE = re.compile(r'\s*([^\s";]+)\s+(?:"([^"]*)"|([^\s;"]+))\s*(?:;|$)')
_NON_ALNUM = re.compile(r"[^a-z0-9]")
_BARE_ID = re.compile(r"\s*[^\s\";=]+\s*")
_role_cache: dict[str, int | None] = {}
# GFF3's strands. Transcripts and their parts need + or -; '*' (a GTF/SAM habit) is no strand.
_GENE_STRANDS = frozenset("+-.?")


def _part_role(feature_type: str) -> int | None:
    """Role of an exonic row (exon, CDS, any UTR spelling, start/stop codon), or None."""
    role = _role_cache.get(feature_type, -1)
    if role != -1:
        return role
    key = _NON_ALNUM.sub("", feature_type.lower())
    if key in _EXON_KEYS:
        role = _EXON
    elif key == "cds":
        role = _CDS
    elif key.endswith("utr") or key.startswith("utr"):
        # UTR, 5UTR, 3'-UTR, five_prime_UTR, UTR5, ...: the label is never trusted for the side.
        role = _UTR
    elif key == "startcodon":
        role = _START
    elif key == "stopcodon":
        role = _STOP
    else:
        role = None
    _role_cache[feature_type] = role
    return role


def _is_gene_type(feature_type: str) -> bool:
    return feature_type in ("gene", "pseudogene") or feature_type.endswith("_gene")


class _Problems:
    """Raises InputError on the first problem, or (lenient) records it as a warning line."""

    def __init__(self, name: str, lenient: bool) -> None:
        self.name = name
        self.lenient = lenient
        self.messages: list[str] = []

    def report(self, message: str, *, line: int | None = None, record: str | None = None) -> None:
        error = InputError(message, path=self.name, record=record, line=line)
        if not self.lenient:
            raise error
        self.messages.append(str(error))


_PHASES = frozenset({".", "0", "1", "2"})


@dataclass(slots=True)
class _Row:
    """One feature line, coordinates already converted to 0-based half-open."""

    seqid: str
    source: str
    type: str
    start: int
    end: int
    score: str
    strand: str
    attributes: str
    line: int


def _parse_row(text: str, line: int, problems: _Problems) -> _Row | None:
    """Split and check the eight fixed columns; None (after a lenient report) when malformed."""
    cols = text.split("\t")
    if len(cols) != 9:
        problems.report(f"expected 9 tab-separated columns, found {len(cols)}", line=line)
        return None
    seqid, source, ftype, start_text, end_text, score, strand, phase, attributes = cols
    if phase not in _PHASES:
        # Phases are recomputed from the exons on output, but an impossible one means a broken
        # file (a shifted column, a hand edit) whose other columns cannot be trusted either.
        problems.report(f"phase {phase!r} is not 0, 1, 2 or '.'", line=line)
        return None
    try:
        start, end = int(start_text), int(end_text)
    except ValueError:
        problems.report(f"coordinates {start_text!r}, {end_text!r} are not integers", line=line)
        return None
    if start < 1:
        problems.report(f"start {start} is below 1 (coordinates are 1-based)", line=line)
        return None
    if start > end:
        problems.report(f"start {start} is greater than end {end}", line=line)
        return None
    return _Row(seqid, source, ftype, start - 1, end, score, strand, attributes, line)


def _parse_score(text: str, line: int, problems: _Problems) -> float | None:
    if text in (".", ""):
        return None
    try:
        return float(text)
    except ValueError:
        problems.report(f"score {text!r} is not a number", line=line)
        return None


def _decode(text: str) -> str:
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
        key = _decode(key)
        if key == "Parent":
            # Split before decoding: an escaped comma (%2C) belongs inside one value.
            parents.extend(_decode(p) for p in value.split(",") if p)
        else:
            attributes[key] = _decode(value)
    return attributes, parents


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


@dataclass(slots=True)
class _TxBuilder:
    """Rows of one transcript collected while reading, before normalisation."""

    id: str
    seqid: str
    strand: str
    source: str
    line: int
    gene_key: str
    # role, start, end, line, score column text
    parts: list[tuple[int, int, int, int, str]] = field(default_factory=list)
    row_span: Span | None = None
    row_type: str | None = None
    score: float | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    gene_attributes: dict[str, str] = field(default_factory=dict)


def _contained(inner: list[Span], outer: list[Span]) -> Span | None:
    """First span of sorted ``inner`` not inside one span of sorted, disjoint ``outer``."""
    j = 0
    for start, end in inner:
        while j < len(outer) and outer[j][1] <= start:
            j += 1
        if j == len(outer) or not (outer[j][0] <= start and end <= outer[j][1]):
            return start, end
    return None


def _fmt(span: Span) -> str:
    """A 0-based half-open span as the 1-based closed text users see in their file."""
    return f"{span[0] + 1}-{span[1]}"


def _explicit_exons(spans: list[Span], tx: _TxBuilder, problems: _Problems) -> list[Span]:
    """Sorted exon rows; duplicates and touching exons merge silently, partial overlaps reported."""
    exons: list[Span] = []
    for start, end in sorted(set(spans)):
        if exons and start < exons[-1][1]:
            problems.report(
                f"transcript {tx.id!r} has overlapping exons {_fmt(exons[-1])} and "
                f"{_fmt((start, end))}",
                line=tx.line,
            )
        if exons and start <= exons[-1][1]:
            exons[-1] = (exons[-1][0], max(end, exons[-1][1]))
        else:
            exons.append((start, end))
    return exons


def _extend_cds_to_stop(cds: list[Span], stops: list[Span], tx: _TxBuilder, problems: _Problems):
    """CDS including the stop codon: stop_codon pieces outside the CDS must lie on its 3' side."""
    lo, hi = cds[0][0], cds[-1][1]
    for start, end in stops:
        on_three_prime = start >= hi if tx.strand == "+" else end <= lo
        if (start < lo or end > hi) and not on_three_prime:
            problems.report(
                f"stop_codon {_fmt((start, end))} of transcript {tx.id!r} is not at the 3' end "
                f"of its CDS {_fmt((lo, hi))}",
                line=tx.line,
            )
            return None
    # Union, so a CDS that already includes the stop codon (GFF3 convention) is unchanged and a
    # stop codon split by an intron becomes a short CDS segment in the next exon.
    return merge_spans(cds + stops)


def _build(tx: _TxBuilder, problems: _Problems) -> tuple[list[Span], list[Span]] | None:
    """Normalised (exons, cds) of a transcript, or None when it is skipped (lenient)."""
    by_role: dict[int, list[Span]] = defaultdict(list)
    for role, start, end, _, _ in tx.parts:
        by_role[role].append((start, end))
    cds = merge_spans(by_role[_CDS])
    stops = by_role[_STOP]
    if cds and stops:
        extended = _extend_cds_to_stop(cds, stops, tx, problems)
        if extended is None:
            return None
        cds = extended
    if by_role[_EXON]:
        exons = _explicit_exons(by_role[_EXON], tx, problems)
    else:
        # No exon rows (fly RefSeq GTF, CDS-only GFF3): exons are the union of the exonic pieces.
        exons = merge_spans(cds + stops + by_role[_START] + by_role[_UTR])
    if not exons and tx.row_span is not None:
        exons = [tx.row_span]  # a transcript row without children: one exon
    if not exons:
        problems.report(f"transcript {tx.id!r} has no exons", line=tx.line)
        return None
    outside = _contained(cds, exons)
    if outside is not None:
        problems.report(
            f"CDS {_fmt(outside)} of transcript {tx.id!r} lies outside its exons", line=tx.line
        )
        return None
    return exons, cds


def _exon_scores(tx: _TxBuilder, exons: list[Span]) -> list[float]:
    """Scores of the exon rows in exon order; empty unless each exon is one row with a number.

    Merged, derived or unscored exons get no scores: a partial list could not be written back.
    """
    rows = sorted((start, end, text) for role, start, end, _, text in tx.parts if role == _EXON)
    if len(rows) != len(exons) or any(text in (".", "") for _, _, text in rows):
        return []
    if [(start, end) for start, end, _ in rows] != exons:
        return []
    try:
        scores = [float(text) for _, _, text in rows]
    except ValueError:
        return []  # exon scores were never checked, so a non-number is ignored, not an error
    return scores if all(math.isfinite(score) for score in scores) else []


def _transcript(tx: _TxBuilder, problems: _Problems, file_has_cds: bool) -> Transcript | None:
    built = _build(tx, problems)
    if built is None:
        return None
    exons, cds = built
    return Transcript(
        id=tx.id,
        seqid=tx.seqid,
        strand=tx.strand,
        exons=exons,
        cds=cds,
        kind=transcript_kind(
            row_type=tx.row_type,
            names=(tx.id, tx.attributes.get("transcript_id", "")),
            attributes=tx.attributes,
            gene_attributes=tx.gene_attributes,
            exon_length=sum(end - start for start, end in exons),
            has_cds=bool(cds),
            file_has_cds=file_has_cds,
        ),
        gene_id=tx.gene_key,
        score=tx.score,
        source=tx.source,
        attributes=tx.attributes,
        exon_scores=_exon_scores(tx, exons),
    )


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def _overlap_clusters(transcripts: list[Transcript]) -> list[list[Transcript]]:
    """Transcripts grouped by shared exonic bases on the same sequence and strand (sweep line)."""
    events = sorted(
        (t.seqid, t.strand, start, end, i)
        for i, t in enumerate(transcripts)
        for start, end in t.exons
    )
    groups = _UnionFind(len(transcripts))
    block_key, block_end, block_owner = None, -1, -1
    for seqid, strand, start, end, i in events:
        if (seqid, strand) == block_key and start < block_end:
            groups.union(block_owner, i)
            block_end = max(block_end, end)
        else:
            block_key, block_end, block_owner = (seqid, strand), end, i
    clusters: dict[int, list[Transcript]] = defaultdict(list)
    for i, t in enumerate(transcripts):
        clusters[groups.find(i)].append(t)
    return list(clusters.values())


def _tx_order(t: Transcript) -> tuple[int, int, str]:
    return t.start, t.end, t.id


def _make_genes(
    transcripts: list[Transcript],
    gene_info: dict[str, tuple[dict[str, str], str | None]],
    taken: set[str],
) -> list[Gene]:
    """Genes from transcripts keyed by ``gene_id``; one gene per (key, seqid, strand).

    ``gene_info`` maps a key to (attributes, source) from an explicit gene row. Gene IDs must not
    clash with transcript IDs or each other: clashing ones get a ``gene-`` prefix and, if still
    taken, a numeric suffix. Transcripts' ``gene_id`` is updated to the final gene ID.
    """
    groups: dict[tuple[str, str, str], list[Transcript]] = defaultdict(list)
    for t in transcripts:
        groups[(t.gene_id, t.seqid, t.strand)].append(t)
    genes: list[Gene] = []
    seen_keys: set[str] = set()
    for (key, seqid, strand), members in sorted(
        groups.items(), key=lambda item: (min(_tx_order(t) for t in item[1]), item[0])
    ):
        gene_id = key if key not in seen_keys and key not in taken else f"gene-{key}"
        seen_keys.add(key)
        base, n = gene_id, 1
        while gene_id in taken:
            n += 1
            gene_id = f"{base}.{n}"
        taken.add(gene_id)
        attributes, source = gene_info.get(key, ({}, None))
        members.sort(key=_tx_order)
        for t in members:
            t.gene_id = gene_id
        genes.append(
            Gene(
                id=gene_id,
                seqid=seqid,
                strand=strand,
                transcripts=members,
                source=source if source is not None else members[0].source,
                attributes=dict(attributes),
            )
        )
    return genes


class _GtfParser:
    """Collects GTF rows by ``transcript_id``."""

    def __init__(self, problems: _Problems) -> None:
        self.problems = problems
        self.transcripts: dict[str, _TxBuilder] = {}
        self.gene_rows: dict[str, tuple[dict[str, str], str]] = {}
        self.has_cds = False
        self.seqids: list[str] = []  # in order of first appearance, set by finish()
        self.gene_unknown: set[str] = set()  # transcripts seen only on a bare-ID row so far

    def add(self, text: str, line: int) -> None:
        problems = self.problems
        row = _parse_row(text, line, problems)
        if row is None:
            return
        role = _part_role(row.type)
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
            tx = _TxBuilder(tx_id, row.seqid, row.strand, row.source, line, gene_id or tx_id)
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
            tx.score = _parse_score(row.score, line, problems)
        else:
            self.has_cds |= role == _CDS
            tx.parts.append((role, row.start, row.end, line, row.score))

    def _consistent(self, tx: _TxBuilder, row: _Row, gene_id: str) -> bool:
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
        built = [_transcript(tx, self.problems, self.has_cds) for tx in builders]
        transcripts = [t for t in built if t is not None]
        self.seqids = list(dict.fromkeys(t.seqid for t in transcripts))
        taken = {t.id for t in transcripts}
        gene_info = {k: (attrs, source) for k, (attrs, source) in self.gene_rows.items()}
        if len(transcripts) > 1 and all(t.gene_id == t.id for t in transcripts):
            # Every isoform is its own "gene" (UCSC ncbiRefSeq GTF): group by exon overlap and
            # name each gene after its first transcript in genomic order.
            for cluster in _overlap_clusters(transcripts):
                first = min(cluster, key=_tx_order)
                for t in cluster:
                    t.gene_id = f"gene-{first.id}"
        return _make_genes(transcripts, gene_info, taken)


@dataclass(slots=True)
class _Feature:
    """A GFF3 line with an ID that is not an exonic part (gene, transcript, region, ...)."""

    row: _Row
    attributes: dict[str, str]
    parents: list[str]


class _Gff3Parser:
    """Collects GFF3 features by ID and exonic parts by Parent, resolving links at the end."""

    def __init__(self, problems: _Problems) -> None:
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
        row = _parse_row(text, line, problems)
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
        role = _part_role(row.type)
        if role is not None:
            self._add_part(row, role, feature_id, parents)
        elif feature_id is None:
            if _is_gene_type(row.type) or row.type in TRANSCRIPT_TYPES:
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
            self.skipped.add(_decode(match.group(1)))

    def _add_part(self, row: _Row, role: int, feature_id: str | None, parents: list[str]) -> None:
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
        self.has_cds |= role == _CDS
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

    def _builder(self, tx_id: str, feature: _Feature) -> _TxBuilder | None:
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
        tx = _TxBuilder(tx_id, row.seqid, row.strand, row.source, row.line, "")
        tx.row_span = (row.start, row.end)
        tx.row_type = row.type
        tx.score = _parse_score(row.score, row.line, self.problems)
        tx.attributes = feature.attributes
        for part in self.parts.get(tx_id, ()):
            role, start, end, line, seqid, strand, score = part
            if seqid != tx.seqid or strand != tx.strand:
                self.problems.report(
                    f"{_ROLE_NAMES[role]} on {seqid}{strand} but its transcript {tx_id!r} is on "
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
            built = _transcript(tx, self.problems, self.has_cds)
            if built is not None:
                transcripts.append(built)
        self.seqids = list(dict.fromkeys(t.seqid for t in transcripts))
        taken = {t.id for t in transcripts} | (self.features.keys() - gene_info.keys())
        return _make_genes(transcripts, gene_info, taken)

    def _gene_matches(self, tx: _TxBuilder, gene: _Feature, gene_id: str) -> bool:
        if gene_id in self.duplicates:
            self.problems.report(
                f"duplicate ID {gene_id!r} (first defined on line {gene.row.line})",
                line=self.duplicates.pop(gene_id),
            )
        if gene.row.strand not in _GENE_STRANDS:
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


@contextlib.contextmanager
def _open_lines(source: str | Path | IO[str]) -> Iterator[tuple[Iterable[str | bytes], str]]:
    if isinstance(source, (str, Path)):
        with open_text(source) as handle:
            # Lines as bytes, decoded one by one: a line that is not text is named exactly.
            yield handle.buffer, display_name(source)  # type: ignore[attr-defined]
    else:
        yield source, str(getattr(source, "name", "<stream>"))


def _numbered_lines(lines: Iterable[str | bytes], problems: _Problems) -> Iterator[tuple[int, str]]:
    """``(line number, text)``; a line that is not UTF-8 is a problem, a damaged file an error."""
    number = 0
    try:
        for number, line in enumerate(lines, 1):
            if isinstance(line, bytes):
                try:
                    line = line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    problems.report(
                        f"binary data, not UTF-8 text (byte 0x{line[exc.start]:02x} at column "
                        f"{exc.start + 1})",
                        line=number,
                    )
                    continue
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]  # a byte-order mark, as some Windows editors write
            yield number, line
    except READ_ERRORS as exc:
        raise read_error(exc, problems.name, line=number + 1) from None
    except UnicodeDecodeError as exc:  # a text handle passed in decodes by itself
        raise InputError(
            f"binary data, not UTF-8 text ({exc.reason})", path=problems.name, line=number + 1
        ) from None


def _detect(lines: Iterator[tuple[int, str]]) -> tuple[str, list[tuple[int, str]]]:
    """Format from the ``##gff-version`` header or the first column 9, plus the lines consumed."""
    seen: list[tuple[int, str]] = []
    for number, text in lines:
        seen.append((number, text))
        if text.startswith("##gff-version"):
            version = text.split()[1] if len(text.split()) > 1 else ""
            return ("gff3" if version.startswith("3") else "gtf"), seen
        if text.startswith(("#", ">")) or not text.strip():
            if text.startswith(("##FASTA", ">")):
                break
            continue
        cols = text.rstrip("\r\n").split("\t")
        if len(cols) != 9:
            continue
        column9 = cols[8].lstrip()
        if re.match(r'[^\s=;"]+=', column9):
            return "gff3", seen
        if re.match(r'[^\s=;"]+\s+\S', column9):
            return "gtf", seen
    return "gff3", seen


def _sequence_region(text: str, line: int, lengths: dict[str, int], problems: _Problems) -> None:
    fields = text.split()
    try:
        seqid, end = _decode(fields[1]), int(fields[3])
    except (IndexError, ValueError):
        problems.report(f"malformed ##sequence-region directive {text!r}", line=line)
        return
    lengths[seqid] = end


def _check_lengths(genes: list[Gene], lengths: dict[str, int], problems: _Problems) -> list[Gene]:
    kept = []
    for gene in genes:
        length = lengths.get(gene.seqid)
        if length is not None and gene.end > length:
            problems.report(
                f"gene ends at {gene.end}, beyond the ##sequence-region length {length} of "
                f"{gene.seqid!r}",
                record=gene.id,
            )
            continue
        kept.append(gene)
    return kept


def read_annotation(
    source: str | Path | IO[str], *, format: Format = "auto", lenient: bool = False
) -> Annotation:
    """Read a GFF3 or GTF annotation (plain, gzip, bgzip or ``-`` for stdin) into genes.

    Input coordinates are 1-based closed; the returned model is 0-based half-open. Quirks of real
    files are normalised: CDS always includes the stop codon; exons are derived from CDS, UTR and
    codon rows when a transcript has no exon rows; UTR labels are ignored (the side follows from
    the CDS and strand); GTF files whose every ``gene_id`` equals its ``transcript_id`` get genes
    by same-strand exon overlap (a shared exonic base), named ``gene-<first transcript ID>``;
    GFF3 transcripts without a gene get one from ``geneID``/``gene_id`` or ``gene-<ID>``. Genes
    come sorted by sequence (``##sequence-region`` order, then first appearance), start, end,
    strand and ID. Kinds: explicit SO type, else biotype, else RefSeq prefix (``NM_``/``XM_``
    mRNA; ``NR_``/``XR_`` lnc_RNA from 200 nt, else ncRNA), else ncRNA (``transcript`` when the
    file has no CDS at all); any transcript with a CDS is an mRNA. Exon rows' scores are kept
    in ``Transcript.exon_scores`` when every exon is one row with a numeric score.

    Problems (each an InputError naming file, line and feature): bad column count, coordinates,
    score or attributes; a line that is not UTF-8 text; strand other than + or - on a transcript
    or its parts (a GFF3 gene row may use ``.`` or ``?``, never ``*``); missing ID, Parent,
    transcript_id; undefined Parent; a Parent cycle; duplicate transcript or gene ID; parts on
    another sequence or strand than their transcript; partially overlapping exons; CDS outside
    the exons; a stop codon not at the CDS 3' end; a gene past its ``##sequence-region``. Exact
    duplicate and touching exons merge silently. With ``lenient`` the line or transcript is
    skipped instead (overlapping exons are merged and kept; a cycle's features are dropped).
    A truncated or corrupt gzip stream is an InputError even with ``lenient``.

    Args:
        source: path, ``-`` for standard input, or an open text handle.
        format: ``"gff3"``, ``"gtf"`` or ``"auto"`` (``##gff-version`` header, else column 9
            syntax: ``key=value`` is GFF3, ``key "value"`` is GTF).
        lenient: skip malformed lines and transcripts instead of raising; each problem is kept
            in ``Annotation.warnings`` and one ``GenatatorWarning`` summarises them.

    Returns:
        The annotation, with ``sequence_lengths`` from ``##sequence-region`` directives.

    Raises:
        InputError: the file is missing or malformed (message names file, line and feature),
            unless ``lenient``.
        ValueError: ``format`` is not one of the choices.
    """
    if format not in ("auto", "gff3", "gtf"):
        raise ValueError(f"format must be 'auto', 'gff3' or 'gtf', not {format!r}")
    lengths: dict[str, int] = {}
    with _open_lines(source) as (handle, name):
        problems = _Problems(name, lenient)
        numbered = _numbered_lines(handle, problems)
        head: list[tuple[int, str]] = []
        fmt = format
        if fmt == "auto":
            fmt, head = _detect(numbered)
        parser = _Gff3Parser(problems) if fmt == "gff3" else _GtfParser(problems)
        for number, text in itertools.chain(head, numbered):
            text = text.rstrip("\r\n")
            if not text or text.isspace():
                continue
            if text[0] == "#":
                if text.startswith("##FASTA"):
                    break
                if text.startswith("##sequence-region"):
                    _sequence_region(text, number, lengths, problems)
                continue
            if text[0] == ">":
                break  # FASTA without its ##FASTA directive
            parser.add(text, number)
        genes = _check_lengths(parser.finish(), lengths, problems)
    order = {seqid: i for i, seqid in enumerate(lengths)}
    for seqid in parser.seqids:
        order.setdefault(seqid, len(order))
    genes.sort(key=lambda g: (order[g.seqid], g.start, g.end, g.strand, g.id))
    if problems.messages:
        warnings.warn(
            f"{name}: {len(problems.messages)} problems skipped; first: {problems.messages[0]}",
            GenatatorWarning,
            stacklevel=2,
        )
    return Annotation(genes=genes, sequence_lengths=lengths, warnings=problems.messages)
