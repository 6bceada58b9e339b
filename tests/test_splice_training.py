"""Splice training: learning a planted motif, exact resume, early stopping, run-directory rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from genatator.errors import ConfigError, InputError
from genatator.splice.dataset import DATA_FORMAT, DATA_VERSION
from genatator.splice.models import SpliceModelConfig, load_splice_model
from genatator.splice.training import SpliceTrainConfig, evaluate_windows, train_splice
from genatator.splice.windows import ACCEPTOR, DONOR, NEITHER, encode

WINDOW = 64
CENTRE = WINDOW // 2
TINY_CNN = SpliceModelConfig(
    arch="cnn", window=WINDOW, channels=8, kernel=5, dilations=(1, 1, 2, 2)
)
TINY_MAMBA = SpliceModelConfig(arch="mamba", window=WINDOW, d_model=16, n_layers=2, d_state=8)
TINY_MAMBA2 = SpliceModelConfig(
    arch="mamba2", window=WINDOW, d_model=16, n_layers=2, d_state=8, headdim=8
)


def Config(**values) -> SpliceTrainConfig:
    """A training config running on one thread (tiny models are several times faster so)."""
    return SpliceTrainConfig(**{"threads": 1, **values})


def planted(n_per_class: int, seed: int) -> dict[str, np.ndarray]:
    """Random windows where the class is decided by a motif around the centre, not by GT/AG.

    Donors carry GTAAGT at ``[c, c+6)``, acceptors TTTTTTCAG ending at ``c``; negatives carry a
    bare GT at ``[c, c+2)`` (half of them, "decoys") or AG at ``[c-1, c+1)`` ("random").
    """
    rng = np.random.default_rng(seed)
    n = 3 * n_per_class
    windows = rng.integers(0, 4, size=(n, WINDOW), dtype=np.uint8)
    labels = np.repeat(np.array([DONOR, ACCEPTOR, NEITHER], dtype=np.int8), n_per_class)
    source = np.where(labels == NEITHER, 1, 0).astype(np.int8)
    donors, acceptors = np.flatnonzero(labels == DONOR), np.flatnonzero(labels == ACCEPTOR)
    windows[donors, CENTRE : CENTRE + 6] = encode("GTAAGT")
    windows[acceptors, CENTRE - 8 : CENTRE + 1] = encode("TTTTTTCAG")
    negatives = np.flatnonzero(labels == NEITHER)
    gt, ag = negatives[: len(negatives) // 2], negatives[len(negatives) // 2 :]
    windows[gt, CENTRE : CENTRE + 2] = encode("GT")
    windows[ag, CENTRE - 1 : CENTRE + 1] = encode("AG")
    source[ag] = 2
    order = rng.permutation(n)
    return {
        "windows": windows[order],
        "labels": labels[order],
        "source": source[order],
        "seqid": np.zeros(n, dtype=np.int32),
        "position": np.arange(n, dtype=np.int64) * 1000,
        "strand": np.ones(n, dtype=np.int8),
    }


def write_dataset(directory: Path, splits: dict[str, dict[str, np.ndarray]]) -> Path:
    """A dataset directory in ``genatator splice extract``'s layout (npz splits + manifest)."""
    directory.mkdir(parents=True)
    for name in ("train", "val", "test"):
        np.savez(directory / f"{name}.npz", **splits.get(name, splits["val"]))
    manifest = {
        "format": DATA_FORMAT,
        "version": DATA_VERSION,
        "window": WINDOW,
        "options": {"window": WINDOW},
        "sequences": ["chrS"],
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


@pytest.fixture(scope="module")
def motif_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("splice")
    return write_dataset(root / "data", {"train": planted(300, seed=1), "val": planted(60, seed=2)})


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    """70 training rows: 3 steps per epoch at batch 32 (the last one short)."""
    root = tmp_path_factory.mktemp("splice")
    return write_dataset(
        root / "data", {"train": planted(70 // 3 + 1, seed=3), "val": planted(10, seed=4)}
    )


def held_out_accuracy(model_dir: Path) -> float:
    test = planted(100, seed=99)
    model = load_splice_model(model_dir)
    _, accuracy = evaluate_windows(
        model,
        test["windows"],
        test["labels"].astype(np.int64),
        batch_size=128,
        label_smoothing=0.0,
        device=torch.device("cpu"),
    )
    return accuracy


def test_tiny_cnn_learns_a_planted_motif_and_shuffled_labels_do_not(motif_data, tmp_path):
    train = Config(batch_size=32, lr=3e-3, max_epochs=3, seed=0)
    summary = train_splice(TINY_CNN, train, motif_data, tmp_path / "run")
    assert summary["stop_reason"] == "max_epochs"
    assert summary["steps"] == 3 * 29  # 900 rows at batch 32
    assert held_out_accuracy(tmp_path / "run" / "best") >= 0.9

    # Control: the same training with permuted labels (train and val, so that choosing the
    # best model by val loss cannot leak them) stays near chance (1/3) on true labels: the 0.9
    # threshold measures learning the motif.
    shuffled = {"train": planted(300, seed=1), "val": planted(60, seed=2)}
    for i, split in enumerate(shuffled.values()):
        split["labels"] = np.random.default_rng(i).permutation(split["labels"])
    control = write_dataset(tmp_path / "shuffled", shuffled)
    train_splice(TINY_CNN, train, control, tmp_path / "control")
    assert held_out_accuracy(tmp_path / "control" / "best") < 0.5


@pytest.mark.slow
def test_tiny_mamba_learns_a_planted_motif(motif_data, tmp_path):
    data = write_dataset(
        tmp_path / "data", {"train": planted(300, seed=1), "val": planted(60, seed=2)}
    )
    train = Config(batch_size=32, lr=3e-3, max_epochs=6, seed=0)
    summary = train_splice(TINY_MAMBA, train, data, tmp_path / "run")
    assert summary["backend"] == "chunked"  # the CPU default
    assert held_out_accuracy(tmp_path / "run" / "best") >= 0.9


@pytest.mark.slow
def test_tiny_mamba2_learns_a_planted_motif_in_bf16(motif_data, tmp_path):
    data = write_dataset(
        tmp_path / "data", {"train": planted(300, seed=1), "val": planted(60, seed=2)}
    )
    train = Config(batch_size=32, lr=3e-3, max_epochs=6, seed=0, precision="bf16")
    train_splice(TINY_MAMBA2, train, data, tmp_path / "run")
    assert held_out_accuracy(tmp_path / "run" / "best") >= 0.9


def _final_state(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "last.pt", weights_only=True)["model"]


def _history(run: Path) -> list[dict]:
    lines = (run / "history.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "elapsed_s"} for line in lines]


@pytest.mark.parametrize(
    "model_config,precision",
    [(TINY_MAMBA, "fp32"), (TINY_MAMBA2, "bf16"), (TINY_CNN, "fp32")],
    ids=["mamba", "mamba2-bf16", "cnn"],
)
def test_stopped_and_resumed_run_equals_an_uninterrupted_one(
    model_config, precision, small_data, tmp_path
):
    def Config(**values) -> SpliceTrainConfig:
        return SpliceTrainConfig(threads=1, precision=precision, **values)

    straight = Config(eval_every=4, max_steps=11, seed=7, lr=1e-3)
    train_splice(model_config, straight, small_data, tmp_path / "straight")
    # Stop once at an evaluation (step 4) and once between evaluations (step 5, mid-epoch).
    first = Config(eval_every=4, max_steps=4, seed=7, lr=1e-3)
    summary = train_splice(model_config, first, small_data, tmp_path / "resumed")
    assert summary["stop_reason"] == "max_steps" and summary["steps"] == 4
    with open(tmp_path / "resumed" / "history.jsonl", "a") as handle:  # as a killed run may
        handle.write('{"step": 5, "val_loss": 0.0}\n')
    second = Config(eval_every=4, max_steps=5, seed=7, lr=1e-3)
    summary = train_splice(model_config, second, small_data, tmp_path / "resumed", resume=True)
    assert summary["steps"] == 5 and summary["epochs"] == pytest.approx(5 / 3)
    summary = train_splice(model_config, straight, small_data, tmp_path / "resumed", resume=True)
    assert summary["steps"] == 11

    a, b = _final_state(tmp_path / "straight"), _final_state(tmp_path / "resumed")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _history(tmp_path / "straight") == _history(tmp_path / "resumed")
    best_a = load_splice_model(tmp_path / "straight" / "best").state_dict()
    best_b = load_splice_model(tmp_path / "resumed" / "best").state_dict()
    assert all(torch.equal(best_a[k], best_b[k]) for k in best_a)


def test_history_and_run_files(small_data, tmp_path):
    config = Config(eval_every=2, max_steps=5, seed=0)
    threads = torch.get_num_threads()
    summary = train_splice(TINY_CNN, config, small_data, tmp_path / "run")
    assert torch.get_num_threads() == threads  # the run's threads=1 is not left behind
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == [
        "best",
        "history.jsonl",
        "last.pt",
        "train_config.json",
    ]
    records = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    assert [r["epoch"] for r in records] == [2 / 3, 4 / 3]
    for r in records:
        assert set(r) == {
            "step",
            "epoch",
            "train_loss",
            "val_loss",
            "val_accuracy",
            "lr",
            "elapsed_s",
            "improved",
        }
        assert r["lr"] == 1e-3 and 0 <= r["val_accuracy"] <= 1 and r["train_loss"] > 0
    assert records[0]["improved"] is True
    assert records[0]["elapsed_s"] <= records[1]["elapsed_s"]
    settings = json.loads((run / "train_config.json").read_text())
    assert settings["model"] == TINY_CNN.to_dict()
    assert settings["train"] == config.to_dict()
    assert settings["data"]["n_train"] == 72 and settings["data"]["n_val"] == 30
    assert summary["stop_reason"] == "max_steps" and summary["evaluations"] == 2
    best_loss = min(r["val_loss"] for r in records)
    assert summary["best_val_loss"] == best_loss
    assert summary["last"]["step"] == 4


def test_negatives_option_selects_rows(small_data, tmp_path):
    decoy = Config(max_steps=1, negatives="decoy")
    summary = train_splice(TINY_CNN, decoy, small_data, tmp_path / "decoy")
    # 24 per class; the neither half with GT are decoys (12), the AG half "random" (12).
    assert (summary["n_train"], summary["n_val"]) == (24 + 24 + 12, 10 + 10 + 5)
    assert summary["evaluations"] == 0 and (tmp_path / "decoy" / "best").is_dir()


def test_best_holds_the_evaluated_weights(small_data, tmp_path):
    summary = train_splice(TINY_CNN, Config(max_steps=3, eval_every=3), small_data, tmp_path / "r")
    assert summary["steps"] == 3 and summary["evaluations"] == 1
    model = load_splice_model(tmp_path / "r" / "best")
    val = planted(10, seed=4)
    loss, accuracy = evaluate_windows(
        model,
        val["windows"],
        val["labels"].astype(np.int64),
        batch_size=32,
        label_smoothing=0.1,
        device=torch.device("cpu"),
    )
    assert loss == pytest.approx(summary["best_val_loss"], abs=1e-6)
    assert accuracy == summary["best_val_accuracy"]


def test_early_stopping_triggers(small_data, tmp_path):
    # lr 1e-30 leaves the float32 weights unchanged, so the val loss never improves after the
    # first evaluation (the Mamba model has no BatchNorm statistics that could move it).
    config = Config(lr=1e-30, eval_every=2, early_stopping=3, max_steps=100)
    summary = train_splice(TINY_MAMBA, config, small_data, tmp_path / "run")
    assert summary["stop_reason"] == "early_stopping"
    assert summary["steps"] == 8 and summary["best_step"] == 2
    assert [r["improved"] for r in _history(tmp_path / "run")] == [True, False, False, False]


def test_time_limit_stops_after_a_step_and_log_reports(small_data, tmp_path):
    messages: list[str] = []
    config = Config(max_time_s=1e-9)
    summary = train_splice(TINY_CNN, config, small_data, tmp_path / "run", log=messages.append)
    assert summary["stop_reason"] == "max_time" and summary["steps"] == 1
    assert summary["evaluations"] == 0 and summary["last"]["val_loss"] > 0  # a final val pass
    assert messages[0].startswith("training cnn (") and "72 windows" in messages[0]
    assert messages[-1].startswith("stopped (max_time) at step 1")
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert state["progress"]["step"] == 1 and state["progress"]["batch"] == 1


def test_run_directory_rules(small_data, tmp_path):
    config = Config(max_steps=2, eval_every=1)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="already exists and is not empty"):
        train_splice(TINY_CNN, config, small_data, busy)
    with pytest.raises(ConfigError, match="no splice training run to resume"):
        train_splice(TINY_CNN, config, small_data, tmp_path / "new", resume=True)

    train_splice(TINY_CNN, config, small_data, tmp_path / "run")
    with pytest.raises(ConfigError, match="already exists"):
        train_splice(TINY_CNN, config, small_data, tmp_path / "run")
    other_lr = Config(max_steps=2, eval_every=1, lr=5e-4)
    with pytest.raises(ConfigError, match=r"other settings \(lr None → 0.0005\)"):
        train_splice(TINY_CNN, other_lr, small_data, tmp_path / "run", resume=True)
    wider = SpliceModelConfig(**{**TINY_CNN.to_dict(), "channels": 16})
    with pytest.raises(ConfigError, match="channels 8 → 16"):
        train_splice(wider, config, small_data, tmp_path / "run", resume=True)
    longer = SpliceModelConfig(**{**TINY_CNN.to_dict(), "window": 65})
    with pytest.raises(InputError, match="not the expected 65 nt"):
        train_splice(longer, config, small_data, tmp_path / "other")


def test_train_config_validation():
    assert SpliceTrainConfig().resolved_lr("mamba") == 1e-4
    assert SpliceTrainConfig().resolved_lr("cnn") == 1e-3
    assert SpliceTrainConfig().resolved_lr("mamba2") == 1e-3
    with pytest.raises(ConfigError, match="precision must be one of fp32, bf16"):
        SpliceTrainConfig(precision="fp16")
    assert SpliceTrainConfig(lr=0.5).resolved_lr("cnn") == 0.5
    config = SpliceTrainConfig(eval_every=3, negatives="random")
    assert SpliceTrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match=r"unknown splice training setting.*epochs"):
        SpliceTrainConfig.from_dict({"epochs": 3})
    with pytest.raises(ConfigError, match="negatives must be one of decoy, random, both"):
        SpliceTrainConfig(negatives="none")
    with pytest.raises(ConfigError, match="batch_size must be a positive integer"):
        SpliceTrainConfig(batch_size=0)
