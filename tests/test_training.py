"""`genatator train`: options, the loop, checkpoints and bit-exact resume, DDP, bad input."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from helpers import write_gena_dir_from_golden, write_synthetic_genome

from genatator.cli import main
from genatator.errors import ConfigError
from genatator.model.directory import create_model, load_model_directory, write_model_directory
from genatator.model.genatator import GenatatorModel
from genatator.training.config import TrainConfig, parse_curriculum, parse_duration, segments_at
from genatator.training.trainer import lr_factor

LENGTHS = {"chrA": 16_000, "chrB": 8_000}
FAST = [
    "--window", "600",
    "--val-regions", "chrA:12001-16000",
    "--val-samples", "4",
    "--batch-size", "2",
    "--lr", "2e-3",
    "--warmup-steps", "2",
    "--log-every", "1",
    "--eval-every", "3",
    "--save-every", "2",
    "--seed", "0",
]  # fmt: skip


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    directory = tmp_path_factory.mktemp("genome")
    return write_synthetic_genome(directory, LENGTHS, genes_per_sequence=3, seed=11)


def inputs(genome) -> list[str]:
    return ["--genome", str(genome[0]), "--annotation", str(genome[1])]


def run_cli(capsys, *args) -> tuple[int, str]:
    code = main(["train", *map(str, args)])
    return code, capsys.readouterr().err


def records(run_dir, split="train") -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["split"] == split]


def checkpoint(run_dir, step) -> dict:
    return torch.load(run_dir / "checkpoints" / f"step-{step:08d}.pt", weights_only=True)


def assert_one_error(err: str, message: str) -> None:
    """The run failed with one error line (after any progress lines), and no traceback."""
    last = err.strip().splitlines()[-1]
    assert last.startswith("genatator: error: ") and message in last, err
    assert "Traceback" not in err and err.count("error") == 1


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# -- options -----------------------------------------------------------------------------------


def test_learning_rate_schedule_values():
    constant = dict(warmup=4, total=20, schedule="constant", floor=0.0)
    assert [lr_factor(s, **constant) for s in (0, 1, 3, 4, 19)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    cosine = dict(warmup=4, total=20, schedule="cosine", floor=0.1)
    assert lr_factor(4, **cosine) == pytest.approx(1.0)
    assert lr_factor(12, **cosine) == pytest.approx(0.55)  # halfway: 0.1 + 0.9 * 0.5
    assert lr_factor(20, **cosine) == pytest.approx(0.1)
    assert lr_factor(0, warmup=0, total=10, schedule="cosine", floor=0.0) == 1.0


def test_curriculum_and_duration_parsing():
    stages = parse_curriculum("8@0, 32@20000,80@60000")
    assert stages == [(0, 8), (20000, 32), (60000, 80)]
    assert [segments_at(stages, s) for s in (0, 19999, 20000, 10**6)] == [8, 8, 32, 80]
    assert segments_at([], 5) is None
    for bad in ("8@5", "8@0,4@0", "x@0", "0@0"):
        with pytest.raises(ConfigError):
            parse_curriculum(bad)
    assert [parse_duration(t) for t in ("90", "45m", "2h", "1.5d")] == [90, 2700, 7200, 129600]
    with pytest.raises(ConfigError):
        parse_duration("soon")


def test_resume_may_change_only_the_run_length_and_bookkeeping():
    saved = TrainConfig(sources=[("g.fa", "g.gff3")], val_regions="c:1-5", max_steps=10)
    resumed = saved.resumed_with({"max_steps": 20, "lr": 5e-5, "sources": [("g.fa", "g.gff3")]})
    assert resumed.max_steps == 20 and resumed.lr == saved.lr
    with pytest.raises(ConfigError, match="--lr, --window differ"):
        saved.resumed_with({"lr": 1e-3, "window": 5})
    with pytest.raises(ConfigError, match="--schedule must be one of"):
        TrainConfig(sources=[("g.fa", "g.gff3")], schedule="linear")


# -- the loop ----------------------------------------------------------------------------------


def test_train_writes_metrics_checkpoints_and_a_loadable_best_model(tmp_path, capsys, genome):
    run = tmp_path / "run"
    code, err = run_cli(capsys, *inputs(genome), *FAST, "--max-steps", "5", "-o", run)
    assert code == 0, err
    assert "best model (step" in err
    train, val = records(run), records(run, "val")
    assert [r["step"] for r in train] == [1, 2, 3, 4, 5]
    assert all(r["nt_per_s"] > 0 and r["loss"] > 0 for r in train)
    assert [r["step"] for r in val] == [3, 5]
    assert {"exon_f1", "cds_f1", "pr_auc_intron", "pr_auc_mean", "loss"} <= set(val[0])
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step-00000002.pt",
        "step-00000004.pt",
        "step-00000005.pt",
    ]
    model, tokenizer = load_model_directory(run / "best")
    assert model.config.preset == "tiny" and tokenizer.vocab_size == model.config.encoder.vocab_size
    card = (run / "best" / "README.md").read_text()
    assert "genome.fa" in card and "chrA:12001-16000" in card
    saved = json.loads((run / "train_config.json").read_text())
    assert saved["window"] == 600 and saved["max_steps"] == 5
    settings = json.loads((run / "best" / "inference.json").read_text())
    assert settings["window"] == 600
    assert sum(settings["splice_table"]["donor"].values()) > 0
    # The HMM decoder's gene model, counted from the training genes outside the held-out region.
    from genatator.annotation import read_annotation
    from genatator.decode.counting import has_gene_model, load_gene_model

    assert has_gene_model(run / "best")
    parameters, _, matrices = load_gene_model(run / "best")
    assert matrices is not None  # the splice-site matrices are written with the best model
    held_out = (12_000, 16_000)
    genes = read_annotation(genome[1]).genes
    outside = [
        g for g in genes
        if g.seqid != "chrA" or g.end <= held_out[0] or held_out[1] <= g.start
    ]  # fmt: skip
    assert parameters.genes == len(outside) < len(genes)

    # The best model annotates with its training window and splice-site table (and, having
    # gene-model files, the hmm decoder).
    out = tmp_path / "genes.gff3"
    code = main(["annotate", str(genome[0]), "-m", str(run / "best"), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0 and out.is_file(), err
    assert "records none" not in err and "records no splice-site table" not in err

    # A second start into the same directory is refused; --resume at the end is a no-op.
    code, err = run_cli(capsys, *inputs(genome), *FAST, "--max-steps", "5", "-o", run)
    assert code == 2 and "pass --resume" in err
    code, err = run_cli(capsys, "--resume", "--max-steps", "5", "-o", run)
    assert code == 0, err
    assert len(records(run)) == 5


def test_loss_goes_down_on_a_fixed_batch_of_synthetic_genes(tmp_path, capsys, genome):
    run = tmp_path / "run"
    args = [*FAST, "--max-steps", "12", "--eval-every", "100", "--transcript-fraction", "1"]
    code, err = run_cli(capsys, *inputs(genome), *args, "-o", run)
    assert code == 0, err
    losses = [r["loss"] for r in records(run)]
    assert sum(losses[-3:]) < 0.8 * sum(losses[:3])


def test_resume_after_stopping_reaches_the_same_weights_bit_for_bit(tmp_path, capsys, genome):
    full, split = tmp_path / "full", tmp_path / "split"
    assert run_cli(capsys, *inputs(genome), *FAST, "--max-steps", "6", "-o", full)[0] == 0
    code, err = run_cli(capsys, *inputs(genome), *FAST, "--max-steps", "3", "-o", split)
    assert code == 0, err
    assert "reusing prepared training data" not in err  # it was just prepared
    code, err = run_cli(capsys, "--resume", "--max-steps", "6", "-o", split)
    assert code == 0, err
    assert "resumed from" in err
    assert err.count("reusing prepared training data") == 1
    # Training time goes on from the checkpoint instead of restarting at 0.
    elapsed = [r["elapsed_s"] for r in records(split)]
    assert len(elapsed) == 6 and elapsed == sorted(elapsed)

    a, b = checkpoint(full, 6), checkpoint(split, 6)
    assert_same_state(a["model"], b["model"])
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()
    for key, state in a["optimizer"]["state"].items():
        assert_same_state(state, b["optimizer"]["state"][key])
    assert [(r["step"], r["loss"]) for r in records(full)] == [
        (r["step"], r["loss"]) for r in records(split)
    ]


def test_max_time_counts_each_invocation_not_the_time_before_it(tmp_path, capsys, genome):
    run = tmp_path / "run"
    assert run_cli(capsys, *inputs(genome), *FAST, "--max-steps", "2", "-o", run)[0] == 0
    path = run / "checkpoints" / "step-00000002.pt"
    state = torch.load(path, weights_only=True)
    state["elapsed_s"] = 1e6  # as if the run had trained for days before
    torch.save(state, path)
    code, err = run_cli(capsys, "--resume", "--max-steps", "4", "--max-time", "3600", "-o", run)
    assert code == 0, err
    assert "stopped at step" not in err  # reached --max-steps, not the time limit
    assert [r["step"] for r in records(run)][-1] == 4
    assert records(run)[-1]["elapsed_s"] > 1e6


@pytest.fixture(scope="module")
def dropout_model(tmp_path_factory):
    """A tiny model with dropout on, so resuming must also restore the random-number state."""
    new = create_model(preset="tiny", seed=0)
    encoder = dataclasses.replace(new.model.config.encoder, hidden_dropout=0.1)
    config = dataclasses.replace(new.model.config, encoder=encoder)
    torch.manual_seed(0)
    model = GenatatorModel(config)
    directory = tmp_path_factory.mktemp("models") / "dropout"
    write_model_directory(directory, model, new.tokenizer, "# test model\n")
    return directory


def test_a_killed_run_resumes_to_the_uninterrupted_result(tmp_path, capsys, genome, dropout_model):
    args = [*inputs(genome), *FAST, "--model", dropout_model, "--max-steps", "16"]
    args += ["--save-every", "1", "--eval-every", "8"]
    reference = tmp_path / "reference"
    assert run_cli(capsys, *args, "-o", reference)[0] == 0

    killed = tmp_path / "killed"
    env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()))
    command = [sys.executable, "-m", "genatator", "train", *map(str, args), "-o", str(killed)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list((killed / "checkpoints").glob("step-*.pt")) and time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"training exited before its first checkpoint: {process.stderr.read()}")
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    done = sorted(p.name for p in (killed / "checkpoints").glob("step-*.pt"))
    assert done and "step-00000016.pt" not in done  # it really was cut short

    code, err = run_cli(capsys, "--resume", "-o", killed)
    assert code == 0, err
    assert_same_state(checkpoint(reference, 16)["model"], checkpoint(killed, 16)["model"])
    assert [(r["step"], r["loss"]) for r in records(reference)] == [
        (r["step"], r["loss"]) for r in records(killed)
    ]


def test_max_time_stops_with_a_checkpoint_to_resume_from(tmp_path, capsys, genome):
    run = tmp_path / "run"
    args = [*inputs(genome), *FAST, "--max-steps", "50", "--save-every", "100"]
    code, err = run_cli(capsys, *args, "--max-time", "0.001", "-o", run)
    assert code == 0, err
    assert "stopped at step 1 of 50; continue with: genatator train --resume" in err
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-00000001.pt"]
    # Stopped before its first --eval-every, the run still validated and kept a best model.
    assert [r["step"] for r in records(run, "val")] == [1]
    assert (run / "best" / "model.safetensors").is_file()


def test_fine_tuning_starts_from_a_gena_backbone_directory(
    tmp_path, capsys, genome, golden_fixture, small_tokenizer
):
    weights = write_gena_dir_from_golden(tmp_path / "gena", golden_fixture, small_tokenizer)
    run = tmp_path / "run"
    args = [*inputs(genome), *FAST, "--backbone", tmp_path / "gena", "--max-steps", "2"]
    code, err = run_cli(capsys, *args, "-o", run)
    assert code == 0, err
    start, _ = load_model_directory(run / "init")
    assert start.config.encoder.hidden_size == 32 and start.config.encoder.vocab_size == 300
    state = start.encoder.state_dict()
    for key, value in weights.items():
        if key in state:
            assert torch.equal(state[key][: value.shape[0]], value), key
    assert (run / "best" / "model.safetensors").is_file()


def test_offline_hub_backbone_fails_cleanly(tmp_path, genome):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    command = [sys.executable, "-m", "genatator", "train", *inputs(genome), *FAST]
    command += [
        "--backbone",
        "AIRI-Institute/gena-lm-bert-base-lastln-t2t",
        "-o",
        str(tmp_path / "r"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("genatator: error: ")
    assert "HF_HUB_OFFLINE is set" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r" / "checkpoints").exists()


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--val-regions", "chrQ:1-100"], "no training sequence with transcripts is named 'chrQ'"),
        (["--val-regions", "chrA:1-99999"], "lies past the end of chrA"),
        (["--window", "50000"], "longer than every training sequence part"),
        (["--val-regions", "chrA:oops"], "is not chr:start-end"),
        (["--curriculum", "8@1"], "must start at step 0"),
    ],
)
def test_bad_options_fail_before_training(tmp_path, capsys, genome, change, message):
    run = tmp_path / "run"
    code, err = run_cli(capsys, *inputs(genome), *FAST, *change, "--max-steps", "2", "-o", run)
    assert code == 2
    assert_one_error(err, message)
    assert not (run / "checkpoints").exists()


def test_bad_inputs_fail_before_training(tmp_path, capsys, genome):
    lonely = tmp_path / "chrA_only.fa"
    lonely.write_text(genome[0].read_text().split(">chrB")[0])
    code, err = run_cli(
        capsys, "--genome", lonely, "--annotation", genome[1], *FAST, "-o", tmp_path / "a"
    )
    assert code == 2
    assert_one_error(err, "annotates sequence 'chrB', which")
    empty = tmp_path / "empty.gtf"
    empty.write_text("")
    code, err = run_cli(
        capsys, "--genome", genome[0], "--annotation", empty, *FAST, "-o", tmp_path / "b"
    )
    assert code == 2 and "empty.gtf: no transcripts found" in err
    code, err = run_cli(capsys, "--genome", genome[0], *FAST, "-o", tmp_path / "c")
    assert code == 2 and "each --genome its --annotation" in err
    code, err = run_cli(capsys, *inputs(genome), "--window", "600", "-o", tmp_path / "d")
    assert code == 2 and "no validation data: give --val-regions or --val-genome" in err
    code, err = run_cli(
        capsys, *inputs(genome), *FAST, "--val-genome", genome[0], "--val-annotation", genome[1],
        "-o", tmp_path / "e",
    )  # fmt: skip
    assert code == 2 and "validation sequence chrA" in err and "identical to training" in err
    for name in "abcde":
        assert not (tmp_path / name / "checkpoints").exists()


def test_resume_rejects_changed_options(tmp_path, capsys, genome):
    run = tmp_path / "run"
    assert run_cli(capsys, *inputs(genome), *FAST, "--max-steps", "1", "-o", run)[0] == 0
    code, err = run_cli(capsys, "--resume", "--lr", "0.5", "-o", run)
    assert code == 2 and "--lr differ from the run's saved options" in err
    code, err = run_cli(capsys, "--resume", "-o", tmp_path / "nothing")
    assert code == 2 and "no saved run to resume" in err


# -- data parallelism --------------------------------------------------------------------------


def test_torchrun_two_processes_match_one_process_with_accumulation(tmp_path, capsys, genome):
    args = [*inputs(genome), *FAST, "--max-steps", "4", "--eval-every", "4", "--save-every", "4"]
    single = tmp_path / "single"
    one = ["--batch-size", "1", "--grad-accum", "2"]
    assert run_cli(capsys, *args, *one, "-o", single)[0] == 0

    ddp = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
    ]
    command += ["-m", "genatator", "train", *map(str, args), "--batch-size", "1", "-o", str(ddp)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]

    expected, got = records(single), records(ddp)
    assert [r["step"] for r in got] == [r["step"] for r in expected]  # rank 0 alone wrote
    for a, b in zip(expected, got):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)
        assert b["nt_per_s"] > 0
    a, b = checkpoint(single, 4)["model"], checkpoint(ddp, 4)["model"]
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=1e-5)
    assert len(checkpoint(ddp, 4)["rng"]) == 2  # one random state per rank
    assert (ddp / "best" / "model.safetensors").is_file()


def test_a_window_longer_than_the_presets_token_budget_raises_the_budget(tmp_path, capsys, genome):
    """`tiny` holds 510 tokens (about 2.4 kb); a 3.5 kb --window must be read whole, not cut."""
    run = tmp_path / "run"
    args = [*FAST, "--window", "3500", "--max-steps", "1", "--eval-every", "100"]
    code, err = run_cli(capsys, *inputs(genome), *args, "-o", run)
    assert code == 0, err
    model, tokenizer = load_model_directory(run / "init")
    assert "token budget raised from 510" in err
    assert model.config.max_tokens > 510
    # Every nucleotide of a 3.5 kb window of the training DNA is covered by a token.
    from genatator.genome import read_fasta
    from genatator.model.inputs import build_inputs

    sequence = next(iter(read_fasta(str(genome[0])))).sequence[:3500]
    covered = build_inputs(tokenizer, [sequence], max_tokens=model.config.max_tokens)
    assert bool((covered.nucleotide_to_token >= 0).all())
    # The default (preset-sized) window leaves the preset's budget alone.
    code, err = run_cli(capsys, *inputs(genome), *FAST, "--max-steps", "1", "-o", tmp_path / "b")
    assert code == 0, err
    assert load_model_directory(tmp_path / "b" / "init")[0].config.max_tokens == 510
