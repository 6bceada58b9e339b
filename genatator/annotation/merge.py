"""Merge the outputs of sharded ``genatator annotate`` runs: GFF3 files, protein/CDS FASTA."""

from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from genatator._io import READ_ERRORS, display_name, open_text, read_error
from genatator.annotation.models import Annotation, Gene
from genatator.annotation.read import read_annotation
from genatator.errors import GenatatorWarning, InputError

__all__ = ["merge_annotations", "merge_fasta"]

#: The last word of an ``annotate --proteins/--cds-fasta`` header: ``seqid:start-end(strand)``.
_LOCATION = re.compile(r"(?:^|\s)(\S+):\d+-\d+\([+-]\)$")


def merge_annotations(paths: Sequence[str | Path]) -> Annotation:
    """Read annotation files and combine them into one annotation with unique IDs.

    Sequences keep the order of first appearance: file by file, and within a file its
    ``##sequence-region`` order, then the order of its genes. Sequence lengths are merged; a
    sequence without a ``##sequence-region`` anywhere gets the end of its last gene (what
    :func:`~genatator.annotation.write.write_gff3` would write for it anyway), so that it keeps
    its place in that order. Write the result with :func:`~genatator.annotation.write.save_gff3`;
    for genatator's own files that gives the bytes a single unsharded run would have written
    with the same sequence order.

    IDs must be unique in a GFF3 file. A gene whose ID, or any of whose transcript IDs, an
    earlier file already used is renamed together with its transcripts by appending the same
    suffix ``_2`` (or ``_3``, ... : the smallest that clashes with no ID of any input and no ID
    given so far), so the first file's IDs never change and the result does not depend on
    anything but the file order. One :class:`~genatator.errors.GenatatorWarning` gives the
    number of renamed genes.

    Args:
        paths: GFF3 (or GTF) files in the order to merge, ``-`` for standard input.

    Returns:
        The merged annotation; its ``warnings`` hold the inputs' warnings and the rename note.

    Raises:
        InputError: a file is missing or malformed, two files give one sequence different
            lengths, or a gene lies past a sequence length another file gives (the message
            names both files).
    """
    annotations: list[tuple[str, Annotation]] = []
    lengths: dict[str, int] = {}
    length_files: dict[str, str] = {}  # seqid -> file that gave its length
    order: dict[str, None] = {}  # seqids in order of first appearance
    for path in paths:
        name = display_name(path)
        annotation = read_annotation(path)
        annotations.append((name, annotation))
        order.update(
            dict.fromkeys([*annotation.sequence_lengths, *(g.seqid for g in annotation.genes)])
        )
        for seqid, length in annotation.sequence_lengths.items():
            known = lengths.setdefault(seqid, length)
            length_files.setdefault(seqid, name)
            if known != length:
                raise InputError(
                    f"sequence {seqid!r} has length {length} here but {known} in "
                    f"{length_files[seqid]}",
                    path=path,
                )
    ends: dict[str, int] = {}
    for name, annotation in annotations:
        for gene in annotation.genes:
            length = lengths.get(gene.seqid)
            if length is not None and gene.end > length:
                raise InputError(
                    f"gene ends at {gene.end}, past the length {length} of {gene.seqid!r} "
                    f"given in {length_files[gene.seqid]}",
                    path=name,
                    record=gene.id,
                )
            ends[gene.seqid] = max(ends.get(gene.seqid, 0), gene.end)
    merged = Annotation(
        sequence_lengths={seqid: lengths.get(seqid, ends.get(seqid, 0)) for seqid in order},
        warnings=[message for _, annotation in annotations for message in annotation.warnings],
    )
    per_file = [annotation.genes for _, annotation in annotations]
    renamed = _make_ids_unique(per_file)
    merged.genes = [gene for genes in per_file for gene in genes]
    if renamed:
        message = (
            f"renamed {renamed} gene{'s' if renamed > 1 else ''} (and their transcripts) whose "
            "IDs an earlier file already used, by appending _2, _3, ..."
        )
        merged.warnings.append(message)
        warnings.warn(message, GenatatorWarning, stacklevel=2)
    return merged


def _make_ids_unique(per_file: list[list[Gene]]) -> int:
    """Rename, in place, genes whose IDs an earlier file took; returns how many were renamed."""
    # Suffixed IDs avoid every original ID, so a rename never takes an ID a later gene owns.
    originals = {i for genes in per_file for gene in genes for i in _ids(gene)}
    taken: set[str] = set()
    renamed = 0
    for genes in per_file:
        clashing = [gene for gene in genes if not taken.isdisjoint(_ids(gene))]
        taken.update(i for gene in genes for i in _ids(gene))
        for gene in clashing:
            for n in itertools.count(2):
                new = [f"{i}_{n}" for i in _ids(gene)]
                if originals.isdisjoint(new) and taken.isdisjoint(new):
                    break
            taken.update(new)
            gene.id = new[0]
            for transcript, new_id in zip(gene.transcripts, new[1:]):
                transcript.id, transcript.gene_id = new_id, gene.id
            renamed += 1
    return renamed


def _ids(gene: Gene) -> list[str]:
    """The gene's ID, then its transcripts' IDs."""
    return [gene.id, *(t.id for t in gene.transcripts)]


def merge_fasta(paths: Sequence[str | Path], order: str | Path) -> str:
    """Merge the ``--proteins`` (or ``--cds-fasta``) files of shards into one FASTA text.

    Records keep their bytes and, within a sequence, their order; sequences follow the order of
    ``order``'s ``##sequence-region`` lines (then of its genes), which for the merged GFF3 of
    the same shards is the genome's order. That gives the bytes one unsharded run writes.

    Raises:
        InputError: a file is unreadable or not such a FASTA file, a record names a sequence
            ``order`` does not list, or two files hold records of one sequence (they are not
            shards of one run).
    """
    annotation = read_annotation(order)
    rank = dict.fromkeys([*annotation.sequence_lengths, *(g.seqid for g in annotation.genes)])
    blocks: dict[str, list[str]] = {}
    owners: dict[str, int] = {}  # seqid -> the input that holds its records
    for number, path in enumerate(paths):
        for seqid, text, line in _fasta_records(path):
            if seqid not in rank:
                raise InputError(
                    f"sequence {seqid!r} is not in {display_name(order)}", path=path, line=line
                )
            owner = owners.setdefault(seqid, number)
            if owner != number:
                raise InputError(
                    f"sequence {seqid!r} also has records in input {owner + 1} "
                    f"({display_name(paths[owner])}): not shards of one run",
                    path=path,
                    line=line,
                )
            blocks.setdefault(seqid, []).append(text)
    return "".join(text for seqid in rank for text in blocks.get(seqid, ()))


def _fasta_records(path: str | Path) -> Iterator[tuple[str, str, int]]:
    """(sequence, record text, header line) of each record of an annotate FASTA output."""
    lines: list[str] = []
    seqid = ""
    header = 0
    lineno = 0
    try:
        with open_text(path) as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.endswith("\n"):
                    line += "\n"
                if line.startswith(">"):
                    if lines:
                        yield seqid, "".join(lines), header
                    match = _LOCATION.search(line.rstrip("\n"))
                    if match is None:
                        raise InputError(
                            "not a genatator --proteins/--cds-fasta header "
                            "('>ID gene=GENE seqid:start-end(strand)')",
                            path=path,
                            line=lineno,
                        )
                    seqid, header, lines = match.group(1), lineno, [line]
                elif lines:
                    lines.append(line)
                elif line.strip():
                    raise InputError("not FASTA: no '>' header first", path=path, line=lineno)
    except UnicodeDecodeError:
        raise InputError("not a text file", path=path, line=lineno + 1) from None
    except READ_ERRORS as exc:
        raise read_error(exc, path, line=lineno + 1) from None
    if lines:
        yield seqid, "".join(lines), header
