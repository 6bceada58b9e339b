"""Turn DNA windows into model inputs: content tokens, letter ids and the nucleotide→token map."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from genatator.model.genatator import ModelInputs
from genatator.tokenizer import DnaTokenizer, nucleotide_to_token_map


def build_inputs(
    tokenizer: DnaTokenizer, sequences: Sequence[str], *, max_tokens: int
) -> ModelInputs:
    """Tokenise a batch of windows for :class:`~genatator.model.GenatatorModel`.

    Args:
        tokenizer: the model's tokenizer.
        sequences: B upper-case ACGTN windows (lengths may differ; none empty).
        max_tokens: content tokens kept per window (``GenatatorConfig.max_tokens``); nucleotides
            past the last kept token get no token (map value -1) and no prediction.

    Returns:
        ModelInputs whose ``(B, L)`` tensors are padded to the longest window (letter id PAD,
        map -1).
    """
    if not sequences or any(len(s) == 0 for s in sequences):
        raise ValueError("build_inputs needs at least one window and no empty window")
    encodings = tokenizer.encode_batch(list(sequences), max_tokens=max_tokens)
    longest = max(len(s) for s in sequences)
    letters = np.full((len(sequences), longest), tokenizer.pad_id, dtype=np.int64)
    token_map = np.full((len(sequences), longest), -1, dtype=np.int64)
    for row, (sequence, encoding) in enumerate(zip(sequences, encodings)):
        letters[row, : len(sequence)] = tokenizer.nucleotide_ids(sequence)
        token_map[row, : len(sequence)] = nucleotide_to_token_map(encoding.offsets, len(sequence))
    return ModelInputs(
        token_ids=[torch.from_numpy(e.ids) for e in encodings],
        nucleotide_ids=torch.from_numpy(letters),
        nucleotide_to_token=torch.from_numpy(token_map),
        lengths=torch.tensor([len(s) for s in sequences], dtype=torch.long),
    )
