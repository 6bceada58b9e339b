"""BED and bedGraph output of per-position splice-site scores, formatted with numpy in blocks.

Lines are assembled as byte matrices (one row per line, one column per character, a mask for the
characters actually used) rather than with one Python format call per line, so writing millions
of sites takes seconds.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import IO

import numpy as np

from genatator.splice.scoring import SiteScores

#: Lines formatted per block (bounds the memory of the byte matrices).
BLOCK_LINES = 1 << 20
_KINDS = ("acceptor", "donor")  # sorted names: the code is the sort key
_STRANDS = ("+", "-")
# Genome start of a site's 2-nt motif relative to the site, per (strand, kind) as in _KINDS:
# + acceptor [p-1, p+1), + donor [p, p+2), - acceptor [p, p+2), - donor [p-1, p+1).
_MOTIF_SHIFT = {("+", "acceptor"): -1, ("+", "donor"): 0, ("-", "acceptor"): 0, ("-", "donor"): -1}

Field = tuple[np.ndarray, np.ndarray]  # (uint8 characters (n, width), bool used (n, width))


def _int_field(values: np.ndarray) -> Field:
    """Decimal digits of non-negative integers, right-aligned in a fixed-width matrix."""
    values = np.asarray(values, dtype=np.int64)
    if values.size and values.min() < 0:
        raise ValueError("negative coordinate or score in BED output")
    top = int(values.max()) if values.size else 0
    width = len(str(top))
    quotient = values.astype(np.uint32 if top < 2**32 else np.uint64)
    chars = np.empty((values.size, width), dtype=np.uint8)
    for column in range(width - 1, -1, -1):
        quotient, chars[:, column] = np.divmod(quotient, 10)
    chars += ord("0")
    powers = 10 ** np.arange(1, width, dtype=np.int64)
    digits = np.searchsorted(powers, values, side="right") + 1  # zero itself is one digit
    return chars, np.arange(width)[None, :] >= (width - digits)[:, None]


def _choice_field(options: Sequence[str], index: np.ndarray) -> Field:
    """One of a few strings per line, chosen by ``index``."""
    encoded = [option.encode("ascii") for option in options]
    width = max(1, *(len(e) for e in encoded))
    table = np.zeros((len(encoded), width), dtype=np.uint8)
    mask = np.zeros((len(encoded), width), dtype=bool)
    for row, text in enumerate(encoded):
        table[row, : len(text)] = np.frombuffer(text, dtype=np.uint8)
        mask[row, : len(text)] = True
    index = np.asarray(index, dtype=np.intp)
    return table[index], mask[index]


def _join(fields: Sequence[Field | str]) -> bytes:
    """Tab-separated lines, one per row of the fields (a str is the same on every line)."""
    n = next(field[0].shape[0] for field in fields if not isinstance(field, str))
    widths = [len(field) if isinstance(field, str) else field[0].shape[1] for field in fields]
    chars = np.empty((n, sum(widths) + len(fields)), dtype=np.uint8)
    used = np.ones(chars.shape, dtype=bool)
    column = 0
    for field, width in zip(fields, widths):
        part = slice(column, column + width)
        if isinstance(field, str):
            chars[:, part] = np.frombuffer(field.encode("ascii"), dtype=np.uint8)
        else:
            chars[:, part], used[:, part] = field
        chars[:, column + width] = ord("\t")
        column += width + 1
    chars[:, -1] = ord("\n")
    return chars[used].tobytes()  # row-major selection keeps the characters in line order


def _write(handle: IO, data: bytes) -> None:
    if isinstance(handle, (io.RawIOBase, io.BufferedIOBase)):
        handle.write(data)
    else:
        handle.write(data.decode("ascii"))


def write_sites_bed(
    handle: IO,
    seqid: str,
    scores: SiteScores,
    offset: int,
    min_score: float,
    *,
    length: int | None = None,
) -> int:
    """Write one BED6 line per (position, strand, kind) whose score is at least ``min_score``.

    Each line spans the site's 2-nt motif on the genome: + donor at ``p`` is ``[p, p+2)``,
    + acceptor ``[p-1, p+1)``, - donor ``[p-1, p+1)``, - acceptor ``[p, p+2)``, clipped to the
    sequence (``[0, length)``). Name is ``donor``/``acceptor``; score is
    ``round(1000 * probability)`` (half to even). Lines are sorted by start, end, strand, name.

    Args:
        handle: open text or binary output.
        seqid: sequence name of the first column.
        scores: scores of consecutive positions.
        offset: genomic position of ``scores`` index 0.
        min_score: smallest probability written.
        length: the sequence's length, to clip motifs at its end (None: no clipping).

    Returns:
        The number of lines written.
    """
    starts, ends, names, values, strands = [], [], [], [], []
    for strand_code, strand in enumerate(_STRANDS):
        for name_code, kind in enumerate(_KINDS):
            track = getattr(scores, kind)[strand_code]
            index = np.flatnonzero(track >= min_score)
            start = index.astype(np.int64) + offset + _MOTIF_SHIFT[strand, kind]
            end = start + 2
            starts.append(np.maximum(start, 0))
            ends.append(end if length is None else np.minimum(end, length))
            names.append(np.full(index.size, name_code, dtype=np.int8))
            strands.append(np.full(index.size, strand_code, dtype=np.int8))
            values.append(np.rint(track[index].astype(np.float64) * 1000).astype(np.int64))
    start, end, name, value, strand = (
        np.concatenate(column) for column in (starts, ends, names, values, strands)
    )
    # One integer key (the span is 1 or 2 nt) sorts by start, end, strand, name; each track is
    # already in position order, so a stable sort only merges four runs.
    key = ((start * 3 + (end - start)) * 2 + strand) * 2 + name
    order = np.argsort(key, kind="stable")
    for first in range(0, order.size, BLOCK_LINES):
        rows = order[first : first + BLOCK_LINES]
        fields = [
            seqid,
            _int_field(start[rows]),
            _int_field(end[rows]),
            _choice_field(_KINDS, name[rows]),
            _int_field(value[rows]),
            _choice_field(_STRANDS, strand[rows]),
        ]
        _write(handle, _join(fields))
    return int(order.size)


def write_bedgraph(handle: IO, seqid: str, values: np.ndarray, offset: int) -> int:
    """Write one track as bedGraph, merging runs of equal value and skipping zeros and NaN.

    Values are written with 6 significant digits (``%.6g``); runs are merged on exact equality.

    Args:
        handle: open text or binary output.
        seqid: sequence name of the first column.
        values: 1-D per-position values.
        offset: genomic position of ``values[0]``.

    Returns:
        The number of lines written.
    """
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"bedGraph values must be 1-D, got shape {values.shape}")
    if values.size == 0:
        return 0
    change = np.flatnonzero(values[1:] != values[:-1]) + 1
    run_start = np.r_[0, change]
    run_end = np.r_[change, values.size]
    run_value = values[run_start]
    keep = (run_value != 0) & ~np.isnan(run_value)
    run_start, run_end, run_value = run_start[keep], run_end[keep], run_value[keep]
    for first in range(0, run_start.size, BLOCK_LINES):
        block = slice(first, first + BLOCK_LINES)
        # Few distinct values per block in practice: format each distinct value once.
        distinct, which = np.unique(run_value[block], return_inverse=True)
        fields = [
            seqid,
            _int_field(run_start[block] + offset),
            _int_field(run_end[block] + offset),
            _choice_field([f"{float(v):.6g}" for v in distinct], which),
        ]
        _write(handle, _join(fields))
    return int(run_start.size)
