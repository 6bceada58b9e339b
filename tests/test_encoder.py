"""GENA-LM encoder: golden outputs, attention paths, and checkpoint loading."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import write_fake_gena_checkpoint
from safetensors import safe_open
from safetensors.torch import load_file

from genatator.errors import ConfigError, ModelError
from genatator.model import EncoderConfig, GenaEncoder
from genatator.model.checkpoints import load_gena_encoder, normalise_encoder_keys

TINY = EncoderConfig(
    vocab_size=50,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=32,
    hidden_dropout=0.0,
    attention_dropout=0.0,
)


def golden(path, tag):
    tensors = load_file(str(path))
    with safe_open(str(path), "pt") as handle:
        configs = json.loads(handle.metadata()["configs"])
    prefix = f"{tag}.weights."
    weights = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    return configs, weights, tensors


@pytest.mark.parametrize("tag", ["nolastln", "lastln"])
@pytest.mark.parametrize("impl", ["sdpa", "eager"])
def test_reproduces_gena_golden_outputs(golden_fixture, tag, impl):
    configs, weights, tensors = golden(golden_fixture, tag)
    config = EncoderConfig.from_hf_dict(configs[tag])
    assert config.last_layer_norm == (tag == "lastln")
    encoder = GenaEncoder(config, attn_impl=impl).eval()
    encoder.load_state_dict(weights, strict=True)
    with torch.no_grad():
        out = encoder(tensors[f"{tag}.input_ids"], attention_mask=tensors[f"{tag}.attention_mask"])
    torch.testing.assert_close(out, tensors[f"{tag}.expected_last_hidden_state"], atol=1e-5, rtol=0)


def test_sdpa_and_eager_agree_and_padding_does_not_change_real_tokens():
    torch.manual_seed(0)
    encoder = GenaEncoder(TINY).eval()
    ids = torch.randint(6, 50, (1, 9))
    padded = torch.cat([ids, torch.full((1, 5), 3)], dim=1)
    mask = torch.cat([torch.ones(1, 9), torch.zeros(1, 5)], dim=1)
    with torch.no_grad():
        alone = encoder(ids)
        sdpa = encoder(padded, attention_mask=mask)
        encoder.attn_impl = "eager"
        eager = encoder(padded, attention_mask=mask)
    torch.testing.assert_close(sdpa, eager, atol=1e-6, rtol=0)
    torch.testing.assert_close(sdpa[:, :9], alone, atol=1e-6, rtol=0)


def test_hf_config_rules():
    base = {
        "vocab_size": 10,
        "hidden_size": 8,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 16,
        "pre_layer_norm": True,
    }
    assert EncoderConfig.from_hf_dict(base).last_layer_norm is True  # missing ⇒ pre_layer_norm
    assert EncoderConfig.from_hf_dict({**base, "last_layer_norm": False}).last_layer_norm is False
    with pytest.raises(ConfigError, match="pre-layer-norm"):
        EncoderConfig.from_hf_dict({**base, "pre_layer_norm": False})
    with pytest.raises(ConfigError, match="sparse"):
        EncoderConfig.from_hf_dict({**base, "sparse_config_cls": "x"})
    with pytest.raises(ConfigError, match="rotary"):
        EncoderConfig.from_hf_dict({**base, "position_embedding_type": "rotary"})
    with pytest.raises(ConfigError, match="divisible"):
        EncoderConfig(hidden_size=10, num_attention_heads=3)


@pytest.mark.parametrize("fmt", ["bin", "safetensors"])
@pytest.mark.parametrize("last_layer_norm", [True, False])
def test_loads_gena_style_checkpoint_directory(tmp_path, fmt, last_layer_norm):
    torch.manual_seed(1)
    config = EncoderConfig(
        **{**TINY.__dict__, "layer_norm_eps": 1e-12, "last_layer_norm": last_layer_norm}
    )
    source = GenaEncoder(config).eval()
    write_fake_gena_checkpoint(tmp_path / "gena", source, fmt=fmt, explicit_lastln=False)
    loaded = load_gena_encoder(tmp_path / "gena")
    assert loaded.config.last_layer_norm is last_layer_norm
    ids = torch.randint(6, 50, (2, 7))
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids), source(ids), atol=0, rtol=0)


def test_loader_rejects_disagreeing_final_layer_norm(tmp_path):
    source = GenaEncoder(EncoderConfig(**{**TINY.__dict__, "last_layer_norm": False}))
    write_fake_gena_checkpoint(tmp_path / "gena", source, fmt="bin", explicit_lastln=False)
    config = json.loads((tmp_path / "gena" / "config.json").read_text())
    config["last_layer_norm"] = True
    (tmp_path / "gena" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="last_layer_norm is True but the weights lack"):
        load_gena_encoder(tmp_path / "gena")


def test_loader_is_strict_about_unknown_and_missing_keys(tmp_path):
    source = GenaEncoder(TINY)
    write_fake_gena_checkpoint(
        tmp_path / "extra",
        source,
        fmt="bin",
        explicit_lastln=True,
        extra={"bert.encoder.layer.0.attention.output.LayerNorm.weight": torch.ones(32)},
    )
    with pytest.raises(ModelError, match=r"unexpected encoder\.layer\.0\.attention\.output\.Layer"):
        load_gena_encoder(tmp_path / "extra")
    state = {
        f"bert.{k}": v
        for k, v in source.state_dict().items()
        if not k.startswith("encoder.layer.1.")
    }
    (tmp_path / "missing").mkdir()
    (tmp_path / "missing" / "config.json").write_text(
        (tmp_path / "extra" / "config.json").read_text()
    )
    torch.save(state, tmp_path / "missing" / "pytorch_model.bin")
    with pytest.raises(ModelError, match=r"missing encoder\.layer\.1\."):
        load_gena_encoder(tmp_path / "missing")


def test_loader_errors_name_the_problem(tmp_path):
    with pytest.raises(ModelError, match="no such model directory"):
        load_gena_encoder(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"no config\.json"):
        load_gena_encoder(tmp_path / "empty")


def test_key_normalisation_strips_prefixes_and_drops_heads():
    state = {
        "bert.embeddings.position_ids": torch.zeros(1),
        "bert.encoder.x": torch.zeros(1),
        "cls.predictions.bias": torch.zeros(1),
        "model.encoder.pooler.dense.weight": torch.zeros(1),
        "fc.weight": torch.zeros(1),
    }
    assert sorted(normalise_encoder_keys(state)) == ["encoder.x"]
    assert sorted(normalise_encoder_keys({"encoder.y": torch.zeros(1)})) == ["encoder.y"]


def test_resize_keeps_rows_and_centres_new_rows_on_the_mean():
    torch.manual_seed(2)
    encoder = GenaEncoder(TINY)
    before = encoder.get_input_embeddings().weight.detach().clone()
    encoder.resize_token_embeddings(53)
    after = encoder.get_input_embeddings().weight.detach()
    assert after.shape == (53, 32)
    torch.testing.assert_close(after[:50], before, atol=0, rtol=0)
    assert (after[50:] - before.mean(0)).abs().max() < 0.01
    assert encoder.config.vocab_size == 53


def test_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(3)
    encoder = GenaEncoder(TINY).train()
    ids = torch.randint(6, 50, (2, 6))
    encoder(ids).square().sum().backward()
    plain = [p.grad.clone() for p in encoder.parameters()]
    encoder.zero_grad()
    encoder.gradient_checkpointing = True
    encoder(ids).square().sum().backward()
    for a, p in zip(plain, encoder.parameters()):
        torch.testing.assert_close(a, p.grad, atol=1e-6, rtol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_flash_varlen_matches_sdpa_on_gpu():
    pytest.importorskip("flash_attn")
    torch.manual_seed(4)
    encoder = GenaEncoder(TINY).cuda().eval().to(torch.bfloat16)
    ids = torch.randint(6, 50, (2, 12), device="cuda")
    mask = torch.ones(2, 12, device="cuda")
    mask[1, 8:] = 0
    with torch.no_grad():
        sdpa = encoder(ids, attention_mask=mask)
        encoder.attn_impl = "flash"
        flash = encoder(ids, attention_mask=mask)
    real = mask.bool()
    torch.testing.assert_close(flash[real].float(), sdpa[real].float(), atol=2e-2, rtol=0)
