"""Inference: window planning and weights, the streaming stitcher, the predictor and the engine."""

from __future__ import annotations

import itertools
import types

import numpy as np
import pytest
import torch
from helpers import random_dna
from torch import nn

from genatator.errors import ConfigError
from genatator.genome import reverse_complement
from genatator.inference import (
    TrackBlock,
    TrackStitcher,
    WindowPredictor,
    autocast_dtype,
    fit_window,
    plan_windows,
    predict_tracks,
    resolve_device,
    window_weights,
)
from genatator.labels import (
    CDS,
    EXON,
    FIVE_PRIME_UTR,
    INTRON,
    THREE_PRIME_UTR,
    reverse_complement_labels,
)
from genatator.model.directory import create_model
from genatator.model.genatator import ModelOutput
from genatator.model.inputs import build_inputs

# -- windows ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "window", "overlap", "expected"),
    [
        (10, 4, 0.5, [0, 2, 4, 6]),
        (10, 4, 0.0, [0, 4, 6]),
        (12, 4, 0.0, [0, 4, 8]),
        (10, 10, 0.5, [0]),
        (3, 10, 0.5, [0]),
        (0, 10, 0.5, []),
        (5, 3, 0.99, [0, 1, 2]),  # step floors to 0 and is raised to 1
    ],
)
def test_plan_windows_examples(length, window, overlap, expected):
    starts = plan_windows(length, window, overlap)
    assert starts.dtype == np.int64
    assert starts.tolist() == expected


def test_plan_windows_tile_the_sequence_without_running_past_it():
    rng = np.random.default_rng(0)
    for _ in range(300):
        length = int(rng.integers(1, 5000))
        window = int(rng.integers(1, 1500))
        overlap = float(rng.choice([0.0, 0.25, 0.5, 0.75, rng.uniform(0, 0.99)]))
        starts = plan_windows(length, window, overlap)
        size = min(window, length)
        assert np.all(np.diff(starts) > 0)  # sorted, no duplicates
        assert starts[0] == 0 and starts[-1] == length - size
        assert np.all(starts + size <= length)
        step = max(1, int(window * (1 - overlap)))
        assert np.all(np.diff(starts) <= step)  # consecutive windows leave no gap
        assert np.all(np.diff(starts)[:-1] == step)


@pytest.mark.parametrize(
    "kwargs", [{"window": 0}, {"overlap": 1.0}, {"overlap": -0.1}, {"length": -1}]
)
def test_plan_windows_rejects_bad_arguments(kwargs):
    arguments = {"length": 100, "window": 10, "overlap": 0.5, **kwargs}
    with pytest.raises(ValueError):
        plan_windows(**arguments)


def test_window_weights_formula_and_shape():
    np.testing.assert_allclose(window_weights(1), [1.0])
    np.testing.assert_allclose(window_weights(4), [0.5, 1.0, 1.0, 0.5])
    np.testing.assert_allclose(window_weights(5), [1 / 3, 2 / 3, 1.0, 2 / 3, 1 / 3], rtol=1e-6)
    assert window_weights(0).shape == (0,)
    for n in (2, 3, 10, 11, 999, 2342):
        weights = window_weights(n)
        assert weights.dtype == np.float32 and weights.shape == (n,)
        assert np.all(weights > 0)
        np.testing.assert_array_equal(weights, weights[::-1])
        assert weights.max() == 1.0 and weights[n // 2] == 1.0
        assert np.all(np.diff(weights[: (n + 1) // 2]) > 0)  # rises toward the middle


def test_fit_window_fills_the_token_budget():
    tokenizer = create_model(preset="tiny", seed=0).tokenizer
    dna = random_dna(60_000, seed=5)
    window = fit_window(tokenizer, dna, 300)
    per_token = len(dna) / len(tokenizer.encode(dna))
    assert window == int(300 * per_token * 0.95)
    assert len(tokenizer.encode(dna[:window])) <= 300
    # N runs are not measured: leading megabase-scale N changes nothing.
    assert fit_window(tokenizer, "N" * 450_000 + dna, 300) == window
    assert fit_window(tokenizer, dna, 300, fill=1.0) > window


def test_fit_window_needs_bases():
    tokenizer = create_model(preset="tiny", seed=0).tokenizer
    with pytest.raises(ConfigError):
        fit_window(tokenizer, "N" * 1000, 300)
    with pytest.raises(ValueError):
        fit_window(tokenizer, "ACGT", 300, fill=0.0)


# -- stitcher --------------------------------------------------------------------------------


def _random_windows(rng, length, count, max_window):
    """Sorted (start, probabilities, weights) windows; some weights 0, some positions uncovered."""
    windows = []
    for start in np.sort(rng.integers(0, length, size=count)):
        n = int(rng.integers(1, max_window + 1))
        n = min(n, length - int(start))
        probabilities = rng.random((n, 5), dtype=np.float32)
        weights = rng.random(n, dtype=np.float32)
        weights[rng.random(n) < 0.2] = 0.0
        windows.append((int(start), probabilities, weights))
    return windows


def _brute_force(length, windows, channels=5):
    sums = np.zeros((length, channels))
    total = np.zeros(length)
    for start, probabilities, weights in windows:
        n = len(weights)
        sums[start : start + n] += probabilities * weights[:, None].astype(np.float64)
        total[start : start + n] += weights
    out = np.zeros((length, channels))
    np.divide(sums, total[:, None], out=out, where=total[:, None] > 0)
    return out


def _stitch(length, windows, block_size):
    stitcher = TrackStitcher(length, channels=5, block_size=block_size)
    blocks = []
    for index, (start, probabilities, weights) in enumerate(windows):
        blocks += stitcher.finished(start)
        stitcher.add(start, probabilities, weights)
        upto = windows[index + 1][0] if index + 1 < len(windows) else length
        blocks += stitcher.finished(upto)
    blocks += stitcher.finished(length)
    return blocks


def _check_blocks(blocks, length, block_size):
    assert [b.start for b in blocks] == [i * block_size for i in range(len(blocks))]
    assert sum(len(b.probabilities) for b in blocks) == length
    assert all(len(b.probabilities) == block_size for b in blocks[:-1])
    assert all(b.probabilities.dtype == np.float32 for b in blocks)


@pytest.mark.parametrize("block_size", [1, 7, 64, 500, 4096, 100_000])
def test_stitcher_equals_brute_force_average(block_size):
    rng = np.random.default_rng(block_size)
    length = 3000
    windows = _random_windows(rng, length, count=25, max_window=400)  # block 7 < window
    blocks = _stitch(length, windows, block_size)
    _check_blocks(blocks, length, block_size)
    stitched = np.concatenate([b.probabilities for b in blocks])
    expected = _brute_force(length, windows)
    np.testing.assert_allclose(stitched, expected, rtol=1e-6, atol=1e-7)
    uncovered = _brute_force(length, [(s, np.ones_like(p), np.ones_like(w)) for s, p, w in windows])
    assert np.all(stitched[uncovered[:, 0] == 0] == 0.0)  # positions no window reaches


def test_stitcher_sequence_shorter_than_block_and_window():
    stitcher = TrackStitcher(5, channels=5, block_size=1000)
    probabilities = np.full((5, 5), 0.25, dtype=np.float32)
    stitcher.add(0, probabilities, np.array([1, 1, 0, 1, 1], dtype=np.float32))
    assert stitcher.finished(4) == []  # the last, partial block waits for the end
    (block,) = stitcher.finished(5)
    assert isinstance(block, TrackBlock) and (block.start, block.end) == (0, 5)
    np.testing.assert_array_equal(block.probabilities[:, 0], [0.25, 0.25, 0.0, 0.25, 0.25])
    assert TrackStitcher(0).finished(0) == []


def test_stitcher_memory_is_bounded_by_block_and_window():
    length, window, block_size = 400_000, 1000, 5000
    stitcher = TrackStitcher(length, channels=5, block_size=block_size)
    probabilities = np.full((window, 5), 0.5, dtype=np.float32)
    weights = window_weights(window)
    largest = 0
    for start in plan_windows(length, window, 0.5).tolist():
        stitcher.finished(start)
        stitcher.add(start, probabilities, weights)
        largest = max(largest, len(stitcher._weights))
    stitcher.finished(length)
    assert stitcher.done == length
    assert largest <= 2 * (block_size + window)


def test_stitcher_rejects_misuse():
    stitcher = TrackStitcher(100, channels=5, block_size=10)
    ones = np.ones((10, 5), dtype=np.float32)
    stitcher.add(20, ones, np.ones(10, dtype=np.float32))
    with pytest.raises(ValueError, match="start order"):
        stitcher.add(10, ones, np.ones(10, dtype=np.float32))
    stitcher.finished(30)
    with pytest.raises(ValueError, match="start order"):
        stitcher.add(25, ones, np.ones(10, dtype=np.float32))
    with pytest.raises(ValueError, match="past the end"):
        stitcher.add(95, ones, np.ones(10, dtype=np.float32))
    with pytest.raises(ValueError, match="expected"):
        stitcher.add(40, ones[:, :3], np.ones(10, dtype=np.float32))
    with pytest.raises(ValueError):
        stitcher.finished(20)  # upto never decreases


# -- device and precision --------------------------------------------------------------------


def test_resolve_device(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    for spec in ("cuda", "cuda:0"):
        with pytest.raises(ConfigError, match="no CUDA device"):
            resolve_device(spec)
    for spec in ("tpu", "cuda:x", "gpu", ""):
        with pytest.raises(ConfigError, match="auto, cpu, cuda"):
            resolve_device(spec)


def test_autocast_dtype(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert autocast_dtype(cpu) is None
    assert autocast_dtype(cpu, "fp32") is None
    assert autocast_dtype(cpu, "bf16") is torch.bfloat16
    with pytest.raises(ConfigError, match="fp16"):
        autocast_dtype(cpu, "fp16")
    with pytest.raises(ConfigError, match="precision must be"):
        autocast_dtype(cpu, "fp8")
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Old GPU")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    assert autocast_dtype(cuda) is torch.bfloat16
    assert autocast_dtype(cuda, "fp16") is torch.float16
    assert autocast_dtype(cuda, "fp32") is None
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    assert autocast_dtype(cuda) is torch.float16
    with pytest.raises(ConfigError, match="lacks bf16"):
        autocast_dtype(cuda, "bf16")


# -- predictor -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    new = create_model(preset="tiny", seed=0)
    return new.model, new.tokenizer


def _predictor(tiny, **kwargs) -> WindowPredictor:
    model, tokenizer = tiny
    return WindowPredictor(model, tokenizer, device="cpu", **kwargs)


WINDOWS = [random_dna(n, seed=n) for n in (700, 300, 1200, 50, 900)]


def test_predict_shapes_and_batch_size_invariance(tiny):
    one = _predictor(tiny, batch_size=1).predict(WINDOWS)
    four = _predictor(tiny, batch_size=4).predict(WINDOWS)
    for window, (p1, c1), (p4, c4) in zip(WINDOWS, one, four):
        assert p1.shape == (len(window), 5) and p1.dtype == np.float32
        assert c1.shape == (len(window),) and c1.dtype == bool and c1.all()
        assert np.all((p1 > 0) & (p1 < 1))
        np.testing.assert_allclose(p1, p4, atol=1e-5, rtol=0)
        np.testing.assert_array_equal(c1, c4)


def test_predict_is_deterministic(tiny):
    predictor = _predictor(tiny, batch_size=3)
    first, second = predictor.predict(WINDOWS), predictor.predict(WINDOWS)
    for (p1, c1), (p2, c2) in zip(first, second):
        np.testing.assert_array_equal(p1, p2)
        np.testing.assert_array_equal(c1, c2)


def test_reverse_complement_pass_is_averaged_after_flipping_positions(tiny):
    both = _predictor(tiny, batch_size=4).predict(WINDOWS)
    single = _predictor(tiny, batch_size=4, reverse_complement=False)
    forward = single.predict(WINDOWS)
    reverse = single.predict([reverse_complement(w) for w in WINDOWS])
    for (pb, _), (pf, _), (pr, _) in zip(both, forward, reverse):
        assert np.abs(pb - pf).max() > 1e-4  # the RC pass changes the result
        np.testing.assert_allclose(pb, (pf + pr[::-1]) / 2, atol=1e-5, rtol=0)


def test_predict_matches_the_model_and_runs_in_inference_mode(tiny, monkeypatch):
    model, _ = tiny
    model.train()
    predictor = _predictor(tiny, reverse_complement=False)
    assert not model.training  # the predictor put it in eval mode
    assert model.encoder.attn_impl == "sdpa"  # no flash attention on the CPU
    seen = []
    original = model.forward

    def recording_forward(inputs):
        output = original(inputs)
        seen.append((torch.is_inference_mode_enabled(), output.logits.requires_grad))
        return output

    monkeypatch.setattr(model, "forward", recording_forward)
    ((probabilities, _),) = predictor.predict(WINDOWS[:1])
    assert seen == [(True, False)]
    monkeypatch.undo()
    inputs = build_inputs(predictor.tokenizer, WINDOWS[:1], max_tokens=predictor.max_tokens)
    with torch.no_grad():
        logits = model(inputs).logits
    np.testing.assert_allclose(probabilities, torch.sigmoid(logits[0]).numpy(), atol=1e-6)


def test_predict_empty_window_and_uncovered_bases(tiny):
    predictor = _predictor(tiny)
    # 40 N: one gap token covers only the run's last N, so 39 bases get no prediction.
    window = random_dna(100, seed=1) + "N" * 40 + random_dna(100, seed=2)
    (empty, empty_covered), (probabilities, covered) = predictor.predict(["", window])
    assert empty.shape == (0, 5) and empty_covered.shape == (0,)
    # The RC pass maps its gap token to the run's first N; the two passes cover both ends.
    assert covered[:100].all() and covered[140:].all()
    assert covered[100] and covered[139] and not covered[101:139].any()
    assert np.all(probabilities[~covered] == 0.0)


def test_bf16_autocast_on_cpu_stays_close_to_fp32(tiny):
    fp32 = _predictor(tiny).predict(WINDOWS[:2])
    bf16 = _predictor(tiny, precision="bf16").predict(WINDOWS[:2])
    for (p32, _), (p16, _) in zip(fp32, bf16):
        assert p16.dtype == np.float32  # the sigmoid runs in fp32 whatever the autocast dtype
        np.testing.assert_allclose(p16, p32, atol=0.02, rtol=0)


class OracleModel(nn.Module):
    """A perfect strand-aware annotator of known windows: looks each one up by its letters."""

    def __init__(self, tokenizer, tracks: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.config = types.SimpleNamespace(max_tokens=10_000, num_labels=5)
        self.encoder = types.SimpleNamespace(attn_impl="sdpa")
        self.logits = {
            tokenizer.nucleotide_ids(sequence).tobytes(): torch.from_numpy(
                (2.0 * track.astype(np.float32) - 1.0) * 40.0  # sigmoid: 1 - 4e-18 or 4e-18
            )
            for sequence, track in tracks.items()
        }

    def forward(self, inputs) -> ModelOutput:
        lengths = inputs.lengths.tolist()
        logits = torch.zeros(len(lengths), inputs.nucleotide_ids.shape[1], 5)
        for row, n in enumerate(lengths):
            logits[row, :n] = self.logits[inputs.nucleotide_ids[row, :n].numpy().tobytes()]
        return ModelOutput(logits=logits, mask=inputs.nucleotide_ids.new_ones(logits.shape[:2]) > 0)


def test_reverse_complement_averaging_keeps_strand_aware_utr_channels(tiny):
    """Undoing the RC pass must flip positions only: swapping 5'/3'UTR would break a perfect
    strand-aware model (GENATATOR's swap is for left/right UTR channels)."""
    _, tokenizer = tiny
    sequence = random_dna(800, seed=42)
    truth = np.zeros((800, 5), dtype=np.uint8)  # a plus-strand gene with both UTRs
    truth[100:700, EXON] = 1
    truth[100:200, FIVE_PRIME_UTR] = 1
    truth[200:400, CDS] = 1
    truth[400:500, [INTRON, EXON]] = [1, 0]
    truth[500:600, CDS] = 1
    truth[600:700, THREE_PRIME_UTR] = 1
    # On the reverse-complement strand the same bases keep their classes at mirrored positions.
    rc_truth = reverse_complement_labels(truth)
    oracle = OracleModel(tokenizer, {sequence: truth, reverse_complement(sequence): rc_truth})
    predictor = WindowPredictor(oracle, tokenizer, device="cpu", batch_size=2)

    ((probabilities, covered),) = predictor.predict([sequence])
    assert covered.all()
    np.testing.assert_allclose(probabilities, truth, atol=1e-6)

    # GENATATOR's channel swap on the same passes would blur both UTRs to 0.5.
    forward = WindowPredictor(oracle, tokenizer, device="cpu", reverse_complement=False)
    ((p_forward, _),) = forward.predict([sequence])
    ((p_reverse, _),) = forward.predict([reverse_complement(sequence)])
    swapped = (p_forward + reverse_complement_labels(p_reverse, swap_utrs=True)) / 2
    assert np.abs(swapped - truth).max() == pytest.approx(0.5)
    np.testing.assert_allclose(swapped[150, FIVE_PRIME_UTR], 0.5)


# -- predict_tracks --------------------------------------------------------------------------


class LetterPredictor:
    """Deterministic fake: each base's probabilities depend on its letter only; records calls."""

    channels = 5

    def __init__(self, batch_size: int = 4) -> None:
        self.batch_size = batch_size
        self.calls: list[list[str]] = []
        self.table = np.linspace(0.1, 0.9, 256 * 5, dtype=np.float32).reshape(256, 5)

    def predict(self, sequences):
        self.calls.append(list(sequences))
        return [
            (self.table[np.frombuffer(s.encode(), dtype=np.uint8)], np.ones(len(s), dtype=bool))
            for s in sequences
        ]


def _collect(blocks, length):
    blocks = list(blocks)
    assert not blocks or blocks[0].start == 0
    assert all(a.end == b.start for a, b in itertools.pairwise(blocks))
    track = np.concatenate([b.probabilities for b in blocks]) if blocks else np.zeros((0, 5))
    assert track.shape == (length, 5)
    return track


def test_predict_tracks_skips_windows_that_are_all_n():
    sequence = random_dna(1000, seed=3) + "N" * 3000 + random_dna(1000, seed=4)
    predictor = LetterPredictor(batch_size=3)
    track = _collect(predict_tracks(predictor, sequence, window=600, overlap=0.5), len(sequence))
    passed = [w for call in predictor.calls for w in call]
    starts = plan_windows(len(sequence), 600, 0.5)
    all_n = [s for s in starts if sequence[s : s + 600] == "N" * 600]
    assert len(all_n) == 8 and len(passed) == len(starts) - len(all_n)
    assert all(set(w) != {"N"} for w in passed)
    assert all(len(call) <= 3 for call in predictor.calls)
    # Bases only all-N windows cover keep 0; every other base has its letter's probabilities.
    reached = np.zeros(len(sequence), dtype=bool)
    for s in starts:
        if s not in all_n:
            reached[s : s + 600] = True
    assert not reached[1500:3600].any() and reached[:1500].all() and reached[3600:].all()
    assert np.all(track[~reached] == 0.0)
    letters = np.frombuffer(sequence.encode(), dtype=np.uint8)
    np.testing.assert_allclose(track[reached], predictor.table[letters[reached]], rtol=1e-6)


def test_predict_tracks_edge_cases():
    predictor = LetterPredictor()
    assert list(predict_tracks(predictor, "", window=100)) == []
    track = _collect(predict_tracks(predictor, "N" * 1234, window=100, block_size=500), 1234)
    assert not track.any() and predictor.calls == []
    short = random_dna(37, seed=9)
    (block,) = predict_tracks(predictor, short, window=100)
    assert predictor.calls == [[short]]
    letters = np.frombuffer(short.encode(), dtype=np.uint8)
    np.testing.assert_allclose(block.probabilities, predictor.table[letters], rtol=1e-6)
    with pytest.raises(ValueError):
        predict_tracks(predictor, short, window=0)  # raised at the call, not at next()


def test_predict_tracks_stream_equals_whole_sequence_reference(tiny):
    sequence = random_dna(4321, seed=8)
    window, overlap, block_size = 1000, 0.5, 300
    predictor = _predictor(tiny, batch_size=3)
    reported = []
    blocks = list(
        predict_tracks(
            predictor,
            sequence,
            window=window,
            overlap=overlap,
            block_size=block_size,
            progress=reported.append,
        )
    )
    track = _collect(blocks, len(sequence))
    assert all(len(b.probabilities) <= block_size for b in blocks)
    assert reported == [len(b.probabilities) for b in blocks] and sum(reported) == len(sequence)

    starts = plan_windows(len(sequence), window, overlap)
    predictions = predictor.predict([sequence[s : s + window] for s in starts])
    weighted = [
        (s, p, window_weights(window) * c) for s, (p, c) in zip(starts.tolist(), predictions)
    ]
    np.testing.assert_allclose(track, _brute_force(len(sequence), weighted), atol=1e-5, rtol=0)
