"""GENA-LM encoder weights: read from a checkpoint (a directory, a bundle or a hub id) and loaded
into genatator's encoder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from genatator.errors import ConfigError, ModelError
from genatator.model.config import EncoderConfig
from genatator.model.encoder import GenaEncoder
from genatator.model.files import load_strict, resolve_model_dir
from genatator.model.genatator import GenatatorModel

#: Prefixes under which GENA-LM encoder weights appear: GENA MLM checkpoints, GENATATOR RMT and
#: U-Net checkpoints, and genatator's own model directories.
_ENCODER_PREFIXES = (
    "bert.",
    "model.encoder.",
    "hidden_backbone.encoder.",
    "memory_encoder.encoder.",
)
_DROPPED = re.compile(r"^(cls\.|pooler\.)|position_ids$")


def normalise_encoder_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip known prefixes and drop MLM-head, pooler and position-id entries.

    Keys of other model parts (U-Net, classifier, nucleotide embedding) are dropped when the
    encoder keys carry a prefix; unprefixed unknown keys are kept so strict loading reports them.
    """
    prefixed = any(k.startswith(_ENCODER_PREFIXES) for k in state)
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        for prefix in _ENCODER_PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
                break
        else:
            if prefixed:
                continue
        if _DROPPED.search(key):
            continue
        out[key] = tensor
    return out


def read_gena_checkpoint(name_or_path: str | Path) -> tuple[EncoderConfig, dict[str, torch.Tensor]]:
    """Read a GENA-LM checkpoint directory: its encoder config and encoder weights.

    Prefers ``model.safetensors`` and falls back to ``pytorch_model.bin`` (loaded with
    ``weights_only=True``). Accepts keys with or without ``bert.``; the final-LayerNorm flag is
    decided by the weights and must agree with an explicit ``last_layer_norm`` in the config.

    Raises:
        ModelError: missing files, unsupported architecture, or config/weights disagreement.
    """
    directory = resolve_model_dir(name_or_path)
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise ModelError(f"{directory}: no config.json (not a GENA-LM checkpoint directory)")
    try:
        hf_config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:  # cut short, or binary
        raise ModelError(f"{config_path}: not valid JSON ({exc})") from None
    if not isinstance(hf_config, dict):
        raise ModelError(f"{config_path}: not a GENA-LM config (not a JSON object)")
    try:
        config = EncoderConfig.from_hf_dict(hf_config)
    except ConfigError as exc:
        raise ModelError(f"{config_path}: {exc}") from None

    safetensors_path, bin_path = directory / "model.safetensors", directory / "pytorch_model.bin"
    try:
        if safetensors_path.is_file():
            from safetensors.torch import load_file

            raw = load_file(str(safetensors_path))
        elif bin_path.is_file():
            raw = torch.load(bin_path, map_location="cpu", weights_only=True)
        else:
            raise ModelError(f"{directory}: no model.safetensors or pytorch_model.bin")
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"{directory}: cannot read the weights ({exc})") from None
    state = normalise_encoder_keys(raw)

    has_final_ln = "encoder.last_layer_ln.weight" in state
    if "last_layer_norm" in hf_config and bool(hf_config["last_layer_norm"]) != has_final_ln:
        raise ModelError(
            f"{config_path}: last_layer_norm is {hf_config['last_layer_norm']} but the weights "
            f"{'have' if has_final_ln else 'lack'} encoder.last_layer_ln"
        )
    config.last_layer_norm = has_final_ln
    return config, state


def load_gena_encoder(name_or_path: str | Path) -> GenaEncoder:
    """A :class:`GenaEncoder` with a GENA-LM checkpoint's weights, loaded strictly."""
    config, state = read_gena_checkpoint(name_or_path)
    encoder = GenaEncoder(config)
    load_strict(encoder, state, source=str(name_or_path))
    return encoder.eval()


def init_from_gena(model: GenatatorModel, name_or_path: str | Path) -> None:
    """Initialise ``model``'s encoder from GENA-LM weights (fine-tuning start, as in the paper).

    Every encoder tensor is copied; the memory-token rows beyond the checkpoint's vocabulary keep
    their mean-based initialisation, re-centred on the loaded vocabulary.

    Raises:
        ModelError: the checkpoint's shape differs from the model's encoder.
    """
    config, state = read_gena_checkpoint(name_or_path)
    ours = model.config.encoder
    for field in (
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "max_position_embeddings",
        "last_layer_norm",
        "layer_norm_eps",
    ):
        if getattr(config, field) != getattr(ours, field):
            raise ModelError(
                f"{name_or_path}: backbone {field} is {getattr(config, field)}, the model's is "
                f"{getattr(ours, field)}"
            )
    encoder = model.encoder
    table = state.get("embeddings.word_embeddings.weight")
    if table is None:
        raise ModelError(f"{name_or_path}: weights lack embeddings.word_embeddings.weight")
    vocab = table.shape[0]
    current = encoder.get_input_embeddings().weight.detach()
    memory_rows = current[vocab:] - current[:vocab].mean(dim=0) + table.mean(dim=0)
    state = dict(state)
    state["embeddings.word_embeddings.weight"] = torch.cat([table, memory_rows.to(table.dtype)])
    load_strict(encoder, state, source=str(name_or_path))
