"""Run the model over DNA windows (both strands) and stream a chromosome's stitched track."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np
import torch

from genatator.errors import ConfigError
from genatator.genome import reverse_complement
from genatator.inference.stitch import TrackBlock, TrackStitcher
from genatator.inference.windows import plan_windows, window_weights
from genatator.model.encoder import flash_attention_available
from genatator.model.genatator import GenatatorModel
from genatator.model.inputs import build_inputs
from genatator.tokenizer import DnaTokenizer

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_HALF = (torch.float16, torch.bfloat16)

#: One window's result: ``(n, C)`` float32 probabilities and ``(n,)`` bool "some pass covered it".
WindowPrediction = tuple[np.ndarray, np.ndarray]


def resolve_device(spec: str) -> torch.device:
    """The torch device of ``auto``, ``cpu``, ``cuda`` or ``cuda:i``.

    ``auto`` is the current CUDA device when CUDA is available, else the CPU.

    Raises:
        ConfigError: CUDA is requested but unavailable, the index does not exist, or ``spec`` is
            none of the above.
    """
    spec = spec.strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", spec)
    if match is None:
        raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, not {spec!r}")
    if not torch.cuda.is_available():
        raise ConfigError(f"device {spec}: no CUDA device is available")
    if match.group(1) is None:
        return torch.device("cuda")
    index = int(match.group(1))
    if index >= torch.cuda.device_count():
        raise ConfigError(f"device {spec}: only {torch.cuda.device_count()} CUDA device(s)")
    return torch.device("cuda", index)


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``; None means plain fp32.

    ``auto`` is fp32 on the CPU and, on CUDA, bf16 where the GPU has it natively (compute
    capability 8.0+), else fp16. ``bf16`` works on both; ``fp16`` needs CUDA.

    Raises:
        ConfigError: unknown ``precision``, or one the device cannot run.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "fp32":
        return None
    if device.type != "cuda":
        if precision == "fp16":
            raise ConfigError("precision fp16 needs a CUDA device")
        return torch.bfloat16 if precision == "bf16" else None
    # Capability, not is_bf16_supported(): some torch versions report emulated bf16 as supported.
    native_bf16 = torch.cuda.get_device_capability(device) >= (8, 0)
    if precision == "bf16" and not native_bf16:
        raise ConfigError(f"precision bf16: {torch.cuda.get_device_name(device)} lacks bf16")
    if precision == "fp16" or not native_bf16:
        return torch.float16
    return torch.bfloat16


class Predictor(Protocol):
    """What :func:`predict_tracks` needs of a predictor (:class:`WindowPredictor` or a fake)."""

    channels: int
    batch_size: int

    def predict(self, sequences: list[str]) -> list[WindowPrediction]: ...


class WindowPredictor:
    """Per-base class probabilities of DNA windows, averaged over both strands.

    Construction moves ``model`` to ``device``, puts it in eval mode and, on CUDA in half
    precision with flash-attn installed, switches its encoder to flash attention (a change to
    the model object itself).

    Args:
        model: the annotator.
        tokenizer: its tokenizer.
        device: a torch device or a :func:`resolve_device` spec.
        batch_size: windows per forward pass, reverse-complement copies included; it bounds
            activation memory.
        reverse_complement: also predict each window's reverse complement and average.
        precision: see :func:`autocast_dtype`.
    """

    def __init__(
        self,
        model: GenatatorModel,
        tokenizer: DnaTokenizer,
        *,
        device: torch.device | str,
        batch_size: int = 8,
        reverse_complement: bool = True,
        precision: str = "auto",
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, not {batch_size}")
        self.device = resolve_device(device) if isinstance(device, str) else torch.device(device)
        self.dtype = autocast_dtype(self.device, precision)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.reverse_complement = reverse_complement
        self.channels: int = model.config.num_labels
        self.max_tokens: int = model.config.max_tokens
        if self.device.type == "cuda" and self.dtype in _HALF and flash_attention_available():
            model.encoder.attn_impl = "flash"

    def predict(self, sequences: list[str]) -> list[WindowPrediction]:
        """Predict each window.

        Without reverse complement a base's probabilities are the forward pass's sigmoid; with
        it, the mean over the passes whose tokens cover the base. The reverse pass is mapped
        back by reversing the position axis only: our 5'UTR/3'UTR labels are strand-aware (a
        5'UTR base is still 5'UTR on the other strand), so the channels are not swapped.
        GENATATOR swaps them because its UTR channels mean left/right of the CDS.

        Args:
            sequences: upper-case ACGTN windows (any lengths; empty ones give empty results).

        Returns:
            Per window ``(probabilities (n, C) float32, covered (n,) bool)``; probabilities are
            0 where ``covered`` is False (no token of any pass covers the base).
        """
        jobs = []  # the strings to run; each window's RC copy right after it (same batch mostly)
        for sequence in sequences:
            if sequence:
                jobs.append(sequence)
                if self.reverse_complement:
                    jobs.append(reverse_complement(sequence))
        results: list[WindowPrediction] = []
        for first in range(0, len(jobs), self.batch_size):
            results.extend(self._forward(jobs[first : first + self.batch_size]))

        passes = 2 if self.reverse_complement else 1
        predictions = []
        done = 0
        for sequence in sequences:
            if not sequence:
                empty = np.zeros((0, self.channels), dtype=np.float32)
                predictions.append((empty, np.zeros(0, dtype=bool)))
                continue
            probabilities, covered = results[done]
            total = probabilities * covered[:, None]
            count = covered.astype(np.float32)
            if self.reverse_complement:
                reverse_probabilities, reverse_covered = results[done + 1]
                # Undo the RC pass: flip positions, keep channels (see the docstring).
                total += (reverse_probabilities * reverse_covered[:, None])[::-1]
                count += reverse_covered[::-1]
            done += passes
            np.divide(total, count[:, None], out=total, where=count[:, None] > 0)
            predictions.append((total.astype(np.float32, copy=False), count > 0))
        return predictions

    @torch.inference_mode()
    def _forward(self, sequences: list[str]) -> list[WindowPrediction]:
        """One forward pass: each sequence's sigmoid probabilities and coverage, on the CPU."""
        inputs = build_inputs(self.tokenizer, sequences, max_tokens=self.max_tokens)
        autocast = (
            contextlib.nullcontext()
            if self.dtype is None
            else torch.autocast(self.device.type, dtype=self.dtype)
        )
        with autocast:
            output = self.model(inputs.to(self.device))
        # Sigmoid in fp32: half-precision logits would round probabilities near 0 and 1.
        probabilities = torch.sigmoid(output.logits.float()).cpu().numpy()
        covered = output.mask.cpu().numpy()
        return [
            (probabilities[row, :n], covered[row, :n])
            for row, n in enumerate(len(s) for s in sequences)
        ]


def predict_tracks(
    predictor: Predictor,
    sequence: str,
    *,
    window: int,
    overlap: float = 0.5,
    block_size: int = 1_000_000,
    progress: Callable[[int], None] | None = None,
) -> Iterator[TrackBlock]:
    """Stream one sequence's stitched per-base probabilities, block by block.

    Windows from :func:`plan_windows` go to ``predictor`` ``batch_size`` at a time; windows that
    are all N are skipped. Each window's bases are weighted by :func:`window_weights` times
    their coverage, and a block is yielded as soon as no later window can change it, so memory
    stays bounded by about ``block_size + batch_size * window`` whatever the sequence length.

    Args:
        predictor: a :class:`WindowPredictor` (or anything with ``channels``, ``batch_size``
            and ``predict``).
        sequence: upper-case ACGTN sequence, e.g. a whole chromosome.
        window: nucleotides per window.
        overlap: fraction shared by consecutive windows, ``0 <= overlap < 1``.
        block_size: most positions per yielded block.
        progress: called with the number of newly finished positions before each block.

    Returns:
        Iterator of :class:`TrackBlock` covering ``[0, len(sequence))`` in order (nothing for an
        empty sequence); positions no window predicts are 0.

    Raises:
        ValueError: bad ``window``, ``overlap`` or ``block_size`` (raised at the call, not at
            the first ``next``).
    """
    starts = plan_windows(len(sequence), window, overlap)
    stitcher = TrackStitcher(len(sequence), predictor.channels, block_size)
    return _stream(predictor, sequence, starts, stitcher, min(window, len(sequence)), progress)


def _stream(
    predictor: Predictor,
    sequence: str,
    starts: np.ndarray,
    stitcher: TrackStitcher,
    size: int,
    progress: Callable[[int], None] | None,
) -> Iterator[TrackBlock]:
    weights = window_weights(size)  # every planned window has this size (the last is end-aligned)
    pending: list[int] = []

    def flush(upto: int) -> Iterator[TrackBlock]:
        if pending:
            windows = [sequence[s : s + size] for s in pending]
            for start, (probabilities, covered) in zip(pending, predictor.predict(windows)):
                stitcher.add(start, probabilities, weights * covered)
            pending.clear()
        for block in stitcher.finished(upto):
            if progress is not None:
                progress(len(block.probabilities))
            yield block

    for index, start in enumerate(starts.tolist()):
        if sequence.count("N", start, start + size) == size:
            # Nothing to predict; flush first so a long N stretch streams out as it is passed
            # instead of piling up until the next batch.
            yield from flush(start)
            continue
        pending.append(start)
        if len(pending) >= predictor.batch_size:
            upto = int(starts[index + 1]) if index + 1 < len(starts) else stitcher.length
            yield from flush(upto)
    yield from flush(stitcher.length)
