"""The full GENATATOR model: forward pass, masking, loss, recycling, presets and save/load."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from helpers import random_dna, write_fake_gena_checkpoint

from genatator.errors import ConfigError, ModelError
from genatator.model import (
    PRESETS,
    GenatatorConfig,
    GenatatorModel,
    MemoryConfig,
    UNetConfig,
    preset_config,
)
from genatator.model.checkpoints import init_from_gena
from genatator.model.files import resolve_model_dir
from genatator.model.inputs import build_inputs


def tiny_model(tokenizer, *, cycles: int = 1, seed: int = 0) -> GenatatorModel:
    torch.manual_seed(seed)
    config = preset_config("tiny", vocab_size=tokenizer.vocab_size)
    config.unet = UNetConfig(chunk_size=64, cycles=cycles)
    config.memory = MemoryConfig(num_mem_tokens=2, segment_size=16)
    config.max_tokens = 120
    return GenatatorModel(config).eval()


def test_forward_shapes_on_odd_lengths_and_batch(small_tokenizer):
    model = tiny_model(small_tokenizer)
    windows = [random_dna(n, seed=n) for n in (301, 77, 5)]
    inputs = build_inputs(small_tokenizer, windows, max_tokens=120)
    with torch.no_grad():
        out = model(inputs)
    assert out.logits.shape == (3, 301, 5)
    assert out.mask.shape == (3, 301)
    assert out.mask.sum(dim=1).tolist() == [301, 77, 5]
    assert not out.logits[1, 77:].any()  # beyond a window's end: no prediction


def test_batch_result_equals_single_window_result(small_tokenizer):
    model = tiny_model(small_tokenizer, cycles=2)
    windows = [random_dna(n, seed=10 + n) for n in (250, 130)]
    with torch.no_grad():
        batched = model(build_inputs(small_tokenizer, windows, max_tokens=120)).logits
        for row, window in enumerate(windows):
            alone = model(build_inputs(small_tokenizer, [window], max_tokens=120)).logits
            torch.testing.assert_close(batched[row, : len(window)], alone[0], atol=1e-5, rtol=0)


def test_long_n_gap_is_masked_without_shifting_positions(small_tokenizer):
    model = tiny_model(small_tokenizer)
    left, right = random_dna(40, seed=3), random_dna(41, seed=4)
    window = left + "N" * 25 + right  # 25 N ≥ 10: one gap token covering only the last N
    inputs = build_inputs(small_tokenizer, [window], max_tokens=120)
    token_map = inputs.nucleotide_to_token[0]
    assert (token_map[40:64] == -1).all()
    assert token_map[64] >= 0 and token_map[65] > token_map[64]
    labels = torch.zeros(1, len(window), 5)
    with torch.no_grad():
        out = model(inputs, labels=labels)
    assert not out.mask[0, 40:64].any() and out.mask[0, 64:].all() and out.mask[0, :40].all()
    assert not out.logits[0, 40:64].any()
    # Labels at uncovered nucleotides do not enter the loss.
    noisy = labels.clone()
    noisy[0, 40:64] = 1.0
    with torch.no_grad():
        assert model(inputs, labels=noisy).loss == out.loss


def test_truncated_window_predicts_only_covered_prefix(small_tokenizer):
    model = tiny_model(small_tokenizer)
    window = random_dna(2000, seed=5)
    inputs = build_inputs(small_tokenizer, [window], max_tokens=50)
    covered = int((inputs.nucleotide_to_token[0] >= 0).sum())
    assert 50 < covered < 2000
    with torch.no_grad():
        out = model(inputs)
    assert out.mask[0, :covered].all() and not out.mask[0, covered:].any()


def test_loss_is_masked_mean_bce_summed_over_cycles(small_tokenizer):
    model = tiny_model(small_tokenizer, cycles=1)
    inputs = build_inputs(small_tokenizer, [random_dna(90, seed=6)], max_tokens=120)
    labels = torch.randint(0, 2, (1, 90, 5)).float()
    label_mask = torch.zeros(1, 90, dtype=torch.bool)
    label_mask[0, 10:50] = True
    with torch.no_grad():
        out = model(inputs, labels=labels, label_mask=label_mask)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        out.logits[0, 10:50], labels[0, 10:50]
    )
    torch.testing.assert_close(out.loss, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("output_block", ["wide", "narrow"])
def test_bf16_training_step_matches_fp32_within_tolerance(small_tokenizer, output_block):
    """Loss and gradients under CPU bf16 autocast against fp32, same weights and batch.

    bf16 keeps 8 bits of mantissa (relative error 2^-9 per rounding). Measured here: the loss
    (a mean over thousands of terms) within 1e-4 relative, the gradient within 0.8 % of its
    norm; the bounds leave about a tenfold margin.
    """
    torch.manual_seed(7)
    config = preset_config("tiny", vocab_size=small_tokenizer.vocab_size)
    config.unet = UNetConfig(chunk_size=64, output_block=output_block)
    config.memory = MemoryConfig(num_mem_tokens=2, segment_size=16)
    config.max_tokens = 120
    model = GenatatorModel(config).eval()  # no dropout: both passes see the same network
    inputs = build_inputs(
        small_tokenizer, [random_dna(260, seed=11), random_dna(140, seed=12)], max_tokens=120
    )
    labels = torch.randint(0, 2, (2, 260, 5), generator=torch.Generator().manual_seed(3)).float()

    def loss_and_gradient(bf16: bool) -> tuple[torch.Tensor, torch.Tensor]:
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(inputs, labels=labels).loss
        loss.backward()
        gradient = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        return loss.detach(), gradient

    loss32, grad32 = loss_and_gradient(False)
    loss16, grad16 = loss_and_gradient(True)
    assert loss16.dtype == torch.float32  # summed in fp32 whatever the autocast dtype
    torch.testing.assert_close(loss16, loss32, atol=0, rtol=1e-3)
    assert torch.isfinite(grad16).all()
    assert (grad16 - grad32).norm() < 0.05 * grad32.norm()


def test_recycling_trains_end_to_end(small_tokenizer):
    model = tiny_model(small_tokenizer, cycles=3).train()
    inputs = build_inputs(
        small_tokenizer, [random_dna(200, seed=7), random_dna(90, seed=8)], max_tokens=120
    )
    labels = torch.zeros(2, 200, 5)
    labels[:, 50:120, 1] = 1
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = model(inputs, labels=labels).loss
        loss.backward()
        losses.append(loss.item())
        optimizer.step()
    assert losses[-1] < 0.5 * losses[0]
    for name, parameter in model.named_parameters():
        if name.endswith("position_embeddings.weight") or "token_type" in name:
            continue
        assert parameter.grad is not None, name


def test_save_and_load_round_trip(tmp_path, small_tokenizer):
    model = tiny_model(small_tokenizer, cycles=2)
    model.save_pretrained(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["model_type"] == "genatator" and config["unet"]["cycles"] == 2
    assert config["encoder"]["vocab_size"] == small_tokenizer.vocab_size
    loaded = GenatatorModel.from_pretrained(tmp_path / "m")
    assert loaded.config == model.config
    inputs = build_inputs(small_tokenizer, [random_dna(150, seed=9)], max_tokens=120)
    with torch.no_grad():
        torch.testing.assert_close(loaded(inputs).logits, model(inputs).logits, atol=0, rtol=0)
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


def test_narrow_output_block_round_trips_and_old_configs_read_as_wide(tmp_path, small_tokenizer):
    torch.manual_seed(5)
    config = preset_config("tiny", vocab_size=small_tokenizer.vocab_size)
    config.unet = UNetConfig(chunk_size=64, output_block="narrow")
    model = GenatatorModel(config).eval()
    model.save_pretrained(tmp_path / "narrow")
    loaded = GenatatorModel.from_pretrained(tmp_path / "narrow")
    assert loaded.config.unet.output_block == "narrow"
    inputs = build_inputs(small_tokenizer, [random_dna(150, seed=2)], max_tokens=120)
    with torch.no_grad():
        torch.testing.assert_close(loaded(inputs).logits, model(inputs).logits, atol=0, rtol=0)
    # A config.json written before the setting existed is the paper's wide block.
    tiny_model(small_tokenizer).save_pretrained(tmp_path / "old")
    path = tmp_path / "old" / "config.json"
    values = json.loads(path.read_text())
    del values["unet"]["output_block"]
    path.write_text(json.dumps(values))
    assert GenatatorModel.from_pretrained(tmp_path / "old").config.unet.output_block == "wide"


def test_from_pretrained_errors_are_clear(tmp_path, small_tokenizer):
    with pytest.raises(ModelError, match="no such model directory"):
        GenatatorModel.from_pretrained(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"no config\.json"):
        GenatatorModel.from_pretrained(tmp_path / "empty")
    model = tiny_model(small_tokenizer)
    model.save_pretrained(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["unet"]["cycles"] = 2
    config["unet"]["channels"] = [8, 16, 32]
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="shape mismatch unet"):
        GenatatorModel.from_pretrained(tmp_path / "m")
    config["unet"]["colour"] = "blue"
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="unknown unet setting"):
        GenatatorModel.from_pretrained(tmp_path / "m")
    config["model_type"] = "bert"
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="--backbone"):
        GenatatorModel.from_pretrained(tmp_path / "m")


def test_presets_build_valid_configs():
    sizes = {}
    for name in PRESETS:
        config = preset_config(name, vocab_size=32000)
        assert config.preset == name
        assert config.memory.segment_size <= config.encoder.max_position_embeddings
        sizes[name] = config.encoder.hidden_size
    assert sizes == {"tiny": 64, "small": 256, "gena-base": 768, "gena-large": 1024}
    assert preset_config("gena-base", vocab_size=32000).memory.content_per_segment == 499
    with pytest.raises(ConfigError, match="unknown preset"):
        preset_config("huge", vocab_size=10)


def test_gena_base_preset_has_the_papers_parameter_count():
    with torch.device("meta"):
        base = GenatatorModel(preset_config("gena-base", vocab_size=32000))
        encoder_params = sum(p.numel() for p in base.encoder.parameters())
    # GENA-LM base is ~110M parameters (memory rows add 10 × 768).
    assert 105e6 < encoder_params < 115e6


def test_config_validation_names_bad_values():
    with pytest.raises(ConfigError, match="segment_size 600 exceeds"):
        GenatatorConfig(memory=MemoryConfig(segment_size=600))
    with pytest.raises(ConfigError, match="cycles must be 1, 2 or 3"):
        UNetConfig(cycles=4)
    with pytest.raises(ConfigError, match="output_block must be one of wide, narrow"):
        UNetConfig(output_block="slim")
    with pytest.raises(ConfigError, match="leaves no room"):
        MemoryConfig(num_mem_tokens=10, segment_size=13)
    config = preset_config("tiny", vocab_size=100)
    assert GenatatorConfig.from_dict(config.to_dict()) == config


def test_init_from_gena_backbone_copies_encoder_weights(tmp_path, small_tokenizer):
    model = tiny_model(small_tokenizer)
    from genatator.model import GenaEncoder

    torch.manual_seed(12)
    gena_config = model.config.encoder
    source = GenaEncoder(gena_config).eval()
    write_fake_gena_checkpoint(tmp_path / "gena", source, fmt="bin", explicit_lastln=False)
    config_path = tmp_path / "gena" / "config.json"
    hf = json.loads(config_path.read_text())
    hf["layer_norm_eps"] = gena_config.layer_norm_eps
    config_path.write_text(json.dumps(hf))
    init_from_gena(model, tmp_path / "gena")
    ours = model.encoder.state_dict()
    for key, value in source.state_dict().items():
        if key == "embeddings.word_embeddings.weight":
            assert torch.equal(ours[key][: value.shape[0]], value)
        else:
            assert torch.equal(ours[key], value), key
    wrong = tiny_model(small_tokenizer)
    wrong.config.encoder.hidden_size = 128
    with pytest.raises(ModelError, match="hidden_size is 64, the model's is 128"):
        init_from_gena(wrong, tmp_path / "gena")


def test_hub_id_fails_clearly_when_offline(tmp_path):
    code = (
        "from genatator.model.files import resolve_model_dir\n"
        "resolve_model_dir('AIRI-Institute/gena-lm-bert-base-lastln-t2t')\n"
    )
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode != 0
    assert (
        "could not be downloaded from the Hugging Face hub (HF_HUB_OFFLINE is set)" in result.stderr
    )


def test_local_paths_never_go_to_the_hub(tmp_path):
    with pytest.raises(ModelError, match="no such model directory"):
        resolve_model_dir(str(tmp_path / "a" / "b"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelError, match="must be a directory"):
        resolve_model_dir(tmp_path / "file")
