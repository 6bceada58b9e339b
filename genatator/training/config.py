"""Training options: one dataclass, saved with the run and checked on resume."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from genatator.annotation.orf import DERIVE_CDS_RULES
from genatator.config_dict import dataclass_from_dict
from genatator.errors import ConfigError
from genatator.training.prepare import GenomeSource

#: Options that may differ when a run is resumed; every other option must stay as it was.
RESUMABLE = frozenset(
    {"max_steps", "max_time", "eval_every", "save_every", "log_every", "keep_checkpoints", "device"}
)
SCHEDULES = ("constant", "cosine")
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass
class TrainConfig:
    """Everything that defines a training run (see ``docs/training.md``)."""

    sources: list[GenomeSource]
    val_sources: list[GenomeSource] = field(default_factory=list)
    val_regions: str | None = None
    # "longest-orf": transcripts without CDS that may code take their longest ORF as CDS.
    derive_cds: str = "none"
    # Model: an existing model directory, or a preset (+ tokenizer, + GENA-LM backbone).
    model: str | None = None
    preset: str = "tiny"
    tokenizer: str | None = None
    backbone: str | None = None
    # Samples.
    window: int | None = None  # nucleotides; None: filled in from the model's token budget
    transcript_fraction: float = 0.5
    rc_augment: float = 0.0
    val_samples: int = 256
    # Optimisation (defaults: the paper's fine-tuning settings).
    batch_size: int = 1
    grad_accum: int = 1
    lr: float = 5e-5
    weight_decay: float = 1e-4
    warmup_steps: int = 1000
    schedule: str = "constant"
    min_lr_ratio: float = 0.0
    clip: float = 1.0
    precision: str = "auto"
    curriculum: str | None = None
    gradient_checkpointing: bool = False
    # Length and bookkeeping.
    max_steps: int = 100_000
    max_time: float | None = None  # seconds, per invocation
    eval_every: int = 1000
    save_every: int = 1000
    log_every: int = 50
    keep_checkpoints: int = 3
    seed: int = 42
    device: str = "auto"

    def __post_init__(self) -> None:
        self.sources = [_source(s) for s in self.sources]
        self.val_sources = [_source(s) for s in self.val_sources]
        if not self.sources:
            raise ConfigError("give at least one --genome with its --annotation")
        positive = ("batch_size", "grad_accum", "max_steps", "eval_every", "save_every")
        for name in (*positive, "log_every", "keep_checkpoints", "val_samples"):
            if getattr(self, name) < (1 if name in positive or name == "log_every" else 0):
                raise ConfigError(f"--{name.replace('_', '-')} must be positive")
        if self.window is not None and self.window < 1:
            raise ConfigError("--window must be positive")
        if self.lr <= 0 or self.weight_decay < 0 or self.warmup_steps < 0 or self.clip < 0:
            raise ConfigError("--lr must be positive; --weight-decay, --warmup-steps, --clip ≥ 0")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError("--min-lr-ratio must lie in [0, 1]")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"--schedule must be one of {', '.join(SCHEDULES)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}")
        if self.derive_cds not in DERIVE_CDS_RULES:
            raise ConfigError(f"--derive-cds must be one of {', '.join(DERIVE_CDS_RULES)}")
        if self.max_time is not None and self.max_time <= 0:
            raise ConfigError("--max-time must be positive")
        if self.model is not None and (self.backbone is not None or self.tokenizer is not None):
            raise ConfigError(
                "--model already holds a tokenizer and weights; drop --tokenizer/--backbone"
            )
        parse_curriculum(self.curriculum)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        return dataclass_from_dict(cls, values, "training")

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, AttributeError) as exc:  # ValueError: bad JSON
            raise ConfigError(f"{path}: cannot read the run's training options ({exc})") from None

    def resumed_with(self, given: dict[str, Any]) -> TrainConfig:
        """This (saved) config with the options given again on resume applied.

        Raises:
            ConfigError: a given option other than those in :data:`RESUMABLE` differs.
        """
        current = self.to_dict()
        merged = dict(current)
        changed = []
        for name, value in given.items():
            normalised = TrainConfig.from_dict({**current, name: value}).to_dict()[name]
            if name in RESUMABLE:
                merged[name] = normalised
            elif normalised != current[name]:
                changed.append(name.replace("_", "-"))
        if changed:
            raise ConfigError(
                f"--resume: --{', --'.join(changed)} differ from the run's saved options; "
                f"only --{', --'.join(sorted(n.replace('_', '-') for n in RESUMABLE))} may change"
            )
        return TrainConfig.from_dict(merged)


def _source(value: GenomeSource | dict | list | tuple) -> GenomeSource:
    if isinstance(value, GenomeSource):
        return value
    if isinstance(value, dict):
        return GenomeSource(**value)
    genome, annotation = value
    return GenomeSource(str(genome), str(annotation))


_CURRICULUM_ITEM = re.compile(r"^\s*(\d+)\s*@\s*(\d+)\s*$")


def parse_curriculum(text: str | None) -> list[tuple[int, int]]:
    """``"8@0,32@20000,80@60000"`` → ``[(0, 8), (20000, 32), (60000, 80)]`` (step, segments).

    Raises:
        ConfigError: malformed, steps not increasing, or the first stage not at step 0.
    """
    if not text:
        return []
    stages = []
    for item in text.split(","):
        match = _CURRICULUM_ITEM.match(item)
        if not match or int(match.group(1)) < 1:
            raise ConfigError(f"--curriculum: {item.strip()!r} is not SEGMENTS@STEP")
        stages.append((int(match.group(2)), int(match.group(1))))
    steps = [step for step, _ in stages]
    if steps[0] != 0 or any(b <= a for a, b in itertools.pairwise(steps)):
        raise ConfigError("--curriculum: stages must start at step 0 and their steps increase")
    return stages


def segments_at(stages: list[tuple[int, int]], step: int) -> int | None:
    """The curriculum's segment cap at ``step`` (None: no curriculum)."""
    cap = None
    for start, segments in stages:
        if step >= start:
            cap = segments
    return cap


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(text: str) -> float:
    """``"90"``, ``"45m"``, ``"2h"``, ``"1.5d"`` → seconds.

    Raises:
        ConfigError: not a duration.
    """
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"--max-time: {text!r} is not a duration such as 3600, 45m, 2h or 1d")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
