"""Time full training steps of randomly initialised models: nucleotides/s, s/step, peak memory.

Each step is forward (random 0/1 labels, masked BCE loss), backward, gradient clipping to norm
1.0, an AdamW step (lr 1e-4) and zero_grad, on fresh random DNA every step. Building the batch
(random DNA, tokenising, copying to the device) happens before the step clock starts and is
reported separately as "prep s".

Usage:
    python benchmarks/train_throughput.py --presets tiny,small --steps 3         # CPU or GPU
    python benchmarks/train_throughput.py --presets small --device cpu --precision both --profile 8
    python benchmarks/train_throughput.py --presets gena-base --steps 1          # slow on CPU
    python benchmarks/train_throughput.py --device cuda --presets tiny,small,gena-base,gena-large
    python benchmarks/train_throughput.py --device cuda --presets gena-large --batch-size 4 \\
        --grad-checkpointing --json

By default the window fills the preset's token budget (int(max_tokens * 4.8) nucleotides),
precision is bf16 autocast on CUDA and fp32 on CPU. Peak memory is
torch.cuda.max_memory_allocated on CUDA (reset for each preset); on CPU it is the process's
peak RSS, which is process-wide and never decreases, so run one preset per invocation for an
exact CPU figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import platform
import resource
import sys
import time
from typing import Any

import numpy as np
import torch

from genatator.model.config import PRESETS, GenatatorConfig, preset_config
from genatator.model.directory import bundled_tokenizer
from genatator.model.genatator import GenatatorModel, ModelInputs
from genatator.model.inputs import build_inputs
from genatator.tokenizer import DnaTokenizer

# The bundled tokenizer averages ~5 nt/token on fly DNA (4.8 on uniform random DNA), so a window
# of max_tokens * 4.8 nucleotides about fills the preset's token budget.
NT_PER_TOKEN = 4.8
LETTERS = np.frombuffer(b"ACGT", dtype=np.uint8)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--presets",
        default="tiny,small,gena-base",
        help=f"comma-separated presets out of {', '.join(PRESETS)} (default: %(default)s)",
    )
    parser.add_argument(
        "--device", default="auto", help="auto (cuda if available, else cpu), cpu, cuda, cuda:N"
    )
    parser.add_argument(
        "--window",
        type=int,
        default=None,
        help="nucleotides per sample (default: int(max_tokens * 4.8) of each preset)",
    )
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16", "both"),
        default="auto",
        help="auto: bf16 autocast on CUDA, fp32 on CPU; both: fp32 then bf16, side by side",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="after timing, profile one more step and print its N most expensive ops",
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (default: 2)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps (default: 5)")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=120.0,
        help="stop timing a preset once its timed steps exceed this (after >= 1 step)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--attn-impl", choices=("sdpa", "eager", "flash"), default="sdpa", help="attention kernel"
    )
    parser.add_argument(
        "--grad-checkpointing", action="store_true", help="checkpoint the encoder layers"
    )
    parser.add_argument(
        "--output-block",
        choices=("wide", "narrow"),
        default=None,
        help="override the presets' U-Net last block (default: each preset's own)",
    )
    parser.add_argument(
        "--dropout",
        type=float,
        default=None,
        help="override the presets' encoder dropout, hidden and attention (default: the preset's)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    args = parser.parse_args(argv)
    args.presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    unknown = [p for p in args.presets if p not in PRESETS]
    if unknown or not args.presets:
        parser.error(f"unknown preset(s) {unknown}; choose from {', '.join(PRESETS)}")
    for name in ("batch_size", "steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    if args.window is not None and args.window < 1:
        parser.error("--window must be >= 1")
    return args


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit(f"--device {name}: CUDA is not available")
    return device


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def peak_rss_mib() -> float:
    """Process peak resident set size (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_windows(rng: np.random.Generator, count: int, length: int) -> list[str]:
    codes = rng.integers(0, 4, size=(count, length))
    return [LETTERS[row].tobytes().decode("ascii") for row in codes]


def configured(preset: str, vocab_size: int, args: argparse.Namespace) -> GenatatorConfig:
    """The preset's config with the command line's architecture overrides."""
    config = preset_config(preset, vocab_size=vocab_size)
    if args.output_block is not None:
        config.unet = dataclasses.replace(config.unet, output_block=args.output_block)
    if args.dropout is not None:
        config.encoder = dataclasses.replace(
            config.encoder, hidden_dropout=args.dropout, attention_dropout=args.dropout
        )
    return config


def bench_preset(
    preset: str,
    tokenizer: DnaTokenizer,
    device: torch.device,
    dtype: torch.dtype | None,
    args: argparse.Namespace,
) -> dict[str, Any]:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    config = configured(preset, tokenizer.vocab_size, args)
    window = args.window or int(config.max_tokens * NT_PER_TOKEN)
    model = GenatatorModel(config, attn_impl=args.attn_impl).to(device).train()
    model.encoder.gradient_checkpointing = args.grad_checkpointing
    parameters = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def batch() -> tuple[ModelInputs, torch.Tensor]:
        windows = random_windows(rng, args.batch_size, window)
        inputs = build_inputs(tokenizer, windows, max_tokens=config.max_tokens).to(device)
        labels = torch.randint(
            0, 2, (args.batch_size, window, config.num_labels), device=device
        ).float()
        return inputs, labels

    def step(inputs: ModelInputs, labels: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            loss = model(inputs, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    for _ in range(args.warmup):
        step(*batch())
    synchronize(device)
    if args.profile:
        profile_step(step, batch(), device, args.profile, preset, dtype)

    step_seconds: list[float] = []
    prep_seconds: list[float] = []
    tokens: list[int] = []
    covered = 0
    loss = torch.zeros(())
    for _ in range(args.steps):
        start = time.perf_counter()
        inputs, labels = batch()
        synchronize(device)
        prep_seconds.append(time.perf_counter() - start)
        tokens.extend(len(t) for t in inputs.token_ids)
        covered += int((inputs.nucleotide_to_token >= 0).sum())
        start = time.perf_counter()
        loss = step(inputs, labels)
        synchronize(device)
        step_seconds.append(time.perf_counter() - start)
        if sum(step_seconds) > args.max_seconds:
            break

    if device.type == "cuda":
        peak_mib = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak_mib = peak_rss_mib()
    nucleotides = len(step_seconds) * args.batch_size * window
    result = {
        "preset": preset,
        "device": str(device),
        "parameters_m": round(parameters / 1e6, 2),
        "window_nt": window,
        "batch_size": args.batch_size,
        "precision": "bf16" if dtype is not None else "fp32",
        "output_block": config.unet.output_block,
        "dropout": config.encoder.hidden_dropout,
        "grad_checkpointing": args.grad_checkpointing,
        "attn_impl": args.attn_impl,
        "max_tokens": config.max_tokens,
        "tokens_per_window": round(float(np.mean(tokens)), 1),
        "covered_fraction": round(covered / nucleotides, 4),
        "timed_steps": len(step_seconds),
        "warmup_steps": args.warmup,
        "nt_per_s": round(nucleotides / sum(step_seconds), 1),
        "s_per_step": round(sum(step_seconds) / len(step_seconds), 4),
        "min_s_per_step": round(min(step_seconds), 4),
        "prep_s_per_step": round(sum(prep_seconds) / len(prep_seconds), 4),
        "peak_memory_mib": round(peak_mib, 1),
        "peak_memory_kind": "cuda_max_allocated" if device.type == "cuda" else "process_peak_rss",
        "last_loss": round(float(loss), 5),
    }
    if not math.isfinite(result["last_loss"]):
        print(f"warning: {preset}: non-finite loss {result['last_loss']}", file=sys.stderr)
    return result


def profile_step(step, batch, device, rows, preset, dtype) -> None:  # type: ignore[no-untyped-def]
    """Print the ``rows`` ops of one training step with the most self time (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as profiler:
        step(*batch)
        synchronize(device)
    precision = "bf16" if dtype is not None else "fp32"
    print(f"# profile of one {preset} {precision} step: top {rows} ops by self time", flush=True)
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(profiler.key_averages().table(sort_by=sort, row_limit=rows), flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if args.precision == "auto":
        dtypes = [torch.bfloat16 if device.type == "cuda" else None]
    elif args.precision == "both":
        dtypes = [None, torch.bfloat16]
    else:
        dtypes = [torch.bfloat16 if args.precision == "bf16" else None]
    tokenizer = bundled_tokenizer()
    if not args.json:
        print(
            f"device {device} ({device_name(device)}), torch {torch.__version__}, "
            f"{torch.get_num_threads()} CPU threads, warmup {args.warmup}, "
            f"steps <= {args.steps} (<= {args.max_seconds:g} s per preset)"
        )
        if device.type == "cpu":
            print("note: CPU peak memory is the process-wide peak RSS, monotone across presets;")
            print("      run one preset per invocation for an exact per-preset CPU figure")
        print(
            f"{'preset':<11}{'params M':>9}{'window nt':>10}{'batch':>6}{'prec':>6}{'block':>7}"
            f"{'drop':>5}"
            f"{'tok/win':>9}{'nt/s':>11}{'s/step':>9}{'steps':>6}{'prep s':>8}{'peak MiB':>10}"
        )
    results = []
    for preset, dtype in ((p, d) for p in args.presets for d in dtypes):
        result = bench_preset(preset, tokenizer, device, dtype, args)
        results.append(result)
        gc.collect()  # the preset's model and optimizer are gone; give their memory back
        if device.type == "cuda":
            torch.cuda.empty_cache()
        if not args.json:
            print(
                f"{result['preset']:<11}{result['parameters_m']:>9.2f}{result['window_nt']:>10}"
                f"{result['batch_size']:>6}{result['precision']:>6}{result['output_block']:>7}"
                f"{result['dropout']:>5.2f}"
                f"{result['tokens_per_window']:>9.0f}{result['nt_per_s']:>11.0f}"
                f"{result['s_per_step']:>9.3f}{result['timed_steps']:>6}"
                f"{result['prep_s_per_step']:>8.3f}{result['peak_memory_mib']:>10.0f}",
                flush=True,
            )
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
