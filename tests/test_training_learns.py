"""Proof that training learns: a tiny model beats its untrained self on held-out fly DNA."""

from __future__ import annotations

import json

import pytest
import torch

from genatator.cli import main
from genatator.model.directory import load_model_directory
from genatator.regions import parse_regions
from genatator.training.config import TrainConfig
from genatator.training.prepare import prepare
from genatator.training.samples import SampleSource
from genatator.training.trainer import evaluate

HELD_OUT = "chr2R:17980001-19980000"  # the last 2 Mb of the span


@pytest.mark.slow
def test_tiny_model_learns_exons_and_introns_of_held_out_fly_dna(tmp_path, capsys, shared_data):
    genome = shared_data / "dmel_chr2R_1-19980000.fa.gz"
    annotation = shared_data / "dmel_chr2R_1-19980000.refseq.gtf.gz"
    run = tmp_path / "run"
    torch.set_num_threads(min(2, torch.get_num_threads()))
    code = main(
        [
            "train", "--genome", str(genome), "--annotation", str(annotation),
            "--val-regions", HELD_OUT, "--preset", "tiny", "--transcript-fraction", "1",
            "--max-steps", "800", "--batch-size", "4", "--lr", "3e-3", "--warmup-steps", "30",
            "--schedule", "cosine", "--eval-every", "400", "--save-every", "800",
            "--val-samples", "200", "--seed", "42", "-o", str(run),
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err

    # The untrained starting point, scored on exactly the same held-out samples.
    config = TrainConfig.load(run / "train_config.json")
    data = prepare(run / "data", config.sources, val_regions=parse_regions(HELD_OUT))
    source = SampleSource(
        data, window=config.window, transcript_fraction=config.transcript_fraction, seed=42
    )
    samples = source.validation_samples(config.val_samples)
    untrained, tokenizer = load_model_directory(run / "init")
    before = evaluate(untrained, tokenizer, samples, batch_size=8, device=torch.device("cpu"))
    trained, _ = load_model_directory(run / "best")
    after = evaluate(trained, tokenizer, samples, batch_size=8, device=torch.device("cpu"))

    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    best = max((r for r in logged if r["split"] == "val"), key=lambda r: r["exon_f1"])
    assert after["exon_f1"] == pytest.approx(best["exon_f1"])  # best/ is the logged best
    print(f"untrained {before}\ntrained {after}")
    assert after["exon_f1"] >= before["exon_f1"] + 0.02
    assert after["pr_auc_intron"] >= before["pr_auc_intron"] + 0.1
    assert after["pr_auc_exon"] >= before["pr_auc_exon"] + 0.05
    assert after["loss"] < before["loss"]
