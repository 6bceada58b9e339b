"""Training and validation samples drawn from prepared data, and their collation into batches."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from genatator.errors import ConfigError
from genatator.genome import reverse_complement
from genatator.labels import CLASSES, reverse_complement_labels, unpack_labels
from genatator.model.genatator import ModelInputs
from genatator.model.inputs import build_inputs
from genatator.tokenizer import DnaTokenizer
from genatator.training.prepare import TRAIN, VAL, PreparedData

WINDOW, TRANSCRIPT = "window", "transcript"
#: Genome windows with more N than this are redrawn (up to _DRAWS times): they teach nothing.
MAX_N_FRACTION = 0.5
_DRAWS = 16
_N = ord("N")


@dataclass
class Sample:
    """One training or validation example: + strand DNA and its ``(L, 5)`` 0/1 labels."""

    sequence: str
    labels: np.ndarray
    kind: str  # WINDOW or TRANSCRIPT
    chromosome: int
    start: int  # genomic start of the + strand slice (before any reverse complement)
    reverse: bool = False
    #: ``(5,)`` bool: which label channels are annotated (all, or exon and intron only).
    channels: np.ndarray = field(default_factory=lambda: np.ones(len(CLASSES), dtype=bool))


@dataclass(frozen=True)
class _Spec:
    kind: str
    chromosome: int
    start: int
    end: int
    offset: int = -1  # into the chromosome's anchored-transcript labels (TRANSCRIPT only)


class SampleSource:
    """The samples of one split.

    Training samples form an endless stream indexed by a global sample number ``g``: sample
    ``g`` depends only on ``(seed, g)``, never on earlier draws, so the data order is resumable
    from the step count alone and shards over ranks by index. Each sample is, with probability
    ``transcript_fraction``, anchored at a representative transcript (the transcript's + strand
    span from its start, up to ``window`` nt; every transcript once per epoch, epochs in a
    seeded order) or otherwise a genome window of ``window`` nt at a uniformly random training
    position (intergenic DNA included). With probability ``rc_probability`` it is
    reverse-complemented. Minus-strand genes occur as they are on the + strand.

    Validation samples are a fixed list: evenly chosen anchored transcripts and evenly spaced
    windows tiling the held-out bases, in the same proportion.
    """

    def __init__(
        self,
        data: PreparedData,
        *,
        window: int,
        transcript_fraction: float = 0.5,
        rc_probability: float = 0.0,
        seed: int = 0,
    ) -> None:
        if window < 1:
            raise ConfigError(f"the window must be at least 1 nt, not {window}")
        if not 0.0 <= transcript_fraction <= 1.0 or not 0.0 <= rc_probability <= 1.0:
            raise ConfigError("--transcript-fraction and --rc-augment must lie in [0, 1]")
        self.data = data
        self.window = window
        self.transcript_fraction = transcript_fraction
        self.rc_probability = rc_probability
        self.seed = seed
        self._transcripts = data.transcripts[TRAIN]
        self._starts = self._window_starts(TRAIN, window)
        if transcript_fraction > 0 and len(self._transcripts) == 0:
            raise ConfigError("no training transcript to anchor samples at")
        if transcript_fraction < 1 and self._starts[1][-1] == 0:
            longest = max(
                (hi - lo for c in data.chromosomes for lo, hi in c.intervals[TRAIN]), default=0
            )
            raise ConfigError(
                f"the window ({window} nt) is longer than every training sequence part "
                f"(longest {longest} nt); choose a smaller --window"
            )
        self._epoch: tuple[int, np.ndarray] | None = None
        self._cache: dict[tuple[int, str], np.ndarray] = {}

    def _window_starts(self, split: str, window: int) -> tuple[np.ndarray, np.ndarray]:
        """Per interval that holds a whole window: (chromosome, first start) and cumulative
        start counts, so a uniform draw over all positions is one ``searchsorted``."""
        rows, counts = [], []
        for index, chromosome in enumerate(self.data.chromosomes):
            for lo, hi in chromosome.intervals[split]:
                if hi - lo >= window:
                    rows.append((index, lo))
                    counts.append(hi - lo - window + 1)
        return np.asarray(rows, dtype=np.int64).reshape(-1, 2), np.cumsum([0, *counts])

    # -- training stream -----------------------------------------------------------------------

    def sample(self, index: int, *, window: int | None = None) -> Sample:
        """Training sample number ``index``, cropped to ``window`` nt (curriculum) if given."""
        rng = np.random.default_rng([self.seed, index])
        length = self.window if window is None else min(window, self.window)
        if rng.random() < self.transcript_fraction:
            spec = self._transcript_spec(index, length)
        else:
            spec = self._window_spec(rng, length)
        sample = self.materialise(spec)
        if rng.random() < self.rc_probability:
            sample.sequence = reverse_complement(sample.sequence)
            sample.labels = reverse_complement_labels(sample.labels)
            sample.reverse = True
        return sample

    def _transcript_spec(self, index: int, length: int) -> _Spec:
        n = len(self._transcripts)
        epoch, position = divmod(index, n)
        if self._epoch is None or self._epoch[0] != epoch:
            order = np.random.default_rng([self.seed, 1, epoch]).permutation(n)
            self._epoch = (epoch, order)
        chromosome, start, end, offset = self._transcripts[self._epoch[1][position]]
        return _Spec(TRANSCRIPT, int(chromosome), int(start), int(min(end, start + length)), offset)

    def _window_spec(self, rng: np.random.Generator, length: int) -> _Spec:
        rows, cumulative = self._starts
        for _ in range(_DRAWS):
            draw = int(rng.integers(cumulative[-1]))
            slot = int(np.searchsorted(cumulative, draw, side="right")) - 1
            chromosome, first = rows[slot]
            start = int(first + draw - cumulative[slot])
            spec = _Spec(WINDOW, int(chromosome), start, start + length)
            codes = self._array(spec.chromosome, "sequence")[spec.start : spec.end]
            if np.count_nonzero(codes == _N) <= MAX_N_FRACTION * length:
                break
        return spec

    # -- validation ----------------------------------------------------------------------------

    def validation_samples(self, count: int) -> list[Sample]:
        """Up to ``count`` fixed validation samples (anchored transcripts and tiled windows)."""
        transcripts = self.data.transcripts[VAL]
        tiles = [
            _Spec(WINDOW, index, start, start + self.window)
            for index, chromosome in enumerate(self.data.chromosomes)
            for lo, hi in chromosome.intervals[VAL]
            for start in range(lo, hi - self.window + 1, self.window)
        ]
        want_transcripts = round(count * self.transcript_fraction) if tiles else count
        n_transcripts = min(len(transcripts), want_transcripts)
        n_tiles = min(len(tiles), count - n_transcripts)
        n_transcripts = min(len(transcripts), count - n_tiles)  # fill up when tiles run short
        specs = [
            _Spec(TRANSCRIPT, int(c), int(s), int(min(e, s + self.window)), int(o))
            for c, s, e, o in transcripts[_evenly(len(transcripts), n_transcripts)]
        ]
        specs += [tiles[i] for i in _evenly(len(tiles), n_tiles)]
        if not specs:
            raise ConfigError(
                f"no validation sample: the held-out parts hold no transcript and none is as long "
                f"as the window ({self.window} nt)"
            )
        return [self.materialise(spec) for spec in specs]

    # -- shared --------------------------------------------------------------------------------

    def materialise(self, spec: _Spec) -> Sample:
        codes = self._array(spec.chromosome, "sequence")[spec.start : spec.end]
        if spec.kind == TRANSCRIPT:
            own = self._array(spec.chromosome, "transcripts")
            packed = own[spec.offset : spec.offset + spec.end - spec.start]
        else:
            packed = self._array(spec.chromosome, "labels")[spec.start : spec.end]
        return Sample(
            sequence=codes.tobytes().decode("ascii"),
            labels=unpack_labels(packed),
            kind=spec.kind,
            chromosome=spec.chromosome,
            start=spec.start,
            channels=self._channels(spec.chromosome),
        )

    def _channels(self, chromosome: int) -> np.ndarray:
        channels = np.zeros(len(CLASSES), dtype=bool)
        channels[self.data.chromosomes[chromosome].channels] = True
        return channels

    def _array(self, chromosome: int, what: str) -> np.ndarray:
        key = (chromosome, what)
        if key not in self._cache:
            loader = {
                "sequence": self.data.sequence,
                "labels": self.data.labels,
                "transcripts": self.data.transcript_labels,
            }[what]
            self._cache[key] = loader(chromosome)
        return self._cache[key]


def _evenly(total: int, count: int) -> np.ndarray:
    """``count`` indices spread evenly over ``range(total)``."""
    if count <= 0 or total == 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.linspace(0, total - 1, num=min(count, total)).round().astype(np.int64))


@dataclass
class Batch:
    """Model inputs with their padded labels and the mask of real (unpadded) nucleotides."""

    inputs: ModelInputs
    labels: torch.Tensor  # (B, L, 5) float32
    label_mask: torch.Tensor  # (B, L) bool
    nucleotides: int
    channel_mask: torch.Tensor | None = None  # (B, 5) bool: annotated channels per sample

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            self.inputs.to(device),
            self.labels.to(device),
            self.label_mask.to(device),
            self.nucleotides,
            None if self.channel_mask is None else self.channel_mask.to(device),
        )


def collate(tokenizer: DnaTokenizer, samples: list[Sample], *, max_tokens: int) -> Batch:
    """Tokenise samples and pad their labels to the longest one."""
    inputs = build_inputs(tokenizer, [s.sequence for s in samples], max_tokens=max_tokens)
    longest = inputs.nucleotide_ids.shape[1]
    labels = np.zeros((len(samples), longest, samples[0].labels.shape[1]), dtype=np.float32)
    mask = np.zeros((len(samples), longest), dtype=bool)
    for row, sample in enumerate(samples):
        labels[row, : len(sample.sequence)] = sample.labels
        mask[row, : len(sample.sequence)] = True
    return Batch(
        inputs,
        torch.from_numpy(labels),
        torch.from_numpy(mask),
        sum(len(s.sequence) for s in samples),
        torch.from_numpy(np.stack([s.channels for s in samples])),
    )
