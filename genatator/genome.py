"""FASTA input: stream records one at a time, normalise them to ACGTN, and fetch indexed regions."""

from __future__ import annotations

import string
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import IO

import numpy as np
import pysam

from genatator._io import GZIP_MAGIC, READ_ERRORS, display_name, open_text, read_error
from genatator.errors import GenatatorWarning, InputError

__all__ = [
    "FastaRecord",
    "IndexedFasta",
    "SequenceStats",
    "normalise_sequence",
    "read_fasta",
    "reverse_complement",
    "sequence_stats",
]

# Bytes a sequence line may hold. Letters other than ACGTU (IUPAC codes, X, protein letters),
# the gaps '-' and '.' and the terminator '*' are read as N. Whitespace is dropped.
_WHITESPACE = b" \t\r\n"
_SEQUENCE_BYTES = (string.ascii_letters + "-.*").encode("ascii")
_LINE_BYTES = _SEQUENCE_BYTES + _WHITESPACE
# Letters expected in DNA; others (E, F, I, L, P, Q, '*', ...) suggest a protein FASTA.
_DNA_BYTES = ("ACGTUNRYKMSWBDHVX" + "ACGTUNRYKMSWBDHVX".lower() + "-.").encode("ascii")


def _acgtn_table() -> bytes:
    """256-entry bytes.translate table: ACGT (either case) to upper case, U to T, all else to N."""
    # Only validated bytes (letters and gaps) ever go through it.
    table = bytearray(b"N" * 256)
    for letter, target in zip("ACGTU", "ACGTT", strict=True):
        table[ord(letter)] = table[ord(letter.lower())] = ord(target)
    return bytes(table)


_TO_ACGTN = _acgtn_table()

# Complements of ACGTN and the IUPAC codes (S, W and N are their own complement).
_COMPLEMENT = bytes.maketrans(b"ACGTNRYKMSWBDHVacgtnrykmswbdhv", b"TGCANYRMKSWVHDBtgcanyrmkswvhdb")


class _Fractions:
    """N and soft-masked fractions from ``length``, ``n_count`` and ``soft_masked_count``."""

    length: int
    n_count: int
    soft_masked_count: int

    @property
    def n_fraction(self) -> float:
        """Fraction of bases that are N (0.0 for an empty sequence)."""
        return self.n_count / self.length if self.length else 0.0

    @property
    def soft_masked_fraction(self) -> float:
        """Fraction of bases that were lower case in the input (0.0 for an empty sequence)."""
        return self.soft_masked_count / self.length if self.length else 0.0


@dataclass(eq=False)
class FastaRecord(_Fractions):
    """One FASTA record, normalised.

    Attributes:
        name: the first word of the header line, without '>'.
        description: the rest of the header line (may be empty).
        sequence: upper-case sequence over ``ACGTN`` only; position 0 is the record's first base.
        soft_mask: bool array of shape ``(len(sequence),)``, True where the input letter was
            lower case (a soft-masked repeat).
    """

    name: str
    description: str
    sequence: str = field(repr=False)
    soft_mask: np.ndarray = field(repr=False)

    @property
    def length(self) -> int:
        """Number of bases."""
        return len(self.sequence)

    @cached_property
    def n_count(self) -> int:
        """Number of N bases (unknown, gap or ambiguous in the input)."""
        return self.sequence.count("N")

    @cached_property
    def soft_masked_count(self) -> int:
        """Number of bases that were lower case in the input."""
        return int(np.count_nonzero(self.soft_mask))

    def __repr__(self) -> str:
        return f"FastaRecord(name={self.name!r}, length={self.length})"


@dataclass(frozen=True)
class SequenceStats(_Fractions):
    """Summary of one FASTA record.

    Attributes:
        name: record name (first word of the header).
        length: number of bases.
        n_count: number of bases read as N.
        soft_masked_count: number of bases that were lower case.
    """

    name: str
    length: int
    n_count: int
    soft_masked_count: int


def normalise_sequence(raw: bytes | bytearray | str) -> tuple[str, np.ndarray]:
    """Upper-case a sequence, map U to T and other letters or gaps to N, and record the soft mask.

    Args:
        raw: sequence without whitespace or line breaks: letters of either case, '-', '.' or '*'.

    Returns:
        ``(sequence, soft_mask)``: a string over ``ACGTN`` of the same length as ``raw``, and a bool
        array of shape ``(len(raw),)`` that is True where ``raw`` held a lower-case letter.

    Raises:
        ValueError: ``raw`` holds a character that is not a letter, '-', '.' or '*'.
    """
    if isinstance(raw, str):
        try:
            raw = raw.encode("ascii")
        except UnicodeEncodeError as exc:
            raise ValueError(f"non-ASCII character {raw[exc.start]!r} in sequence") from None
    bad = raw.translate(None, _SEQUENCE_BYTES)
    if bad:
        column = raw.index(bad[:1]) + 1
        raise ValueError(f"invalid character {chr(bad[0])!r} at position {column} of the sequence")
    return _normalise(raw)


def _normalise(raw: bytes | bytearray) -> tuple[str, np.ndarray]:
    """``normalise_sequence`` without validation, for bytes already checked line by line."""
    codes = np.frombuffer(raw, dtype=np.uint8)
    # Lower-case letters are the only valid bytes >= 'a' (0x61), so one comparison is the soft mask.
    soft_mask = codes >= ord("a")
    return raw.translate(_TO_ACGTN).decode("ascii"), soft_mask


def reverse_complement(sequence: str) -> str:
    """Reverse complement of a sequence over ``ACGTN`` (IUPAC codes are complemented too).

    Characters outside the IUPAC nucleotide alphabet are kept as they are. Position ``i`` of the
    result pairs with position ``len(sequence) - 1 - i`` of the input.

    Raises:
        ValueError: ``sequence`` holds a non-ASCII character.
    """
    try:
        encoded = sequence.encode("ascii")
    except UnicodeEncodeError as exc:
        raise ValueError(f"non-ASCII character {sequence[exc.start]!r} in sequence") from None
    return encoded.translate(_COMPLEMENT)[::-1].decode("ascii")


def read_fasta(path: str | Path) -> Iterator[FastaRecord]:
    """Stream the records of a FASTA file one at a time, validating as it reads.

    Only the record being read is held in memory (plus the names seen so far, to catch
    duplicates), so a genome of any size streams in the memory of its longest sequence. Plain, gzip
    and bgzip files are recognised by their magic bytes; ``"-"`` reads standard input. Windows line
    endings, blank lines and whitespace inside sequence lines are accepted.

    Args:
        path: FASTA file, or ``"-"`` for standard input.

    Yields:
        FastaRecord per record, in file order, normalised as by :func:`normalise_sequence`.

    Raises:
        InputError: the file is missing or unreadable, empty, not FASTA, binary, a truncated or
            corrupt gzip stream, or has a header without a name, a record without sequence, a
            duplicate record name, or a character in a sequence line that is not a letter, '-', '.',
            '*' or whitespace. The message names the file, the record and the 1-based line.

    Warns:
        GenatatorWarning: a record holds letters that are not nucleotide codes (a protein FASTA?).
    """
    first_line: dict[str, int] = {}
    name: str | None = None
    description = ""
    header_line = 0
    chunks = bytearray()
    lineno = 0
    with open_text(path) as text:
        # Parse bytes, not text: exact line numbers for bad bytes and no per-line decoding cost.
        stream: IO[bytes] = text.buffer  # type: ignore[attr-defined]
        try:
            for lineno, line in enumerate(stream, start=1):
                if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
                    line = line[3:]  # UTF-8 byte-order mark written by some Windows editors
                if line[:1] == b">":
                    if name is not None:
                        record = _finish_record(
                            path, name, description, header_line, chunks, lineno
                        )
                        chunks = bytearray()  # release this record's bytes before the caller runs
                        yield record
                    name, description = _parse_header(line, path, lineno)
                    if name in first_line:
                        raise InputError(
                            f"duplicate record name (first used on line {first_line[name]})",
                            path=path,
                            record=name,
                            line=lineno,
                        )
                    first_line[name] = header_line = lineno
                elif name is None:
                    if line.strip():
                        raise _not_fasta(line, path, lineno)
                elif line.translate(None, _LINE_BYTES):
                    raise _bad_sequence_line(line, path, name, lineno)
                else:
                    chunks += line.translate(None, _WHITESPACE)
        except READ_ERRORS as exc:
            raise read_error(exc, path, record=name, line=lineno + 1) from None
    if name is None:
        raise InputError("empty file: no FASTA records found", path=path)
    yield _finish_record(path, name, description, header_line, chunks, None)


def sequence_stats(path: str | Path) -> Iterator[SequenceStats]:
    """Stream a length, N count and soft-masked count for every record of a FASTA file.

    Args:
        path: FASTA file (plain, gzip, bgzip) or ``"-"`` for standard input.

    Yields:
        SequenceStats per record, in file order.

    Raises:
        InputError: as :func:`read_fasta`.
    """
    for record in read_fasta(path):
        yield SequenceStats(
            name=record.name,
            length=record.length,
            n_count=record.n_count,
            soft_masked_count=record.soft_masked_count,
        )


class IndexedFasta:
    """Random access to regions of an indexed plain or bgzip FASTA file, via ``pysam.FastaFile``.

    The index is ``<path>.fai`` (``samtools faidx``), plus ``<path>.gzi`` for a bgzip file. Use as a
    context manager, or call :meth:`close`.

    Attributes:
        path: the FASTA file.
        names: record names in file order.
        lengths: record name -> length in bases.
    """

    def __init__(self, path: str | Path, *, build_index: bool = False) -> None:
        """Open an indexed FASTA file.

        Args:
            path: plain or bgzip-compressed FASTA file (not ``"-"``: random access needs a file).
            build_index: write a missing ``.fai`` (and ``.gzi``) beside the file instead of failing.

        Raises:
            InputError: the file is missing, plain gzip rather than bgzip, or unindexed while
                ``build_index`` is False, or the index cannot be read.
        """
        if str(path) == "-":
            raise InputError("random access needs a file, not standard input", path=path)
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError("no such file", path=path)
        with open(self.path, "rb") as handle:
            compressed = handle.read(2) == GZIP_MAGIC
        needed = [Path(f"{self.path}.fai")] + ([Path(f"{self.path}.gzi")] if compressed else [])
        missing = [str(index) for index in needed if not index.is_file()]
        if missing and not build_index:
            raise InputError(
                f"index {', '.join(missing)} not found; run 'samtools faidx {self.path}'",
                path=path,
            )
        try:
            self._fasta = pysam.FastaFile(str(self.path))
        except (OSError, ValueError) as exc:
            hint = " (a gzip file must be bgzip-compressed to be indexed)" if compressed else ""
            raise InputError(f"cannot open as an indexed FASTA: {exc}{hint}", path=path) from None
        self.names: tuple[str, ...] = tuple(self._fasta.references)
        self.lengths: dict[str, int] = dict(zip(self.names, self._fasta.lengths, strict=True))

    def fetch(self, name: str, start: int = 0, end: int | None = None) -> FastaRecord:
        """Read the region ``[start, end)`` of one record, normalised.

        Args:
            name: record name.
            start: 0-based first base (inclusive).
            end: 0-based end (exclusive); None means the end of the record.

        Returns:
            FastaRecord named ``name`` whose description is the region as ``name:start+1-end``
            (1-based closed, as samtools writes it) and whose sequence has ``end - start`` bases.

        Raises:
            InputError: ``name`` is not in the index, the region is not within ``[0, length]`` or
                ``start > end``, or the file cannot be read.
        """
        if name not in self.lengths:
            raise InputError(
                "no record of this name in the FASTA index", path=self.path, record=name
            )
        length = self.lengths[name]
        end = length if end is None else end
        if not 0 <= start <= end <= length:
            raise InputError(
                f"region [{start}, {end}) is not within the record's [0, {length})",
                path=self.path,
                record=name,
            )
        try:
            raw = self._fasta.fetch(name, start, end)
            sequence, soft_mask = normalise_sequence(raw)
        except (OSError, ValueError) as exc:
            raise InputError(
                f"cannot read region [{start}, {end}): {exc}", path=self.path, record=name
            ) from None
        if len(sequence) != end - start:
            raise InputError(
                f"index promises {end - start} bases in [{start}, {end}) but the file has "
                f"{len(sequence)}; is the .fai index stale?",
                path=self.path,
                record=name,
            )
        return FastaRecord(name, f"{name}:{start + 1}-{end}", sequence, soft_mask)

    def __contains__(self, name: object) -> bool:
        return name in self.lengths

    def close(self) -> None:
        """Close the underlying file."""
        self._fasta.close()

    def __enter__(self) -> IndexedFasta:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _parse_header(line: bytes, path: str | Path, lineno: int) -> tuple[str, str]:
    """``(name, description)`` of a '>' header line."""
    try:
        header = line[1:].decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InputError(
            "binary data: header line is not UTF-8 text", path=path, line=lineno
        ) from None
    if not header.replace("\t", " ").isprintable():
        raise InputError(
            "binary data: non-printable character in header line", path=path, line=lineno
        )
    parts = header.split(maxsplit=1)
    if not parts:
        raise InputError("header line '>' has no record name", path=path, line=lineno)
    return parts[0], parts[1] if len(parts) > 1 else ""


def _finish_record(
    path: str | Path,
    name: str,
    description: str,
    header_line: int,
    chunks: bytearray,
    next_line: int | None,
) -> FastaRecord:
    """Normalise a record's sequence bytes; ``next_line`` is the next header line (None at EOF)."""
    if not chunks:
        followed_by = "end of file" if next_line is None else f"the next header on line {next_line}"
        raise InputError(
            f"record has no sequence (its header is followed by {followed_by})",
            path=path,
            record=name,
            line=header_line,
        )
    unusual = chunks.translate(None, _DNA_BYTES)
    if unusual:
        letters = ", ".join(sorted({chr(byte) for byte in unusual}))
        warnings.warn(
            f"{display_name(path)}, record {name!r}: {len(unusual)} characters that are not "
            f"nucleotide codes ({letters}) were read as N; is this a protein FASTA?",
            GenatatorWarning,
            stacklevel=3,
        )
    sequence, soft_mask = _normalise(chunks)
    return FastaRecord(name, description, sequence, soft_mask)


def _not_fasta(line: bytes, path: str | Path, lineno: int) -> InputError:
    """Error for a first non-empty line that is not a '>' header."""
    try:
        text = line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        text = None
    if text is None or not text.replace("\t", " ").isprintable():
        return InputError("binary data, not a FASTA text file", path=path, line=lineno)
    shown = text if len(text) <= 40 else text[:40] + "..."
    hint = " (this looks like FASTQ)" if text.startswith("@") else ""
    return InputError(
        f"not a FASTA file: the first non-empty line should start with '>', found {shown!r}{hint}",
        path=path,
        line=lineno,
    )


def _bad_sequence_line(line: bytes, path: str | Path, name: str, lineno: int) -> InputError:
    """Error naming the first character of a sequence line that no sequence may hold."""
    bad = line.translate(None, _LINE_BYTES)
    column = line.index(bad[:1]) + 1
    if bad[0] == 0:
        problem = f"binary data: NUL byte at column {column}"
    elif bad[0] >= 0x80:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            problem = f"binary data: bytes that are not UTF-8 text at column {column}"
        else:
            char = next(c for c in text if not c.isascii())
            problem = (
                f"non-ASCII character {char!r} at column {text.index(char) + 1} of a sequence line"
            )
    elif bad[0] < 0x20 or bad[0] == 0x7F:
        problem = f"binary data: non-printable character {chr(bad[0])!r} at column {column}"
    else:
        problem = (
            f"invalid character {chr(bad[0])!r} at column {column} of a sequence line "
            "(expected letters, '-', '.' or '*')"
        )
    return InputError(problem, path=path, record=name, line=lineno)
