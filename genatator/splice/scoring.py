"""Per-position donor and acceptor scores of a sequence on both strands, from a splice model.

Scores follow the site convention of :mod:`genatator.splice.windows`: ``donor[s, p]`` is the
probability that genomic position ``p`` is the first intron base of an intron on strand ``s``
(row 0 ``+``, row 1 ``-``), ``acceptor[s, p]`` that it is the intron's last base, both in
transcript orientation. A minus-strand donor at ``p`` therefore has its GT on the reverse
complement of genome ``[p - 1, p + 1)``.

Dense models (``model.dense``: the CNN, the bidirectional Mamba-2) label every position of long
chunks at once; window models classify one window per candidate position (a canonical motif at
the site) and leave every other position at 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from genatator.splice.windows import (
    ACCEPTOR,
    COMPLEMENT,
    DONOR,
    PAD,
    VOCAB_SIZE,
    cut_windows,
    encode,
    reverse_complement_codes,
)

#: Donor motifs (intron's first two bases, transcript orientation) that window models score.
DONOR_MOTIFS = ("GT", "GC", "AT")
#: Acceptor motifs (intron's last two bases, transcript orientation) that window models score.
ACCEPTOR_MOTIFS = ("AG", "AC")


@dataclass
class SiteScores:
    """Donor and acceptor scores of a stretch of sequence on both strands.

    Attributes:
        donor: float32 ``(2, n)``; row 0 the + strand, row 1 the - strand; column = position.
        acceptor: float32 ``(2, n)``, same layout.
    """

    donor: np.ndarray
    acceptor: np.ndarray

    def __len__(self) -> int:
        return int(self.donor.shape[1])

    def slice(self, start: int, end: int) -> SiteScores:
        """Scores of positions ``[start, end)`` relative to this object's first position."""
        return SiteScores(self.donor[:, start:end], self.acceptor[:, start:end])

    @classmethod
    def zeros(cls, length: int) -> SiteScores:
        """All-zero scores of ``length`` positions."""
        return cls(np.zeros((2, length), np.float32), np.zeros((2, length), np.float32))

    @classmethod
    def concat(cls, parts: Sequence[SiteScores]) -> SiteScores:
        """Scores of consecutive stretches joined end to end."""
        if not parts:
            return cls.zeros(0)
        return cls(
            np.concatenate([part.donor for part in parts], axis=1),
            np.concatenate([part.acceptor for part in parts], axis=1),
        )


def iter_blocks(length: int, block: int = 1_000_000) -> Iterator[tuple[int, int]]:
    """Consecutive ``(start, end)`` blocks of at most ``block`` positions covering the length."""
    if block <= 0:
        raise ValueError(f"block must be positive, got {block}")
    for start in range(0, length, block):
        yield start, min(start + block, length)


def _motif_table(motifs: Sequence[str], reverse: bool) -> np.ndarray:
    """Bool lookup over dinucleotide codes ``6 * first + second`` (genome orientation).

    With ``reverse`` the genome dinucleotide is the reverse complement of the motif, as a
    minus-strand motif reads on the genome.
    """
    table = np.zeros(VOCAB_SIZE * VOCAB_SIZE, dtype=bool)
    for motif in motifs:
        first, second = encode(motif)
        if reverse:
            first, second = COMPLEMENT[second], COMPLEMENT[first]
        table[int(first) * VOCAB_SIZE + int(second)] = True
    return table


_PLUS_DONOR = _motif_table(DONOR_MOTIFS, reverse=False)
_PLUS_ACCEPTOR = _motif_table(ACCEPTOR_MOTIFS, reverse=False)
_MINUS_DONOR = _motif_table(DONOR_MOTIFS, reverse=True)
_MINUS_ACCEPTOR = _motif_table(ACCEPTOR_MOTIFS, reverse=True)


def candidate_masks(codes: np.ndarray, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Which positions of ``[start, end)`` carry a canonical motif, per strand.

    The motif's placement follows the site convention: + donor at ``p`` reads genome
    ``[p, p + 2)``, + acceptor ``[p - 1, p + 1)``, - donor (reverse complement of)
    ``[p - 1, p + 1)``, - acceptor ``[p, p + 2)``. Motifs running off the sequence do not count.

    Args:
        codes: the whole sequence's codes.
        start: first position.
        end: position after the last.

    Returns:
        ``(donor, acceptor)`` bool arrays of shape ``(2, end - start)``.
    """
    codes = np.asarray(codes, dtype=np.uint8)
    # Codes of positions start-1 .. end, PAD outside the sequence (PAD is in no motif).
    lo, hi = max(start - 1, 0), min(end + 1, len(codes))
    ext = np.full(end - start + 2, PAD, dtype=np.int64)
    ext[lo - (start - 1) : hi - (start - 1)] = codes[lo:hi]
    pair = ext[:-1] * VOCAB_SIZE + ext[1:]  # pair[i] = dinucleotide at positions start-1+i, +i+1
    left, right = pair[:-1], pair[1:]  # genome [p - 1, p + 1) and [p, p + 2) for p in range
    donor = np.stack([_PLUS_DONOR[right], _MINUS_DONOR[left]])
    acceptor = np.stack([_PLUS_ACCEPTOR[left], _MINUS_ACCEPTOR[right]])
    return donor, acceptor


def _padded_slice(codes: np.ndarray, start: int, end: int) -> np.ndarray:
    """``codes[start:end]`` with PAD where the range runs off the sequence."""
    out = np.full(end - start, PAD, dtype=np.uint8)
    lo, hi = max(start, 0), min(end, len(codes))
    if hi > lo:
        out[lo - start : hi - start] = codes[lo:hi]
    return out


def _dense_strand(
    model: nn.Module, ext: np.ndarray, n: int, half: int, chunk: int, per_pass: int, device
) -> np.ndarray:
    """Donor and acceptor probabilities ``(n, 2)`` of positions ``half .. half + n`` of ``ext``.

    Each chunk of ``chunk`` positions is fed with ``half`` flanking codes on each side (PAD past
    the sequence, and past the region's end for the last chunk), so every position sees exactly
    its receptive field and the result does not depend on ``chunk``.
    """
    width = chunk + 2 * half
    starts = list(range(0, n, chunk))
    out = np.empty((n, 2), dtype=np.float32)
    for first in range(0, len(starts), per_pass):
        group = starts[first : first + per_pass]
        batch = np.stack([_padded_slice(ext, s, s + width) for s in group])
        inputs = torch.from_numpy(batch.astype(np.int64)).to(device)
        probs = torch.softmax(model.forward_dense(inputs).float(), dim=-1)
        probs = probs[:, half : half + chunk, [DONOR, ACCEPTOR]].cpu().numpy()
        for row, s in enumerate(group):
            size = min(chunk, n - s)
            out[s : s + size] = probs[row, :size]
    return out


def _score_dense(
    model: nn.Module,
    codes: np.ndarray,
    start: int,
    end: int,
    chunk: int,
    batch_size: int,
    device,
) -> SiteScores:
    n = end - start
    half = int(model.context) // 2
    chunk = min(chunk, n)  # a short region is one short chunk, not a padded 50 kb one
    # batch_size counts windows: pass about as many positions as batch_size windows hold, so one
    # --batch-size bounds memory alike for window and dense models (at least one chunk a pass).
    per_pass = max(1, batch_size * int(model.config.window) // (chunk + 2 * half))
    ext = _padded_slice(codes, start - half, end + half)
    plus = _dense_strand(model, ext, n, half, chunk, per_pass, device)
    # The reverse complement of ext covers the same flanks mirrored: its output index i is
    # genomic end - 1 - i, so reversing the output puts each minus-strand score at its position.
    minus = _dense_strand(model, reverse_complement_codes(ext), n, half, chunk, per_pass, device)
    minus = minus[::-1]
    donor = np.stack([plus[:, 0], minus[:, 0]])
    acceptor = np.stack([plus[:, 1], minus[:, 1]])
    return SiteScores(np.ascontiguousarray(donor), np.ascontiguousarray(acceptor))


def _score_dense_on_grid(
    model: nn.Module, codes: np.ndarray, start: int, end: int, chunk: int, batch_size: int, device
) -> SiteScores:
    """Dense scores; a model with a ``scan_chunk`` (an unbounded receptive field, so a score
    depends on where its chunk lies) is run on that chunk's grid in sequence coordinates."""
    grid = getattr(model, "scan_chunk", None)
    if not grid:
        return _score_dense(model, codes, start, end, chunk, batch_size, device)
    # Past the sequence's end the grid runs on in PAD, so both strands' chunks stay on it.
    lo, hi = start - start % grid, end + (-end) % grid
    scores = _score_dense(model, codes, lo, hi, grid, batch_size, device)
    keep = slice(start - lo, end - lo)
    return SiteScores(
        np.ascontiguousarray(scores.donor[:, keep]), np.ascontiguousarray(scores.acceptor[:, keep])
    )


def _score_windows(
    model: nn.Module,
    codes: np.ndarray,
    start: int,
    donor_mask: np.ndarray,
    acceptor_mask: np.ndarray,
    batch_size: int,
    device,
) -> SiteScores:
    """Window-model scores of the masked (strand, position) pairs; every other entry is 0."""
    donor = np.zeros(donor_mask.shape, dtype=np.float32)
    acceptor = np.zeros(acceptor_mask.shape, dtype=np.float32)
    # One window per (strand, position) gives both its donor and its acceptor probability.
    strand_index, offset = np.nonzero(donor_mask | acceptor_mask)
    positions = offset + start
    strands = np.where(strand_index == 0, 1, -1)
    length = int(model.config.window)
    for first in range(0, positions.size, batch_size):
        part = slice(first, first + batch_size)
        windows, _ = cut_windows(codes, positions[part], strands[part], length)
        inputs = torch.from_numpy(windows.astype(np.int64)).to(device)
        probs = torch.softmax(model(inputs).float(), dim=-1).cpu().numpy()
        donor[strand_index[part], offset[part]] = probs[:, DONOR]
        acceptor[strand_index[part], offset[part]] = probs[:, ACCEPTOR]
    donor[~donor_mask] = 0.0
    acceptor[~acceptor_mask] = 0.0
    return SiteScores(donor, acceptor)


def score_region(
    model: nn.Module,
    codes: np.ndarray,
    start: int,
    end: int,
    *,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    chunk: int = 50_000,
    candidates_only: bool = True,
) -> SiteScores:
    """Donor and acceptor scores of genomic ``[start, end)`` on both strands.

    Dense models run ``forward_dense`` over chunks of ``chunk`` positions with
    ``model.context // 2`` flanking bases on each side, taken from the sequence where it exists
    and PAD beyond it, on the sequence and on its reverse complement. Window models classify a
    window of ``model.config.window`` codes (``cut_windows``; windows running off the sequence
    keep their PAD) around each position to score. Scores are softmax probabilities: donor =
    class 0, acceptor = class 1.

    Args:
        model: a splice model (``dense``, ``context``, ``config.window``, ``forward``,
            ``forward_dense``).
        codes: the whole sequence's codes (uint8, ``genatator.splice.windows.encode``), so
            windows and flanks can reach past the region.
        start: first genomic position to score.
        end: position after the last.
        batch_size: windows per forward pass. Dense models pass as many whole chunks as hold
            about ``batch_size * model.config.window`` positions (at least one chunk).
        device: where the model runs; batches are moved there.
        chunk: positions per dense chunk (the result does not depend on it). Models with an
            unbounded receptive field (the Mamba-2) use their own ``scan_chunk`` instead, on a
            grid fixed in sequence coordinates, so a position's score does not depend on the
            region either.
        candidates_only: score only positions carrying a canonical motif
            (:data:`DONOR_MOTIFS`, :data:`ACCEPTOR_MOTIFS`) and set every other position to 0.
            The default for every model: all are trained on windows centred on a motif, so
            their scores elsewhere are unsupervised (for the fly CNN, donor PR-AUC over held-out
            genes rose from 0.30 to 0.53 with it). False scores every position (for a window
            model, a window at every position and strand: slow).

    Returns:
        :class:`SiteScores` of ``end - start`` positions (index 0 = ``start``).

    Raises:
        ValueError: the region lies outside the sequence or an argument is not positive.
    """
    codes = np.asarray(codes, dtype=np.uint8)
    if codes.ndim != 1:
        raise ValueError(f"codes must be 1-D, got shape {codes.shape}")
    if not 0 <= start <= end <= len(codes):
        raise ValueError(f"region [{start}, {end}) is outside the sequence of {len(codes)}")
    if batch_size <= 0 or chunk <= 0:
        raise ValueError(f"batch_size and chunk must be positive, got {batch_size} and {chunk}")
    dense = bool(getattr(model, "dense", False))
    if start == end:
        return SiteScores.zeros(0)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            if dense:
                scores = _score_dense_on_grid(model, codes, start, end, chunk, batch_size, device)
                if candidates_only:
                    donor_mask, acceptor_mask = candidate_masks(codes, start, end)
                    scores.donor[~donor_mask] = 0.0
                    scores.acceptor[~acceptor_mask] = 0.0
                return scores
            if candidates_only:
                donor_mask, acceptor_mask = candidate_masks(codes, start, end)
            else:
                donor_mask = acceptor_mask = np.ones((2, end - start), dtype=bool)
            return _score_windows(
                model, codes, start, donor_mask, acceptor_mask, batch_size, device
            )
    finally:
        model.train(was_training)


def score_sequence(model: nn.Module, codes: np.ndarray, **kwargs) -> SiteScores:
    """:func:`score_region` over the whole sequence."""
    return score_region(model, codes, 0, len(codes), **kwargs)


def site_scorer(
    model: nn.Module, sequence: str, device: torch.device | str = "cpu"
) -> Callable[[int, int], tuple[np.ndarray, np.ndarray]]:
    """``scorer(lo, hi)``: ``model``'s ``(donor, acceptor)`` scores of ``sequence[lo:hi]``,
    with context read from the rest of the sequence (the decoders' site evidence)."""
    codes = encode(sequence)

    def scorer(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        scores = score_region(model, codes, lo, hi, device=device)
        return scores.donor, scores.acceptor

    return scorer
