"""Read GFF3 and GTF annotations into genes and transcripts, normalising real files' quirks."""

from __future__ import annotations

import contextlib
import itertools
import re
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Literal

from genatator._io import READ_ERRORS, display_name, open_text, read_error
from genatator.annotation.gff3 import Gff3Parser, decode_percent
from genatator.annotation.gtf import GtfParser
from genatator.annotation.kinds import TRANSCRIPT_KINDS
from genatator.annotation.models import Annotation, Gene
from genatator.annotation.rows import Problems
from genatator.errors import GenatatorWarning, InputError

__all__ = ["TRANSCRIPT_KINDS", "read_annotation"]

Format = Literal["auto", "gff3", "gtf"]


@contextlib.contextmanager
def _open_lines(source: str | Path | IO[str]) -> Iterator[tuple[Iterable[str | bytes], str]]:
    if isinstance(source, (str, Path)):
        with open_text(source) as handle:
            # Lines as bytes, decoded one by one: a line that is not text is named exactly.
            yield handle.buffer, display_name(source)  # type: ignore[attr-defined]
    else:
        yield source, str(getattr(source, "name", "<stream>"))


def _numbered_lines(lines: Iterable[str | bytes], problems: Problems) -> Iterator[tuple[int, str]]:
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


def _sequence_region(text: str, line: int, lengths: dict[str, int], problems: Problems) -> None:
    fields = text.split()
    try:
        seqid, end = decode_percent(fields[1]), int(fields[3])
    except (IndexError, ValueError):
        problems.report(f"malformed ##sequence-region directive {text!r}", line=line)
        return
    lengths[seqid] = end


def _check_lengths(genes: list[Gene], lengths: dict[str, int], problems: Problems) -> list[Gene]:
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
        problems = Problems(name, lenient)
        numbered = _numbered_lines(handle, problems)
        head: list[tuple[int, str]] = []
        fmt = format
        if fmt == "auto":
            fmt, head = _detect(numbered)
        parser = Gff3Parser(problems) if fmt == "gff3" else GtfParser(problems)
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
