"""Windows/s of the Mamba splice models' scans on CPU: mambapy's scan, the chunked scan (Mamba-1)
and the SSD scan (Mamba-2).

Two figures per scan and dtype, each the fastest of ``--repeat`` timed runs after a warm-up:
- ``scan``: one mixer's scan alone, forward + backward, on the shapes of one training batch of
  the default model (batch 32, window 512, 128 channels, state 16): for Mamba-1 ``exp(Δ·A)``,
  ``Δx·B``, the recurrence and ``C·h``; for the SSD the chunked matmul form over 4 heads of 32;
- ``train``: one full training step (forward, cross-entropy, backward, AdamW) of the default
  model using that scan: ``--arch mamba`` (310k parameters, 4 causal mixers) for mambapy and
  chunked, ``--arch mamba2`` (440k parameters, 4 bidirectional blocks = 8 mixers) for the SSD;
  bf16 runs under ``torch.autocast("cpu", dtype=torch.bfloat16)``.

    taskset -c 0 python benchmarks/bench_splice_scan.py --threads 1
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from genatator.splice.chunked_scan import DEFAULT_CHUNK, fused_selective_scan
from genatator.splice.mamba import selective_scan
from genatator.splice.models import SpliceModelConfig, build_splice_model, parameter_count
from genatator.splice.ssd import DEFAULT_SSD_CHUNK, ssd_scan

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--chunks", type=int, nargs="+", default=[DEFAULT_CHUNK])
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    parser.add_argument("--repeat", type=int, default=1, help="keep the fastest of N timed runs")
    parser.add_argument("--skip-train", action="store_true", help="time the scan alone only")
    parser.add_argument("--ssd-chunks", type=int, nargs="+", default=[DEFAULT_SSD_CHUNK])
    parser.add_argument("--skip-mambapy", action="store_true", help="skip mambapy's scan")
    return parser.parse_args()


def timed(step: Callable[[], None], repeat: int = 1) -> float:
    """Fewest seconds of ``repeat`` calls of ``step``, after one untimed warm-up call."""
    step()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return best


def scan_step(backend: str, chunk: int, batch: int, dtype: torch.dtype) -> Callable[[], None]:
    """Forward + backward of the scan, ``exp(Δ·A)`` and ``Δx·B`` included, on one batch."""
    if backend == "ssd":
        return ssd_step(chunk, batch, dtype)
    config = SpliceModelConfig(arch="mamba")
    g = torch.Generator().manual_seed(0)
    inner, n, length = config.d_model * config.expand, config.d_state, config.window
    delta = (0.1 * torch.rand(batch, length, inner, generator=g)).to(dtype).requires_grad_()
    A = -torch.arange(1.0, n + 1).repeat(inner, 1).requires_grad_()
    u, B, C = (
        torch.randn(batch, length, width, generator=g).to(dtype).requires_grad_()
        for width in (inner, n, n)
    )

    def step() -> None:
        if backend == "mambapy":
            deltaA = torch.exp(delta.unsqueeze(-1) * A.to(dtype))
            y = selective_scan(deltaA, torch.einsum("ble,bln->blen", u, B), C)
        else:
            y = fused_selective_scan(delta, A, u, B, C, chunk)
        y.sum().backward()

    return step


def ssd_step(chunk: int, batch: int, dtype: torch.dtype) -> Callable[[], None]:
    """Forward + backward of the default Mamba-2 mixer's SSD scan on one batch."""
    config = SpliceModelConfig(arch="mamba2")
    g = torch.Generator().manual_seed(0)
    heads = config.d_model * config.expand // config.headdim
    length, n = config.window, config.d_state
    x = torch.randn(batch, length, heads, config.headdim, generator=g).to(dtype).requires_grad_()
    log_decay = (-0.1 * torch.rand(batch, length, heads, generator=g)).requires_grad_()
    B, C = (torch.randn(batch, length, n, generator=g).to(dtype).requires_grad_() for _ in "BC")

    def step() -> None:
        ssd_scan(x, log_decay, B, C, chunk).float().sum().backward()

    return step


def train_step(backend: str, chunk: int, batch: int, dtype: torch.dtype) -> Callable[[], None]:
    """One AdamW training step of the default Mamba (or, for ``ssd``, Mamba-2) splice model."""
    config = SpliceModelConfig(arch="mamba2" if backend == "ssd" else "mamba")
    torch.manual_seed(0)
    model = build_splice_model(config).train()
    for layer in model.layers:
        if backend == "ssd":
            layer.forward_mixer.chunk = layer.backward_mixer.chunk = chunk
        else:
            layer.mixer.backend, layer.mixer.scan_chunk = backend, chunk
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    codes = torch.randint(0, 4, (batch, config.window))
    labels = torch.randint(0, 3, (batch,))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            logits = model(codes)
        F.cross_entropy(logits.float(), labels, label_smoothing=0.1).backward()
        optimizer.step()

    return step


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    runs: list[tuple[str, str, int]] = [] if args.skip_mambapy else [("mambapy", "mambapy", 0)]
    runs += [(f"chunked/{c}", "chunked", c) for c in args.chunks]
    runs += [(f"ssd/{c}", "ssd", c) for c in args.ssd_chunks]
    print(f"threads {args.threads}, batch {args.batch}; windows/s (seconds per batch)")
    for arch in ("mamba", "mamba2"):
        model = build_splice_model(SpliceModelConfig(arch=arch))
        print(f"{arch}: {parameter_count(model):,} parameters")
    for name in DTYPES:
        if name not in args.dtypes:
            continue
        dtype = DTYPES[name]
        for label, backend, chunk in runs:
            seconds = timed(scan_step(backend, chunk, args.batch, dtype), args.repeat)
            line = f"{name} {label:12s} scan {args.batch / seconds:8.1f} ({seconds:.3f} s)"
            if not args.skip_train:
                seconds = timed(train_step(backend, chunk, args.batch, dtype), args.repeat)
                line += f"   train {args.batch / seconds:7.1f} ({seconds:.3f} s)"
            print(line, flush=True)


if __name__ == "__main__":
    main()
