"""Where the prediction windows of one sequence go, how much each base of a window counts."""

from __future__ import annotations

import math

import numpy as np

from genatator.errors import ConfigError
from genatator.tokenizer import DnaTokenizer

#: Nucleotides of the sample that :func:`fit_window` tokenises (enough for a stable ratio).
FIT_SAMPLE = 200_000


def plan_windows(length: int, window: int, overlap: float = 0.5) -> np.ndarray:
    """Start of every window that tiles ``[0, length)``.

    Windows start every ``step = max(1, floor(window * (1 - overlap)))`` nucleotides; the last
    one is aligned to the sequence end, so no window runs past it and the tail is covered.

    Args:
        length: sequence length (>= 0).
        window: nucleotides per window (>= 1).
        overlap: fraction of a window shared with the next one, ``0 <= overlap < 1``.

    Returns:
        Sorted, distinct int64 starts. ``[0]`` when ``0 < length <= window`` (one window, the
        whole sequence, possibly shorter than ``window``); empty when ``length == 0``.

    Raises:
        ValueError: an argument is out of range.
    """
    if length < 0:
        raise ValueError(f"length must be >= 0, not {length}")
    if window < 1:
        raise ValueError(f"window must be >= 1, not {window}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), not {overlap}")
    if length == 0:
        return np.zeros(0, dtype=np.int64)
    last = max(0, length - window)
    step = max(1, math.floor(window * (1.0 - overlap)))
    # arange stops before `last`, so appending it never duplicates a start.
    return np.append(np.arange(0, last, step, dtype=np.int64), np.int64(last))


def window_weights(n: int) -> np.ndarray:
    """Tent weights of the ``n`` bases of a window: ``w[i] = min(i + 1, n - i) / ceil(n / 2)``.

    The model sees the least context at a window's edges, so overlapping windows trust each base
    by its distance from the nearest edge. The weights are symmetric, strictly positive (a base
    only one window covers still gets its prediction) and exactly 1 at the middle base(s).

    Args:
        n: window length (>= 0).

    Returns:
        float32 array of shape ``(n,)``.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    i = np.arange(n, dtype=np.float64)
    return (np.minimum(i + 1, n - i) / max(1, math.ceil(n / 2))).astype(np.float32)


def fit_window(tokenizer: DnaTokenizer, sample: str, max_tokens: int, fill: float = 0.95) -> int:
    """Nucleotides that fill ``max_tokens`` tokens, for models that do not record their window.

    The nucleotides-per-token ratio is measured on up to 200 kb of ``sample``'s A/C/G/T: N runs
    are dropped first, because one gap token covers a whole run and would inflate the ratio, so
    the measured window never overflows ``max_tokens`` on N-free DNA. ``fill < 1`` leaves room
    for stretches that tokenise into shorter tokens than the sample's average.

    Args:
        tokenizer: the model's tokenizer.
        sample: upper-case DNA typical of the genome (e.g. its first chromosome).
        max_tokens: content tokens per window (``GenatatorConfig.max_tokens``).
        fill: fraction of ``max_tokens`` to fill, ``0 < fill <= 1``.

    Returns:
        Window length in nucleotides, at least 1.

    Raises:
        ValueError: ``max_tokens < 1`` or ``fill`` out of range.
        ConfigError: the sample holds no A/C/G/T to measure on.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, not {max_tokens}")
    if not 0.0 < fill <= 1.0:
        raise ValueError(f"fill must be in (0, 1], not {fill}")
    pieces: list[str] = []
    collected = 0
    # Chunked so a chromosome that starts with megabases of N is not copied whole.
    for offset in range(0, len(sample), FIT_SAMPLE):
        if collected >= FIT_SAMPLE:
            break
        piece = sample[offset : offset + FIT_SAMPLE].replace("N", "")
        pieces.append(piece)
        collected += len(piece)
    letters = "".join(pieces)[:FIT_SAMPLE]
    if not letters:
        raise ConfigError("cannot measure the window: the sample has no A/C/G/T; set it explicitly")
    per_token = len(letters) / max(1, len(tokenizer.encode(letters)))
    return max(1, int(max_tokens * per_token * fill))
