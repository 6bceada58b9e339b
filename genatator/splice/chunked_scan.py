"""Chunked selective scans for CPUs: recurrences run a chunk of steps at a time, states carried."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

DEFAULT_CHUNK = 8  # fastest of 4-64 on one thread (benchmarks/bench_splice_scan.py)


def _linear_states(a: torch.Tensor, b: torch.Tensor, chunk: int, reverse: bool) -> torch.Tensor:
    """All states of ``h_t = a_t h_{t∓1} + b_t`` (zero start) along dim 1, chunk by chunk.

    Forward (``reverse=False``) runs ``h_t = a_t h_{t-1} + b_t``; reverse runs
    ``h_t = a_t h_{t+1} + b_t`` from the end. Three passes, each a short Python loop of
    whole-batch tensor ops: (1) every chunk's final state from a zero start and its total decay,
    all chunks at once; (2) a sequential scan over the chunk states to get each chunk's true
    starting state; (3) the recurrence inside every chunk again, from those starts. Only products
    of decays (each in [0, 1] for a Mamba) are formed, so nothing can overflow.
    """
    batch, length, *rest = b.shape
    k = max(1, min(chunk, length))
    n_chunks = math.ceil(length / k)
    pad = n_chunks * k - length
    if pad:  # zero steps after the end: they never feed a real step in either direction
        widths = (0, 0) * len(rest) + (0, pad)
        a, b = F.pad(a, widths), F.pad(b, widths)
    a = a.reshape(batch, n_chunks, k, *rest)
    b = b.reshape(batch, n_chunks, k, *rest)
    steps = list(range(k - 1, -1, -1) if reverse else range(k))
    chunks = list(range(n_chunks - 1, -1, -1) if reverse else range(n_chunks))

    starts = b.new_zeros(batch, n_chunks, *rest)
    if n_chunks > 1:
        end, decay = b[:, :, steps[0]], a[:, :, steps[0]]
        for i in steps[1:]:
            end = torch.addcmul(b[:, :, i], a[:, :, i], end)
            decay = decay * a[:, :, i]
        carry = b.new_zeros(batch, *rest)
        for c in chunks[:-1]:
            carry = torch.addcmul(end[:, c], decay[:, c], carry)
            starts[:, c - 1 if reverse else c + 1] = carry

    states = torch.empty_like(b)
    previous = starts
    for i in steps:
        previous = torch.addcmul(b[:, :, i], a[:, :, i], previous, out=states[:, :, i])
    return states.reshape(batch, n_chunks * k, *rest)[:, :length]


class _ChunkedScan(torch.autograd.Function):
    """Forward and backward of the selective scan; the backward is the same scan run in reverse."""

    @staticmethod
    def forward(ctx, deltaA, deltaBx, C, chunk):  # type: ignore[override]
        states = _linear_states(deltaA, deltaBx, chunk, reverse=False)
        ctx.save_for_backward(deltaA, states, C)
        ctx.chunk = chunk
        return torch.einsum("blen,bln->ble", states, C)

    @staticmethod
    def backward(ctx, grad_y):  # type: ignore[override]
        deltaA, states, C = ctx.saved_tensors
        grad_y = grad_y.to(states.dtype)
        # dL/dh_t = C_t ⊗ dy_t + a_{t+1} dL/dh_{t+1}: the transposed recurrence, from the end.
        a_next = F.pad(deltaA[:, 1:], (0, 0, 0, 0, 0, 1))
        direct = grad_y.unsqueeze(-1) * C.unsqueeze(2)
        grad_h = _linear_states(a_next, direct, ctx.chunk, reverse=True)
        grad_a = torch.zeros_like(deltaA)
        torch.mul(grad_h[:, 1:], states[:, :-1], out=grad_a[:, 1:])  # h_0 = 0: no grad at t=0
        grad_C = torch.einsum("ble,blen->bln", grad_y, states)
        return grad_a, grad_h, grad_C, None


def chunked_scan(
    deltaA: torch.Tensor, deltaBx: torch.Tensor, C: torch.Tensor, chunk: int = DEFAULT_CHUNK
) -> torch.Tensor:
    """Same result as ``mamba.selective_scan``: ``y_t = C_t·h_t`` with ``h_t = a_t h_{t-1} + b_t``.

    Args:
        deltaA: ``(B, L, E, N)`` per-step, per-channel, per-state decay ``exp(Δ·A)``.
        deltaBx: ``(B, L, E, N)`` discretised input.
        C: ``(B, L, N)`` output projection of each step.
        chunk: steps per chunk; any value gives the same result up to rounding.

    Returns:
        ``(B, L, E)`` in the common dtype of the inputs.
    """
    dtype = torch.promote_types(torch.promote_types(deltaA.dtype, deltaBx.dtype), C.dtype)
    with torch.autocast(deltaA.device.type, enabled=False):
        return _ChunkedScan.apply(
            deltaA.to(dtype).contiguous(), deltaBx.to(dtype).contiguous(), C.to(dtype), chunk
        )


class _FusedScan(torch.autograd.Function):
    """The mixer's whole scan, ``exp(Δ·A)`` and ``Δx·B`` included, one chunk of steps at a time.

    Chunks run in order, the state carried from one to the next. The ``(B, L, E, N)`` decay and
    input tensors exist only one chunk at a time (recomputed in the backward), so apart from the
    stored states every ``(E, N)``-wide tensor stays small enough to be cached, and a whole chunk
    is built with one op per tensor instead of one per step; the contractions over E or N are
    batched matrix-vector products.
    """

    @staticmethod
    def forward(ctx, delta, A, u, B, C, chunk):  # type: ignore[override]
        batch, length, inner = u.shape
        states = u.new_empty(batch, length, inner, A.shape[-1])
        outputs = u.new_empty(batch, length, inner)
        h = u.new_zeros(batch, inner, A.shape[-1])
        A_u = A.to(u.dtype)
        for t0 in range(0, length, chunk):
            span = slice(t0, min(t0 + chunk, length))
            a = torch.exp(delta[:, span, :, None] * A_u)  # (B, K, E, N)
            b = u[:, span, :, None] * B[:, span, None, :]
            for i in range(a.shape[1]):
                h = torch.addcmul(b[:, i], a[:, i], h, out=states[:, t0 + i])
            torch.matmul(states[:, span], C[:, span, :, None], out=outputs[:, span, :, None])
        ctx.save_for_backward(delta, A, u, B, C, states)
        ctx.chunk = chunk
        return outputs

    @staticmethod
    def backward(ctx, grad_y):  # type: ignore[override]
        delta, A, u, B, C, states = ctx.saved_tensors
        grad_y = grad_y.to(u.dtype)
        length = u.shape[1]
        grads = [torch.empty_like(x) for x in (delta, u, B, C)]
        grad_delta, grad_u, grad_B, grad_C = grads
        grad_A = torch.zeros_like(A)  # A's dtype: fp32 sums even when the scan runs in bf16
        A = A.to(u.dtype)
        g = torch.zeros_like(states[:, 0])  # dL/dh_{t+1}
        a_next = torch.zeros_like(g)  # a_{t+1}; zero after the last step
        for t0 in reversed(range(0, length, ctx.chunk)):
            span = slice(t0, min(t0 + ctx.chunk, length))
            a = torch.exp(delta[:, span, :, None] * A)
            # dL/dh_t = C_t ⊗ dy_t + a_{t+1} dL/dh_{t+1}: the transposed recurrence, backwards.
            grad_h = grad_y[:, span, :, None] * C[:, span, None, :]
            for i in reversed(range(a.shape[1])):
                g = torch.addcmul(grad_h[:, i], a_next, g, out=grad_h[:, i])
                a_next = a[:, i]
            previous = states[:, t0 - 1 : span.stop - 1] if t0 else _shift(states[:, span])
            grad_log_a = grad_h * previous * a  # dL/d(Δ·A), elementwise
            grad_delta[:, span] = (grad_log_a * A).sum(-1)
            grad_A += (grad_log_a * delta[:, span, :, None]).sum((0, 1), dtype=grad_A.dtype)
            # Row vector × (E, N) matrix per step: matmuls in the tensors' own layout (no copy).
            grad_u[:, span] = torch.matmul(grad_h, B[:, span, :, None])[..., 0]
            grad_B[:, span] = torch.matmul(u[:, span, None, :], grad_h)[:, :, 0]
            grad_C[:, span] = torch.matmul(grad_y[:, span, None, :], states[:, span])[:, :, 0]
        return grad_delta, grad_A, grad_u, grad_B, grad_C, None


def _shift(states: torch.Tensor) -> torch.Tensor:
    """``states`` moved one step later along dim 1 with a zero state first (h_0 = 0)."""
    return F.pad(states[:, :-1], (0, 0, 0, 0, 1, 0))


def fused_selective_scan(
    delta: torch.Tensor,
    A: torch.Tensor,
    u: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    chunk: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """``chunked_scan(exp(Δ⊗A), (Δx)⊗B, C)`` without materialising its ``(B, L, E, N)`` inputs.

    Args:
        delta: ``(B, L, E)`` step sizes Δ.
        A: ``(E, N)`` state matrix (negative).
        u: ``(B, L, E)`` the scanned input ``Δ·x``.
        B: ``(B, L, N)`` input projection of each step.
        C: ``(B, L, N)`` output projection of each step.
        chunk: steps per chunk; any value gives the same result up to rounding.

    Returns:
        ``(B, L, E)`` in the dtype of ``u`` (under bf16 autocast, bf16: everything runs in it).
    """
    dtype = u.dtype
    with torch.autocast(u.device.type, enabled=False):
        # A stays in its own dtype (fp32): its gradient sums over every batch row and step.
        delta, u, B, C = (x.to(dtype).contiguous() for x in (delta, u, B, C))
        return _FusedScan.apply(delta, A.contiguous(), u, B, C, max(1, chunk))


__all__ = ["DEFAULT_CHUNK", "chunked_scan", "fused_selective_scan"]
