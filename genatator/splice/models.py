"""Splice-site classifiers (Mamba, Mamba-2, dilated CNN) behind one interface, with save/load.

Every model maps a batch of windows of letter codes (:mod:`genatator.splice.windows`) to logits
of the centre site's class (donor, acceptor, neither). The CNN and the bidirectional Mamba-2 also
score every position of a sequence of any length (``dense = True``,
:meth:`SpliceModel.forward_dense`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from genatator.config_dict import dataclass_from_dict
from genatator.errors import ConfigError, ModelError
from genatator.model.files import (
    WEIGHTS_NAME,
    load_strict,
    read_tagged_config,
    write_config_and_weights,
)
from genatator.splice import windows
from genatator.splice.mamba import MambaMixer
from genatator.splice.ssd import Mamba2Mixer

MODEL_TYPE = "genatator-splice"
ARCHS = ("mamba", "mamba2", "cnn")
#: Fields of the BPE-transformer classifier, removed (it never measured best): a saved model's
#: config may still carry them, unused.
_REMOVED_FIELDS = ("hidden", "layers", "heads", "intermediate")
NUM_CLASSES = len(windows.CLASS_NAMES)


@dataclass
class SpliceModelConfig:
    """Hyper-parameters of a splice classifier; only the fields of ``arch`` are used.

    Attributes:
        arch: ``"mamba"`` (the source's window classifier), ``"mamba2"`` (bidirectional Mamba-2,
            every position) or ``"cnn"``.
        window: window length in nucleotides (the site base is at ``window // 2``).
        dropout: dropout of the mamba model (the CNN has none, as SpliceAI).
        d_model: mamba width.
        n_layers: mamba residual blocks.
        d_state: mamba SSM state size.
        d_conv: mamba causal convolution width.
        expand: mamba inner width factor.
        headdim: mamba2 channels per head (the inner width must be a multiple).
        channels: CNN channels.
        kernel: CNN kernel width (odd).
        dilations: CNN dilation of each residual block; defaults are SpliceAI-400nt.
    """

    arch: str = "cnn"
    window: int = 512
    dropout: float = 0.1
    # mamba
    d_model: int = 128
    n_layers: int = 4
    d_state: int = 16
    d_conv: int = 4
    expand: int = 1
    headdim: int = 32
    # cnn
    channels: int = 32
    kernel: int = 11
    dilations: tuple[int, ...] = (1, 1, 1, 1, 4, 4, 4, 4)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"unknown splice model arch {self.arch!r}; choose one of {ARCHS}")
        self.dilations = tuple(int(d) for d in self.dilations)
        positive = (
            "window", "d_model", "n_layers", "d_state", "d_conv", "expand", "headdim",
            "channels", "kernel",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"splice model {name} must be a positive integer, got {value!r}")
        if not self.dilations or min(self.dilations) < 1:
            raise ConfigError(f"splice model dilations must be positive, got {self.dilations}")
        if self.kernel % 2 == 0:
            raise ConfigError(
                f"splice model kernel must be odd ('same' padding), got {self.kernel}"
            )
        if self.arch == "mamba2" and (self.d_model * self.expand) % self.headdim:
            raise ConfigError(
                f"splice model headdim {self.headdim} must divide the mamba2 inner width "
                f"{self.d_model * self.expand}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"splice model dropout must be in [0, 1), got {self.dropout}")
        if self.window < 3:
            raise ConfigError(f"splice model window must be at least 3, got {self.window}")

    @property
    def cnn_context(self) -> int:
        """Total flank the CNN's centre logits see: ``Σ 2·(k−1)·d`` (400 for SpliceAI-400nt)."""
        return sum(2 * (self.kernel - 1) * d for d in self.dilations)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["dilations"] = list(self.dilations)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SpliceModelConfig:
        """Build a config from a dict, rejecting unknown keys.

        Raises:
            ConfigError: an unknown key, an unknown arch or an invalid value.
        """
        return dataclass_from_dict(cls, values, "splice model")


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class SpliceModel(nn.Module):
    """Base class: window classification (``forward``) and, for the CNN, per-position logits."""

    #: True when :meth:`forward_dense` gives per-position logits (the CNN and the Mamba-2).
    dense: ClassVar[bool] = False

    def __init__(self, config: SpliceModelConfig) -> None:
        super().__init__()
        self.config = config

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, 3)`` of the centre site's class from ``(B, L)`` letter codes."""
        raise NotImplementedError

    def forward_dense(self, codes: torch.Tensor) -> torch.Tensor:
        """Per-position logits ``(B, T, 3)`` of ``(B, T)`` codes (dense models only)."""
        raise ModelError(
            f"the {self.config.arch} splice model classifies whole windows; "
            "it has no per-position output"
        )

    def _check_window(self, codes: torch.Tensor) -> None:
        if codes.dim() != 2 or codes.shape[1] != self.config.window:
            raise ValueError(
                f"the {self.config.arch} splice model takes (batch, {self.config.window}) windows "
                f"of letter codes, got shape {tuple(codes.shape)}"
            )

    def save_pretrained(self, directory: str | Path) -> None:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (each atomically)."""
        write_config_and_weights(directory, MODEL_TYPE, self.config.to_dict(), self)


# -- Mamba -----------------------------------------------------------------------------------------


class _MambaBlock(nn.Module):
    """Pre-norm residual block ``x + Dropout(Mixer(LayerNorm(x)))``."""

    def __init__(self, config: SpliceModelConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(config.d_model)
        self.mixer = MambaMixer(
            config.d_model, d_state=config.d_state, d_conv=config.d_conv, expand=config.expand
        )
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(self.mixer(self.norm(x)))


class MambaClassifier(SpliceModel):
    """The source project's Mamba window classifier, with residual connections added.

    Letter embedding + learned absolute position embedding (both Xavier-initialised),
    ``n_layers`` residual Mamba blocks, a final LayerNorm, attention pooling over positions
    (padding masked out) and a LayerNorm → Dropout → Linear head. The source stacked its Mamba
    layers without residuals; here each block adds its input back, which trains more stably.
    The position table ties the model to windows of exactly ``config.window`` nucleotides.
    """

    def __init__(self, config: SpliceModelConfig) -> None:
        super().__init__(config)
        d = config.d_model
        self.embedding = nn.Embedding(windows.VOCAB_SIZE, d)
        self.position = nn.Embedding(config.window, d)
        nn.init.xavier_uniform_(self.embedding.weight)
        nn.init.xavier_uniform_(self.position.weight)
        self.layers = nn.ModuleList(_MambaBlock(config) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(d)
        self.pool = nn.Sequential(
            nn.LayerNorm(d), nn.Linear(d, max(1, d // 2)), nn.Tanh(), nn.Linear(max(1, d // 2), 1)
        )
        self.head = nn.Sequential(nn.LayerNorm(d), nn.Dropout(config.dropout), nn.Linear(d, 3))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        self._check_window(codes)
        positions = torch.arange(codes.shape[1], device=codes.device)
        x = self.embedding(codes) + self.position(positions)
        for layer in self.layers:
            x = layer(x)
        x = self.norm(x)
        scores = self.pool(x).squeeze(-1)  # (B, L)
        # finfo.min rather than -inf: an all-padding row then pools uniformly instead of to NaN.
        scores = scores.masked_fill(codes == windows.PAD, torch.finfo(scores.dtype).min)
        weights = scores.softmax(dim=-1)
        pooled = torch.einsum("bl,bld->bd", weights, x)
        return self.head(pooled)


# -- bidirectional Mamba-2 ----------------------------------------------------------------------


class _BidirectionalBlock(nn.Module):
    """``x + Dropout(fwd(LN(x)) + flip(bwd(flip(LN(x)))))``: one Mamba-2 mixer per direction."""

    def __init__(self, config: SpliceModelConfig) -> None:
        super().__init__()
        shape = dict(
            d_state=config.d_state, d_conv=config.d_conv, expand=config.expand,
            headdim=config.headdim,
        )  # fmt: skip
        self.norm = nn.LayerNorm(config.d_model)
        self.forward_mixer = Mamba2Mixer(config.d_model, **shape)
        self.backward_mixer = Mamba2Mixer(config.d_model, **shape)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        both = self.forward_mixer(h) + self.backward_mixer(h.flip(1)).flip(1)
        return x + self.dropout(both)


class BidirectionalMamba2(SpliceModel):
    """Bidirectional Mamba-2 that labels every position, so it scans a genome in one pass.

    Letter embedding (no position table: the model is the same at every offset) →
    ``n_layers`` bidirectional Mamba-2 blocks (SSD scan, :mod:`genatator.splice.ssd`) → LayerNorm
    → 3 logits per position. Trained, like the CNN, on the centre label of each window. Unlike
    the CNN its receptive field is not bounded: a genome scan gives each position at least
    ``window // 2`` nt on each side (:attr:`context`), the context it was trained with.
    """

    dense: ClassVar[bool] = True

    def __init__(self, config: SpliceModelConfig) -> None:
        super().__init__(config)
        self.embedding = nn.Embedding(windows.VOCAB_SIZE, config.d_model)
        self.layers = nn.ModuleList(_BidirectionalBlock(config) for _ in range(config.n_layers))
        self.head = nn.Sequential(nn.LayerNorm(config.d_model), nn.Linear(config.d_model, 3))

    @property
    def context(self) -> int:
        """Flank a genome scan gives each position, both sides together: the training window."""
        return self.config.window

    @property
    def scan_chunk(self) -> int:
        """Positions per pass of a genome scan: one window, on a grid fixed in sequence
        coordinates, so a position's score does not depend on the region asked for."""
        return self.config.window

    def forward_dense(self, codes: torch.Tensor) -> torch.Tensor:
        if codes.dim() != 2:
            raise ValueError(f"expected (batch, length) letter codes, got {tuple(codes.shape)}")
        x = self.embedding(codes)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.forward_dense(codes)[:, codes.shape[1] // 2]


# -- dilated CNN -----------------------------------------------------------------------------------


class _ResidualUnit(nn.Module):
    """SpliceAI residual unit: ``x + Conv(ReLU(BN(Conv(ReLU(BN(x))))))`` with dilated convs."""

    def __init__(self, channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        padding = dilation * (kernel - 1) // 2  # 'same' length with zero padding (odd kernel)
        self.norm1 = nn.BatchNorm1d(channels)
        self.conv1 = nn.Conv1d(channels, channels, kernel, dilation=dilation, padding=padding)
        self.norm2 = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(channels, channels, kernel, dilation=dilation, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.relu(self.norm1(x)))
        return x + self.conv2(F.relu(self.norm2(h)))


class DilatedCNN(SpliceModel):
    """SpliceAI-style fully convolutional classifier: 3 logits for every position.

    One-hot ACGT (N and padding are zero vectors) → 1×1 conv → residual units, with a 1×1 "skip"
    conv of the running features summed at the start, after every 4th unit and after the last
    (as SpliceAI) → 1×1 conv to 3 logits. The receptive field is ``context + 1`` positions,
    ``context // 2`` on each side; the default (k=11, dilations 1×4, 4×4) is SpliceAI-400nt.
    """

    dense: ClassVar[bool] = True

    def __init__(self, config: SpliceModelConfig) -> None:
        super().__init__(config)
        c = config.channels
        one_hot = torch.zeros(windows.VOCAB_SIZE, 4)
        one_hot[torch.arange(4), torch.arange(4)] = 1.0
        self.register_buffer("one_hot", one_hot, persistent=False)
        self.input = nn.Conv1d(4, c, 1)
        self.blocks = nn.ModuleList(_ResidualUnit(c, config.kernel, d) for d in config.dilations)
        n = len(config.dilations)
        self._skip_after = [i for i in range(n) if (i + 1) % 4 == 0 or i == n - 1]
        self.skips = nn.ModuleList(nn.Conv1d(c, c, 1) for _ in range(1 + len(self._skip_after)))
        self.output = nn.Conv1d(c, 3, 1)

    @property
    def context(self) -> int:
        """Total flank the centre logits see: ``Σ 2·(k−1)·d`` (400 for SpliceAI-400nt)."""
        return self.config.cnn_context

    def forward_dense(self, codes: torch.Tensor) -> torch.Tensor:
        if codes.dim() != 2:
            raise ValueError(f"expected (batch, length) letter codes, got {tuple(codes.shape)}")
        x = self.one_hot[codes].transpose(1, 2)  # (B, 4, T)
        x = self.input(x)
        skip = self.skips[0](x)
        taken = 1
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self._skip_after:
                skip = skip + self.skips[taken](x)
                taken += 1
        return self.output(skip).transpose(1, 2)  # (B, T, 3)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.forward_dense(codes)[:, codes.shape[1] // 2]


# -- construction and loading ----------------------------------------------------------------------


def build_splice_model(config: SpliceModelConfig) -> SpliceModel:
    """A freshly initialised model of ``config.arch`` (seed torch first for a fixed init)."""
    if config.arch == "mamba":
        return MambaClassifier(config)
    if config.arch == "mamba2":
        return BidirectionalMamba2(config)
    if config.arch == "cnn":
        return DilatedCNN(config)
    raise ModelError(f"unknown splice model arch {config.arch!r}")  # config checks this already


def read_splice_config(directory: str | Path) -> SpliceModelConfig:
    """The :class:`SpliceModelConfig` of a saved splice model directory.

    Raises:
        ModelError: the directory or its ``config.json`` is missing, unreadable or not a splice
            model's.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelError(f"{directory}: no such splice model directory")
    path, values = read_tagged_config(
        directory,
        MODEL_TYPE,
        {"genatator": " (an annotation model; splice models come from `genatator splice train`)"},
    )
    if values.get("arch") == "bpe":
        raise ModelError(
            f"{path}: a BPE-transformer splice classifier; genatator no longer carries that "
            "architecture (it never measured best, docs/splice_sites.md): train a cnn instead"
        )
    values = {k: v for k, v in values.items() if k not in _REMOVED_FIELDS}
    try:
        return SpliceModelConfig.from_dict(values)
    except ConfigError as exc:
        raise ModelError(f"{path}: {exc}") from None


def load_splice_model(directory: str | Path, device: str | torch.device = "cpu") -> SpliceModel:
    """Load a directory written by :meth:`SpliceModel.save_pretrained`, in eval mode.

    Raises:
        ModelError: the directory is missing, is not a splice model, or its weights do not
            match its config.
    """
    directory = Path(directory)
    model = build_splice_model(read_splice_config(directory))
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise ModelError(f"{directory}: no {WEIGHTS_NAME} in the splice model directory")
    try:
        state = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise ModelError(f"{weights}: cannot read weights ({exc})") from None
    load_strict(model, state, source=str(weights))
    return model.to(device).eval()


__all__ = [
    "ARCHS",
    "BidirectionalMamba2",
    "DilatedCNN",
    "MambaClassifier",
    "SpliceModel",
    "SpliceModelConfig",
    "build_splice_model",
    "load_splice_model",
    "parameter_count",
    "read_splice_config",
]
