"""GENA-LM-compatible pre-layer-norm BERT encoder (SDPA attention, flash-attn varlen on GPU).

Submodule attribute paths equal GENA-LM checkpoint key names (minus ``bert.``), so a GENA state
dict loads with ``load_state_dict(strict=True)`` and no rename table.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from genatator.model.config import EncoderConfig

try:  # flash-attn is an optional GPU extra; SDPA is the portable default.
    from flash_attn import flash_attn_varlen_func
except ImportError:  # pragma: no cover - depends on the installation
    flash_attn_varlen_func = None

AttentionImpl = Literal["sdpa", "eager", "flash"]


def flash_attention_available() -> bool:
    return flash_attn_varlen_func is not None and torch.cuda.is_available()


class Embeddings(nn.Module):
    """Word + token-type + absolute position embeddings, then LayerNorm (present even in pre-LN)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(
            config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id
        )
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, inputs_embeds: torch.Tensor) -> torch.Tensor:
        length = inputs_embeds.shape[1]
        positions = torch.arange(length, device=inputs_embeds.device)
        # GENA/GENATATOR always use token type 0; positions restart at 0 in every call.
        x = (
            inputs_embeds
            + self.token_type_embeddings.weight[0]
            + self.position_embeddings(positions)
        )
        return self.dropout(self.LayerNorm(x))


class SelfAttentionProjections(nn.Module):
    """Separate query/key/value projections (kept apart so GENA checkpoints load unchanged)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)


class DenseProjection(nn.Module):
    """A single ``dense`` linear layer (GENA's attention.output / intermediate / output)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.dense = nn.Linear(in_features, out_features)


class Attention(nn.Module):
    """Multi-head self-attention with a key-padding mask; no LayerNorm inside (pre-LN model)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.self = SelfAttentionProjections(config)
        self.output = DenseProjection(config.hidden_size, config.hidden_size)
        self.num_heads = config.num_attention_heads
        self.head_dim = config.head_dim
        self.dropout_p = config.attention_dropout
        self.hidden_dropout = nn.Dropout(config.hidden_dropout)

    def forward(
        self, h: torch.Tensor, key_mask: torch.Tensor | None, impl: AttentionImpl
    ) -> torch.Tensor:
        batch, length, hidden = h.shape
        dropout_p = self.dropout_p if self.training else 0.0
        q, k, v = (proj(h) for proj in (self.self.query, self.self.key, self.self.value))
        if (
            impl == "flash"
            and h.is_cuda
            and flash_attn_varlen_func is not None
            and h.dtype in (torch.float16, torch.bfloat16)
        ):
            context = self._flash_varlen(q, k, v, key_mask, dropout_p)
        else:
            # (B, T, H) -> (B, heads, T, head_dim)
            q, k, v = (
                t.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)
                for t in (q, k, v)
            )
            mask = None if key_mask is None else key_mask[:, None, None, :]  # (B, 1, 1, T)
            if impl == "eager":
                scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
                if mask is not None:
                    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
                probs = F.dropout(scores.softmax(dim=-1), p=dropout_p, training=self.training)
                context = probs @ v
            else:
                context = F.scaled_dot_product_attention(
                    q, k, v, attn_mask=mask, dropout_p=dropout_p
                )
            context = context.transpose(1, 2).reshape(batch, length, hidden)
        return self.hidden_dropout(self.output.dense(context))

    def _flash_varlen(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        key_mask: torch.Tensor | None,
        dropout_p: float,
    ) -> torch.Tensor:
        """Unpad the batch and run flash-attn's variable-length kernel (padding is at the end)."""
        batch, length, hidden = q.shape
        if key_mask is None:
            key_mask = torch.ones(batch, length, dtype=torch.bool, device=q.device)
        lengths = key_mask.sum(dim=1, dtype=torch.int32)
        cu_seqlens = F.pad(lengths.cumsum(0, dtype=torch.int32), (1, 0))
        flat = key_mask.reshape(-1)
        q, k, v = (
            t.reshape(batch * length, self.num_heads, self.head_dim)[flat] for t in (q, k, v)
        )
        out = flash_attn_varlen_func(
            q,
            k,
            v,
            cu_seqlens,
            cu_seqlens,
            int(lengths.max()),
            int(lengths.max()),
            dropout_p=dropout_p,
            softmax_scale=1.0 / math.sqrt(self.head_dim),
        )
        context = q.new_zeros(batch * length, self.num_heads, self.head_dim)
        context[flat] = out
        return context.view(batch, length, hidden)


class EncoderLayer(nn.Module):
    """One pre-LN transformer layer: x + Attn(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.pre_attention_ln = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attention = Attention(config)
        self.post_attention_ln = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.intermediate = DenseProjection(config.hidden_size, config.intermediate_size)
        self.output = DenseProjection(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(
        self, x: torch.Tensor, key_mask: torch.Tensor | None, impl: AttentionImpl
    ) -> torch.Tensor:
        x = x + self.attention(self.pre_attention_ln(x), key_mask, impl)
        ffn = self.output.dense(F.gelu(self.intermediate.dense(self.post_attention_ln(x))))
        return x + self.dropout(ffn)


class LayerStack(nn.Module):
    """The layers plus the optional final LayerNorm (GENA's ``encoder`` submodule)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(EncoderLayer(config) for _ in range(config.num_hidden_layers))
        self.last_layer_ln = (
            nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
            if config.last_layer_norm
            else None
        )


class GenaEncoder(nn.Module):
    """GENA-LM BERT encoder returning the final (post-final-LN) hidden state.

    Args:
        config: encoder hyper-parameters.
        attn_impl: ``"sdpa"`` (default, any device), ``"eager"`` (reference matmul-softmax) or
            ``"flash"`` (flash-attn varlen on CUDA in fp16/bf16; falls back to SDPA elsewhere).
    """

    def __init__(self, config: EncoderConfig, *, attn_impl: AttentionImpl = "sdpa") -> None:
        super().__init__()
        self.config = config
        self.attn_impl: AttentionImpl = attn_impl
        self.gradient_checkpointing = False
        self.embeddings = Embeddings(config)
        self.encoder = LayerStack(config)
        self.apply(self._init_weights)
        # Pre-LN residual projections get a depth-scaled init, as in GENA's training setup.
        scaled_std = 0.02 / math.sqrt(2 * config.num_hidden_layers)
        for layer in self.encoder.layer:
            nn.init.normal_(layer.attention.output.dense.weight, std=scaled_std)
            nn.init.normal_(layer.output.dense.weight, std=scaled_std)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def resize_token_embeddings(
        self, new_size: int, *, generator: torch.Generator | None = None
    ) -> None:
        """Grow (or shrink) the word-embedding table; new rows start near the mean of the old rows.

        New rows are the old rows' mean plus a small Gaussian jitter (1% of the per-dimension
        spread), so memory tokens begin as "average" tokens but are not identical.
        """
        old = self.embeddings.word_embeddings
        old_size = old.num_embeddings
        if new_size == old_size:
            return
        table = nn.Embedding(
            new_size,
            old.embedding_dim,
            padding_idx=old.padding_idx,
            device=old.weight.device,
            dtype=old.weight.dtype,
        )
        with torch.no_grad():
            keep = min(old_size, new_size)
            table.weight[:keep] = old.weight[:keep]
            if new_size > old_size:
                mean = old.weight.mean(dim=0)
                spread = old.weight.std(dim=0)
                noise = torch.randn(
                    new_size - old_size,
                    old.embedding_dim,
                    generator=generator,
                    dtype=old.weight.dtype,
                ).to(old.weight.device)
                table.weight[old_size:] = mean + 0.01 * spread * noise
        self.embeddings.word_embeddings = table
        self.config.vocab_size = new_size

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        *,
        inputs_embeds: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Encode a batch.

        Args:
            input_ids: ``(B, T)`` token ids (or give ``inputs_embeds``).
            inputs_embeds: ``(B, T, H)`` word embeddings replacing the lookup (used by the RMT).
            attention_mask: ``(B, T)``, 1/True for real tokens; None means all real.

        Returns:
            ``(B, T, H)`` last hidden state (after the final LayerNorm when the model has one).
        """
        if inputs_embeds is None:
            if input_ids is None:
                raise ValueError("give input_ids or inputs_embeds")
            inputs_embeds = self.embeddings.word_embeddings(input_ids)
        key_mask = None
        if attention_mask is not None:
            key_mask = attention_mask.bool()
            if bool(key_mask.all()):
                key_mask = None  # lets SDPA pick its fastest (flash) kernel on GPU
        x = self.embeddings(inputs_embeds)
        for layer in self.encoder.layer:
            if self.gradient_checkpointing and self.training:
                x = checkpoint(layer, x, key_mask, self.attn_impl, use_reentrant=False)
            else:
                x = layer(x, key_mask, self.attn_impl)
        if self.encoder.last_layer_ln is not None:
            x = self.encoder.last_layer_ln(x)
        return x
