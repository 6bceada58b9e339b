"""The Mamba-2 mixer and its state-space-duality (SSD) scan: a chunked scan made of matmuls.

Dao & Gu (2024), "Transformers are SSMs" (Mamba-2), section 6. With a *scalar* decay per head,
``h_t = exp(a_t)·h_{t−1} + x_t ⊗ B_t`` and ``y_t = h_t·C_t`` unroll within a chunk of Q steps
into a masked, decay-weighted attention-like product: ``Y = (L ∘ C Bᵀ) X`` with
``L[i, j] = exp(a_{j+1} + … + a_i)`` for ``i ≥ j``. Between chunks only the (head, state) matrices
are carried, by a scan of length ``L / Q``. Every heavy step is a batched matmul, which this CPU
runs on its bf16 units; Mamba-1's per-(channel, state) decay has no such form
(:mod:`genatator.splice.chunked_scan` runs it elementwise instead).

:func:`reference_ssd` is the step-by-step recurrence, kept only to check :func:`ssd_scan`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genatator.splice.mamba import initial_dt_bias

#: Chunk length Q of :func:`ssd_scan` (the result does not depend on it).
DEFAULT_SSD_CHUNK = 32


def _exclusive_decays(log_decay: torch.Tensor) -> torch.Tensor:
    """``(..., T) -> (..., T, T)``: ``exp(a_{j+1} + … + a_i)`` below and on the diagonal, else 0."""
    steps = log_decay.shape[-1]
    cumulative = torch.cumsum(log_decay, dim=-1)
    gaps = cumulative[..., :, None] - cumulative[..., None, :]
    lower = torch.ones(steps, steps, dtype=torch.bool, device=log_decay.device).tril()
    return torch.exp(gaps.masked_fill(~lower, -math.inf))


def ssd_scan(
    x: torch.Tensor,
    log_decay: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    chunk: int = DEFAULT_SSD_CHUNK,
) -> torch.Tensor:
    """Run ``h_t = exp(a_t)·h_{t−1} + x_t ⊗ B_t`` (h_0 = 0) and read ``y_t = h_t·C_t``, chunked.

    Args:
        x: ``(batch, L, heads, P)`` inputs (already scaled by Δ).
        log_decay: ``(batch, L, heads)`` ``a_t = Δ_t·A`` (≤ 0), one per head and step.
        B: ``(batch, L, N)`` input projections, shared by the heads.
        C: ``(batch, L, N)`` output projections, shared by the heads.
        chunk: steps per chunk; only speed depends on it.

    Returns:
        ``(batch, L, heads, P)`` in the dtype of ``x`` under autocast (the decays are summed and
        exponentiated in float32).
    """
    batch, length, heads, width = x.shape
    pad = -length % chunk
    if pad:  # zeros after the end change nothing before it (the scan is causal)
        x, B, C = (F.pad(t, (0, 0) * (t.dim() - 2) + (0, pad)) for t in (x, B, C))
        log_decay = F.pad(log_decay, (0, 0, 0, pad))
    chunks = x.shape[1] // chunk
    # (batch, heads, chunks, Q, P) and (batch, 1, chunks, Q, N)
    xs = x.reshape(batch, chunks, chunk, heads, width).permute(0, 3, 1, 2, 4)
    Bs = B.reshape(batch, 1, chunks, chunk, -1)
    Cs = C.reshape(batch, 1, chunks, chunk, -1)
    a = log_decay.float().reshape(batch, chunks, chunk, heads).permute(0, 3, 1, 2)
    a_cumulative = torch.cumsum(a, dim=-1)  # (batch, heads, chunks, Q)

    # 1. Within each chunk: (L ∘ C Bᵀ) X.
    scores = Cs @ Bs.transpose(-1, -2)  # (batch, 1, chunks, Q, Q)
    within = (scores * _exclusive_decays(a).to(scores.dtype)) @ xs

    # 2. Each chunk's final state from its own inputs: Σ_j exp(a_{j+1} + … + a_Q) x_j ⊗ B_j.
    to_end = torch.exp(a_cumulative[..., -1:] - a_cumulative).to(xs.dtype)
    states = (xs * to_end[..., None]).transpose(-1, -2) @ Bs  # (batch, heads, chunks, P, N)

    # 3. The state entering each chunk: a scan over chunks, as one decay-weighted sum.
    totals = F.pad(a_cumulative[..., -1], (1, 0))  # (batch, heads, chunks + 1)
    # carry[k, j] = exp(total decay of chunks j+1 … k−1) for j < k, else 0.
    carry = _exclusive_decays(totals)[..., :-1, 1:]
    entering = torch.einsum("bhkj,bhjpn->bhkpn", carry.to(states.dtype), states)

    # 4. What the entering state contributes inside each chunk: exp(a_1 + … + a_i) C_i·h.
    from_start = torch.exp(a_cumulative).to(xs.dtype)[..., None]
    across = (Cs @ entering.transpose(-1, -2)) * from_start  # (batch, heads, chunks, Q, P)

    y = (within + across).permute(0, 2, 3, 1, 4).reshape(batch, chunks * chunk, heads, width)
    return y[:, :length]


def reference_ssd(
    x: torch.Tensor, log_decay: torch.Tensor, B: torch.Tensor, C: torch.Tensor
) -> torch.Tensor:
    """Same result as :func:`ssd_scan` by a Python loop over time (tests only)."""
    batch, length, heads, width = x.shape
    state = x.new_zeros(batch, heads, width, B.shape[-1])
    outputs = []
    for t in range(length):
        decay = torch.exp(log_decay[:, t])[:, :, None, None]
        state = decay * state + x[:, t, :, :, None] * B[:, t, None, None, :]
        outputs.append((state * C[:, t, None, None, :]).sum(-1))
    return torch.stack(outputs, dim=1)


class Mamba2Mixer(nn.Module):
    """One causal Mamba-2 mixer (no outer norm, no residual): ``(B, L, d) -> (B, L, d)``.

    ``in_proj`` gives the gate z, the inputs x, B, C and one Δ per head; x, B and C pass a causal
    depthwise convolution and SiLU; the SSD scan runs with ``A = −exp(A_log)`` per head; a skip
    ``D·x`` is added, gated by ``SiLU(z)`` and RMS-normalised before ``out_proj`` (Mamba-2's
    layout, with one group of B and C).

    Args:
        d_model: model width.
        d_state: state size N.
        d_conv: width of the causal convolution.
        expand: inner width ``E = expand · d_model``.
        headdim: channels per head P (``E`` must be a multiple).
        chunk: SSD chunk length.
        dt_min: smallest initial Δ.
        dt_max: largest initial Δ.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 1,
        headdim: int = 32,
        *,
        chunk: int = DEFAULT_SSD_CHUNK,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
    ) -> None:
        super().__init__()
        inner = expand * d_model
        if inner % headdim:
            raise ValueError(f"inner width {inner} is not a multiple of headdim {headdim}")
        self.d_inner, self.d_state, self.headdim, self.chunk = inner, d_state, headdim, chunk
        self.heads = inner // headdim
        conv_width = inner + 2 * d_state
        self.in_proj = nn.Linear(d_model, 2 * inner + 2 * d_state + self.heads, bias=False)
        self.conv1d = nn.Conv1d(conv_width, conv_width, d_conv, groups=conv_width, bias=True)
        self.norm = nn.RMSNorm(inner, eps=1e-5)
        self.out_proj = nn.Linear(inner, d_model, bias=False)
        # One Δ bias per head; A = −(1..heads) as in Mamba-2's uniform-range initialisation,
        # stored as log(−A).
        self.dt_bias = nn.Parameter(initial_dt_bias(self.heads, dt_min, dt_max))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, self.heads + 1, dtype=torch.float32)))
        self.D = nn.Parameter(torch.ones(self.heads))

    def _causal_conv(self, xbc: torch.Tensor) -> torch.Tensor:
        """Depthwise causal convolution of ``(B, L, channels)`` (left-padded, so causal)."""
        taps = self.conv1d.weight.shape[-1]
        weight, bias = self.conv1d.weight.to(xbc.dtype), self.conv1d.bias.to(xbc.dtype)
        padded = F.pad(xbc.transpose(1, 2), (taps - 1, 0))
        return F.conv1d(padded, weight, bias, groups=weight.shape[0]).transpose(1, 2)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Mix a ``(B, L, d_model)`` sequence causally (output t depends on inputs ≤ t only)."""
        batch, length, _ = hidden.shape
        inner, n = self.d_inner, self.d_state
        z, xbc, dt = self.in_proj(hidden).split([inner, inner + 2 * n, self.heads], dim=-1)
        x, B, C = F.silu(self._causal_conv(xbc)).split([inner, n, n], dim=-1)
        dt = F.softplus(dt.float() + self.dt_bias)  # (B, L, heads), float32
        A = -torch.exp(self.A_log)
        x = x.reshape(batch, length, self.heads, self.headdim)
        y = ssd_scan(x * dt[..., None].to(x.dtype), dt * A, B, C, self.chunk)
        y = y + self.D[:, None].to(y.dtype) * x
        y = y.reshape(batch, length, inner)
        gated = y * F.silu(z)
        # RMSNorm in the activations' dtype (under autocast a float32 weight would unfuse it).
        normed = F.rms_norm(gated, (inner,), self.norm.weight.to(gated.dtype), self.norm.eps)
        return self.out_proj(normed)


__all__ = ["DEFAULT_SSD_CHUNK", "Mamba2Mixer", "reference_ssd", "ssd_scan"]
