"""Compiled dynamic programming over a sparse HMM with delayed edges: Viterbi, forward, backward.

The model is a list of edges ``src → dst`` with a log weight, a condition row and a delay ``D``.
Taking an edge into ``dst`` at position ``i`` means: the path was in ``src`` at ``i - D`` and
occupies ``dst`` at every position ``i - D + 1 … i``. Its score is the edge's weight, plus the
condition score at its entry position ``i - D + 1`` (``-inf`` forbids it there: a splice
dinucleotide, a start or stop codon), plus the emissions of ``dst``'s class over the ``D``
positions. A delay ``D > 1`` enforces a minimum length (an intron of at least ``D`` bases)
without a chain of ``D`` states. Paths start in ``start_state`` at position 0 and end in
``end_state`` at the last position.

Everything is indexed ``[row, position]`` with rows in C order so the inner loops read memory
in sequence; the loops are compiled with numba.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np

__all__ = ["DecodedPath", "EdgeList", "Evidence", "backward", "forward", "viterbi"]

_NEG_INF = -np.inf


@dataclass(frozen=True)
class EdgeList:
    """A model's edges, sorted by destination state, with CSR pointers into them.

    Attributes:
        src, dst: int32 ``(E,)`` source and destination states.
        delay: int32 ``(E,)``, at least 1.
        condition: int32 ``(E,)``: row of :attr:`Evidence.conditions` scored at the entry position.
        weight: float64 ``(E,)`` log transition weight.
        state_class: int32 ``(S,)``: emission row of each state.
        incoming: int32 ``(S + 1,)``: edges into state ``s`` are ``incoming[s]:incoming[s + 1]``.
    """

    src: np.ndarray
    dst: np.ndarray
    delay: np.ndarray
    condition: np.ndarray
    weight: np.ndarray
    state_class: np.ndarray
    incoming: np.ndarray

    @classmethod
    def build(
        cls,
        edges: list[tuple[int, int, int, int, float]],
        state_class: list[int],
    ) -> EdgeList:
        """From ``(src, dst, delay, condition, log_weight)`` tuples and each state's class.

        Raises:
            ValueError: a state out of range, a delay below 1, or more than 127 edges into one
                state (back-pointers are one signed byte).
        """
        n_states = len(state_class)
        ordered = sorted(edges, key=lambda edge: edge[1])
        src, dst, delay, condition, weight = (np.array(column) for column in zip(*ordered))
        if src.min() < 0 or max(src.max(), dst.max()) >= n_states or dst.min() < 0:
            raise ValueError("an edge names a state out of range")
        if delay.min() < 1:
            raise ValueError("edge delays must be at least 1")
        counts = np.bincount(dst, minlength=n_states)
        if counts.max() > 127:
            raise ValueError("at most 127 edges may enter one state")
        return cls(
            src=src.astype(np.int32),
            dst=dst.astype(np.int32),
            delay=delay.astype(np.int32),
            condition=condition.astype(np.int32),
            weight=weight.astype(np.float64),
            state_class=np.asarray(state_class, dtype=np.int32),
            incoming=np.concatenate(([0], np.cumsum(counts))).astype(np.int32),
        )

    @property
    def n_states(self) -> int:
        return len(self.state_class)


@dataclass(frozen=True)
class Evidence:
    """Per-position scores of one stretch.

    Attributes:
        emissions: float32 ``(K, n)``: log-score of each emission class at each position.
        conditions: float32 ``(C, n)``: additive score of entering an edge at each position
            (``-inf``: forbidden); row 0 is all zeros (unconditional edges).
    """

    emissions: np.ndarray
    conditions: np.ndarray

    def __len__(self) -> int:
        return int(self.emissions.shape[1])

    # The compiled loops read every row at one position before moving on: they get
    # position-major copies, so each position's scores share a cache line or two instead of
    # being spread over dozens of rows.

    @cached_property
    def by_position(self) -> tuple[np.ndarray, np.ndarray]:
        """``(n, K)`` emissions and ``(n, C)`` conditions, position-major (a view when the
        arrays were built that way, as :func:`genatator.decode.evidence.build_evidence` does)."""
        return np.ascontiguousarray(self.emissions.T), np.ascontiguousarray(self.conditions.T)

    @cached_property
    def prefix(self) -> np.ndarray:
        """float64 ``(n + 1, K)`` cumulative emissions, for delayed edges (computed once)."""
        out = np.zeros((len(self) + 1, self.emissions.shape[0]))
        np.cumsum(self.by_position[0], axis=0, dtype=np.float64, out=out[1:])
        return out

    @cached_property
    def linear(self) -> tuple[np.ndarray, np.ndarray]:
        """exp of the position-major conditions and emissions (computed once): one-base edges
        then cost three multiplications in the forward and backward passes, not an exp."""
        emissions, conditions = self.by_position
        with np.errstate(over="ignore"):
            return np.exp(conditions.astype(np.float64)), np.exp(emissions.astype(np.float64))

    def window(self, lo: int, hi: int) -> Evidence:
        """The evidence of positions ``[lo, hi)``, sharing this one's position-major arrays and
        prefix sums (views); its exp tables are its own, so they exist only where needed.

        Delayed edges use only differences of the prefix sums, so a slice of this stretch's
        prefix sums serves the window as it is.
        """
        part = Evidence(self.emissions[:, lo:hi], self.conditions[:, lo:hi])
        emissions, conditions = self.by_position
        derived = part.__dict__  # where cached_property keeps its values
        derived["by_position"] = (emissions[lo:hi], conditions[lo:hi])
        derived["prefix"] = self.prefix[lo : hi + 1]
        return part


@dataclass(frozen=True)
class DecodedPath:
    """The best path: its state at every position, and its log score."""

    states: np.ndarray
    score: float


def _inbound(edges: EdgeList, evidence: Evidence) -> tuple:
    """The arrays Viterbi and forward share: edges by destination, then the evidence."""
    return (
        edges.src,
        edges.delay,
        edges.condition,
        edges.weight,
        edges.state_class,
        edges.incoming,
        *evidence.by_position,
        evidence.prefix,
    )


def viterbi(edges: EdgeList, evidence: Evidence, start_state: int, end_state: int) -> DecodedPath:
    """The highest-scoring path from ``start_state`` at 0 to ``end_state`` at ``n - 1``.

    Memory is one byte per (position, state) for back-pointers plus a ring of scores as deep as
    the longest delay. Returns a path of ``-1`` with score ``-inf`` when no path exists.
    """
    n = len(evidence)
    states = np.full(n, -1, dtype=np.int16)
    if n == 0:
        return DecodedPath(states, 0.0)
    score = _viterbi(
        *_inbound(edges, evidence),
        start_state,
        end_state,
        states,
    )
    return DecodedPath(states, float(score))


def forward(edges: EdgeList, evidence: Evidence, start_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Scaled forward variables: ``(alpha, log_scale)``.

    ``alpha[i, s]`` is the probability of the evidence up to ``i`` with the path in ``s`` at
    ``i``, divided by ``exp(log_scale[i])``; each row of ``alpha`` sums to 1.
    """
    n, s = len(evidence), edges.n_states
    alpha = np.zeros((n, s))
    log_scale = np.zeros(n)
    if n:
        _forward(
            *_inbound(edges, evidence),
            np.exp(edges.weight),
            *evidence.linear,
            start_state,
            alpha,
            log_scale,
        )
    return alpha, log_scale


def backward(
    edges: EdgeList, evidence: Evidence, end_state: int, log_scale: np.ndarray
) -> np.ndarray:
    """Backward variables scaled with the forward pass's ``log_scale``.

    ``beta[i, s]`` is the probability of the evidence after ``i`` given state ``s`` at ``i``,
    times ``exp(log_scale[i] - log_scale[-1])``, so that ``alpha * beta / alpha[-1, end_state]``
    is the posterior probability that an edge into ``s`` ends at ``i`` (the path's occupancy,
    except inside a delayed edge's span), and the log-likelihood of the
    whole stretch is ``log_scale[-1] + log(alpha[-1, end_state])``.
    """
    n, s = len(evidence), edges.n_states
    order = np.argsort(edges.src, kind="stable").astype(np.int32)
    outgoing = np.concatenate(([0], np.cumsum(np.bincount(edges.src, minlength=s)))).astype(
        np.int32
    )
    beta = np.zeros((n, s))
    if n:
        _backward(
            edges.dst,
            edges.delay,
            edges.condition,
            edges.weight,
            edges.state_class,
            order,
            outgoing,
            *evidence.by_position,
            evidence.prefix,
            np.exp(edges.weight),
            *evidence.linear,
            end_state,
            log_scale,
            beta,
        )
    return beta


@numba.njit(cache=True, nogil=True)
def _edge_score(edge, i, delay, condition, weight, klass, emissions, conditions, prefix):
    """Score of taking ``edge`` into its destination ending at position ``i``."""
    d = delay[edge]
    entry = i - d + 1
    gate = conditions[entry, condition[edge]]
    if gate == _NEG_INF:
        return _NEG_INF
    if d == 1:
        return weight[edge] + gate + emissions[i, klass]
    return weight[edge] + gate + prefix[i + 1, klass] - prefix[entry, klass]


@numba.njit(cache=True, nogil=True)
def _viterbi(
    src, delay, condition, weight, state_class, incoming, emissions, conditions, prefix,
    start_state, end_state, states_out,
):  # fmt: skip
    n = emissions.shape[0]
    n_states = state_class.shape[0]
    # A ring of score rows as deep as the longest delay, a power of two so that the row of
    # position i is i & mask (an integer division per edge would dominate the loop).
    depth = 1
    while depth < delay.max() + 1:
        depth *= 2
    mask = depth - 1
    ring = np.full((depth, n_states), _NEG_INF)
    pointers = np.full((n, n_states), -1, dtype=np.int8)
    ring[0, start_state] = emissions[0, state_class[start_state]]
    for i in range(1, n):
        row = ring[i & mask]
        for s in range(n_states):
            best = _NEG_INF
            best_k = -1
            klass = state_class[s]
            for k in range(incoming[s], incoming[s + 1]):
                d = delay[k]
                entry = i - d + 1
                if entry < 1:
                    continue
                # No early exits on -inf: it propagates through the sum, and data-dependent
                # branches (is this a splice motif?) would be mispredicted at every position.
                if d == 1:
                    gain = emissions[i, klass]
                else:
                    gain = prefix[i + 1, klass] - prefix[entry, klass]
                value = ring[(i - d) & mask, src[k]] + weight[k] + conditions[entry, condition[k]]
                value += gain
                if value > best:
                    best = value
                    best_k = k - incoming[s]
            row[s] = best
            pointers[i, s] = best_k
    final = ring[(n - 1) & mask, end_state]
    if final == _NEG_INF:
        return final
    i = n - 1
    s = end_state
    while i > 0:
        k = incoming[s] + pointers[i, s]
        d = delay[k]
        for j in range(i - d + 1, i + 1):
            states_out[j] = s
        i -= d
        s = src[k]
    states_out[0] = s
    return final


@numba.njit(cache=True, nogil=True)
def _forward(
    src, delay, condition, weight, state_class, incoming, emissions, conditions, prefix,
    weight_exp, conditions_exp, emissions_exp, start_state, alpha, log_scale,
):  # fmt: skip
    n = emissions.shape[0]
    n_states = state_class.shape[0]
    alpha[0, start_state] = 1.0
    log_scale[0] = emissions[0, state_class[start_state]]
    for i in range(1, n):
        total = 0.0
        for s in range(n_states):
            klass = state_class[s]
            acc = 0.0
            for k in range(incoming[s], incoming[s + 1]):
                d = delay[k]
                if d > i:
                    continue
                previous = alpha[i - d, src[k]]
                if previous == 0.0:
                    continue
                if d == 1:
                    acc += (
                        previous
                        * weight_exp[k]
                        * conditions_exp[i, condition[k]]
                        * emissions_exp[i, klass]
                    )
                    continue
                value = _edge_score(
                    k, i, delay, condition, weight, klass, emissions, conditions, prefix
                )
                if value == _NEG_INF:
                    continue
                # Earlier rows are scaled by their own cumulative factor: bring them to i - 1's.
                acc += previous * np.exp(value + log_scale[i - d] - log_scale[i - 1])
            alpha[i, s] = acc
            total += acc
        if total == 0.0:
            log_scale[i:] = _NEG_INF
            return
        for s in range(n_states):
            alpha[i, s] /= total
        log_scale[i] = log_scale[i - 1] + np.log(total)


@numba.njit(cache=True, nogil=True)
def _backward(
    dst, delay, condition, weight, state_class, order, outgoing, emissions, conditions, prefix,
    weight_exp, conditions_exp, emissions_exp, end_state, log_scale, beta,
):  # fmt: skip
    n = emissions.shape[0]
    n_states = state_class.shape[0]
    beta[n - 1, end_state] = 1.0
    for i in range(n - 2, -1, -1):
        # beta[i + 1] is scaled by row i + 1's cumulative factor: bring it to row i's.
        step = np.exp(log_scale[i] - log_scale[i + 1])
        for s in range(n_states):
            acc = 0.0
            for j in range(outgoing[s], outgoing[s + 1]):
                k = order[j]
                d = delay[k]
                if i + d > n - 1:
                    continue
                following = beta[i + d, dst[k]]
                if following == 0.0:
                    continue
                if d == 1:
                    factor = weight_exp[k] * conditions_exp[i + 1, condition[k]]
                    factor *= emissions_exp[i + 1, state_class[dst[k]]]
                    acc += following * factor * step
                    continue
                value = _edge_score(
                    k, i + d, delay, condition, weight, state_class[dst[k]], emissions,
                    conditions, prefix,
                )  # fmt: skip
                if value == _NEG_INF:
                    continue
                acc += following * np.exp(value + log_scale[i] - log_scale[i + d])
            beta[i, s] = acc
