"""Test helpers shared by several test modules (data builders, not fixtures)."""

from __future__ import annotations

import json

import numpy as np
import torch
from safetensors.torch import save_file

from genatator.model import GenaEncoder


def random_dna(length: int, seed: int) -> str:
    """Deterministic uniform ACGT sequence."""
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list("ACGT"), size=length))


def write_fake_gena_checkpoint(
    directory, encoder: GenaEncoder, *, fmt: str, explicit_lastln: bool, extra: dict | None = None
):
    """A checkpoint folder shaped like GENA-LM's hub repos, built from our own random encoder."""
    directory.mkdir(parents=True, exist_ok=True)
    cfg = encoder.config
    hf = {
        "model_type": "bert",
        "architectures": ["BertForMaskedLM"],
        "auto_map": {"AutoModel": "modeling_bert.BertForMaskedLM"},
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "intermediate_size": cfg.intermediate_size,
        "max_position_embeddings": cfg.max_position_embeddings,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 3,
        "pre_layer_norm": True,
        "hidden_act": "gelu",
    }
    if explicit_lastln:
        hf["last_layer_norm"] = cfg.last_layer_norm
    (directory / "config.json").write_text(json.dumps(hf))
    state = {f"bert.{k}": v.clone() for k, v in encoder.state_dict().items()}
    state["bert.embeddings.position_ids"] = torch.arange(cfg.max_position_embeddings)[None]
    state["cls.predictions.bias"] = torch.zeros(cfg.vocab_size)
    state["cls.predictions.decoder.weight"] = state["bert.embeddings.word_embeddings.weight"]
    state.update(extra or {})
    if fmt == "bin":
        torch.save(state, directory / "pytorch_model.bin")
    else:
        save_file(
            {k: v.contiguous().clone() for k, v in state.items()},
            str(directory / "model.safetensors"),
        )
