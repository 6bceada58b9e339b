"""The Mamba-2 SSD scan against the step-by-step recurrence; the Mamba-2 mixer's equations."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import relative_errors, value_and_grads

from genatator.splice.models import SpliceModelConfig, build_splice_model
from genatator.splice.ssd import Mamba2Mixer, reference_ssd, ssd_scan

LENGTHS = [1, 5, 37, 64, 100]
# Per-step log decays: weak (a ≈ −0.001, long memory, large states) and strong (down to −5).
DECAYS = {"weak": 1e-3, "strong": 5.0}
# Tolerances on max |error| / max |reference|. Measured over these inputs: fp32 4.3e-7 (values)
# and 8.2e-7 (gradients); bf16 0.007 and 0.007, below the error of the recurrence itself run in
# bf16 (up to 0.031: the chunked form rounds fewer running sums). Asserted with margin.
FP32_TOL = 1e-5
BF16_TOL = 0.03


def _inputs(length: int, decay: str, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """float64 ``x, log_decay, B, C`` and an output gradient: batch 2, 3 heads of 5, state 4."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, length, 3, 5, generator=g, dtype=torch.float64)
    log_decay = -DECAYS[decay] * torch.rand(2, length, 3, generator=g, dtype=torch.float64)
    B, C = (torch.randn(2, length, 4, generator=g, dtype=torch.float64) for _ in range(2))
    grad_y = torch.randn(2, length, 3, 5, generator=g, dtype=torch.float64)
    return x, log_decay, B, C, grad_y


@pytest.mark.parametrize("decay", list(DECAYS))
@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("dtype,tol", [(torch.float32, FP32_TOL), (torch.bfloat16, BF16_TOL)])
def test_ssd_scan_equals_the_recurrence_forward_and_backward(length, decay, dtype, tol):
    *inputs, grad_y = _inputs(length, decay)
    rounded = [t.to(dtype).double() for t in inputs]
    expected = value_and_grads(reference_ssd, rounded, grad_y.to(dtype).double(), torch.float64)
    got = value_and_grads(lambda *t: ssd_scan(*t, chunk=7), inputs, grad_y, dtype)
    assert max(relative_errors(got, expected)) < tol


@pytest.mark.parametrize("length", [37, 100])
def test_result_does_not_depend_on_the_chunk_size(length):
    *inputs, grad_y = _inputs(length, "weak", seed=2)
    runs = [
        value_and_grads(lambda *t, k=k: ssd_scan(*t, chunk=k), inputs, grad_y, torch.float32)
        for k in (1, 7, 64, length)
    ]
    for run in runs[1:]:
        assert max(relative_errors(run, runs[0])) < FP32_TOL


def test_hand_computed_two_steps():
    # One head of width 1, state 1: h1 = 2, h2 = e^-1·2 + 3·0.5; y = C·h.
    x = torch.tensor([2.0, 3.0]).reshape(1, 2, 1, 1)
    log_decay = torch.tensor([-0.5, -1.0]).reshape(1, 2, 1)
    B = torch.tensor([1.0, 0.5]).reshape(1, 2, 1)
    C = torch.tensor([1.0, 2.0]).reshape(1, 2, 1)
    y = ssd_scan(x, log_decay, B, C, chunk=1).flatten()
    expected = torch.tensor([2.0, 2.0 * (2 * torch.e**-1.0 + 1.5)])
    assert torch.allclose(y, expected, atol=1e-6)


def _mixer_by_equations(mixer: Mamba2Mixer, hidden: torch.Tensor) -> torch.Tensor:
    """The mixer written out with nn.Conv1d, the reference recurrence and RMSNorm."""
    inner, n, heads = mixer.d_inner, mixer.d_state, mixer.heads
    z, xbc, dt = mixer.in_proj(hidden).split([inner, inner + 2 * n, heads], dim=-1)
    taps = mixer.conv1d.weight.shape[-1]
    conv = mixer.conv1d(F.pad(xbc.transpose(1, 2), (taps - 1, 0))).transpose(1, 2)
    x, B, C = F.silu(conv).split([inner, n, n], dim=-1)
    dt = F.softplus(dt + mixer.dt_bias)
    x = x.reshape(*x.shape[:2], heads, mixer.headdim)
    y = reference_ssd(x * dt[..., None], dt * -torch.exp(mixer.A_log), B, C)
    y = (y + mixer.D[:, None] * x).reshape(*hidden.shape[:2], inner)
    return mixer.out_proj(mixer.norm(y * F.silu(z)))


def test_mixer_equals_its_equations_and_is_causal():
    torch.manual_seed(0)
    mixer = Mamba2Mixer(16, d_state=4, headdim=8, chunk=5)
    hidden = torch.randn(2, 23, 16)
    out = mixer(hidden)
    assert out.shape == hidden.shape
    assert torch.allclose(out, _mixer_by_equations(mixer, hidden), atol=1e-5)
    changed = hidden.clone()
    changed[:, 15:] = torch.randn(2, 8, 16)
    assert torch.equal(mixer(changed)[:, :15], out[:, :15])
    assert not torch.allclose(mixer(changed)[:, 15:], out[:, 15:])


def test_mixer_rejects_a_width_that_heads_do_not_divide():
    with pytest.raises(ValueError, match="multiple of headdim 12"):
        Mamba2Mixer(16, headdim=12)


def test_classifier_in_bf16_autocast_agrees_with_fp32():
    config = SpliceModelConfig(arch="mamba2", window=64, d_model=32, n_layers=2, headdim=16)
    torch.manual_seed(0)
    model = build_splice_model(config).eval()
    codes = torch.randint(0, 4, (4, 64))
    with torch.no_grad():
        fp32 = model(codes).softmax(-1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = model(codes).float().softmax(-1)
    # Measured 0.001 max probability difference; asserted 0.01.
    assert (fp32 - bf16).abs().max() < 0.01
