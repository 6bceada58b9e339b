"""Streaming weighted average of overlapping window predictions into one per-base track."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrackBlock:
    """A finished stretch of a sequence's track.

    Attributes:
        start: 0-based position of the first row in the sequence.
        probabilities: ``(n, C)`` float32 weighted-average probabilities; 0 where no window
            gave a prediction.
    """

    start: int
    probabilities: np.ndarray

    @property
    def end(self) -> int:
        """Position after the last row (half-open)."""
        return self.start + len(self.probabilities)


class TrackStitcher:
    """Weighted average of overlapping ``(n, C)`` window predictions over a sequence.

    Memory is bounded by ``block_size`` plus the span of windows added since the last
    :meth:`finished` call, not by the sequence length: the buffer holds only positions that are
    not yet handed out, and it is shifted (not reallocated) when a block leaves.

    Sums are accumulated in float64: the buffer is bounded, so twice float32's memory is cheap,
    and the result then does not depend on how many windows overlap a base or on rounding order.

    Args:
        length: sequence length.
        channels: prediction channels ``C``.
        block_size: most positions per returned :class:`TrackBlock`.
    """

    def __init__(self, length: int, channels: int = 5, block_size: int = 1_000_000) -> None:
        if length < 0:
            raise ValueError(f"length must be >= 0, not {length}")
        if channels < 1:
            raise ValueError(f"channels must be >= 1, not {channels}")
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, not {block_size}")
        self.length = length
        self.channels = channels
        self.block_size = block_size
        self._base = 0  # sequence position of buffer row 0 = first position not yet handed out
        self._used = 0  # buffer rows that may hold non-zero sums; rows beyond are zero
        self._upto = 0  # largest `upto` promised by the caller: no window may start before it
        self._last_start = 0
        self._sums = np.zeros((0, channels), dtype=np.float64)
        self._weights = np.zeros(0, dtype=np.float64)

    @property
    def done(self) -> int:
        """Positions ``[0, done)`` have been returned by :meth:`finished`."""
        return self._base

    def add(self, start: int, probabilities: np.ndarray, weights: np.ndarray) -> None:
        """Accumulate one window's prediction.

        Args:
            start: the window's first position; not before the previous window's start nor
                before any ``upto`` already passed to :meth:`finished`.
            probabilities: ``(n, C)`` predictions of the window's bases.
            weights: ``(n,)`` non-negative weight per base, 0 where the model gave no prediction.

        Raises:
            ValueError: wrong shapes, a window out of order or past the sequence end.
        """
        weights = np.asarray(weights, dtype=np.float64)
        probabilities = np.asarray(probabilities)
        n = len(weights)
        if weights.ndim != 1 or probabilities.shape != (n, self.channels):
            raise ValueError(
                f"expected probabilities ({n}, {self.channels}) and weights ({n},), "
                f"got {probabilities.shape} and {weights.shape}"
            )
        if start < self._last_start or start < self._upto:
            raise ValueError(
                f"window at {start} added after one at {self._last_start} or after finished("
                f"{self._upto}); windows must come in start order"
            )
        if start + n > self.length:
            raise ValueError(f"window [{start}, {start + n}) runs past the end {self.length}")
        self._last_start = start
        lo = start - self._base
        self._reserve(lo + n)
        self._sums[lo : lo + n] += probabilities * weights[:, None]
        self._weights[lo : lo + n] += weights
        self._used = max(self._used, lo + n)

    def finished(self, upto: int) -> list[TrackBlock]:
        """Hand out the blocks that no later window can change.

        Full blocks of ``block_size`` come out as soon as they end at or before ``upto``; the
        remainder of the sequence comes out when ``upto == length``. Over all calls the blocks
        are contiguous and cover ``[0, length)`` exactly once.

        Args:
            upto: the start of the next window still to be added (no later window starts
                before it), or ``length`` when all windows are in. Never decreases.

        Returns:
            The newly finished blocks in order (possibly none).
        """
        if not self._upto <= upto <= self.length:
            raise ValueError(f"upto must be in [{self._upto}, {self.length}], not {upto}")
        self._upto = upto
        blocks = []
        while True:
            stop = min(self._base + self.block_size, self.length)
            if stop <= self._base or stop > upto:
                return blocks
            blocks.append(self._emit(stop - self._base))

    def _emit(self, rows: int) -> TrackBlock:
        self._reserve(rows)
        weights = self._weights[:rows, None]
        average = np.zeros((rows, self.channels), dtype=np.float64)
        np.divide(self._sums[:rows], weights, out=average, where=weights > 0)
        block = TrackBlock(self._base, average.astype(np.float32))
        # Shift the pending rows to the front and clear what they leave behind.
        keep = max(0, self._used - rows)
        self._sums[:keep] = self._sums[rows : rows + keep]
        self._weights[:keep] = self._weights[rows : rows + keep]
        self._sums[keep : self._used] = 0.0
        self._weights[keep : self._used] = 0.0
        self._base += rows
        self._used = keep
        return block

    def _reserve(self, rows: int) -> None:
        capacity = len(self._weights)
        if rows <= capacity:
            return
        # Grow by half at least (amortised O(1) per row), never past the rest of the sequence.
        size = min(max(rows, capacity + capacity // 2), self.length - self._base)
        sums = np.zeros((size, self.channels), dtype=np.float64)
        weights = np.zeros(size, dtype=np.float64)
        sums[: self._used] = self._sums[: self._used]
        weights[: self._used] = self._weights[: self._used]
        self._sums, self._weights = sums, weights
