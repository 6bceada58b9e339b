"""Splice-site position weight matrices counted from training introns, scored along a genome."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from genatator.annotation.models import Transcript
from genatator.decode.content import encode
from genatator.errors import ModelError

__all__ = ["SITE_MODEL_FILE", "SiteCounts", "SiteMatrices"]

#: The file a model directory keeps them in (optional: without it the decoder does without).
SITE_MODEL_FILE = "site_model.npz"
_FORMAT = 1
#: Offsets scored around a donor (from the intron's first base) and an acceptor (from the next
#: exon's first base), transcript orientation; the splice dinucleotide itself is left out,
#: since the motif table already scores it.
DONOR_OFFSETS = np.array([-3, -2, -1, 2, 3, 4, 5])
ACCEPTOR_OFFSETS = np.array([*range(-20, -2), 0, 1])
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)


@dataclass(frozen=True, eq=False)
class SiteMatrices:
    """log-odds of each base at each offset of true splice sites against the genome's base
    composition, as AUGUSTUS's and GENSCAN's site models count them (order 0).

    Attributes:
        donor: float32 ``(len(DONOR_OFFSETS), 5)``; column 4 (N) is 0.
        acceptor: float32 ``(len(ACCEPTOR_OFFSETS), 5)``.
    """

    donor: np.ndarray
    acceptor: np.ndarray

    @classmethod
    def count(cls, pieces: Iterable[tuple[str, list[Transcript], int]]) -> SiteMatrices:
        """From ``(sequence, transcripts, offset)`` pieces (see :class:`SiteCounts`)."""
        counts = SiteCounts()
        for sequence, transcripts, offset in pieces:
            counts.add(sequence, transcripts, offset)
        return counts.matrices()

    def scores(self, codes: np.ndarray, n: int, pad: int) -> dict[str, np.ndarray]:
        """Per-position site log-odds of positions ``pad … pad + n`` of padded ``codes``,
        in the conventions of the HMM's condition rows (:mod:`genatator.decode.evidence`):
        ``donor_p`` (a + intron starts at i), ``acceptor_p`` (an exon starts at i after a +
        intron), ``acceptor_m`` (a - intron starts at i), ``donor_m`` (an exon starts at i
        after a - intron)."""
        complement = _COMPLEMENT[codes]
        return {
            "donor_p": _sum(self.donor, codes, n, pad + DONOR_OFFSETS),
            "acceptor_p": _sum(self.acceptor, codes, n, pad + ACCEPTOR_OFFSETS),
            "donor_m": _sum(self.donor, complement, n, pad - 1 - DONOR_OFFSETS),
            "acceptor_m": _sum(self.acceptor, complement, n, pad - 1 - ACCEPTOR_OFFSETS),
        }

    def save(self, path: str | Path) -> None:
        with open(path, "wb") as handle:
            np.savez(handle, format=_FORMAT, donor=self.donor, acceptor=self.acceptor)

    @classmethod
    def load(cls, path: str | Path) -> SiteMatrices:
        """Raises ModelError for a missing, corrupt or mis-shaped file."""
        try:
            with np.load(path) as data:
                if int(data["format"]) != _FORMAT:
                    raise ValueError("unknown format")
                donor, acceptor = data["donor"], data["acceptor"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # cut short
            raise ModelError(f"{path}: not a splice-site matrix file ({exc})") from None
        shapes = ((len(DONOR_OFFSETS), 5), (len(ACCEPTOR_OFFSETS), 5))
        if (donor.shape, acceptor.shape) != shapes:
            raise ModelError(f"{path}: not a splice-site matrix file (shapes do not match)")
        return cls(donor.astype(np.float32), acceptor.astype(np.float32))


class SiteCounts:
    """Base counts at each offset of the splice sites seen so far, and of all bases."""

    def __init__(self, pseudocount: float = 1.0) -> None:
        self.donor = np.full((len(DONOR_OFFSETS), 4), pseudocount)
        self.acceptor = np.full((len(ACCEPTOR_OFFSETS), 4), pseudocount)
        self.background = np.full(4, pseudocount)

    def add(self, sequence: str, transcripts: Iterable[Transcript], offset: int = 0) -> None:
        """Count every intron of ``transcripts`` (0-based spans; ``offset`` is the genome
        coordinate of ``sequence[0]``) and the bases of ``sequence``."""
        codes = encode(sequence)
        self.background += np.bincount(codes, minlength=5)[:4]
        for transcript in transcripts:
            for start, end in transcript.introns:
                start, end = start - offset, end - offset
                if transcript.strand == "+":
                    _add(self.donor, codes, start + DONOR_OFFSETS, complement=False)
                    _add(self.acceptor, codes, end + ACCEPTOR_OFFSETS, complement=False)
                else:
                    _add(self.donor, codes, end - 1 - DONOR_OFFSETS, complement=True)
                    _add(self.acceptor, codes, start - 1 - ACCEPTOR_OFFSETS, complement=True)

    def matrices(self) -> SiteMatrices:
        base = np.log(self.background / self.background.sum())
        return SiteMatrices(_log_odds(self.donor, base), _log_odds(self.acceptor, base))


def _add(table: np.ndarray, codes: np.ndarray, positions: np.ndarray, *, complement: bool) -> None:
    if positions.min() < 0 or positions.max() >= len(codes):
        return
    bases = codes[positions]
    if complement:
        bases = _COMPLEMENT[bases]
    if (bases < 4).all():
        table[np.arange(len(positions)), bases] += 1


def _log_odds(counts: np.ndarray, background: np.ndarray) -> np.ndarray:
    frequencies = np.log(counts / counts.sum(axis=1, keepdims=True))
    out = np.zeros((len(counts), 5), dtype=np.float32)
    out[:, :4] = frequencies - background
    return out


@numba.njit(cache=True, nogil=True)
def _sum(table, codes, n, starts):
    """``sum_o table[o, codes[start_o + i]]`` for ``i < n`` (bases off the array count 0), added
    in float32 in the order of the offsets."""
    total = np.zeros(n, dtype=np.float32)
    # Where every offset lies on the array, four positions at a time: four sums proceed side by
    # side, where one alone would wait on each of its additions in turn.
    inside = min(max(-starts.min(), 0), n)
    end = max(min(len(codes) - starts.max(), n), inside)
    quads_end = inside + (end - inside) // 4 * 4
    for i in range(inside, quads_end, 4):
        a = b = c = d = np.float32(0.0)
        for row in range(len(starts)):
            values, j = table[row], starts[row] + i
            a += values[codes[j]]
            b += values[codes[j + 1]]
            c += values[codes[j + 2]]
            d += values[codes[j + 3]]
        total[i], total[i + 1], total[i + 2], total[i + 3] = a, b, c, d
    for i in range(inside):
        total[i] = _sum_at(table, codes, starts, i)
    for i in range(quads_end, n):
        total[i] = _sum_at(table, codes, starts, i)
    return total


@numba.njit(cache=True, nogil=True)
def _sum_at(table, codes, starts, i):
    """One position of :func:`_sum`."""
    value = np.float32(0.0)
    for row in range(len(starts)):
        j = starts[row] + i
        if 0 <= j < len(codes):
            value += table[row, codes[j]]
    return value
