"""The GENATATOR annotator: RMT encoder → token-to-nucleotide map → U-Net → 5 classes."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from genatator.errors import ConfigError, ModelError
from genatator.model.config import GenatatorConfig
from genatator.model.encoder import AttentionImpl, GenaEncoder
from genatator.model.files import (
    WEIGHTS_NAME,
    load_strict,
    read_tagged_config,
    write_config_and_weights,
)
from genatator.model.rmt import RecurrentMemoryEncoder
from genatator.model.unet import UNet1D, run_chunked

logger = logging.getLogger(__name__)

MODEL_TYPE = "genatator"


@dataclass
class ModelInputs:
    """A batch of windows, tokenised (see :func:`genatator.model.inputs.build_inputs`).

    Attributes:
        token_ids: B 1-D tensors of content token ids (no CLS/SEP/PAD).
        nucleotide_ids: ``(B, L)`` single-letter token id of every nucleotide (PAD beyond a
            window's length).
        nucleotide_to_token: ``(B, L)`` index of the content token covering each nucleotide, or
            -1 where no token covers it (inside a long N run, after truncation, beyond the end).
        lengths: ``(B,)`` nucleotides per window.
    """

    token_ids: list[torch.Tensor]
    nucleotide_ids: torch.Tensor
    nucleotide_to_token: torch.Tensor
    lengths: torch.Tensor

    def to(self, device: torch.device | str) -> ModelInputs:
        return ModelInputs(
            token_ids=[t.to(device) for t in self.token_ids],
            nucleotide_ids=self.nucleotide_ids.to(device),
            nucleotide_to_token=self.nucleotide_to_token.to(device),
            lengths=self.lengths.to(device),
        )


@dataclass
class ModelOutput:
    """Per-nucleotide logits of the last recycling cycle, their validity mask and the loss."""

    logits: torch.Tensor  # (B, L, num_labels); 0 where mask is False
    mask: torch.Tensor  # (B, L) bool: nucleotides that a token covers
    loss: torch.Tensor | None = None


class GenatatorModel(nn.Module):
    """Per-nucleotide 5'UTR / exon / intron / 3'UTR / CDS classifier over long DNA windows.

    The encoder reads the window's BPE tokens through a Recurrent Memory Transformer; each token's
    final state is copied to every nucleotide it covers, concatenated with a learned nucleotide
    embedding (2H features), refined by a 1-D U-Net for ``unet.cycles`` cycles
    (``x ← x + z``) and classified by one linear layer.

    Where this differs from the authors' code (GENATATOR, Shmelev et al.):

    1. Nucleotides covered by no token (inside long N runs) stay in place with a zero token state
       instead of being removed from the U-Net input, so convolutions see true genomic distances;
       they are masked out of the loss and their logits are 0.
    2. RMT samples run as a batch (right-aligned over steps), not only one at a time; each
       sample's result is the same as when run alone.
    3. The memory update is out of place (no in-place write into a graph tensor).
    """

    def __init__(self, config: GenatatorConfig, *, attn_impl: AttentionImpl = "sdpa") -> None:
        super().__init__()
        self.config = config
        vocab = config.encoder.vocab_size
        hidden = config.encoder.hidden_size
        # The encoder gets its own config copy: its table grows by the memory rows, while the
        # model config keeps the tokenizer's vocabulary size.
        encoder = GenaEncoder(dataclasses.replace(config.encoder), attn_impl=attn_impl)
        # Memory tokens are extra embedding rows V..V+M-1 (the layout of GENATATOR checkpoints).
        encoder.resize_token_embeddings(vocab + config.memory.num_mem_tokens)
        self.memory_encoder = RecurrentMemoryEncoder(
            encoder,
            config.memory,
            cls_token_id=config.cls_token_id,
            sep_token_id=config.sep_token_id,
            pad_token_id=config.pad_token_id,
            mem_token_start=vocab,
        )
        # Unit-variance letter embeddings (nn.Embedding's default, as GENATATOR): the letters
        # carry the splice motifs and must not start drowned by the token states.
        self.nucleotide_embedding = nn.Embedding(vocab, hidden)
        self.unet = UNet1D(
            2 * hidden,
            config.unet.resolved_channels(hidden),
            output_block=config.unet.output_block,
        )
        self.classifier = nn.Linear(2 * hidden, config.num_labels)

    @property
    def encoder(self) -> GenaEncoder:
        return self.memory_encoder.encoder

    def forward(
        self,
        inputs: ModelInputs,
        *,
        labels: torch.Tensor | None = None,
        label_mask: torch.Tensor | None = None,
        channel_mask: torch.Tensor | None = None,
    ) -> ModelOutput:
        """Predict per-nucleotide logits; with ``labels`` also the masked multi-label BCE loss.

        Args:
            inputs: the tokenised windows.
            labels: ``(B, L, num_labels)`` 0/1 targets.
            label_mask: ``(B, L)`` bool, which nucleotides count in the loss (default: the covered
                ones). Always intersected with the covered nucleotides.
            channel_mask: ``(B, num_labels)`` bool, which classes each window's annotation
                defines (default: all); undefined classes add nothing to the loss.

        Returns:
            ModelOutput; ``loss`` is the BCE summed over valid (nucleotide, class) elements and
            recycling cycles, divided by the valid element count times the cycles.
        """
        token_states = self.memory_encoder(inputs.token_ids).hidden  # (B, T, H)
        letters = self.nucleotide_embedding(inputs.nucleotide_ids)
        device_type = token_states.device.type
        if torch.is_autocast_enabled(device_type):
            # Build the per-nucleotide features (the largest tensors of a step) in the autocast
            # dtype: the U-Net would cast them anyway, and fp32 copies of them cost more than
            # the convolutions' arithmetic on a CPU.
            work = torch.get_autocast_dtype(device_type)
            token_states, letters = token_states.to(work), letters.to(work)
        covered = inputs.nucleotide_to_token >= 0  # (B, L)
        index = inputs.nucleotide_to_token.clamp(min=0)
        # (B, T, H) -> (B, L, H): each nucleotide takes its covering token's state.
        repeated = torch.gather(
            token_states, 1, index.unsqueeze(-1).expand(-1, -1, token_states.shape[-1])
        )
        repeated = repeated * covered.unsqueeze(-1).to(repeated.dtype)
        features = torch.cat([letters, repeated], dim=-1)

        lengths = inputs.lengths.tolist()
        # unbind, not one select per row: each select's backward would allocate a zero tensor
        # the size of the whole batch (measured: a quarter of a CPU training step at batch 4).
        x = [row[:n] for row, n in zip(features.unbind(0), lengths)]  # B × (L_b, 2H)
        mask = covered.clone()
        if labels is not None:
            mask_loss = covered if label_mask is None else covered & label_mask.bool()
            element_mask = mask_loss.unsqueeze(-1).expand(-1, -1, self.config.num_labels)
            if channel_mask is not None:
                element_mask = element_mask & channel_mask.bool().unsqueeze(1)
            denominator = element_mask.sum() * self.config.unet.cycles
            loss = features.new_zeros((), dtype=torch.float32)  # summed in fp32 under autocast
        logits = None
        for _ in range(self.config.unet.cycles):
            z = [F.silu(out) for out in run_chunked(self.unet, x, self.config.unet.chunk_size)]
            logits = self._pad(
                [self.classifier(zb) for zb in z], features.shape[1], self.config.num_labels
            )
            if labels is not None:
                element = F.binary_cross_entropy_with_logits(
                    logits, labels.to(logits.dtype), reduction="none"
                )
                loss = loss + (element * element_mask).sum()
            x = [xb + zb for xb, zb in zip(x, z)]
        assert logits is not None  # cycles >= 1 is enforced by UNetConfig
        logits = logits * mask.unsqueeze(-1).to(logits.dtype)
        if labels is None:
            return ModelOutput(logits=logits, mask=mask)
        return ModelOutput(logits=logits, mask=mask, loss=loss / denominator.clamp(min=1))

    @staticmethod
    def _pad(rows: list[torch.Tensor], length: int, channels: int) -> torch.Tensor:
        out = rows[0].new_zeros(len(rows), length, channels)
        for b, row in enumerate(rows):
            out[b, : row.shape[0]] = row
        return out

    # -- persistence ---------------------------------------------------------------------------

    def save_pretrained(self, directory: str | Path) -> None:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (each atomically)."""
        write_config_and_weights(directory, MODEL_TYPE, self.config.to_dict(), self)

    @classmethod
    def from_pretrained(
        cls,
        directory: str | Path,
        *,
        attn_impl: AttentionImpl = "sdpa",
        map_location: str | torch.device = "cpu",
    ) -> GenatatorModel:
        """Load a model directory written by :meth:`save_pretrained` (a bundle's name or a hub
        id is first made a directory by :func:`genatator.model.files.resolve_model_dir`).

        Raises:
            ModelError: the directory is missing, not a genatator model, or its weights do not
                match its config.
        """
        directory = Path(directory)
        config = read_model_config(directory)
        model = cls(config, attn_impl=attn_impl)
        weights_path = directory / WEIGHTS_NAME
        if not weights_path.is_file():
            raise ModelError(f"{directory}: no {WEIGHTS_NAME} in the model directory")
        try:
            state = load_file(str(weights_path), device=str(map_location))
        except Exception as exc:  # safetensors raises its own error types for corrupt files
            raise ModelError(f"{weights_path}: cannot read weights ({exc})") from None
        load_strict(model, state, source=str(weights_path))
        return model.eval()


def read_model_config(directory: Path) -> GenatatorConfig:
    """Read and validate a genatator ``config.json``."""
    path, values = read_tagged_config(
        directory,
        MODEL_TYPE,
        {
            "bert": " (a GENA-LM backbone? pass it as --backbone)",
            "genatator-splice": " (a splice-site model: pass it as --splice-model)",
        },
    )
    try:
        return GenatatorConfig.from_dict(values)
    except (ConfigError, TypeError) as exc:
        raise ModelError(f"{path}: {exc}") from None


__all__ = ["GenatatorModel", "ModelInputs", "ModelOutput", "read_model_config"]
