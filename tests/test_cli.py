"""The command-line interface: exit codes, one-line errors, atomic outputs, and each command."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
import torch
from helpers import assert_one_line_error, assert_valid_gff3
from helpers import run_cli as run

from genatator.model.directory import load_model_directory
from genatator.model.inputs import build_inputs

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE_FASTA = EXAMPLES / "dmel_chr2R_slice.fa.gz"
EXAMPLE_GTF = EXAMPLES / "dmel_chr2R_slice.refseq.gtf"


def test_version_and_help(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and "genatator, version" in out
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("convert", "model", "stats", "tokenizer"):
        assert command in out


def test_usage_errors_exit_2(capsys):
    code, _, err = run(capsys, "stats", "--no-such-option", "x.fa")
    assert code == 2 and "No such option" in err
    code, _, err = run(capsys, "no-such-command")
    assert code == 2


def test_stats_on_the_example(capsys):
    code, out, _ = run(capsys, "stats", EXAMPLE_FASTA)
    assert code == 0
    with gzip.open(EXAMPLE_FASTA, "rt") as handle:
        sequence = "".join(line.strip() for line in handle if not line.startswith(">"))
    n_fraction = sum(c in "Nn" for c in sequence) / len(sequence)
    lower = sum(c.islower() for c in sequence) / len(sequence)
    assert out.splitlines() == [
        "name\tlength\tn_fraction\tsoft_masked_fraction",
        f"chr2R_10000001_10150000\t150000\t{n_fraction:.6f}\t{lower:.6f}",
    ]


def test_bad_fasta_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.fa"
    bad.write_text(">a\nACGT\n>a\nACGT\n")
    output = tmp_path / "out.tsv"
    code, out, err = run(capsys, "stats", bad, "-o", output)
    assert code == 2
    assert_one_line_error(err, str(bad), "'a'", "line 3", "duplicate")
    assert not output.exists()
    assert list(tmp_path.iterdir()) == [bad]  # no temporary file left behind either
    code, out, err = run(capsys, "stats", tmp_path / "missing.fa")
    assert code == 2 and out == ""
    assert_one_line_error(err, "missing.fa", "no such file")


def test_debug_shows_the_traceback(tmp_path):
    bad = tmp_path / "empty.fa"
    bad.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "genatator", "--debug", "stats", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "Traceback" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "genatator", "stats", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_convert_example_gtf_to_valid_gff3(tmp_path, capsys, gt_binary):
    output = tmp_path / "slice.gff3"
    code, _, err = run(capsys, "convert", EXAMPLE_GTF, "-o", output)
    assert code == 0, err
    text = output.read_text()
    assert text.startswith("##gff-version 3\n")
    assert sum(1 for line in text.splitlines() if "\tmRNA\t" in line) == 75
    kinds = [line.split("\t")[2] for line in text.splitlines() if not line.startswith("#")]
    assert kinds.count("mRNA") + kinds.count("lnc_RNA") + kinds.count("ncRNA") == 83
    assert_valid_gff3(gt_binary, output)
    code, out, _ = run(capsys, "convert", EXAMPLE_GTF)
    assert code == 0 and out == text  # stdout gives the same bytes as the file


@pytest.mark.parametrize("where", ["after", "before"])
def test_quiet_works_after_the_subcommand_name_too(tmp_path, capsys, where):
    output = tmp_path / "slice.gff3"
    code, _, err = run(capsys, "convert", EXAMPLE_GTF, "-o", output)
    assert code == 0 and "34 genes, 83 transcripts written" in err
    quiet = ["convert", EXAMPLE_GTF, "-o", output, "-q"]
    code, _, err = run(capsys, *(quiet if where == "after" else ["-q", *quiet[:-1]]))
    assert code == 0 and err == ""
    # --debug wins over -q whichever comes first.
    code, _, err = run(capsys, "convert", EXAMPLE_GTF, "-o", output, "--debug", "-q")
    assert code == 0 and "written" in err


def test_convert_strict_and_lenient(tmp_path, capsys):
    broken = tmp_path / "broken.gtf"
    lines = EXAMPLE_GTF.read_text().splitlines()
    lines.insert(
        5, 'chr2R_10000001_10150000\tx\texon\t500\t100\t.\t+\t.\tgene_id "g"; transcript_id "t";'
    )
    broken.write_text("\n".join(lines) + "\n")
    output = tmp_path / "out.gff3"
    code, _, err = run(capsys, "convert", broken, "-o", output)
    assert code == 2
    assert_one_line_error(err, str(broken), "line 6")
    assert not output.exists()
    code, _, err = run(capsys, "convert", "--lenient", broken, "-o", output)
    assert code == 0
    assert err.startswith("genatator: warning: ") and "1 problems skipped" in err
    assert output.exists()


def test_tokenizer_train_is_deterministic(tmp_path, capsys):
    for name in ("a", "b"):
        code, _, err = run(
            capsys,
            "tokenizer",
            "train",
            EXAMPLE_FASTA,
            "-o",
            tmp_path / name,
            "--vocab-size",
            "300",
            "--seed",
            "3",
        )
        assert code == 0, err
    first = (tmp_path / "a" / "tokenizer.json").read_bytes()
    assert first == (tmp_path / "b" / "tokenizer.json").read_bytes()
    assert len(json.loads(first)["model"]["vocab"]) == 300


def test_model_init_creates_a_loadable_model_directory(tmp_path, capsys):
    code, _, err = run(capsys, "model", "init", "--preset", "tiny", "-o", tmp_path / "tiny")
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "tiny").iterdir())
    assert {"README.md", "config.json", "model.safetensors", "tokenizer.json"} <= set(names)
    assert "biologically meaningless" in (tmp_path / "tiny" / "README.md").read_text()
    model, tokenizer = load_model_directory(tmp_path / "tiny")
    assert tokenizer.vocab_size == 4096 and model.config.preset == "tiny"
    with gzip.open(EXAMPLE_FASTA, "rt") as handle:
        window = "".join(line.strip() for line in handle if not line.startswith(">"))[:2000]
    with torch.no_grad():
        out = model(build_inputs(tokenizer, [window.upper()], max_tokens=model.config.max_tokens))
    assert out.logits.shape == (1, 2000, 5) and out.mask[0].all()
    # Same seed, same weights: model init is reproducible.
    run(capsys, "model", "init", "--preset", "tiny", "-o", tmp_path / "again")
    assert (tmp_path / "tiny" / "model.safetensors").read_bytes() == (
        tmp_path / "again" / "model.safetensors"
    ).read_bytes()
    code, _, err = run(capsys, "model", "init", "-o", tmp_path / "tiny")
    assert code == 2
    assert_one_line_error(err, "already exists")


def test_model_init_with_own_tokenizer(tmp_path, capsys, small_tokenizer):
    small_tokenizer.save_pretrained(tmp_path / "tok")
    code, _, err = run(
        capsys,
        "model",
        "init",
        "-o",
        tmp_path / "m",
        "--tokenizer",
        tmp_path / "tok" / "tokenizer.json",
    )
    assert code == 0, err
    model, tokenizer = load_model_directory(tmp_path / "m")
    assert model.config.encoder.vocab_size == tokenizer.vocab_size == 300


def test_model_init_from_a_gena_backbone_directory(tmp_path, capsys, small_tokenizer):
    from helpers import write_fake_gena_checkpoint

    from genatator.model import EncoderConfig, GenaEncoder

    torch.manual_seed(0)
    encoder = GenaEncoder(
        EncoderConfig(
            vocab_size=300,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=128,
            layer_norm_eps=1e-12,
        )
    )
    write_fake_gena_checkpoint(tmp_path / "gena", encoder, fmt="bin", explicit_lastln=False)
    small_tokenizer.save_pretrained(tmp_path / "gena")
    code, _, err = run(
        capsys, "model", "init", "-o", tmp_path / "m", "--backbone", tmp_path / "gena"
    )
    assert code == 0, err
    model, _ = load_model_directory(tmp_path / "m")
    assert model.config.encoder.hidden_size == 32
    loaded = model.encoder.state_dict()
    for key, value in encoder.state_dict().items():
        assert torch.equal(loaded[key][: value.shape[0]], value), key
    assert "GENA-LM checkpoint" in (tmp_path / "m" / "README.md").read_text()


def test_model_init_offline_hub_id_fails_cleanly(tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "genatator",
            "model",
            "init",
            "-o",
            str(tmp_path / "m"),
            "--backbone",
            "AIRI-Institute/gena-lm-bert-base-lastln-t2t",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    assert_one_line_error(result.stderr, "HF_HUB_OFFLINE is set")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("args", [["stats", "-"], ["convert", "-"]])
def test_stdin_input(args, monkeypatch, capsys):
    source = EXAMPLE_FASTA if args[0] == "stats" else EXAMPLE_GTF

    class Stdin:
        buffer = open(source, "rb")  # noqa: SIM115 - closed by the reader

    monkeypatch.setattr(sys, "stdin", Stdin)
    code, out, err = run(capsys, *args)
    assert code == 0, err
    assert out.startswith(("name\t", "##gff-version 3"))


def test_cli_offers_exactly_the_model_presets():
    # The CLI lists the presets literally so that `--help` does not import torch.
    from genatator.cli import model_init, train
    from genatator.model import PRESETS

    for command in (model_init, train):
        preset = next(p for p in command.params if p.name == "preset")
        assert tuple(preset.type.choices) == PRESETS


def test_train_option_defaults_are_the_training_config_defaults():
    # The CLI spells defaults out for --help; TrainConfig is where they live for the library.
    import dataclasses

    from genatator.cli import train
    from genatator.training.config import TrainConfig

    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    renamed = {"model_dir": "model", "tokenizer_path": "tokenizer"}
    context = click.Context(train)
    checked = 0
    for param in train.params:
        name = renamed.get(param.name, param.name)
        if name in defaults and defaults[name] is not dataclasses.MISSING:
            default = param.get_default(context)
            if repr(default) == "Sentinel.UNSET":  # click >= 8.3's "no default"
                default = None
            assert default == defaults[name], name
            checked += 1
    assert checked >= 25
