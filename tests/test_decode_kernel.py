"""The compiled Viterbi, forward and backward against brute-force enumeration of every path."""

from __future__ import annotations

import numpy as np
import pytest

from genatator.decode.kernel import EdgeList, Evidence, backward, forward, viterbi


def _random_model(
    rng: np.random.Generator, n_states: int, n_classes: int, n_conditions: int, introns: int = 0
):
    """Random edges among ``n_states``, plus ``introns`` states numbered last that, like the gene
    model's introns, share one class and have no steady edge but their self-loop: entered
    through a delay or a condition, left through a condition."""
    edges = []
    for dst in range(n_states):
        for src in range(n_states):
            if rng.random() < 0.6:
                delay = int(rng.integers(1, 4))
                condition = int(rng.integers(0, n_conditions))
                edges.append((src, dst, delay, condition, float(rng.normal())))
    edges.append((0, 0, 1, 0, -0.1))  # the start state can always wait
    classes = [int(rng.integers(0, n_classes)) for _ in range(n_states)]
    for intron in range(n_states, n_states + introns):
        entry, exit = (int(state) for state in rng.integers(0, n_states, 2))
        edges.append((entry, intron, int(rng.integers(2, 4)), 0, float(rng.normal())))
        edges.append((intron, intron, 1, 0, float(rng.normal(-0.5, 0.2))))
        edges.append((intron, exit, 1, int(rng.integers(1, n_conditions)), float(rng.normal())))
        classes.append(n_classes - 1)
    return EdgeList.build(edges, classes)


def _random_evidence(rng: np.random.Generator, n: int, n_classes: int, n_conditions: int):
    emissions = rng.normal(size=(n_classes, n)).astype(np.float32)
    conditions = rng.normal(size=(n_conditions, n)).astype(np.float32)
    conditions[0] = 0.0
    conditions[1:][rng.random((n_conditions - 1, n)) < 0.3] = -np.inf
    return Evidence(emissions, conditions)


def _all_paths(edges: EdgeList, evidence: Evidence, start: int):
    """Every path as (log score, states, edge ends), by exhaustive recursion over edges."""
    e, c = evidence.emissions.astype(np.float64), evidence.conditions.astype(np.float64)
    memo: dict[tuple[int, int], list] = {}

    def ending(i: int, s: int) -> list:
        if (i, s) in memo:
            return memo[i, s]
        out = []
        if i == 0:
            if s == start:
                out.append((e[edges.state_class[s], 0], [s], [True]))
        else:
            for k in np.flatnonzero(edges.dst == s):
                d, src = int(edges.delay[k]), int(edges.src[k])
                entry = i - d + 1
                if entry < 1:
                    continue
                gain = edges.weight[k] + c[edges.condition[k], entry]
                gain += e[edges.state_class[s], entry : i + 1].sum()
                for score, states, ends in ending(i - d, src):
                    out.append((score + gain, states + [s] * d, ends + [False] * (d - 1) + [True]))
        memo[i, s] = [path for path in out if np.isfinite(path[0])]
        return memo[i, s]

    return ending


# 64 condition rows: the passes find open ones through a 64-bit mask, so the highest bit counts.
# Intron-like states are updated as a block of their own.
@pytest.mark.parametrize(
    ("seed", "n_conditions", "introns"),
    [(seed, 3, 0) for seed in range(12)] + [(12, 64, 0)] + [(seed, 3, 2) for seed in range(13, 19)],
)
def test_viterbi_and_likelihood_match_enumeration(
    seed: int, n_conditions: int, introns: int
) -> None:
    rng = np.random.default_rng(seed)
    n_classes, n = 3, 7
    edges = _random_model(rng, 4, n_classes, n_conditions, introns)
    n_states = edges.n_states
    assert edges.self_block[0] == n_states - introns or introns == 0
    evidence = _random_evidence(rng, n, n_classes, n_conditions)
    end = int(rng.integers(0, n_states))
    paths = _all_paths(edges, evidence, 0)(n - 1, end)

    decoded = viterbi(edges, evidence, 0, end)
    alpha, log_scale = forward(edges, evidence, 0)
    if not paths:
        assert decoded.score == -np.inf
        assert (decoded.states == -1).all()
        return
    best_score, best_states, _ = max(paths, key=lambda path: path[0])
    assert decoded.score == pytest.approx(best_score, abs=1e-4)
    assert decoded.states.tolist() == best_states

    scores = np.array([path[0] for path in paths])
    log_z = np.logaddexp.reduce(scores)
    assert log_scale[-1] + np.log(alpha[-1, end]) == pytest.approx(log_z, abs=1e-6)

    # Posterior of each (position, state) where an edge ends, against the share of path mass.
    beta = backward(edges, evidence, end, log_scale)
    posterior = alpha * beta / alpha[-1, end]
    expected = np.zeros_like(posterior)
    for score, states, ends in paths:
        at = np.flatnonzero(ends)
        expected[at, np.asarray(states)[at]] += np.exp(score - log_z)
    np.testing.assert_allclose(posterior, expected, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_kept_rows_are_the_full_passes_rows(seed: int) -> None:
    # Longer than the ring, so kept rows must be copied out before the ring overwrites them.
    rng = np.random.default_rng(seed)
    edges = _random_model(rng, 6, 3, 4, introns=2)
    evidence = _random_evidence(rng, 300, 3, 4)
    alpha, log_scale = forward(edges, evidence, 0)
    beta = backward(edges, evidence, 0, log_scale)
    rows = np.array([299, 0, 17, 17, 150, 3])  # unsorted, repeated: kept once, ascending
    kept = np.unique(rows)
    kept_alpha, kept_scale = forward(edges, evidence, 0, rows)
    np.testing.assert_array_equal(kept_scale, log_scale)
    np.testing.assert_array_equal(kept_alpha, alpha[kept])
    np.testing.assert_array_equal(backward(edges, evidence, 0, log_scale, rows), beta[kept])
    with pytest.raises(ValueError, match="kept rows"):
        forward(edges, evidence, 0, np.array([300]))


def test_open_conditions_mark_the_rows_that_are_not_minus_infinity() -> None:
    rng = np.random.default_rng(5)
    evidence = _random_evidence(rng, 50, 2, 64)
    bits = (np.uint64(1) << np.arange(64, dtype=np.uint64))[None, :]
    finite = np.isfinite(evidence.conditions.T)
    expected = np.bitwise_or.reduce(np.where(finite, bits, np.uint64(0)), axis=1)
    np.testing.assert_array_equal(evidence.open_conditions, expected)
    np.testing.assert_array_equal(evidence.window(10, 30).open_conditions, expected[10:30])
    with pytest.raises(ValueError, match="at most 64"):
        _ = Evidence(np.zeros((1, 3), np.float32), np.zeros((65, 3), np.float32)).open_conditions


def test_no_path_when_every_route_is_forbidden() -> None:
    edges = EdgeList.build([(0, 0, 1, 1, 0.0), (0, 1, 1, 0, 0.0), (1, 1, 1, 0, 0.0)], [0, 0])
    evidence = Evidence(np.zeros((1, 5), np.float32), np.zeros((2, 5), np.float32))
    evidence.conditions[1, 3] = -np.inf  # state 0 cannot continue at position 3
    assert viterbi(edges, evidence, 0, 0).score == -np.inf
    assert viterbi(edges, evidence, 0, 1).score == 0.0


def test_delayed_edge_enforces_a_minimum_length() -> None:
    # 0 → 1 only through a delay of 3, back to 0 freely: state 1 runs are at least 3 long.
    edges = EdgeList.build(
        [(0, 0, 1, 0, 0.0), (0, 1, 3, 0, 0.0), (1, 1, 1, 0, 0.0), (1, 0, 1, 0, 0.0)], [0, 1]
    )
    emissions = np.zeros((2, 9), np.float32)
    emissions[1] = -1.0  # state 1 costs a little everywhere...
    emissions[1, 4] = 5.0  # ...but one base strongly prefers it
    decoded = viterbi(edges, Evidence(emissions, np.zeros((1, 9), np.float32)), 0, 0)
    assert decoded.score == pytest.approx(3.0)
    ones = np.flatnonzero(decoded.states == 1)
    assert len(ones) == 3 and 4 in ones and np.all(np.diff(ones) == 1)


def test_edge_list_rejects_bad_edges() -> None:
    with pytest.raises(ValueError, match="out of range"):
        EdgeList.build([(0, 2, 1, 0, 0.0)], [0, 0])
    with pytest.raises(ValueError, match="delays"):
        EdgeList.build([(0, 1, 0, 0, 0.0)], [0, 0])
