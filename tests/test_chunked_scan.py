"""The chunked CPU scans against the step-by-step recurrence: values, gradients, dtypes, chunks."""

from __future__ import annotations

import pytest
import torch
from helpers import relative_errors, value_and_grads

from genatator.splice.chunked_scan import chunked_scan, fused_selective_scan
from genatator.splice.mamba import reference_scan
from genatator.splice.models import MambaClassifier, SpliceModelConfig

LENGTHS = [1, 5, 37, 64, 100]
# Δ scales: weak decay (a ≈ 1, long memory, large states) and strong decay (a down to e^-80).
DECAYS = {"weak": 1e-3, "strong": 5.0}
# Tolerances on max |error| / max |reference|, errors measured over these tests' inputs:
# fp32 2.8e-7 (values), 4.0e-7 (gradients); bf16 0.037 (values), 0.062 (gradients), which equals
# the error of reference_scan itself run in bf16 (0.062). Asserted with about 2x margin.
FP32_TOL = 1e-5
BF16_TOL = 0.12


def _inputs(length: int, decay: str, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """float64 ``delta, A, u, B, C`` and an output gradient; batch 2, 3 channels, state 4."""
    g = torch.Generator().manual_seed(seed)
    delta = DECAYS[decay] * torch.rand(2, length, 3, generator=g, dtype=torch.float64)
    A = -torch.arange(1.0, 5.0, dtype=torch.float64).repeat(3, 1) * (0.5 + torch.rand(3, 1))
    u, B, C = (torch.randn(2, length, w, generator=g, dtype=torch.float64) for w in (3, 4, 4))
    grad_y = torch.randn(2, length, 3, generator=g, dtype=torch.float64)
    return delta, A, u, B, C, grad_y


def _reference(delta, A, u, B, C):
    """The naive recurrence on the expanded inputs."""
    return reference_scan(torch.exp(delta[..., None] * A), u[..., None] * B[:, :, None], C)


@pytest.mark.parametrize("decay", list(DECAYS))
@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("dtype,tol", [(torch.float32, FP32_TOL), (torch.bfloat16, BF16_TOL)])
def test_fused_scan_equals_recurrence_forward_and_backward(length, decay, dtype, tol):
    *inputs, grad_y = _inputs(length, decay)
    # Ground truth: the recurrence in float64 on the inputs rounded to dtype.
    rounded = [x.to(dtype).double() for x in inputs]
    expected = value_and_grads(_reference, rounded, grad_y.to(dtype).double(), torch.float64)
    got = value_and_grads(lambda *x: fused_selective_scan(*x, chunk=7), inputs, grad_y, dtype)
    assert max(relative_errors(got, expected)) < tol


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("dtype,tol", [(torch.float32, FP32_TOL), (torch.bfloat16, BF16_TOL)])
def test_chunked_scan_equals_recurrence_forward_and_backward(length, dtype, tol):
    delta, A, u, B, C, grad_y = _inputs(length, "weak", seed=1)
    inputs = [torch.exp(delta[..., None] * A), u[..., None] * B[:, :, None], C]
    rounded = [x.to(dtype).double() for x in inputs]
    expected = value_and_grads(reference_scan, rounded, grad_y.to(dtype).double(), torch.float64)
    got = value_and_grads(lambda *x: chunked_scan(*x, chunk=7), inputs, grad_y, dtype)
    assert max(relative_errors(got, expected)) < tol


@pytest.mark.parametrize("length", [37, 100])
def test_result_does_not_depend_on_the_chunk_size(length):
    *inputs, grad_y = _inputs(length, "weak", seed=2)
    runs = [
        value_and_grads(
            lambda *x, k=k: fused_selective_scan(*x, chunk=k), inputs, grad_y, torch.float32
        )
        for k in (1, 7, 64, length)
    ]
    for run in runs[1:]:
        assert max(relative_errors(run, runs[0])) < FP32_TOL
    state_runs = [
        chunked_scan(
            *(
                x.float()
                for x in (
                    torch.exp(inputs[0][..., None] * inputs[1]),
                    inputs[2][..., None] * inputs[3][:, :, None],
                    inputs[4],
                )
            ),
            chunk=k,
        )
        for k in (1, 7, 64, length)
    ]
    for run in state_runs[1:]:
        assert torch.allclose(
            run, state_runs[0], rtol=0, atol=FP32_TOL * float(state_runs[0].abs().max())
        )


def test_mamba_model_gives_the_same_output_and_gradients_with_either_scan():
    config = SpliceModelConfig(arch="mamba", window=48, d_model=16, n_layers=2, d_state=4)
    torch.manual_seed(0)
    model = MambaClassifier(config).eval()
    codes = torch.randint(0, 4, (3, config.window))
    results = []
    for backend in ("mambapy", "chunked"):
        for layer in model.layers:
            layer.mixer.backend, layer.mixer.scan_chunk = backend, 5
        model.zero_grad()
        logits = model(codes)
        logits.square().sum().backward()
        grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        results.append((logits.detach(), grads))
    (logits_old, grads_old), (logits_new, grads_new) = results
    assert torch.allclose(logits_new, logits_old, rtol=1e-5, atol=1e-6)
    assert len(grads_new) == len(grads_old)
    for new, old in zip(grads_new, grads_old):
        assert torch.allclose(new, old, rtol=1e-4, atol=1e-6)
