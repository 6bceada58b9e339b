"""Splice classifiers: the Mamba mixer against its equations, shapes, CNN context, save and load."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genatator.errors import ConfigError, ModelError
from genatator.splice import mamba as mamba_module
from genatator.splice.mamba import MambaMixer, mamba_backend, reference_scan, selective_scan
from genatator.splice.models import (
    DilatedCNN,
    MambaClassifier,
    SpliceModelConfig,
    build_splice_model,
    load_splice_model,
    parameter_count,
)
from genatator.splice.windows import PAD

TINY = {
    "mamba": {"arch": "mamba", "window": 32, "d_model": 16, "n_layers": 2, "d_state": 4},
    "mamba2": {
        "arch": "mamba2",
        "window": 32,
        "d_model": 16,
        "n_layers": 2,
        "d_state": 4,
        "headdim": 8,
    },
    "cnn": {"arch": "cnn", "window": 32, "channels": 8, "kernel": 5, "dilations": [1, 2]},
}


def tiny(arch: str, seed: int = 0):
    torch.manual_seed(seed)
    return build_splice_model(SpliceModelConfig.from_dict(TINY[arch]))


def random_codes(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 4, (batch, length), generator=torch.Generator().manual_seed(seed))


# -- scan and mixer --------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [16, 37])
def test_selective_scan_equals_step_by_step_recurrence(length):
    g = torch.Generator().manual_seed(length)
    deltaA = torch.rand(2, length, 3, 5, generator=g, dtype=torch.float64)
    deltaBx = torch.randn(2, length, 3, 5, generator=g, dtype=torch.float64)
    C = torch.randn(2, length, 5, generator=g, dtype=torch.float64)
    expected = reference_scan(deltaA, deltaBx, C)
    # The reference itself against a plainly written h_t = a_t h_{t-1} + x_t at one (b, e).
    h = torch.zeros(5, dtype=torch.float64)
    for t in range(length):
        h = deltaA[1, t, 2] * h + deltaBx[1, t, 2]
        assert float(expected[1, t, 2]) == pytest.approx(float(h @ C[1, t]), abs=1e-12)
    assert torch.allclose(selective_scan(deltaA, deltaBx, C), expected, rtol=0, atol=1e-10)


def _mixer_by_hand(m: MambaMixer, u: torch.Tensor) -> torch.Tensor:
    """The mixer's equations evaluated one batch row and one time step at a time."""
    E, N, K = m.d_inner, m.d_state, m.d_conv
    w_conv, b_conv = m.conv1d.weight[:, 0, :], m.conv1d.bias
    A = -torch.exp(m.A_log)
    outputs = []
    for row in u:
        xz = row @ m.in_proj.weight.T
        x, z = xz[:, :E], xz[:, E:]
        L = x.shape[0]
        conv = torch.stack(
            [
                b_conv
                + sum(w_conv[:, k] * x[t - (K - 1) + k] for k in range(K) if t - (K - 1) + k >= 0)
                for t in range(L)
            ]
        )
        x = conv * torch.sigmoid(conv)
        dbc = x @ m.x_proj.weight.T
        dt, B, C = dbc[:, : m.dt_rank], dbc[:, m.dt_rank : m.dt_rank + N], dbc[:, m.dt_rank + N :]
        delta = F.softplus(dt @ m.dt_proj.weight.T + m.dt_proj.bias)
        h = torch.zeros(E, N, dtype=u.dtype)
        ys = []
        for t in range(L):
            h = (
                torch.exp(delta[t][:, None] * A) * h
                + delta[t][:, None] * B[t][None, :] * x[t][:, None]
            )
            ys.append(h @ C[t] + m.D * x[t])
        y = torch.stack(ys) * (z * torch.sigmoid(z))
        outputs.append(y @ m.out_proj.weight.T)
    return torch.stack(outputs)


def test_mixer_equals_its_equations_and_is_causal():
    torch.manual_seed(3)
    m = MambaMixer(8, d_state=4, d_conv=3, expand=2).double()
    with torch.no_grad():  # move D and the conv bias off their trivial initial values
        m.D.normal_()
        m.conv1d.bias.normal_()
    u = torch.randn(2, 11, 8, dtype=torch.float64)
    out = m(u)
    assert out.shape == (2, 11, 8)
    assert torch.allclose(out, _mixer_by_hand(m, u), rtol=0, atol=1e-10)

    t0 = 5
    changed = u.clone()
    changed[:, t0 + 1 :] = torch.randn(2, 11 - t0 - 1, 8, dtype=torch.float64)
    out2 = m(changed)
    assert torch.allclose(out2[:, : t0 + 1], out[:, : t0 + 1], rtol=0, atol=1e-12)
    assert not torch.allclose(out2[:, t0 + 1 :], out[:, t0 + 1 :])


def test_mixer_parameters_are_named_and_initialised_as_mamba_ssm():
    m = MambaMixer(32, d_state=16, d_conv=4, expand=2)
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    # mamba_ssm.Mamba(d_model=32, d_state=16, d_conv=4, expand=2): d_inner 64, dt_rank 2.
    assert shapes == {
        "in_proj.weight": (128, 32),
        "conv1d.weight": (64, 1, 4),
        "conv1d.bias": (64,),
        "x_proj.weight": (2 + 32, 64),
        "dt_proj.weight": (64, 2),
        "dt_proj.bias": (64,),
        "A_log": (64, 16),
        "D": (64,),
        "out_proj.weight": (32, 64),
    }
    assert torch.equal(m.A_log, torch.log(torch.arange(1, 17.0)).repeat(64, 1))
    assert torch.equal(m.D, torch.ones(64))
    dt = F.softplus(m.dt_proj.bias)
    dt = dt.detach()
    assert float(dt.min()) >= 1e-3 * (1 - 1e-5) and float(dt.max()) <= 1e-1 * (1 + 1e-5)


def _selective_scan_fn(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """mamba_ssm's documented ``selective_scan_fn`` semantics, (batch, channels, length) layout."""
    delta = delta + delta_bias[None, :, None]
    if delta_softplus:
        delta = F.softplus(delta)
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for t in range(u.shape[2]):
        step = delta[:, :, t, None]
        h = torch.exp(step * A) * h + step * B[:, None, :, t] * u[:, :, t, None]
        ys.append((h * C[:, None, :, t]).sum(-1))
    y = torch.stack(ys, dim=-1) + D[None, :, None] * u
    return y * F.silu(z)


def test_mamba_ssm_path_passes_the_kernel_the_same_problem(monkeypatch):
    # No GPU here: stand the kernel in with its reference semantics and check the wiring (layout,
    # Δ bias and softplus, D and the z gate) gives the same output as the mambapy path.
    torch.manual_seed(4)
    m = MambaMixer(8, d_state=4, d_conv=3, expand=2)
    with torch.no_grad():
        m.D.normal_()
    u = torch.randn(2, 9, 8)
    expected = m(u)
    monkeypatch.setattr(mamba_module, "_mamba_ssm_scan", lambda: _selective_scan_fn)
    monkeypatch.setattr(mamba_module, "mamba_backend", lambda device: "mamba_ssm")
    assert torch.allclose(m(u), expected, rtol=0, atol=1e-5)


def test_backend_is_chunked_on_cpu_and_missing_mambapy_is_a_model_error_on_cuda(monkeypatch):
    assert mamba_backend("cpu") == "chunked"
    if importlib.util.find_spec("mamba_ssm") is None:
        assert mamba_backend("cuda") == "mambapy"  # CUDA without mamba_ssm: still pscan
    monkeypatch.setattr(mamba_module.importlib.util, "find_spec", lambda name: None)
    assert mamba_backend("cpu") == "chunked"  # the CPU scan needs no extra package
    with pytest.raises(ModelError, match="pip install mambapy"):
        mamba_backend("cuda")


# -- the classifiers -------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["mamba", "mamba2", "cnn"])
def test_forward_shapes_and_window_length(arch):
    model = tiny(arch).eval()
    logits = model(random_codes(3, 32))
    assert logits.shape == (3, 3)
    assert torch.isfinite(logits).all()
    if arch in ("cnn", "mamba2"):
        assert model.dense and model.forward_dense(random_codes(2, 50)).shape == (2, 50, 3)
        assert model(random_codes(2, 41)).shape == (2, 3)  # any length: centre readout
    else:
        assert not model.dense
        with pytest.raises(ValueError, match=r"\(batch, 32\) windows"):
            model(random_codes(3, 31))
        with pytest.raises(ModelError, match="no per-position output"):
            model.forward_dense(random_codes(1, 32))


def test_mamba_pooling_ignores_padding():
    model = tiny("mamba").eval()
    codes = random_codes(2, 32)
    codes[:, -10:] = PAD
    before = model(codes)
    # The scan is causal and pooling masks PAD, so the padded tail cannot reach the logits.
    with torch.no_grad():
        model.position.weight[-10:] = torch.randn(10, 16)
    assert torch.equal(model(codes), before)
    with torch.no_grad():
        model.position.weight[-11] += 1.0  # a real position does reach them
    assert not torch.equal(model(codes), before)


def test_cnn_default_context_is_400_and_exact():
    torch.manual_seed(0)
    model = DilatedCNN(SpliceModelConfig(arch="cnn")).double().eval()
    # Each residual unit holds two k=11 convs of half-width 5d: 2·5·(4·1 + 4·4) = 200 per side.
    assert model.context == 400
    length, centre = 451, 225
    codes = random_codes(1, length, seed=1)
    # Exact receptive field: the gradient of the centre logits reaches inputs c-200..c+200 only.
    # (The chain to ±200 is a product of 16 edge taps, ~1e-13 at init: visible in a float64
    # gradient, below float32 rounding as a difference of outputs.)
    one_hot = model.one_hot[codes].transpose(1, 2).requires_grad_()
    model.input.register_forward_pre_hook(lambda module, args: (one_hot,))
    model.forward_dense(codes)[0, centre].sum().backward()
    reached = torch.nonzero(one_hot.grad[0].abs().sum(0)).flatten()
    assert (int(reached.min()), int(reached.max())) == (centre - 200, centre + 200)
    assert len(reached) == 401


def test_cnn_bases_beyond_the_context_do_not_change_the_centre():
    torch.manual_seed(0)
    model = DilatedCNN(SpliceModelConfig(arch="cnn")).eval()
    length, centre = 451, 225
    base = random_codes(1, length, seed=1)
    offsets = [-230, -201, 201, 220]
    variants = base.repeat(len(offsets) + 2, 1)
    for row, offset in enumerate(offsets, start=1):
        variants[row, centre + offset] = (variants[row, centre + offset] + 1) % 4
    variants[-1, centre + 3] = (variants[-1, centre + 3] + 1) % 4  # a near base does
    with torch.no_grad():
        logits = model(variants)
    for row in range(1, len(offsets) + 1):
        assert torch.equal(logits[row], logits[0])
    assert not torch.allclose(logits[-1], logits[0])


def test_cnn_window_logits_are_the_dense_centre_and_n_is_a_zero_vector():
    model = tiny("cnn").eval()
    codes = random_codes(3, 64, seed=2)
    with torch.no_grad():
        assert torch.equal(model(codes), model.forward_dense(codes)[:, 32])
        n, pad = codes.clone(), codes.clone()
        n[:, :5], pad[:, :5] = 4, PAD
        assert torch.equal(model.forward_dense(n), model.forward_dense(pad))


def test_bidirectional_mamba2_reads_both_sides_and_its_centre_is_the_dense_output():
    model = tiny("mamba2").eval()
    codes = random_codes(2, 41, seed=3)
    with torch.no_grad():
        dense = model.forward_dense(codes)
        assert torch.equal(model(codes), dense[:, 20])
        for changed_at in (5, 35):  # a base before and a base after position 20
            other = codes.clone()
            other[:, changed_at] = (other[:, changed_at] + 1) % 4
            assert not torch.allclose(model.forward_dense(other)[:, 20], dense[:, 20])
    assert model.context == model.scan_chunk == 32


# -- configuration, save and load ------------------------------------------------------------------


def test_config_round_trip_and_errors():
    config = SpliceModelConfig.from_dict(TINY["cnn"])
    assert config.dilations == (1, 2)
    assert SpliceModelConfig.from_dict(config.to_dict()) == config
    assert json.loads(json.dumps(config.to_dict())) == config.to_dict()
    with pytest.raises(ConfigError, match="unknown splice model arch 'rnn'"):
        SpliceModelConfig.from_dict({"arch": "rnn"})
    with pytest.raises(ConfigError, match=r"unknown splice model setting.*colour"):
        SpliceModelConfig.from_dict({"arch": "cnn", "colour": 1})
    with pytest.raises(ConfigError, match="kernel must be odd"):
        SpliceModelConfig(arch="cnn", kernel=4)
    with pytest.raises(ConfigError, match="headdim 48 must divide the mamba2 inner width 128"):
        SpliceModelConfig(arch="mamba2", headdim=48)
    SpliceModelConfig(arch="mamba", headdim=48)  # only mamba2 has heads
    model = tiny("cnn")
    assert parameter_count(model) == sum(p.numel() for p in model.parameters())
    default = DilatedCNN(SpliceModelConfig(arch="cnn"))
    assert 150_000 < parameter_count(default) < 200_000  # SpliceAI-400nt at 32 channels


@pytest.mark.parametrize("arch", ["mamba", "mamba2", "cnn"])
def test_save_and_load_give_identical_outputs(arch, tmp_path):
    model = tiny(arch)
    codes = random_codes(4, 32, seed=5)
    model.train()
    model(codes)  # training-mode pass: moves the CNN's BatchNorm running statistics
    model.eval()
    with torch.no_grad():
        expected = model(codes)
    model.save_pretrained(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["model_type"] == "genatator-splice" and saved["arch"] == arch
    loaded = load_splice_model(tmp_path / "m")
    assert type(loaded) is type(model) and not loaded.training
    assert loaded.config == model.config
    with torch.no_grad():
        assert torch.equal(loaded(codes), expected)
    if arch == "mamba":
        assert isinstance(loaded, MambaClassifier)


def test_load_errors_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="no such splice model directory"):
        load_splice_model(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"no config\.json"):
        load_splice_model(tmp_path / "empty")
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "genatator"}))
    with pytest.raises(
        ModelError, match="'genatator', not 'genatator-splice' \\(an annotation model"
    ):
        load_splice_model(other)
    (other / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_splice_model(other)

    tiny("cnn").save_pretrained(tmp_path / "cnn")
    config_path = tmp_path / "cnn" / "config.json"
    values = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**values, "channels": 16}))
    with pytest.raises(ModelError, match="weights do not match the model: shape mismatch"):
        load_splice_model(tmp_path / "cnn")
    config_path.write_text(json.dumps({**values, "dilations": [1, 2, 4]}))
    with pytest.raises(ModelError, match=r"missing blocks\.2\."):
        load_splice_model(tmp_path / "cnn")
    config_path.write_text(json.dumps(values))
    (tmp_path / "cnn" / "model.safetensors").unlink()
    with pytest.raises(ModelError, match=r"no model\.safetensors"):
        load_splice_model(tmp_path / "cnn")


def test_loaded_model_runs_on_windows_from_numpy(tmp_path):
    tiny("cnn").save_pretrained(tmp_path / "m")
    model = load_splice_model(tmp_path / "m", device="cpu")
    windows = np.random.default_rng(0).integers(0, 4, size=(5, 32), dtype=np.uint8)
    probabilities = model(torch.from_numpy(windows).long()).softmax(-1)
    assert torch.allclose(probabilities.sum(-1), torch.ones(5))


def test_saved_configs_of_the_removed_bpe_classifier(tmp_path):
    # Models saved before the BPE classifier went carry its four fields, unused: they load.
    model = tiny("cnn")
    model.save_pretrained(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    config.update(hidden=128, layers=2, heads=4, intermediate=512)
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    assert load_splice_model(tmp_path / "old").config == model.config
    # A BPE model itself is refused with what to do instead.
    config["arch"] = "bpe"
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=r"no longer carries that architecture.*train a cnn"):
        load_splice_model(tmp_path / "old")
