"""Write genes and transcripts as sorted, validator-clean GFF3 with Sequence Ontology types."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from genatator._io import atomic_output
from genatator.annotation.models import CODING_KIND, Annotation, Gene, Span, Transcript
from genatator.annotation.read import TRANSCRIPT_KINDS

__all__ = ["cds_phases", "save_gff3", "write_gff3"]

_PSEUDO = "pseudogenic_transcript"
# GFF3 reserved attributes we may carry through; any other capitalised key is reserved by the
# spec (gt rejects it), so it is written with a lower-case first letter.
_WRITABLE_RESERVED = frozenset({"Name", "Alias", "Note", "Dbxref", "Ontology_term", "Is_circular"})
_ESCAPE = re.compile(r"[\x00-\x1f\x7f%;=&,]")
_SEQID_ESCAPE = re.compile(r"[^a-zA-Z0-9.:^*$@!+_?|-]")
_COLUMN_ESCAPE = re.compile(r"[\x00-\x1f\x7f%]")


def _percent(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode())


def _escape(value: str) -> str:
    """Percent-encode the characters GFF3 reserves in column 9 (and control characters)."""
    return _ESCAPE.sub(_percent, value)


def cds_phases(transcript: Transcript) -> list[int]:
    """GFF3 phase of each CDS segment, in genomic (ascending) order.

    The phase is the number of bases to drop from the 5' end of a segment (its high coordinate on
    ``-``) to reach the next codon start. Segments are walked in transcription order from a
    complete CDS (first phase 0): ``phase = (3 - consumed % 3) % 3``.
    """
    ordered = transcript.cds if transcript.strand == "+" else transcript.cds[::-1]
    phases, consumed = [], 0
    for start, end in ordered:
        phases.append((3 - consumed % 3) % 3)
        consumed += end - start
    return phases if transcript.strand == "+" else phases[::-1]


def _format_score(score: float | None) -> str:
    return "." if score is None else f"{score:.6g}"


def _attributes(feature_id: str, parent: str | None, extra: dict[str, str]) -> str:
    """``ID``, ``Parent``, then the extra attributes sorted by key, all escaped."""
    parts = [f"ID={_escape(feature_id)}"]
    if parent is not None:
        parts.append(f"Parent={_escape(parent)}")
    named: dict[str, str] = {}
    for key, value in extra.items():
        if key in ("ID", "Parent") or not key or not value:
            continue  # gt rejects empty values; ID and Parent are ours
        if key[0].isupper() and key not in _WRITABLE_RESERVED:
            renamed = key[0].lower() + key[1:]
            if renamed not in extra:
                named[renamed] = value
        else:
            named[key] = value
    parts.extend(f"{_escape(key)}={_escape(named[key])}" for key in sorted(named))
    return ";".join(parts)


def _gene_type(gene: Gene) -> str:
    kinds = {t.kind for t in gene.transcripts}
    if kinds == {_PSEUDO}:
        return "pseudogene"
    # ``transcript`` means coding status unknown (e.g. an exon-only GTF): not claimed non-coding.
    if gene.is_coding or CODING_KIND in kinds or "transcript" in kinds:
        return "gene"
    return "ncRNA_gene"


def _check(gene: Gene, transcript: Transcript) -> None:
    """Reject structures that would make an invalid GFF3 (a programming error upstream)."""
    where = f"transcript {transcript.id!r}"
    if transcript.seqid != gene.seqid or transcript.strand != gene.strand:
        raise ValueError(
            f"{where} is on {transcript.seqid}{transcript.strand}, its gene "
            f"{gene.id!r} on {gene.seqid}{gene.strand}"
        )
    if transcript.strand not in ("+", "-"):
        raise ValueError(f"{where} has strand {transcript.strand!r}; only + and - are valid")
    if not transcript.exons:
        raise ValueError(f"{where} has no exons")
    if transcript.kind not in TRANSCRIPT_KINDS:
        raise ValueError(
            f"{where} has kind {transcript.kind!r}, not one of the SO types "
            f"{sorted(TRANSCRIPT_KINDS)}"
        )
    if transcript.cds and transcript.kind != CODING_KIND:
        raise ValueError(f"{where} has a CDS but kind {transcript.kind!r}, not mRNA")
    previous = -1
    for start, end in transcript.exons:
        if start < 0 or end <= start or start < previous:
            raise ValueError(f"{where} has unsorted, overlapping or empty exons {transcript.exons}")
        previous = end
    j = 0
    for start, end in transcript.cds:
        while j < len(transcript.exons) and transcript.exons[j][1] <= start:
            j += 1
        if j == len(transcript.exons) or not (
            transcript.exons[j][0] <= start and end <= transcript.exons[j][1]
        ):
            raise ValueError(f"{where} has CDS {start}-{end} outside its exons")


def _numbered(spans: list[Span], strand: str) -> list[tuple[Span, int]]:
    """Spans in genomic order, each with its 1-based number in transcription order."""
    n = len(spans)
    return [(span, i + 1 if strand == "+" else n - i) for i, span in enumerate(spans)]


def _transcript_children(
    t: Transcript, exon_type: str
) -> list[tuple[int, int, str, str, str, str, dict[str, str]]]:
    """(start, end, type, ID suffix, score, phase, attributes) rows of a transcript, sorted."""
    exon_scores: list[float | None] = list(t.exon_scores) or [None] * len(t.exons)
    if len(exon_scores) != len(t.exons):
        raise ValueError(f"transcript {t.id!r} has {len(t.exons)} exons but {len(exon_scores)} "
                         "exon scores")  # fmt: skip
    exon_attributes = list(t.exon_attributes) or [{}] * len(t.exons)
    if len(exon_attributes) != len(t.exons):
        raise ValueError(f"transcript {t.id!r} has {len(t.exons)} exons but "
                         f"{len(exon_attributes)} exon attribute sets")  # fmt: skip
    rows = [
        (s, 0, e, exon_type, f"exon{n}", _format_score(score), ".", extra)
        for ((s, e), n), score, extra in zip(
            _numbered(t.exons, t.strand), exon_scores, exon_attributes
        )
    ]
    rows += [
        (s, 1, e, "five_prime_UTR", f"5UTR{n}", ".", ".", {})
        for (s, e), n in _numbered(t.five_prime_utrs, t.strand)
    ]
    phases = cds_phases(t)
    rows += [
        (s, 2, e, "CDS", f"CDS{n}", ".", str(phases[i]), {})
        for i, ((s, e), n) in enumerate(_numbered(t.cds, t.strand))
    ]
    rows += [
        (s, 3, e, "three_prime_UTR", f"3UTR{n}", ".", ".", {})
        for (s, e), n in _numbered(t.three_prime_utrs, t.strand)
    ]
    rows.sort(key=lambda row: row[:7])
    return [
        (s, e, ftype, sfx, score, phase, extra) for s, _, e, ftype, sfx, score, phase, extra in rows
    ]


class _Ids:
    """Guards the GFF3 rule that every ID is unique in the file."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def add(self, feature_id: str) -> str:
        if feature_id in self.seen:
            raise ValueError(f"ID {feature_id!r} would be written twice")
        self.seen.add(feature_id)
        return feature_id


def _gene_lines(gene: Gene, seqid: str, source: str | None, ids: _Ids) -> list[str]:
    """GFF3 lines of one gene: gene, then each transcript followed by its parts."""
    transcripts = sorted(gene.transcripts, key=lambda t: (t.start, t.end, t.id))
    for t in transcripts:
        _check(gene, t)
    gene_type = _gene_type(gene)
    scores = [t.score for t in transcripts if t.score is not None]
    gene_source = _escape_column(source or gene.source)
    lines = [
        "\t".join((seqid, gene_source, gene_type, str(gene.start + 1), str(gene.end),
                   _format_score(max(scores) if scores else None), gene.strand, ".",
                   _attributes(ids.add(gene.id), None, gene.attributes)))
    ]  # fmt: skip
    for t in transcripts:
        # Pseudogenic transcripts are valid only under a pseudogene with pseudogenic exons.
        pseudo = t.kind == _PSEUDO
        tx_type = t.kind if not pseudo or gene_type == "pseudogene" else "transcript"
        tx_source = _escape_column(source or t.source)
        lines.append("\t".join((
            seqid, tx_source, tx_type, str(t.start + 1), str(t.end), _format_score(t.score),
            t.strand, ".", _attributes(ids.add(t.id), gene.id, t.attributes),
        )))  # fmt: skip
        exon_type = "pseudogenic_exon" if tx_type == _PSEUDO else "exon"
        for start, end, ftype, suffix, score, phase, extra in _transcript_children(t, exon_type):
            lines.append("\t".join((
                seqid, tx_source, ftype, str(start + 1), str(end), score, t.strand, phase,
                _attributes(ids.add(f"{t.id}.{suffix}"), t.id, extra),
            )))  # fmt: skip
    lines.append("###")
    return lines


def _escape_column(text: str) -> str:
    return _COLUMN_ESCAPE.sub(_percent, text) or "."


def write_gff3(
    annotation: Annotation | Iterable[Gene],
    handle: IO[str],
    *,
    sequence_lengths: dict[str, int] | None = None,
    source: str | None = None,
    header: bool = True,
    sequence_regions: bool = True,
) -> int:
    """Write genes as GFF3: sorted, one ``##sequence-region`` per sequence, SO types.

    Coordinates are 0-based half-open in the model and written 1-based closed. Sequences come in
    the order of ``sequence_lengths`` (then first appearance); genes by start, end, strand and
    ID; each gene is followed by its transcripts (start, end, ID) and each transcript by its
    exons, UTRs and CDS in coordinate order, then ``###``. Every feature has a unique ``ID``:
    the gene and transcript IDs, and ``<transcript>.exon<n>``, ``.CDS<n>``, ``.5UTR<n>``,
    ``.3UTR<n>`` numbered in transcription order. The score column holds the transcript's score
    as ``%.6g`` (the gene's is the maximum of its transcripts'). Genes are ``gene`` when any
    transcript is coding, an mRNA or of unknown status (kind ``transcript``), ``pseudogene``
    when all are pseudogenic (with ``pseudogenic_exon`` parts), else ``ncRNA_gene``. Extra
    attributes follow ``ID``/``Parent`` sorted by key, percent-escaped; empty values are
    dropped and capitalised keys that GFF3 does not define get a lower-case first letter.

    Args:
        annotation: an Annotation (its ``sequence_lengths`` are used) or genes.
        handle: open text handle to write to.
        sequence_lengths: sequence lengths for ``##sequence-region`` lines, overriding the
            annotation's; a sequence without a length gets its last feature end.
        source: column 2 for every line; default each gene's and transcript's own ``source``.
        header: write the ``##gff-version 3`` line (off when appending to a file).
        sequence_regions: write the ``##sequence-region`` lines (off for a block of genes that
            goes into a file whose directives are written separately).

    Returns:
        Number of feature lines written (directives and ``###`` not counted).

    Raises:
        ValueError: a feature lies past its sequence length, an ID repeats, or a transcript is
            malformed (no exons, bad strand, CDS outside exons, unknown kind).
    """
    genes = list(annotation.genes if isinstance(annotation, Annotation) else annotation)
    lengths = dict(annotation.sequence_lengths) if isinstance(annotation, Annotation) else {}
    lengths.update(sequence_lengths or {})
    order = {seqid: i for i, seqid in enumerate(lengths)}
    ends: dict[str, int] = {}
    for gene in genes:
        if not gene.transcripts:
            raise ValueError(f"gene {gene.id!r} has no transcripts")
        order.setdefault(gene.seqid, len(order))
        ends[gene.seqid] = max(ends.get(gene.seqid, 0), gene.end)
    out = ["##gff-version 3"] if header else []
    for seqid in order:
        length = lengths.get(seqid, ends.get(seqid, 0))
        if ends.get(seqid, 0) > length:
            raise ValueError(
                f"features on {seqid!r} end at {ends[seqid]}, past its length {length}"
            )
        if length > 0 and sequence_regions:
            out.append(f"##sequence-region {_SEQID_ESCAPE.sub(_percent, seqid)} 1 {length}")
    handle.write("\n".join(out) + "\n" if out else "")
    genes.sort(key=lambda g: (order[g.seqid], g.start, g.end, g.strand, g.id))
    ids = _Ids()
    written = 0
    for gene in genes:
        lines = _gene_lines(gene, _SEQID_ESCAPE.sub(_percent, gene.seqid), source, ids)
        handle.write("\n".join(lines) + "\n")
        written += len(lines) - 1
    return written


def save_gff3(
    annotation: Annotation | Iterable[Gene],
    path: str | Path,
    *,
    sequence_lengths: dict[str, int] | None = None,
    source: str | None = None,
) -> int:
    """Write GFF3 to ``path`` atomically (``-`` is stdout); see :func:`write_gff3`.

    Returns:
        Number of feature lines written.
    """
    with atomic_output(path) as handle:
        return write_gff3(annotation, handle, sequence_lengths=sequence_lengths, source=source)
