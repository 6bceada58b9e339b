"""Typed configuration of the encoder, the recurrent memory, the U-Net head and the full model."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from genatator.config_dict import dataclass_from_dict
from genatator.errors import ConfigError
from genatator.labels import CLASSES


@dataclass
class EncoderConfig:
    """GENA-LM pre-layer-norm BERT encoder (field names follow the Hugging Face BertConfig)."""

    vocab_size: int = 32000  # tokenizer vocabulary, memory-token rows excluded
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 3
    last_layer_norm: bool = True  # final LayerNorm after the last layer ("lastln" checkpoints)
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                f"hidden_size {self.hidden_size} is not divisible by "
                f"num_attention_heads {self.num_attention_heads}"
            )
        for name in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "intermediate_size",
            "max_position_embeddings",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"encoder {name} must be positive, got {getattr(self, name)}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EncoderConfig:
        return dataclass_from_dict(cls, values, "encoder")

    @classmethod
    def from_hf_dict(cls, hf: dict[str, Any]) -> EncoderConfig:
        """Read a GENA-LM ``config.json`` (a Hugging Face BertConfig plus GENA's extra keys).

        A missing ``last_layer_norm`` defaults to ``pre_layer_norm`` (GENA's own rule); callers
        should cross-check it against the weights.

        Raises:
            ConfigError: the checkpoint is post-layer-norm, sparse, rotary or not BERT-like.
        """
        if hf.get("sparse_config_cls") or hf.get("sparse_attention"):
            raise ConfigError("sparse-attention (BigBird/DeepSpeed) GENA models are not supported")
        position_type = hf.get("position_embedding_type", "absolute")
        if position_type != "absolute":
            raise ConfigError(f"position_embedding_type {position_type!r} is not supported")
        if not hf.get("pre_layer_norm", False):
            raise ConfigError(
                "only pre-layer-norm GENA-LM encoders are supported "
                "(config.json lacks pre_layer_norm: true)"
            )
        if hf.get("hidden_act", "gelu") != "gelu":
            raise ConfigError(f"hidden_act {hf.get('hidden_act')!r} is not supported (gelu only)")
        missing = [
            k
            for k in (
                "vocab_size",
                "hidden_size",
                "num_hidden_layers",
                "num_attention_heads",
                "intermediate_size",
            )
            if k not in hf
        ]
        if missing:
            raise ConfigError(f"config.json lacks {', '.join(missing)}")
        return cls(
            vocab_size=int(hf["vocab_size"]),
            hidden_size=int(hf["hidden_size"]),
            num_hidden_layers=int(hf["num_hidden_layers"]),
            num_attention_heads=int(hf["num_attention_heads"]),
            intermediate_size=int(hf["intermediate_size"]),
            max_position_embeddings=int(hf.get("max_position_embeddings", 512)),
            type_vocab_size=int(hf.get("type_vocab_size", 2)),
            layer_norm_eps=float(hf.get("layer_norm_eps", 1e-12)),
            pad_token_id=int(hf.get("pad_token_id", 3)),
            last_layer_norm=bool(hf.get("last_layer_norm", hf.get("pre_layer_norm", True))),
            hidden_dropout=float(hf.get("hidden_dropout_prob", 0.1)),
            attention_dropout=float(hf.get("attention_probs_dropout_prob", 0.1)),
        )


@dataclass
class MemoryConfig:
    """Recurrent Memory Transformer settings (segment layout ``[CLS] mem×M [SEP] chunk [SEP]``)."""

    num_mem_tokens: int = 10
    segment_size: int = 512  # full encoder input per segment, memory and special tokens included
    bptt_depth: int = -1  # -1: full backpropagation through time; k: only the last k steps
    max_segments: int = 10000

    def __post_init__(self) -> None:
        if self.num_mem_tokens < 1:
            raise ConfigError(f"num_mem_tokens must be >= 1, got {self.num_mem_tokens}")
        if self.content_per_segment < 1:
            raise ConfigError(
                f"segment_size {self.segment_size} leaves no room for content after "
                f"{self.num_mem_tokens} memory tokens and 3 special tokens"
            )
        if self.bptt_depth < -1:
            raise ConfigError(f"bptt_depth must be >= -1, got {self.bptt_depth}")

    @property
    def content_per_segment(self) -> int:
        """Content tokens one segment holds: S − M − 3 (CLS and two SEPs)."""
        return self.segment_size - self.num_mem_tokens - 3

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> MemoryConfig:
        return dataclass_from_dict(cls, values, "memory")


#: The U-Net's last-block layouts (:class:`UNetConfig.output_block`).
OUTPUT_BLOCKS: tuple[str, ...] = ("wide", "narrow")


@dataclass
class UNetConfig:
    """1-D U-Net head over nucleotides (3 down, 3 up levels, skip connections)."""

    channels: tuple[int, int, int] | None = None  # None: [c, 2c, 4c] with c = max(32, 2H // 8)
    chunk_size: int = 8192  # nucleotides per independent U-Net chunk (bounds activation memory)
    cycles: int = 1  # recycling: x ← x + z between cycles, loss summed over cycles
    # "wide": the paper's last block, two kernel-3 convolutions c → 2H → 2H at full resolution;
    # "narrow": c → c → c, then a pointwise c → 2H projection (about 15× fewer operations in the
    # costliest block of a CPU training step; see docs/training.md).
    output_block: str = "wide"

    def __post_init__(self) -> None:
        if self.channels is not None:
            self.channels = tuple(int(c) for c in self.channels)  # type: ignore[assignment]
            if len(self.channels) != 3 or min(self.channels) < 1:
                raise ConfigError(f"unet channels must be three positive ints, got {self.channels}")
        if not 1 <= self.cycles <= 3:
            raise ConfigError(f"unet cycles must be 1, 2 or 3, got {self.cycles}")
        if self.chunk_size < 8:
            raise ConfigError(f"unet chunk_size must be >= 8, got {self.chunk_size}")
        if self.output_block not in OUTPUT_BLOCKS:
            raise ConfigError(
                f"unet output_block must be one of {', '.join(OUTPUT_BLOCKS)}, "
                f"got {self.output_block!r}"
            )

    def resolved_channels(self, hidden_size: int) -> tuple[int, int, int]:
        if self.channels is not None:
            return self.channels
        base = max(32, (2 * hidden_size) // 8)
        return (base, 2 * base, 4 * base)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> UNetConfig:
        return dataclass_from_dict(cls, values, "unet")


@dataclass
class GenatatorConfig:
    """The full annotator: encoder + recurrent memory + nucleotide U-Net + 5-class classifier."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    unet: UNetConfig = field(default_factory=UNetConfig)
    labels: tuple[str, ...] = CLASSES
    max_tokens: int = 4094  # content tokens per window (the paper: 4096 minus CLS/SEP)
    cls_token_id: int = 1
    sep_token_id: int = 2
    pad_token_id: int = 3
    preset: str | None = None

    def __post_init__(self) -> None:
        self.labels = tuple(self.labels)
        if self.memory.segment_size > self.encoder.max_position_embeddings:
            raise ConfigError(
                f"memory segment_size {self.memory.segment_size} exceeds the encoder's "
                f"{self.encoder.max_position_embeddings} positions"
            )
        if self.max_tokens < 1:
            raise ConfigError(f"max_tokens must be positive, got {self.max_tokens}")

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    @property
    def max_segments_per_window(self) -> int:
        return math.ceil(self.max_tokens / self.memory.content_per_segment)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["labels"] = list(self.labels)
        if values["unet"]["channels"] is not None:
            values["unet"]["channels"] = list(values["unet"]["channels"])
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GenatatorConfig:
        values = dict(values)
        nested = {
            "encoder": EncoderConfig.from_dict(values.pop("encoder", {})),
            "memory": MemoryConfig.from_dict(values.pop("memory", {})),
            "unet": UNetConfig.from_dict(values.pop("unet", {})),
        }
        return dataclass_from_dict(cls, {**values, **nested}, "model")


def _preset(
    name: str, encoder: EncoderConfig, memory: MemoryConfig, unet: UNetConfig, max_tokens: int
) -> GenatatorConfig:
    return GenatatorConfig(
        encoder=encoder, memory=memory, unet=unet, max_tokens=max_tokens, preset=name
    )


def preset_config(name: str, *, vocab_size: int) -> GenatatorConfig:
    """A named size preset, for a tokenizer of ``vocab_size`` entries.

    ``tiny`` is for tests and trying the pipeline; ``small`` trains on a CPU; ``gena-base`` and
    ``gena-large`` are the paper's 110M / 336M encoders (GENA-LM base-lastln-t2t / large-t2t).
    """
    if name == "tiny":
        return _preset(
            name,
            EncoderConfig(
                vocab_size=vocab_size,
                hidden_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                intermediate_size=128,
                max_position_embeddings=128,
                layer_norm_eps=1e-5,
                hidden_dropout=0.0,
                attention_dropout=0.0,
            ),
            MemoryConfig(num_mem_tokens=2, segment_size=64),
            UNetConfig(chunk_size=2048),
            max_tokens=510,
        )
    if name == "small":
        return _preset(
            name,
            EncoderConfig(
                vocab_size=vocab_size,
                hidden_size=256,
                num_hidden_layers=4,
                num_attention_heads=4,
                intermediate_size=1024,
                max_position_embeddings=512,
                layer_norm_eps=1e-5,
            ),
            MemoryConfig(num_mem_tokens=10, segment_size=256),
            UNetConfig(chunk_size=8192),
            max_tokens=2046,
        )
    if name == "gena-base":
        return _preset(
            name,
            EncoderConfig(
                vocab_size=vocab_size,
                hidden_size=768,
                num_hidden_layers=12,
                num_attention_heads=12,
                intermediate_size=3072,
                layer_norm_eps=1e-12,
            ),
            MemoryConfig(num_mem_tokens=10, segment_size=512),
            UNetConfig(),
            max_tokens=4094,
        )
    if name == "gena-large":
        return _preset(
            name,
            EncoderConfig(
                vocab_size=vocab_size,
                hidden_size=1024,
                num_hidden_layers=24,
                num_attention_heads=16,
                intermediate_size=4096,
                layer_norm_eps=1e-5,
            ),
            MemoryConfig(num_mem_tokens=10, segment_size=512),
            UNetConfig(),
            max_tokens=4094,
        )
    raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")


PRESETS: tuple[str, ...] = ("tiny", "small", "gena-base", "gena-large")
