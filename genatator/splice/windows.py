"""DNA as integer codes, and fixed-length windows centred on a site in transcript orientation.

Site convention used by every splice module: a site is the intron base next to the exon, as a
0-based genomic position. A donor is the intron's first base and an acceptor its last, both in
transcript orientation. In a window of ``L`` nucleotides the site base sits at index ``L // 2``:
a donor's dinucleotide (GT) is ``window[c:c + 2]`` and an acceptor's (AG) ``window[c - 1:c + 1]``.
"""

from __future__ import annotations

import numpy as np

#: Letter codes of every splice model: A, C, G, T, N, and padding.
A, C, G, T, N, PAD = range(6)
VOCAB_SIZE = 6
LETTERS = "ACGTN"

_ENCODE = np.full(256, N, dtype=np.uint8)
for _code, _letter in enumerate("ACGT"):
    _ENCODE[ord(_letter)] = _code
    _ENCODE[ord(_letter.lower())] = _code
#: Complement of each code (N and padding map to themselves).
COMPLEMENT = np.array([T, G, C, A, N, PAD], dtype=np.uint8)

DONOR, ACCEPTOR, NEITHER = 0, 1, 2
CLASS_NAMES = ("donor", "acceptor", "neither")


def encode(sequence: str) -> np.ndarray:
    """Codes (uint8) of a DNA string; any letter other than A, C, G, T becomes N."""
    return _ENCODE[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]


def decode(codes: np.ndarray) -> str:
    """The DNA string of codes (padding is written as N)."""
    letters = np.frombuffer(b"ACGTNN", dtype=np.uint8)
    return letters[np.asarray(codes, dtype=np.intp)].tobytes().decode("ascii")


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement along the last axis."""
    return COMPLEMENT[codes[..., ::-1]]


def window_bounds(position: int, strand: str, length: int) -> tuple[int, int]:
    """Genomic ``[start, end)`` of the window centred on a site at ``position`` on ``strand``.

    On ``+`` window index ``i`` is genomic ``start + i``; on ``-`` it is genomic ``end - 1 - i``
    (the window is the reverse complement of ``genome[start:end]``).
    """
    centre = length // 2
    start = position - centre if strand == "+" else position + centre - length + 1
    return start, start + length


def cut_windows(
    codes: np.ndarray, positions: np.ndarray, strands: np.ndarray, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Windows of ``length`` codes around ``positions`` of one sequence, in transcript orientation.

    Args:
        codes: the whole sequence's codes.
        positions: 0-based site positions.
        strands: +1 or -1 per position.
        length: window length.

    Returns:
        ``(windows, inside)``: a ``(n, length)`` uint8 array, and a bool array that is False for
        windows that run off either end of the sequence (their outside part is padding).
    """
    positions = np.asarray(positions, dtype=np.int64)
    minus = np.asarray(strands) < 0
    centre = length // 2
    starts = np.where(minus, positions + centre - length + 1, positions - centre)
    index = starts[:, None] + np.arange(length)[None, :]
    inside = (starts >= 0) & (starts + length <= len(codes))
    padded = np.concatenate([codes, np.array([PAD], dtype=np.uint8)])
    windows = padded[np.where((index >= 0) & (index < len(codes)), index, len(codes))]
    windows[minus] = reverse_complement_codes(windows[minus])
    return windows, inside
