"""The selective state-space (Mamba) mixer, written from the paper's equations; two scan backends.

Gu & Dao (2023), "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", Algorithm 2.
Parameter names and shapes equal ``mamba_ssm.modules.mamba_simple.Mamba`` (``in_proj``,
``conv1d``, ``x_proj``, ``dt_proj``, ``A_log``, ``D``, ``out_proj``), so a mamba_ssm state dict
loads with ``load_state_dict(strict=True)``.

Backends of the selective scan:

- ``mambapy``: the parallel (Blelloch) scan of the ``mambapy`` package in plain PyTorch; CUDA
  without mamba_ssm takes this path, and on CPU it stays selectable (``backend="mambapy"``).
- ``chunked``: :func:`genatator.splice.chunked_scan.fused_selective_scan`, the recurrence run one
  chunk of steps at a time with ``exp(Δ·A)`` and ``Δx·B`` built per chunk, and a hand-written
  backward (the same recurrence in reverse); the CPU default, measured faster than mambapy
  (``benchmarks/bench_splice_scan.py``) and needing no extra package.
- ``mamba_ssm``: the fused CUDA kernel, used when ``mamba_ssm`` imports and the input is on CUDA.
  The kernel itself is untested here (no GPU); the tests check the arguments passed to it
  against a stand-in with the kernel's documented semantics.

A step-by-step loop (:func:`reference_scan`) exists only to check the others in tests.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genatator.errors import ModelError
from genatator.splice.chunked_scan import DEFAULT_CHUNK, fused_selective_scan

Backend = Literal["mamba_ssm", "mambapy", "chunked"]

_MISSING_MAMBAPY = "the Mamba model needs mambapy: pip install mambapy"


def _mamba_ssm_scan() -> Callable | None:
    """mamba_ssm's fused ``selective_scan_fn``, or None when mamba_ssm is not installed."""
    if importlib.util.find_spec("mamba_ssm") is None:
        return None
    try:  # pragma: no cover - needs a CUDA build of mamba_ssm
        module = importlib.import_module("mamba_ssm.ops.selective_scan_interface")
    except Exception:  # a broken CUDA build raises ImportError/OSError at import
        return None
    return getattr(module, "selective_scan_fn", None)  # pragma: no cover


def _pscan() -> Callable:
    """mambapy's parallel scan ``pscan(A, X)``; ModelError when mambapy is missing."""
    try:
        from mambapy.pscan import pscan
    except ImportError:
        raise ModelError(_MISSING_MAMBAPY) from None
    return pscan


def mamba_backend(device: torch.device | str) -> Backend:
    """The scan backend a Mamba model uses on ``device``.

    Returns:
        ``"mamba_ssm"`` on CUDA when mamba_ssm imports, ``"chunked"`` on CPU, otherwise
        ``"mambapy"``.

    Raises:
        ModelError: on CUDA without mamba_ssm, mambapy is not installed.
    """
    kind = torch.device(device).type
    if kind == "cuda" and _mamba_ssm_scan() is not None:
        return "mamba_ssm"  # pragma: no cover - needs a GPU
    if kind == "cpu":
        return "chunked"
    if importlib.util.find_spec("mambapy") is None:
        raise ModelError(_MISSING_MAMBAPY)
    return "mambapy"


def selective_scan(deltaA: torch.Tensor, deltaBx: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """Run ``h_t = deltaA_t * h_{t-1} + deltaBx_t`` (h_0 = 0) in parallel; read ``y_t = C_t·h_t``.

    Uses mambapy's Blelloch scan (the length is padded to a power of two internally).

    Args:
        deltaA: ``(B, L, E, N)`` discretised state transition ``exp(Δ·A)``.
        deltaBx: ``(B, L, E, N)`` discretised input ``Δ·B_t·x_t``.
        C: ``(B, L, N)`` output projection of each step.

    Returns:
        ``(B, L, E)``: ``y_t = Σ_n C_t[n] · h_t[:, n]`` (without the ``D·x`` skip term).
    """
    states = _pscan()(deltaA, deltaBx)  # (B, L, E, N)
    return torch.einsum("blen,bln->ble", states, C)


def reference_scan(deltaA: torch.Tensor, deltaBx: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """Same result as :func:`selective_scan` by a Python loop over time.

    For tests only: never used for training or inference (one kernel launch per step).
    """
    state = deltaBx.new_zeros(deltaBx.shape[0], *deltaBx.shape[2:])
    outputs = []
    for t in range(deltaBx.shape[1]):
        state = deltaA[:, t] * state + deltaBx[:, t]
        outputs.append((state * C[:, t, None, :]).sum(-1))
    return torch.stack(outputs, dim=1)


def initial_dt_bias(size: int, dt_min: float, dt_max: float, floor: float = 0.0) -> torch.Tensor:
    """``softplus⁻¹(Δ₀)`` for ``size`` channels, Δ₀ log-uniform in ``[dt_min, dt_max]`` and at
    least ``floor``, so ``softplus(bias)`` starts in that range (Mamba's Δ initialisation)."""
    dt = torch.exp(
        torch.rand(size) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
    ).clamp(min=floor)
    return dt + torch.log(-torch.expm1(-dt))


class MambaMixer(nn.Module):
    """One Mamba mixer (no norm, no residual): ``(B, L, d_model) -> (B, L, d_model)``, causal.

    Args:
        d_model: model width.
        d_state: SSM state size N per channel.
        d_conv: width of the causal depthwise convolution.
        expand: inner width ``E = expand · d_model``.
        dt_rank: rank of the Δ projection; ``"auto"`` is ``ceil(d_model / 16)`` (as mamba_ssm).
        dt_min: smallest initial Δ.
        dt_max: largest initial Δ.
        dt_init_floor: lower clamp of the initial Δ.
        backend: ``"auto"`` (see :func:`mamba_backend`), or force ``"mambapy"`` or ``"chunked"``.
        scan_chunk: chunk length of the ``chunked`` scan (the result does not depend on it).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 1,
        dt_rank: int | str = "auto",
        *,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        dt_init_floor: float = 1e-4,
        backend: Literal["auto", "mambapy", "chunked"] = "auto",
        scan_chunk: int = DEFAULT_CHUNK,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.d_state = d_state
        self.d_conv = d_conv
        self.d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.backend = backend
        self.scan_chunk = scan_chunk
        inner = self.d_inner

        self.in_proj = nn.Linear(d_model, 2 * inner, bias=False)
        self.conv1d = nn.Conv1d(inner, inner, d_conv, groups=inner, padding=d_conv - 1, bias=True)
        self.x_proj = nn.Linear(inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, inner, bias=True)
        self.out_proj = nn.Linear(inner, d_model, bias=False)

        # Δ projection: weights uniform in ±dt_rank^-0.5; the bias as initial_dt_bias.
        std = self.dt_rank**-0.5
        nn.init.uniform_(self.dt_proj.weight, -std, std)
        with torch.no_grad():
            self.dt_proj.bias.copy_(initial_dt_bias(inner, dt_min, dt_max, dt_init_floor))
        # S4D-real initialisation: A = -(1..N) in every channel, stored as log(-A).
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(inner))

    def _causal_conv(self, x: torch.Tensor) -> torch.Tensor:
        """``conv1d`` (left-padded by d_conv-1, trimmed to L) as d_conv shifted multiply-adds.

        Same result as ``self.conv1d(x.transpose(1, 2))[..., :L]``, but the depthwise Conv1d's
        CPU backward is slow (it dominated the step time), so the K taps are summed directly.
        """
        length, taps = x.shape[1], self.d_conv
        padded = F.pad(x, (0, 0, taps - 1, 0))  # (B, K-1+L, E): zeros before the first step
        weight = self.conv1d.weight[:, 0, :]  # (E, K)
        out = self.conv1d.bias + padded[:, :length] * weight[:, 0]
        for k in range(1, taps):
            out = out + padded[:, k : k + length] * weight[:, k]
        return out

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Mix a ``(B, L, d_model)`` sequence causally (output t depends on inputs ≤ t only)."""
        x, z = self.in_proj(hidden).chunk(2, dim=-1)  # (B, L, E) each
        x = F.silu(self._causal_conv(x))
        dt, B, C = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        A = -torch.exp(self.A_log)  # (E, N)

        backend = mamba_backend(hidden.device) if self.backend == "auto" else self.backend
        if backend == "mamba_ssm":  # pragma: no cover - needs a GPU with mamba_ssm
            scan = _mamba_ssm_scan()
            y = scan(
                x.transpose(1, 2).contiguous(),
                (dt @ self.dt_proj.weight.t()).transpose(1, 2).contiguous(),
                A.float(),
                B.transpose(1, 2).contiguous(),
                C.transpose(1, 2).contiguous(),
                self.D.float(),
                z=z.transpose(1, 2).contiguous(),
                delta_bias=self.dt_proj.bias.float(),
                delta_softplus=True,
            ).transpose(1, 2)
            return self.out_proj(y)

        delta = F.softplus(self.dt_proj(dt))  # (B, L, E)
        if backend == "chunked":
            y = fused_selective_scan(delta, A, delta * x, B, C, self.scan_chunk)
        else:
            deltaA = torch.exp(delta.unsqueeze(-1) * A)  # (B, L, E, N)
            deltaBx = torch.einsum("ble,bln->blen", delta * x, B)  # (B, L, E, N)
            y = selective_scan(deltaA, deltaBx, C)
        y = y + self.D * x
        return self.out_proj(y * F.silu(z))


__all__ = ["MambaMixer", "initial_dt_bias", "mamba_backend", "reference_scan", "selective_scan"]
