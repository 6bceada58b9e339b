"""The training loop: optimisation, validation, best model, checkpoints, resume and DDP."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from genatator import __version__
from genatator._io import atomic_output
from genatator.decode.counting import GeneModelCounts, count_gene_model, write_gene_model
from genatator.distributed import Distributed, init_distributed
from genatator.errors import ConfigError, GenatatorError
from genatator.labels import CDS, CLASSES, EXON
from genatator.model.directory import (
    create_model,
    load_model_directory,
    write_model_directory,
)
from genatator.model.files import resolve_model_dir
from genatator.model.genatator import GenatatorModel
from genatator.model.settings import InferenceSettings
from genatator.regions import parse_regions
from genatator.tokenizer import DnaTokenizer
from genatator.training.config import TrainConfig, parse_curriculum, segments_at
from genatator.training.prepare import TRAIN, PreparedData, prepare
from genatator.training.samples import Sample, SampleSource, collate
from genatator.training.track_metrics import TrackMetrics

logger = logging.getLogger(__name__)

CONFIG_FILE = "train_config.json"
METRICS_FILE = "metrics.jsonl"
DATA_DIR, INIT_DIR, BEST_DIR, CHECKPOINT_DIR = "data", "init", "best", "checkpoints"
#: Fraction of the token budget the default window aims at, leaving room for token-length noise.
_WINDOW_FILL = 0.95


@dataclass
class TrainResult:
    """How a ``train`` invocation ended."""

    step: int
    max_steps: int
    best_step: int | None
    best_metrics: dict[str, float] | None
    stopped_early: bool  # time limit or termination signal before max_steps


def train(
    run_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    resume: bool = False,
    given: dict[str, Any] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train (or continue training) a model in ``run_dir``.

    Args:
        run_dir: the run directory (created; must be empty unless ``resume``).
        config: the options of a new run (ignored on resume when the run has saved options).
        resume: continue from the run's latest checkpoint, reusing its prepared data.
        given: options given again on resume (checked against, or applied to, the saved ones).
        progress: show a tqdm bar (only on a terminal, only on rank 0).

    Returns:
        Where training stopped and the best validation result.

    Raises:
        GenatatorError: bad input or options, found before any training step.
    """
    run_dir = Path(run_dir)
    requested_device = (given or {}).get("device") or (config.device if config else "auto")
    world = init_distributed(requested_device)
    try:
        return _Trainer(run_dir, world).run(config, resume=resume, given=given, progress=progress)
    finally:
        world.close()


class _Trainer:
    def __init__(self, run_dir: Path, world: Distributed) -> None:
        self.run_dir = run_dir
        self.world = world
        self._gene_model_counts: GeneModelCounts | None = None
        if not world.is_main:
            logging.getLogger("genatator").setLevel(logging.WARNING)

    # -- set-up --------------------------------------------------------------------------------

    def run(
        self,
        config: TrainConfig | None,
        *,
        resume: bool,
        given: dict[str, Any] | None,
        progress: bool,
    ) -> TrainResult:
        error: GenatatorError | None = None
        if self.world.is_main:
            try:
                self._set_up(config, resume=resume, given=given or {})
            except GenatatorError as exc:
                error = exc
        self.world.share_outcome(error)
        self.config = TrainConfig.load(self.run_dir / CONFIG_FILE)
        if not self.world.is_main:  # rank 0 prepared (or reused) the data in _set_up
            self.data = self._prepare()
        self.model, self.tokenizer = load_model_directory(self.run_dir / INIT_DIR)
        self.source = self._sample_source()
        return self._train(progress=progress)

    def _set_up(self, config: TrainConfig | None, *, resume: bool, given: dict[str, Any]) -> None:
        """Rank 0: options, prepared data, initial model and window, before any training. A run
        directory this call created is removed again when its inputs turn out bad."""
        created = not self.run_dir.exists()
        try:
            self._set_up_run(config, resume=resume, given=given)
        except GenatatorError:
            if created:
                shutil.rmtree(self.run_dir, ignore_errors=True)
            raise

    def _set_up_run(
        self, config: TrainConfig | None, *, resume: bool, given: dict[str, Any]
    ) -> None:
        saved = self.run_dir / CONFIG_FILE
        if resume and saved.is_file():
            config = TrainConfig.load(saved).resumed_with(given)
        elif not resume and self.run_dir.exists() and any(self.run_dir.iterdir()):
            raise ConfigError(
                f"{self.run_dir}: already exists and is not empty; pass --resume to continue "
                "that run, or choose a new directory"
            )
        if config is None:
            raise ConfigError(f"{self.run_dir}: no saved run to resume; start it without --resume")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config = config
        data = self._prepare()
        init = self.run_dir / INIT_DIR
        if not (init / "model.safetensors").is_file():
            self._write_initial_model(init, data)
        model, tokenizer = load_model_directory(init)
        if config.window is None:
            config.window = default_window(data, tokenizer, model.config.max_tokens)
            logger.info(
                "window: %d nt (fills %d tokens; set --window to change)",
                config.window,
                model.config.max_tokens,
            )
        self.data, self.tokenizer = data, tokenizer
        self._sample_source()  # checks the window against the data before saving anything
        config.save(saved)

    def _prepare(self) -> PreparedData:
        config = self.config
        regions = (
            parse_regions(config.val_regions, option="--val-regions") if config.val_regions else []
        )
        return prepare(
            self.run_dir / DATA_DIR,
            config.sources,
            val_sources=config.val_sources,
            val_regions=regions,
            derive_cds=config.derive_cds,
        )

    def _gene_model(self) -> GeneModelCounts:
        """The HMM decoder's gene model, counted once from the training sources minus the
        validation regions (written with every best model)."""
        if self._gene_model_counts is None:
            config = self.config
            regions = (
                parse_regions(config.val_regions, option="--val-regions")
                if config.val_regions
                else []
            )
            self._gene_model_counts = count_gene_model(
                [(source.genome, source.annotation) for source in config.sources],
                exclude=regions,
                derive_cds=config.derive_cds,
            )
        return self._gene_model_counts

    def _write_initial_model(self, init: Path, data: PreparedData) -> None:
        config = self.config
        if config.model is not None:
            model, tokenizer = load_model_directory(resolve_model_dir(config.model))
            card = f"# genatator model: start of a training run\n\nCopied from {config.model}\n"
        else:
            new = create_model(
                preset=config.preset,
                tokenizer=config.tokenizer,
                backbone=config.backbone,
                seed=config.seed,
            )
            model, tokenizer, card = new.model, new.tokenizer, new.card()
        if config.window is not None:
            _fit_token_budget(model, data, tokenizer, config.window)
        write_model_directory(init, model, tokenizer, card, replace=True)

    def _sample_source(self) -> SampleSource:
        assert self.config.window is not None
        return SampleSource(
            self.data,
            window=self.config.window,
            transcript_fraction=self.config.transcript_fraction,
            rc_probability=self.config.rc_augment,
            seed=self.config.seed,
        )

    # -- the loop ------------------------------------------------------------------------------

    def _train(self, *, progress: bool) -> TrainResult:
        config, world = self.config, self.world
        device = _device(config.device, world)
        model = self.model.to(device)
        if config.gradient_checkpointing:
            model.encoder.gradient_checkpointing = True
        optimizer, scheduler = _optimizer(model, config)
        torch.manual_seed(config.seed + world.rank)
        step, best, elapsed = 0, _Best(), 0.0
        checkpoints = _Checkpoints(self.run_dir / CHECKPOINT_DIR, config.keep_checkpoints)
        latest = checkpoints.latest()
        if latest is not None:
            step, best, elapsed = _restore(latest, model, optimizer, scheduler, world)
            logger.info("resumed from %s (step %d)", latest, step)
        metrics_log = _MetricsLog(self.run_dir / METRICS_FILE, enabled=world.is_main)
        metrics_log.truncate_after(step)

        wrapped: nn.Module = model
        if world.enabled:
            wrapped = DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None
            )
        autocast = _autocast(config.precision, device)
        validation = self.source.validation_samples(config.val_samples) if world.is_main else []
        stages = parse_curriculum(config.curriculum)
        invoked = time.monotonic()  # --max-time is per invocation
        started = invoked - elapsed  # elapsed_s goes on from the checkpoint
        window = _LogWindow()
        bar = tqdm(
            total=config.max_steps,
            initial=step,
            unit="step",
            file=sys.stderr,
            dynamic_ncols=True,
            disable=not (progress and world.is_main and sys.stderr.isatty()),
        )
        stopped_early = False
        with bar, _termination_flag() as terminated:
            while step < config.max_steps:
                model.train()
                loss_sum, nucleotides = self._step(
                    wrapped, model, step, segments_at(stages, step), device, autocast
                )
                if config.clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1

                out_of_time = (
                    config.max_time is not None and time.monotonic() - invoked >= config.max_time
                )
                loss, total_nt, stop = world.sum(
                    [loss_sum / config.grad_accum, nucleotides, float(out_of_time or terminated())],
                    device,
                )
                window.add(loss / world.world_size, total_nt)
                bar.update(1)
                if step % config.log_every == 0 or step == config.max_steps:
                    self._log(window, step, scheduler.get_last_lr()[0], started, metrics_log, bar)

                stopping = stop > 0
                paused = time.monotonic()
                # Also when stopping early (a time limit, SIGTERM): the best model then covers
                # the last steps too, however the budget fell against --eval-every.
                validate = step % config.eval_every == 0 or step == config.max_steps or stopping
                if world.is_main and validate:
                    self._validate(model, validation, step, best, metrics_log, device, autocast)
                if stopping or step % config.save_every == 0 or step == config.max_steps:
                    rng = world.gather(_rng_state(device))
                    if world.is_main:
                        checkpoints.save(
                            step, model, optimizer, scheduler, rng, best, paused - started
                        )
                world.barrier()
                # Validation and checkpoint time is not training time: keep it out of nt/s.
                window.started += time.monotonic() - paused
                if stopping:
                    stopped_early = step < config.max_steps
                    break
        return TrainResult(step, config.max_steps, best.step, best.metrics, stopped_early)

    def _step(
        self,
        wrapped: nn.Module,
        model: GenatatorModel,
        step: int,
        cap: int | None,
        device: torch.device,
        autocast: contextlib.AbstractContextManager,
    ) -> tuple[float, int]:
        """Forward and backward passes of one optimiser step's micro-batches (gradients
        accumulate); returns the summed loss and the nucleotides seen. ``cap``: the
        curriculum's segment cap at this step (``None``: none)."""
        config, world = self.config, self.world
        max_tokens = model.config.max_tokens
        content = model.config.memory.content_per_segment
        window = None
        if cap is not None and cap * content < max_tokens:
            window = math.ceil(config.window * cap * content / max_tokens)
            max_tokens = cap * content
        per_step = config.batch_size * config.grad_accum * world.world_size
        loss_sum, nucleotides = 0.0, 0
        for micro in range(config.grad_accum):
            first = step * per_step + world.rank
            indices = [
                first + world.world_size * (micro * config.batch_size + k)
                for k in range(config.batch_size)
            ]
            samples = [self.source.sample(i, window=window) for i in indices]
            batch = collate(self.tokenizer, samples, max_tokens=max_tokens).to(device)
            sync = contextlib.nullcontext()
            if world.enabled and micro < config.grad_accum - 1:
                sync = wrapped.no_sync()  # type: ignore[operator]
            with sync:
                with autocast:
                    out = wrapped(
                        batch.inputs,
                        labels=batch.labels,
                        label_mask=batch.label_mask,
                        channel_mask=batch.channel_mask,
                    )
                (out.loss / config.grad_accum).backward()
            loss_sum += float(out.loss.detach())
            nucleotides += batch.nucleotides
        return loss_sum, nucleotides

    def _log(
        self,
        window: _LogWindow,
        step: int,
        lr: float,
        started: float,
        metrics_log: _MetricsLog,
        bar: tqdm,
    ) -> None:
        """Write the training record of the steps since the last one, and start a new window."""
        elapsed = max(time.monotonic() - window.started, 1e-9)
        record = {
            "step": step,
            "split": "train",
            "loss": float(np.mean(window.losses)),
            "lr": lr,
            "nt_per_s": window.nucleotides / elapsed,
            "elapsed_s": time.monotonic() - started,
        }
        metrics_log.write(record)
        bar.set_postfix(loss=f"{record['loss']:.4f}", nt_s=f"{record['nt_per_s']:.0f}")
        if bar.disable and self.world.is_main:
            logger.info(
                "step %d/%d  loss %.4f  lr %.3g  %.0f nt/s",
                step,
                self.config.max_steps,
                record["loss"],
                record["lr"],
                record["nt_per_s"],
            )
        window.reset()

    def _validate(
        self,
        model: GenatatorModel,
        validation: list[Sample],
        step: int,
        best: _Best,
        metrics_log: _MetricsLog,
        device: torch.device,
        autocast: contextlib.AbstractContextManager,
    ) -> None:
        """Score the validation samples, log them, and write the best model when it improves."""
        config = self.config
        scores = evaluate(
            model,
            self.tokenizer,
            validation,
            batch_size=config.batch_size,
            device=device,
            autocast=autocast,
        )
        metrics_log.write({"step": step, "split": "val", **scores})
        logger.info(
            "validation at step %d: exon F1 %.4f, CDS F1 %.4f, mean PR-AUC %.4f",
            step,
            scores["exon_f1"],
            scores["cds_f1"],
            scores["pr_auc_mean"],
        )
        if not best.improves(scores):
            return
        best.update(step, scores)
        write_model_directory(
            self.run_dir / BEST_DIR,
            model,
            self.tokenizer,
            _trained_card(model, config, step, scores),
            replace=True,
            settings=InferenceSettings(
                window=config.window,
                splice_table=self.data.splice_table.to_dict(),
            ),
            extra=partial(write_gene_model, counts=self._gene_model()),
        )


# -- pieces --------------------------------------------------------------------------------------


def _optimizer(
    model: GenatatorModel, config: TrainConfig
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over the model's decay and no-decay groups, and the learning-rate schedule."""
    optimizer = torch.optim.AdamW(
        _parameter_groups(model, config.weight_decay),
        lr=config.lr,
        betas=(0.9, 0.999),
        eps=1e-8,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        partial(
            lr_factor,
            warmup=config.warmup_steps,
            total=config.max_steps,
            schedule=config.schedule,
            floor=config.min_lr_ratio,
        ),
    )
    return optimizer, scheduler


@dataclass
class _LogWindow:
    """Losses and nucleotides of the steps since the last training record."""

    losses: list[float] = field(default_factory=list)
    nucleotides: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def add(self, loss: float, nucleotides: float) -> None:
        self.losses.append(loss)
        self.nucleotides += nucleotides

    def reset(self) -> None:
        self.losses, self.nucleotides, self.started = [], 0.0, time.monotonic()


def default_window(data: PreparedData, tokenizer: DnaTokenizer, max_tokens: int) -> int:
    """Nucleotides that fill ``max_tokens`` tokens (of the training DNA's mean token length)."""
    return max(1, int(max_tokens * nucleotides_per_token(data, tokenizer) * _WINDOW_FILL))


def _fit_token_budget(
    model: GenatatorModel, data: PreparedData, tokenizer: DnaTokenizer, window: int
) -> None:
    """Raise a new model's token budget to hold ``window`` nucleotides, so that a long
    ``--window`` is read whole instead of being cut at the preset's budget. No weight depends
    on the budget: the memory recurrence reads any number of segments."""
    per_token = nucleotides_per_token(data, tokenizer)
    needed = math.ceil(window / (per_token * _WINDOW_FILL))
    if needed > model.config.max_tokens:
        logger.info(
            "window: %d nt needs about %d tokens; token budget raised from %d",
            window,
            needed,
            model.config.max_tokens,
        )
        model.config.max_tokens = needed


def nucleotides_per_token(data: PreparedData, tokenizer: DnaTokenizer) -> float:
    """Mean nucleotides per token on the first 200 kb of training ACGT.

    N runs (gaps, a chromosome's telomere) are left out of the measured text: the tokenizer
    folds them into a few tokens, and a window measured over them would be megabases long.
    """
    wanted, step = 200_000, 1_000_000
    pieces: list[np.ndarray] = []
    found = 0
    for index, chromosome in enumerate(data.chromosomes):
        codes_all = data.sequence(index)
        for lo, hi in chromosome.intervals[TRAIN]:
            for start in range(lo, hi, step):
                codes = np.asarray(codes_all[start : min(hi, start + step)])
                bases = codes[codes != ord("N")][: wanted - found]
                pieces.append(bases)
                found += len(bases)
                if found >= wanted:
                    break
            if found >= wanted:
                break
        if found >= wanted:
            break
    if found < 1000:
        raise ConfigError("the training sequences hold under 1 kb of ACGT; set --window explicitly")
    sequence = np.concatenate(pieces).tobytes().decode("ascii")
    return len(sequence) / max(len(tokenizer.encode(sequence).ids), 1)


def lr_factor(step: int, *, warmup: int, total: int, schedule: str, floor: float) -> float:
    """Learning-rate multiplier: linear warmup, then constant or cosine decay to ``floor``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: no weight decay on biases, norms and embeddings' 1-D parameters."""
    decay, plain = [], []
    for _, parameter in model.named_parameters():
        if parameter.requires_grad:
            (decay if parameter.ndim >= 2 else plain).append(parameter)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": plain, "weight_decay": 0.0},
    ]


def _device(requested: str, world: Distributed) -> torch.device:
    if requested == "cuda" or (requested == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda: no CUDA device is available")
        return torch.device("cuda", world.local_rank)
    if requested not in ("auto", "cpu"):
        raise ConfigError(f"--device must be auto, cpu or cuda, not {requested!r}")
    return torch.device("cpu")


def _autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    use_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    if not use_bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@torch.no_grad()
def evaluate(
    model: GenatatorModel,
    tokenizer: DnaTokenizer,
    samples: list[Sample],
    *,
    batch_size: int,
    device: torch.device,
    autocast: contextlib.AbstractContextManager | None = None,
) -> dict[str, float]:
    """Validation loss, exon/CDS exact interval F1 and per-class PR-AUC over ``samples``."""
    was_training = model.training
    model.eval()
    metrics = TrackMetrics(CLASSES, exon_channel=EXON, cds_channel=CDS)
    loss_sum, elements = 0.0, 0
    for first in range(0, len(samples), batch_size):
        chunk = samples[first : first + batch_size]
        batch = collate(tokenizer, chunk, max_tokens=model.config.max_tokens).to(device)
        with autocast or contextlib.nullcontext():
            out = model(
                batch.inputs,
                labels=batch.labels,
                label_mask=batch.label_mask,
                channel_mask=batch.channel_mask,
            )
        valid = out.mask & batch.label_mask
        count = int(valid.sum())  # the loss weighting by nucleotide, as before
        loss_sum += float(out.loss) * count
        elements += count
        probabilities = torch.sigmoid(out.logits.float()).cpu().numpy()
        valid_np = valid.cpu().numpy()
        for row, sample in enumerate(chunk):
            length = len(sample.sequence)
            metrics.update(
                probabilities[row, :length],
                sample.labels,
                valid_np[row, :length],
                channels=sample.channels,
            )
    model.train(was_training)
    return {"loss": loss_sum / max(elements, 1), **metrics.compute()}


class _Best:
    """The best validation result so far: by exon-level interval F1, then (early in training,
    while every F1 is still 0) by mean PR-AUC; the earlier step wins exact ties."""

    def __init__(self, step: int | None = None, metrics: dict[str, float] | None = None) -> None:
        self.step, self.metrics = step, metrics

    @staticmethod
    def _key(scores: dict[str, float]) -> tuple[float, float]:
        pr_auc = scores["pr_auc_mean"]
        return scores["exon_f1"], -1.0 if math.isnan(pr_auc) else pr_auc

    def improves(self, scores: dict[str, float]) -> bool:
        return self.metrics is None or self._key(scores) > self._key(self.metrics)

    def update(self, step: int, scores: dict[str, float]) -> None:
        self.step, self.metrics = step, dict(scores)


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


class _Checkpoints:
    """``checkpoints/step-XXXXXXXX.pt`` files: written atomically, the newest few kept."""

    def __init__(self, directory: Path, keep: int) -> None:
        self.directory, self.keep = directory, keep

    def all(self) -> list[Path]:
        return sorted(self.directory.glob("step-*.pt"))

    def latest(self) -> Path | None:
        found = self.all()
        return found[-1] if found else None

    def save(
        self,
        step: int,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        rng: list[dict[str, torch.Tensor]],
        best: _Best,
        elapsed: float,
    ) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        state = {
            "format": 1,
            "genatator_version": __version__,
            "step": step,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": rng,
            "best_step": best.step,
            "best_metrics": best.metrics,
            "elapsed_s": elapsed,
        }
        with atomic_output(self.directory / f"step-{step:08d}.pt", binary=True) as handle:
            torch.save(state, handle)
        if self.keep > 0:
            for old in self.all()[: -self.keep]:
                old.unlink(missing_ok=True)


def _restore(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    world: Distributed,
) -> tuple[int, _Best, float]:
    """Load a checkpoint into the model, optimizer, scheduler and RNG; returns its step, best
    result and training seconds so far."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise ConfigError(f"{path}: cannot read the checkpoint ({exc})") from None
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng = state["rng"]
    if len(rng) != world.world_size:
        logger.warning(
            "the checkpoint was written by %d processes, this run has %d: "
            "dropout randomness will not repeat exactly",
            len(rng),
            world.world_size,
        )
    mine = rng[world.rank % len(rng)]
    torch.set_rng_state(mine["cpu"])
    if "cuda" in mine and torch.cuda.is_available():
        torch.cuda.set_rng_state(mine["cuda"])
    best = _Best(state["best_step"], state["best_metrics"])
    return int(state["step"]), best, float(state.get("elapsed_s", 0.0))


class _MetricsLog:
    """``metrics.jsonl``: one JSON object per line, appended and flushed as training goes."""

    def __init__(self, path: Path, *, enabled: bool) -> None:
        self.path, self.enabled = path, enabled

    def truncate_after(self, step: int) -> None:
        """Drop records a killed run wrote after its last checkpoint (they will be redone)."""
        if not self.enabled or not self.path.is_file():
            return
        kept = [
            line
            for line in self.path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line)["step"] <= step
        ]
        with atomic_output(self.path) as handle:
            handle.write("".join(line + "\n" for line in kept))

    def write(self, record: dict[str, Any]) -> None:
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")


@contextlib.contextmanager
def _termination_flag() -> Iterator[Any]:
    """While active, SIGTERM (a scheduler's preemption) only raises a flag, so the loop can
    finish its step and checkpoint before exiting."""
    received = []
    previous = None
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        previous = signal.signal(signal.SIGTERM, lambda *_: received.append(True))
    try:
        yield lambda: bool(received)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _trained_card(
    model: GenatatorModel, config: TrainConfig, step: int, scores: dict[str, float]
) -> str:
    params = sum(p.numel() for p in model.parameters())
    genomes = ", ".join(f"`{Path(s.genome).name}`" for s in config.sources)
    held_out = [f"regions {config.val_regions}"] if config.val_regions else []
    held_out += [f"`{Path(s.genome).name}`" for s in config.val_sources]
    start = (
        f"`{config.model}`"
        if config.model
        else f"preset `{config.preset}`"
        + (f", encoder from `{config.backbone}`" if config.backbone else "")
    )
    rows = "\n".join(
        f"| {name} | {value:.4f} |" for name, value in scores.items() if isinstance(value, float)
    )
    return f"""# genatator model trained with `genatator train`

| | |
|---|---|
| genatator | {__version__} |
| started from | {start} |
| parameters | {params:,} |
| training genomes | {genomes} |
| held out for validation | {"; ".join(held_out)} |
| steps | {step} (best by validation exon F1) of {config.max_steps}, \
{config.batch_size}×{config.grad_accum} samples per process per step |
| window | {config.window} nt, {config.transcript_fraction:.0%} transcript-anchored samples |

Validation at step {step} (exact interval F1 and per-class PR-AUC on held-out bases):

| metric | value |
|---|---|
{rows}
"""
