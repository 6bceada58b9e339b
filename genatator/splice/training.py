"""``genatator splice train``: fit a splice classifier on an extracted dataset, resumable exactly.

A run directory holds ``train_config.json`` (model, training and data settings), ``history.jsonl``
(one line per evaluation), ``best/`` (the model with the lowest validation loss, a
:func:`~genatator.splice.models.load_splice_model` directory) and ``last.pt`` (everything needed
to continue: weights, optimizer, scheduler, position in the epoch, RNG state, history). ``last.pt``
is written atomically at every evaluation and when a limit stops the run, so ``resume=True``
continues a stopped or killed run and, on CPU, ends with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from genatator._io import atomic_output
from genatator.config_dict import dataclass_from_dict
from genatator.errors import ConfigError, ModelError
from genatator.splice.models import (
    SpliceModel,
    SpliceModelConfig,
    build_splice_model,
    parameter_count,
)

CONFIG_FILE = "train_config.json"
HISTORY_FILE = "history.jsonl"
CHECKPOINT_FILE = "last.pt"
BEST_DIR = "best"
CHECKPOINT_FORMAT = "genatator-splice-checkpoint-1"
#: Learning rate per architecture when none is given (mamba: the source project's 1e-4).
DEFAULT_LR = {"mamba": 1e-4, "mamba2": 1e-3, "cnn": 1e-3}
PRECISIONS = ("fp32", "bf16")
#: Settings that may differ when a run is resumed: they only decide when it stops or where it
#: runs, never what a training step does.
RESUMABLE = frozenset(
    {"max_epochs", "max_steps", "max_time_s", "early_stopping", "device", "threads"}
)
NEGATIVES = {"decoy": (0, 1), "random": (0, 2), "both": (0, 1, 2)}

Log = Callable[[str], None]


@dataclass
class SpliceTrainConfig:
    """Options of ``genatator splice train``.

    Attributes:
        batch_size: windows per optimisation step.
        lr: AdamW learning rate; None takes the architecture's default (:data:`DEFAULT_LR`).
        weight_decay: AdamW weight decay (not applied to biases, norms, ``A_log`` and ``D``).
        label_smoothing: cross-entropy label smoothing, in training and validation loss alike.
        clip: gradient-norm clip; None or 0 disables it.
        plateau_patience: evaluations without val-loss improvement before the LR is cut.
        plateau_factor: LR multiplier of a plateau cut.
        early_stopping: stop after this many evaluations without val-loss improvement (None: never).
        max_epochs: stop after this many passes over the training windows.
        eval_every: evaluate every this many steps; None evaluates at the end of each epoch.
        max_steps: stop after this many steps in all (None: no limit).
        max_time_s: stop after this many seconds of this invocation (None: no limit).
        negatives: negative rows used from train and val: ``"decoy"``, ``"random"`` or ``"both"``.
        seed: seeds the initial weights, dropout and the per-epoch order.
        device: torch device, e.g. ``"cpu"`` or ``"cuda"``.
        threads: torch CPU threads (None: torch's default).
        precision: ``"fp32"``, or ``"bf16"`` for bf16 autocast of the training steps (the
            weights, optimiser and validation stay float32).
    """

    batch_size: int = 32
    lr: float | None = None
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    clip: float | None = 1.0
    plateau_patience: int = 2
    plateau_factor: float = 0.1
    early_stopping: int | None = 10
    max_epochs: int = 20
    eval_every: int | None = None
    max_steps: int | None = None
    max_time_s: float | None = None
    negatives: str = "both"
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    precision: str = "fp32"

    def __post_init__(self) -> None:
        positive_ints = {"batch_size": self.batch_size, "max_epochs": self.max_epochs}
        optional_ints = {
            "early_stopping": self.early_stopping,
            "eval_every": self.eval_every,
            "max_steps": self.max_steps,
            "threads": self.threads,
        }
        for name, value in {**positive_ints, **optional_ints}.items():
            if value is None and name in optional_ints:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(
                    f"splice training {name} must be a positive integer, got {value!r}"
                )
        patience = self.plateau_patience
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 0:
            raise ConfigError(
                f"splice training plateau_patience must be an integer >= 0, got {patience!r}"
            )
        if self.lr is not None and not self.lr > 0:
            raise ConfigError(f"splice training lr must be positive, got {self.lr}")
        if self.weight_decay < 0:
            raise ConfigError(f"splice training weight_decay must be >= 0, got {self.weight_decay}")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(
                f"splice training label_smoothing must be in [0, 1), got {self.label_smoothing}"
            )
        if self.clip is not None and self.clip < 0:
            raise ConfigError(f"splice training clip must be >= 0, got {self.clip}")
        if not 0 < self.plateau_factor < 1:
            raise ConfigError(
                f"splice training plateau_factor must be in (0, 1), got {self.plateau_factor}"
            )
        if self.max_time_s is not None and not self.max_time_s > 0:
            raise ConfigError(f"splice training max_time_s must be positive, got {self.max_time_s}")
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"splice training precision must be one of {', '.join(PRECISIONS)}, "
                f"not {self.precision!r}"
            )
        if self.negatives not in NEGATIVES:
            raise ConfigError(
                f"splice training negatives must be one of {', '.join(NEGATIVES)}, "
                f"not {self.negatives!r}"
            )

    def resolved_lr(self, arch: str) -> float:
        """The learning rate used for ``arch``."""
        return self.lr if self.lr is not None else DEFAULT_LR[arch]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SpliceTrainConfig:
        """Build from a dict, rejecting unknown keys.

        Raises:
            ConfigError: an unknown key or an invalid value.
        """
        return dataclass_from_dict(cls, values, "splice training")


@dataclass
class _Progress:
    """Where a run is; saved in ``last.pt`` so a resumed run continues exactly."""

    step: int = 0
    epoch: int = 0  # current epoch (0-based)
    batch: int = 0  # next batch of the current epoch's order
    best_loss: float = math.inf
    best_step: int | None = None
    best_accuracy: float | None = None
    bad_evals: int = 0  # evaluations since the last val-loss improvement
    loss_sum: float = 0.0  # training loss since the last evaluation (for the history)
    loss_rows: int = 0
    elapsed_s: float = 0.0  # training time of earlier invocations
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Split:
    windows: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def _load_split(data_dir: str | Path, split: str, window: int, negatives: str) -> _Split:
    from genatator.splice.dataset import load_split

    data = load_split(data_dir, split, window=window)
    keep = np.isin(data.source, NEGATIVES[negatives])
    return _Split(windows=data.windows[keep], labels=data.labels[keep].astype(np.int64))


def _device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"splice training device {name!r} is not a torch device") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"splice training device {name!r}: CUDA is not available")
    return device


def _parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Decay weight matrices only; biases, norms, ``A_log`` and ``D`` are left alone (as Mamba)."""
    decay, keep = [], []
    for name, parameter in model.named_parameters():
        no_decay = parameter.ndim < 2 or name.endswith(("A_log", ".D"))
        (keep if no_decay else decay).append(parameter)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": keep, "weight_decay": 0.0},
    ]


def _differences(saved: dict[str, Any], given: dict[str, Any], ignore: frozenset[str]) -> list[str]:
    keys = sorted((set(saved) | set(given)) - ignore)
    return [
        f"{k} {saved.get(k)!r} → {given.get(k)!r}" for k in keys if saved.get(k) != given.get(k)
    ]


@torch.no_grad()
def evaluate_windows(
    model: SpliceModel,
    windows: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    label_smoothing: float,
    device: torch.device,
) -> tuple[float, float]:
    """Mean (label-smoothed) cross-entropy and accuracy of ``model`` on windows, in eval mode.

    Returns:
        ``(loss, accuracy)``; the model is put back in training mode afterwards.
    """
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing, reduction="sum")
    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    for start in range(0, len(labels), batch_size):
        codes = torch.from_numpy(windows[start : start + batch_size]).long().to(device)
        target = torch.from_numpy(labels[start : start + batch_size]).long().to(device)
        logits = model(codes)
        total += float(loss_fn(logits.float(), target))
        correct += int((logits.argmax(-1) == target).sum())
    model.train(was_training)
    n = max(1, len(labels))
    return total / n, correct / n


def train_splice(
    model_config: SpliceModelConfig,
    train_config: SpliceTrainConfig,
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    resume: bool = False,
    log: Log | None = None,
) -> dict[str, Any]:
    """Train a splice classifier on ``data_dir``'s train split, selecting on its val split.

    AdamW with label-smoothed cross-entropy, gradient-norm clipping, ReduceLROnPlateau on the
    validation loss and early stopping. Epoch ``e`` visits the training rows in the order
    ``np.random.default_rng([seed, e]).permutation(n)``.

    Args:
        model_config: the model to train (its ``window`` must equal the dataset's).
        train_config: optimisation and stopping options.
        data_dir: a directory written by ``genatator splice extract``.
        out_dir: the run directory (must be new or empty unless ``resume``).
        resume: continue the run in ``out_dir`` from ``last.pt``. Only the stopping limits
            (max_epochs, max_steps, max_time_s, early_stopping), device and threads may differ.
        log: called with a one-line progress message at the start, every evaluation and the end.

    Returns:
        A summary: ``stop_reason`` (max_epochs, max_steps, max_time or early_stopping), steps,
        epochs, best and last validation results, elapsed time, data sizes, parameter count.

    Raises:
        ConfigError: ``out_dir`` already holds a run and ``resume`` is False, there is no run
            to resume, or the resumed run had other settings or data.
        InputError: the dataset is missing or malformed, or its window differs from the model's.
        ModelError: training a Mamba on CUDA without mamba_ssm, and mambapy is not installed;
            a CNN whose receptive field does not fit the window.
    """
    if model_config.arch == "cnn" and model_config.cnn_context >= model_config.window:
        # Training windows would pad with zeros what a genome scan sees as sequence.
        raise ModelError(
            f"the CNN's receptive field ({model_config.cnn_context + 1} nt) does not fit its "
            f"{model_config.window}-nt windows; extract the data with --window above "
            f"{model_config.cnn_context}, or use fewer or smaller dilations"
        )
    say = log or (lambda message: None)
    out_dir = Path(out_dir)
    saved: dict[str, Any] | None = None
    if resume:
        saved = _read_resumable(out_dir, model_config, train_config)
    elif out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConfigError(
            f"{out_dir}: already exists and is not empty; resume that run or choose a new out_dir"
        )

    threads = torch.get_num_threads()
    if train_config.threads is not None:
        torch.set_num_threads(train_config.threads)
    try:
        return _train(model_config, train_config, data_dir, out_dir, saved, say)
    finally:
        torch.set_num_threads(threads)  # the setting is process-wide: give it back


def _train(
    model_config: SpliceModelConfig,
    train_config: SpliceTrainConfig,
    data_dir: str | Path,
    out_dir: Path,
    saved: dict[str, Any] | None,
    say: Log,
) -> dict[str, Any]:
    """The body of :func:`train_splice` once the run directory has been checked."""
    run = _SpliceRun(model_config, train_config, data_dir, out_dir, saved)
    say(run.opening())
    while (stop_reason := run.stop_reason()) is None:
        run.step()
        if run.evaluation_due():
            say(run.evaluate_and_record())
        if run.out_of_time():
            stop_reason = "max_time"
            break
    summary = run.finish(stop_reason)
    say(
        f"stopped ({stop_reason}) at step {summary['steps']}; best val loss "
        f"{summary['best_val_loss']} at step {summary['best_step']}; model in "
        f"{summary['best_dir']}"
    )
    return summary


class _SpliceRun:
    """One splice-classifier training run: data, model, optimiser, progress and its files."""

    def __init__(
        self,
        model_config: SpliceModelConfig,
        train_config: SpliceTrainConfig,
        data_dir: str | Path,
        out_dir: Path,
        saved: dict[str, Any] | None,
    ) -> None:
        self.model_config, self.config, self.out_dir = model_config, train_config, out_dir
        self.device = _device(train_config.device)
        self.train, self.val, self.data_info = _load_data(
            data_dir, model_config.window, train_config.negatives, saved, out_dir
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        run_settings = {
            "model": model_config.to_dict(),
            "train": train_config.to_dict(),
            "data": self.data_info,
        }
        with atomic_output(out_dir / CONFIG_FILE) as handle:
            json.dump(run_settings, handle, indent=2)
            handle.write("\n")

        torch.manual_seed(train_config.seed)  # fixes the initial weights and the dropout stream
        self.model = build_splice_model(model_config).to(self.device)
        self.backend = None
        if model_config.arch == "mamba":
            from genatator.splice.mamba import mamba_backend

            self.backend = mamba_backend(self.device)  # ModelError now, not at the first step
        self.lr = train_config.resolved_lr(model_config.arch)
        self.optimizer = torch.optim.AdamW(
            _parameter_groups(self.model, train_config.weight_decay), lr=self.lr
        )
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer,
            mode="min",
            factor=train_config.plateau_factor,
            patience=train_config.plateau_patience,
        )
        self.progress = _Progress()
        resumed = saved is not None and saved["checkpoint"] is not None
        if resumed:
            self._restore(saved["checkpoint"])  # type: ignore[index]
        # The history on disk may hold lines a killed run wrote after its checkpoint: rewrite it.
        with atomic_output(out_dir / HISTORY_FILE) as handle:
            for record in self.progress.history:
                handle.write(json.dumps(record) + "\n")
        self.n_batches = math.ceil(len(self.train) / train_config.batch_size)
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=train_config.label_smoothing)
        self.started = time.monotonic()
        self.earlier_s = self.progress.elapsed_s  # training time of earlier invocations
        self.checkpointed_at = self.progress.step if resumed else None
        self.order: np.ndarray | None = None
        self.order_epoch = -1
        self.epoch_done = False  # whether the last step finished an epoch
        self.model.train()

    def _restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"]["cpu"])
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        self.progress = _Progress(**state["progress"])

    def opening(self) -> str:
        """The first progress line."""
        progress, backend = self.progress, self.backend
        return (
            f"{'resuming' if progress.step else 'training'} {self.model_config.arch} "
            f"({parameter_count(self.model):,} parameters{f', {backend}' if backend else ''}) "
            f"on {len(self.train):,} windows, validating on {len(self.val):,}; step "
            f"{progress.step}, {self.n_batches} steps per epoch, lr {self.lr:g}, "
            f"device {self.device}"
        )

    def stop_reason(self) -> str | None:
        """Why the run stops before its next step (a limit reached), or None."""
        config, progress = self.config, self.progress
        if config.early_stopping and progress.bad_evals >= config.early_stopping:
            return "early_stopping"
        if progress.epoch >= config.max_epochs:
            return "max_epochs"
        if config.max_steps is not None and progress.step >= config.max_steps:
            return "max_steps"
        return None

    def out_of_time(self) -> bool:
        limit = self.config.max_time_s
        return limit is not None and time.monotonic() - self.started >= limit

    def step(self) -> None:
        """One optimiser step on the next batch of this epoch's order."""
        config, progress = self.config, self.progress
        if self.order_epoch != progress.epoch:
            rng = np.random.default_rng([config.seed, progress.epoch])
            self.order, self.order_epoch = rng.permutation(len(self.train)), progress.epoch
        assert self.order is not None
        rows = self.order[progress.batch * config.batch_size :][: config.batch_size]
        codes = torch.from_numpy(self.train.windows[rows]).long().to(self.device)
        target = torch.from_numpy(self.train.labels[rows]).to(self.device)
        with torch.autocast(self.device.type, torch.bfloat16, enabled=config.precision == "bf16"):
            logits = self.model(codes)
        loss = self.loss_fn(logits.float(), target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), config.clip)
        self.optimizer.step()
        progress.step += 1
        progress.loss_sum += float(loss.detach()) * len(rows)
        progress.loss_rows += len(rows)
        progress.batch += 1
        self.epoch_done = progress.batch == self.n_batches
        if self.epoch_done:
            progress.epoch += 1
            progress.batch = 0

    def evaluation_due(self) -> bool:
        every = self.config.eval_every
        return self.progress.step % every == 0 if every else self.epoch_done

    def evaluate(self) -> tuple[float, float]:
        return evaluate_windows(
            self.model,
            self.val.windows,
            self.val.labels,
            batch_size=self.config.batch_size,
            label_smoothing=self.config.label_smoothing,
            device=self.device,
        )

    def evaluate_and_record(self) -> str:
        """Validate, step the LR schedule, keep the best model, log and checkpoint; returns
        the progress line."""
        progress = self.progress
        val_loss, val_accuracy = self.evaluate()
        self.scheduler.step(val_loss)
        improved = val_loss < progress.best_loss
        if improved:
            progress.best_loss, progress.best_step = val_loss, progress.step
            progress.best_accuracy = val_accuracy
            progress.bad_evals = 0
            self.model.save_pretrained(self.out_dir / BEST_DIR)
        else:
            progress.bad_evals += 1
        record = {
            "step": progress.step,
            "epoch": progress.epoch + progress.batch / self.n_batches,
            "train_loss": progress.loss_sum / max(1, progress.loss_rows),
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
            "lr": self.optimizer.param_groups[0]["lr"],
            "elapsed_s": self.earlier_s + time.monotonic() - self.started,
            "improved": improved,
        }
        progress.history.append(record)
        progress.loss_sum, progress.loss_rows = 0.0, 0
        with open(self.out_dir / HISTORY_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        self.checkpoint()
        return (
            f"step {progress.step} epoch {record['epoch']:.2f}: train loss "
            f"{record['train_loss']:.4f}, val loss {val_loss:.4f}, val accuracy "
            f"{val_accuracy:.4f}, lr {record['lr']:.2g}" + (" (best)" if improved else "")
        )

    def checkpoint(self) -> None:
        """Save everything a resumed run needs to continue exactly (``last.pt``)."""
        self.progress.elapsed_s = self.earlier_s + time.monotonic() - self.started
        rng = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        state = {
            "format": CHECKPOINT_FORMAT,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng,
            "progress": dataclasses.asdict(self.progress),
            "model_config": self.model_config.to_dict(),
            "train_config": self.config.to_dict(),
            "data": self.data_info,
        }
        with atomic_output(self.out_dir / CHECKPOINT_FILE, binary=True) as handle:
            torch.save(state, handle)
        self.checkpointed_at = self.progress.step

    def finish(self, stop_reason: str) -> dict[str, Any]:
        """Save where the run stopped, make sure a best model exists, and summarise."""
        progress = self.progress
        if self.checkpointed_at != progress.step:
            # Save where a limit stopped the run, without evaluating: an evaluation would step
            # the LR scheduler and make a resumed run differ from an uninterrupted one.
            self.checkpoint()
        elapsed = self.earlier_s + time.monotonic() - self.started
        best_dir = self.out_dir / BEST_DIR
        final = None
        if not best_dir.is_dir():
            # No evaluation happened yet; keep a usable model (a resumed run replaces it at its
            # first evaluation, since the checkpoint records no best loss).
            val_loss, val_accuracy = self.evaluate()
            final = {"val_loss": val_loss, "val_accuracy": val_accuracy}
            self.model.save_pretrained(best_dir)
        return {
            "stop_reason": stop_reason,
            "arch": self.model_config.arch,
            "backend": self.backend,
            "parameters": parameter_count(self.model),
            "steps": progress.step,
            "epochs": progress.epoch + progress.batch / self.n_batches,
            "best_step": progress.best_step,
            "best_val_loss": None if progress.best_step is None else progress.best_loss,
            "best_val_accuracy": progress.best_accuracy,
            "last": progress.history[-1] if progress.history else final,
            "evaluations": len(progress.history),
            "elapsed_s": elapsed,
            "lr": self.optimizer.param_groups[0]["lr"],
            "n_train": len(self.train),
            "n_val": len(self.val),
            "best_dir": str(best_dir),
            "out_dir": str(self.out_dir),
        }


def _load_data(
    data_dir: str | Path,
    window: int,
    negatives: str,
    saved: dict[str, Any] | None,
    out_dir: Path,
) -> tuple[_Split, _Split, dict[str, Any]]:
    """The train and val splits and their description, checked against a resumed run's."""
    train = _load_split(data_dir, "train", window, negatives)
    val = _load_split(data_dir, "val", window, negatives)
    if not len(train) or not len(val):
        raise ConfigError(
            f"{data_dir}: the train and val splits need windows, found {len(train)} and {len(val)} "
            f"(negatives={negatives})"
        )
    data_info = {
        "data_dir": str(Path(data_dir).resolve()),
        "n_train": len(train),
        "n_val": len(val),
        "window": window,
    }
    if saved is not None and saved["data"] is not None:
        changed = _differences(saved["data"], data_info, frozenset({"data_dir"}))
        if changed:
            raise ConfigError(
                f"{out_dir}: the run was trained on other data ({'; '.join(changed)}); "
                "resume it with the same dataset or start a new out_dir"
            )
    return train, val, data_info


def _read_resumable(
    out_dir: Path, model_config: SpliceModelConfig, train_config: SpliceTrainConfig
) -> dict[str, Any]:
    """The saved state of the run in ``out_dir``, checked against the given settings.

    Returns:
        ``{"checkpoint": state or None, "data": saved data info or None}``; no checkpoint means
        the run stopped before its first evaluation and restarts from step 0.
    """
    path = out_dir / CHECKPOINT_FILE
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a truncated or foreign file
            raise ConfigError(f"{path}: cannot read the checkpoint ({exc})") from None
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise ConfigError(f"{path}: not a splice training checkpoint")
        saved_model, saved_train, data = state["model_config"], state["train_config"], state["data"]
    elif (out_dir / CONFIG_FILE).is_file():
        try:
            settings = json.loads((out_dir / CONFIG_FILE).read_text(encoding="utf-8"))
            saved_model, saved_train = settings["model"], settings["train"]
            data = settings.get("data")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{out_dir / CONFIG_FILE}: unreadable run settings ({exc})") from None
        state = None
    else:
        raise ConfigError(f"{out_dir}: no splice training run to resume (no {CHECKPOINT_FILE})")
    changed = _differences(saved_model, model_config.to_dict(), frozenset()) + _differences(
        saved_train, train_config.to_dict(), RESUMABLE
    )
    if changed:
        raise ConfigError(
            f"{out_dir}: the run was started with other settings ({'; '.join(changed)}); "
            "resume it with the same settings or start a new out_dir"
        )
    return {"checkpoint": state, "data": data}


__all__ = [
    "DEFAULT_LR",
    "SpliceTrainConfig",
    "evaluate_windows",
    "train_splice",
]
