"""Recurrent Memory Transformer: reads long token sequences segment by segment through memory.

Encoder-style RMT as in GENA-LM/GENATATOR: every segment is ``[CLS] m1..mM [SEP] chunk [SEP]``;
memory is read and written at positions 1..M; the initial memory is M extra rows of the word
embedding table (ids V..V+M-1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from genatator.model.config import MemoryConfig
from genatator.model.encoder import GenaEncoder


def balanced_chunks(length: int, capacity: int) -> list[int]:
    """Sizes of ``ceil(length / capacity)`` near-equal chunks of a ``length``-token sequence.

    Matches ``torch.chunk``: every part has ``ceil(length / n)`` tokens except a shorter last one
    (600 tokens, capacity 499 → [300, 300]; 1000 → [334, 334, 332]). Not a greedy fill.
    """
    if length <= 0:
        raise ValueError("an RMT input needs at least one content token")
    n = math.ceil(length / capacity)
    size = math.ceil(length / n)
    sizes = [size] * (length // size)
    if length % size:
        sizes.append(length % size)
    return sizes


@dataclass
class MemoryEncoderOutput:
    """Per-token states of a batch of content sequences."""

    hidden: torch.Tensor  # (B, T_max, H): one final-layer vector per content token, zero-padded
    mask: torch.Tensor  # (B, T_max) bool: True on real content tokens
    segment_hidden: torch.Tensor | None = None  # (B, steps*S, H) every segment position, if asked
    segment_mask: torch.Tensor | None = None  # (B, steps*S) content positions within those


class RecurrentMemoryEncoder(nn.Module):
    """Wraps a :class:`GenaEncoder` whose word-embedding table already holds the M memory rows.

    Args:
        encoder: the backbone; rows ``mem_token_start .. mem_token_start+M-1`` are the memory.
        config: memory settings (M, segment size S, BPTT depth).
        cls_token_id, sep_token_id, pad_token_id: special-token ids of the tokenizer.
        mem_token_start: id of the first memory token (the tokenizer's vocabulary size V).
    """

    def __init__(
        self,
        encoder: GenaEncoder,
        config: MemoryConfig,
        *,
        cls_token_id: int,
        sep_token_id: int,
        pad_token_id: int,
        mem_token_start: int,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = config
        self.cls_token_id = cls_token_id
        self.sep_token_id = sep_token_id
        self.pad_token_id = pad_token_id
        self.mem_token_start = mem_token_start
        rows = encoder.get_input_embeddings().num_embeddings
        if rows != mem_token_start + config.num_mem_tokens:
            raise ValueError(
                f"word embeddings have {rows} rows; expected {mem_token_start} "
                f"vocabulary + {config.num_mem_tokens} memory rows"
            )

    def initial_memory(self) -> torch.Tensor:
        """The trainable initial memory, ``(M, H)``."""
        table = self.encoder.get_input_embeddings().weight
        return table[self.mem_token_start : self.mem_token_start + self.config.num_mem_tokens]

    def content_from_padded(self, input_ids: torch.Tensor) -> list[torch.Tensor]:
        """Drop CLS, SEP and PAD by id from each row of a padded ``(B, T)`` batch."""
        special = torch.tensor(
            [self.cls_token_id, self.sep_token_id, self.pad_token_id], device=input_ids.device
        )
        return [row[~torch.isin(row, special)] for row in input_ids]

    def forward(
        self, contents: list[torch.Tensor], *, return_segments: bool = False
    ) -> MemoryEncoderOutput:
        """Encode variable-length content sequences (no CLS/SEP/PAD) through the memory recurrence.

        Samples are right-aligned over steps: a sample with k segments joins at step
        ``steps - k`` with the initial memory, so its result does not depend on batch composition.
        Each step runs only the active samples as one compact batch.

        Args:
            contents: B 1-D tensors of content token ids.
            return_segments: also return every segment position's state and the content mask in
                segment layout (for checking against the reference implementation).
        """
        cfg = self.config
        capacity, num_mem, seg_len = cfg.content_per_segment, cfg.num_mem_tokens, cfg.segment_size
        contents = [c[: capacity * cfg.max_segments] for c in contents]
        chunk_sizes = [balanced_chunks(len(c), capacity) for c in contents]
        splits = [list(torch.split(c, sizes)) for c, sizes in zip(contents, chunk_sizes)]
        n_segments = [len(s) for s in splits]
        steps = max(n_segments)
        batch = len(contents)
        table = self.encoder.get_input_embeddings()
        device = table.weight.device
        hidden_size = table.embedding_dim

        memory = self.initial_memory().unsqueeze(0).expand(batch, -1, -1)  # (B, M, H)
        outputs: list[list[torch.Tensor]] = [[] for _ in range(batch)]
        segment_hidden: list[torch.Tensor] = []
        segment_mask: list[torch.Tensor] = []
        first = num_mem + 2  # content starts after [CLS] mem×M [SEP]

        for step in range(steps):
            if cfg.bptt_depth > -1 and steps - step > cfg.bptt_depth:
                memory = memory.detach()
            active = [b for b in range(batch) if n_segments[b] >= steps - step]
            chunks = [splits[b][step - (steps - n_segments[b])] for b in active]
            longest = max(len(c) for c in chunks)
            # One active row needs no padding; several are padded to S (right padding, masked).
            width = first + longest + 1 if len(active) == 1 else seg_len
            ids = torch.full(
                (len(active), width), self.pad_token_id, dtype=torch.long, device=device
            )
            ids[:, 0] = self.cls_token_id
            ids[:, 1 : 1 + num_mem] = torch.arange(
                self.mem_token_start, self.mem_token_start + num_mem, device=device
            )
            ids[:, 1 + num_mem] = self.sep_token_id
            for row, chunk in enumerate(chunks):
                ids[row, first : first + len(chunk)] = chunk
                ids[row, first + len(chunk)] = self.sep_token_id
            attention = ids != self.pad_token_id
            active_index = torch.tensor(active, device=device)
            embeds = table(ids)  # (A, width, H)
            embeds = torch.cat(
                [embeds[:, :1], memory[active_index], embeds[:, 1 + num_mem :]], dim=1
            )
            hidden = self.encoder(inputs_embeds=embeds, attention_mask=attention)  # (A, width, H)
            memory = memory.index_copy(0, active_index, hidden[:, 1 : 1 + num_mem])
            for row, b, chunk in zip(hidden.unbind(0), active, chunks, strict=True):
                outputs[b].append(row[first : first + len(chunk)])
            if return_segments:
                full = hidden.new_zeros(batch, seg_len, hidden_size)
                full[active_index, :width] = hidden
                mask = torch.zeros(batch, seg_len, dtype=torch.bool, device=device)
                for b, chunk in zip(active, chunks):
                    mask[b, first : first + len(chunk)] = True
                segment_hidden.append(full)
                segment_mask.append(mask)

        lengths = [sum(len(c) for c in s) for s in splits]
        hidden_out = table.weight.new_zeros(batch, max(lengths), hidden_size)
        token_mask = torch.zeros(batch, max(lengths), dtype=torch.bool, device=device)
        for b in range(batch):
            hidden_out[b, : lengths[b]] = torch.cat(outputs[b])
            token_mask[b, : lengths[b]] = True
        return MemoryEncoderOutput(
            hidden=hidden_out,
            mask=token_mask,
            segment_hidden=torch.cat(segment_hidden, dim=1) if return_segments else None,
            segment_mask=torch.cat(segment_mask, dim=1) if return_segments else None,
        )
