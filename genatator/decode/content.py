"""Codon content model: inhomogeneous Markov chains of coding DNA against a non-coding background."""  # noqa: E501

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genatator.annotation.models import Span, Transcript
from genatator.errors import ModelError
from genatator.postprocess.cds import spliced_sequence

__all__ = [
    "CODON_MODEL_FORMAT",
    "CodonModel",
    "background_sequences_from_transcripts",
    "coding_sequences_from_transcripts",
    "encode",
]

#: Version of the ``.npz`` layout written by :meth:`CodonModel.save`.
CODON_MODEL_FORMAT = 1

#: Orders :meth:`CodonModel.choose_order` picks from.
MIN_ORDER, MAX_ORDER = 2, 5

# Observations wanted per (frame, context, base) cell before an order is trusted.
_PER_CELL = 4

# Bases joined per counting batch: bounds memory while keeping numpy calls large.
_BATCH_BASES = 1 << 22

_CODES = np.full(256, 4, dtype=np.uint8)
for _code, _base in enumerate("ACGT"):
    _CODES[ord(_base)] = _CODES[ord(_base.lower())] = _code


def encode(sequence: str) -> np.ndarray:
    """uint8 codes of a DNA string: A=0 C=1 G=2 T=3 (either case), anything else 4."""
    return _CODES[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]


def _reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Codes of the reverse complement (complement of code c is 3 - c; N stays N)."""
    return np.where(codes < 4, 3 - np.minimum(codes, 3), codes).astype(np.uint8)[::-1]


def _windows(codes: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Index (context*4 + base) of the (order+1)-mer ending at each position, and its validity.

    A window is valid when it lies inside the array and holds no N; invalid indices are
    meaningless (but in range).
    """
    n = len(codes)
    bad = codes >= 4
    clean = np.where(bad, 0, codes).astype(np.int32)
    index = np.zeros(n, dtype=np.int32)
    # The base ``shift`` positions back is digit ``shift`` of the base-4 number.
    for shift in range(min(order, n - 1) + 1):
        index[shift:] += clean[: n - shift] << (2 * shift)
    valid = np.zeros(n, dtype=bool)
    if n > order:
        bad_before = np.concatenate(([0], np.cumsum(bad)))
        valid[order:] = bad_before[order + 1 :] == bad_before[: n - order]
    return index, valid


def _batches(sequences: Iterable[str]) -> Iterator[list[str]]:
    """Group sequences into lists of about ``_BATCH_BASES`` bases."""
    batch: list[str] = []
    size = 0
    for sequence in sequences:
        batch.append(sequence)
        size += len(sequence)
        if size >= _BATCH_BASES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _count_coding(sequences: Iterable[str], order: int) -> np.ndarray:
    """(3, 4**(order+1)) counts of (order+1)-mers by the codon position of their last base."""
    cells = 4 ** (order + 1)
    counts = np.zeros(3 * cells, dtype=np.int64)
    for batch in _batches(sequences):
        # An N after each sequence stops windows from spanning two sequences.
        joined = "N".join(batch) + "N"
        lengths = np.array([len(s) + 1 for s in batch], dtype=np.int64)
        starts = np.cumsum(lengths) - lengths
        frame = (np.arange(len(joined)) - np.repeat(starts, lengths)) % 3
        index, valid = _windows(encode(joined), order)
        counts += np.bincount(frame[valid] * cells + index[valid], minlength=3 * cells)
    return counts.reshape(3, cells)


def _count_background(sequences: Iterable[str], order: int) -> np.ndarray:
    """(4**(order+1),) counts of (order+1)-mers on both strands."""
    cells = 4 ** (order + 1)
    counts = np.zeros(cells, dtype=np.int64)
    for batch in _batches(sequences):
        codes = encode("N".join(batch))
        for strand in (codes, _reverse_complement_codes(codes)):
            index, valid = _windows(strand, order)
            counts += np.bincount(index[valid], minlength=cells)
    return counts


def _log_conditional(counts: np.ndarray, pseudocount: float) -> np.ndarray:
    """log P(base | context) from counts whose last axis is context*4 + base."""
    cells = counts.reshape(*counts.shape[:-1], -1, 4) + pseudocount
    return np.log(cells / cells.sum(-1, keepdims=True)).reshape(counts.shape).astype(np.float32)


@dataclass(frozen=True, eq=False)
class CodonModel:
    """Log-probabilities of a base given its ``order`` predecessors, coding (per frame) and not.

    Attributes:
        order: Markov order k (context length).
        coding: float32 (3, 4**(k+1)): log P(base | k previous bases) for a base at codon
            position f (0, 1, 2) in transcript orientation; index ``context*4 + base`` with
            A=0 C=1 G=2 T=3 and the context read 5'->3' as a base-4 number.
        background: float32 (4**(k+1),): the same in non-coding DNA (introns and intergenic),
            strand-free.
    """

    order: int
    coding: np.ndarray
    background: np.ndarray

    def __post_init__(self) -> None:
        if self.order < 0:
            raise ValueError(f"order must be >= 0, got {self.order}")
        cells = 4 ** (self.order + 1)
        coding = np.asarray(self.coding, dtype=np.float32)
        background = np.asarray(self.background, dtype=np.float32)
        if coding.shape != (3, cells) or background.shape != (cells,):
            raise ValueError(
                f"order {self.order} needs coding (3, {cells}) and background ({cells},), "
                f"got {coding.shape} and {background.shape}"
            )
        object.__setattr__(self, "order", int(self.order))
        object.__setattr__(self, "coding", coding)
        object.__setattr__(self, "background", background)

    @staticmethod
    def choose_order(n_coding_bases: int) -> int:
        """Largest order in 2..5 the training data supports (2 when even that is short).

        An order-k chain has 3 * 4**(k+1) coding cells (frame, context, base); the rule asks
        for about 4 observations per cell, i.e. ``n_coding_bases >= 3 * 4**(k+1) * 4``.
        """
        supported = [
            k
            for k in range(MIN_ORDER, MAX_ORDER + 1)
            if n_coding_bases >= 3 * 4 ** (k + 1) * _PER_CELL
        ]
        return max(supported, default=MIN_ORDER)

    @classmethod
    def count(
        cls,
        coding_sequences: Iterable[str],
        background_sequences: Iterable[str],
        order: int | None = 5,
        pseudocount: float = 1.0,
    ) -> CodonModel:
        """Estimate the chains from example sequences.

        Args:
            coding_sequences: CDSs in transcript orientation, each starting at the first base
                of a codon (base j has codon position j % 3); upper-case ACGTN.
            background_sequences: non-coding stretches; each is counted on both strands.
            order: Markov order; None picks it from the coding bases (:meth:`choose_order`).
            pseudocount: added to every (context, base) cell before normalising.

        Raises:
            ValueError: ``pseudocount <= 0`` or a negative order.
        """
        if pseudocount <= 0:
            raise ValueError(f"pseudocount must be > 0, got {pseudocount}")
        if order is None:
            coding_sequences = list(coding_sequences)
            order = cls.choose_order(sum(len(s) for s in coding_sequences))
        if order < 0:
            raise ValueError(f"order must be >= 0, got {order}")
        coding = _log_conditional(_count_coding(coding_sequences, order), pseudocount)
        background = _log_conditional(_count_background(background_sequences, order), pseudocount)
        return cls(order, coding, background)

    def _scores(self, codes: np.ndarray) -> np.ndarray:
        """(3, n) coding-minus-background log-odds of the windows ending at each position."""
        index, valid = _windows(codes, self.order)
        scores = self.coding[:, index] - self.background[index]
        return np.where(valid, scores, np.float32(0.0))

    def log_odds(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-base log-odds of coding (at each codon position) against background, both strands.

        Args:
            codes: uint8 DNA codes (A=0 C=1 G=2 T=3, >= 4 for N), genome order.

        Returns:
            ``(plus, minus)``, float32 (3, n). ``plus[f, i]`` scores base i at codon position f
            of a + strand CDS, given the k bases before it. ``minus[f, i]`` scores the
            complement of base i at transcript codon position f of a - strand CDS, given the
            complements of the k bases after it. Windows holding an N, or running off the
            array, score 0: the first k positions of ``plus`` and the last k of ``minus`` are
            always 0, so pass a stretch with k bases of context on each side and slice.
        """
        codes = np.asarray(codes)
        if codes.ndim != 1:
            raise ValueError(f"codes must be one-dimensional, got shape {codes.shape}")
        plus = self._scores(codes)
        # Windows of the reverse complement, read back into genome order.
        minus = self._scores(_reverse_complement_codes(codes))[:, ::-1]
        return plus, np.ascontiguousarray(minus)

    def save(self, path: str | Path) -> None:
        """Write the model to an ``.npz`` file at exactly ``path``."""
        with open(path, "wb") as handle:
            np.savez(
                handle,
                format=np.int64(CODON_MODEL_FORMAT),
                order=np.int64(self.order),
                coding=self.coding,
                background=self.background,
            )

    @classmethod
    def load(cls, path: str | Path) -> CodonModel:
        """Read a model written by :meth:`save`.

        Raises:
            ModelError: missing or corrupt file, another format, or tables of the wrong shape.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                fields = {name: data[name] for name in ("format", "order", "coding", "background")}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise ModelError(f"{path}: not a codon model ({error})") from error
        if fields["format"].shape != () or int(fields["format"]) != CODON_MODEL_FORMAT:
            raise ModelError(f"{path}: not a codon model (format {fields['format']})")
        if fields["order"].shape != () or not np.issubdtype(fields["order"].dtype, np.integer):
            raise ModelError(f"{path}: not a codon model (order {fields['order']})")
        try:
            return cls(int(fields["order"]), fields["coding"], fields["background"])
        except ValueError as error:
            raise ModelError(f"{path}: not a codon model ({error})") from error


def coding_sequences_from_transcripts(
    transcripts: Iterable[Transcript], sequence: str, offset: int = 0
) -> Iterator[str]:
    """Spliced CDSs (stop codon included) in transcript orientation, upper case.

    Transcripts without a CDS, whose CDS reaches outside ``sequence``, or whose CDS length is
    not a multiple of 3 are skipped.

    Args:
        transcripts: transcripts on ``sequence``.
        sequence: the bases the transcripts lie on.
        offset: genome coordinate of ``sequence[0]``.
    """
    for transcript in transcripts:
        if not transcript.cds:
            continue
        spans = [(start - offset, end - offset) for start, end in transcript.cds]
        if spans[0][0] < 0 or spans[-1][1] > len(sequence):
            continue
        cds = spliced_sequence(sequence, spans, transcript.strand)
        if cds and len(cds) % 3 == 0:
            yield cds.upper()


def _covered(bounds: np.ndarray, spans: list[Span]) -> np.ndarray:
    """Whether each elementary interval ``[bounds[j], bounds[j+1])`` lies inside a span."""
    delta = np.zeros(len(bounds), dtype=np.int64)
    if spans:
        array = np.asarray(spans, dtype=np.int64)
        np.add.at(delta, np.searchsorted(bounds, array[:, 0]), 1)
        np.add.at(delta, np.searchsorted(bounds, array[:, 1]), -1)
    return np.cumsum(delta)[:-1] > 0


def background_sequences_from_transcripts(
    transcripts: Iterable[Transcript], sequence: str, offset: int = 0, flank: int = 0
) -> Iterator[str]:
    """Non-coding stretches of ``sequence``: introns and intergenic DNA, upper case, in order.

    Intronic bases that are exonic in another transcript are left out (each base counts once,
    however many isoforms share it). Intergenic stretches lose ``flank`` bases next to each
    transcript, to keep unannotated UTR extensions and promoters out of the background.

    Args:
        transcripts: transcripts on ``sequence``.
        sequence: the bases the transcripts lie on.
        offset: genome coordinate of ``sequence[0]``.
        flank: intergenic bases dropped on each side of every transcript.
    """
    n = len(sequence)

    def clip(spans: Iterable[Span], pad: int = 0) -> list[Span]:
        shifted = ((max(0, s - offset - pad), min(n, e - offset + pad)) for s, e in spans)
        return [(s, e) for s, e in shifted if s < e]

    transcripts = list(transcripts)
    exons = clip(span for t in transcripts for span in t.exons)
    introns = clip(span for t in transcripts for span in t.introns)
    genes = clip(((t.start, t.end) for t in transcripts), flank)
    # Work on the intervals between span ends rather than per base: cost scales with spans.
    ends = [edge for spans in (exons, introns, genes) for span in spans for edge in span]
    bounds = np.unique(np.asarray([0, n, *ends], dtype=np.int64))
    keep = (_covered(bounds, introns) & ~_covered(bounds, exons)) | ~_covered(bounds, genes)
    edges = np.diff(np.concatenate(([0], keep.astype(np.int8), [0])))
    for first, last in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        start, end = int(bounds[first]), int(bounds[last])
        if start < end:
            yield sequence[start:end].upper()
