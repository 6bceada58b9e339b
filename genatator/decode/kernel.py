"""Compiled dynamic programming over a sparse HMM with delayed edges: Viterbi, forward, backward.

The model is a list of edges ``src → dst`` with a log weight, a condition row and a delay ``D``.
Taking an edge into ``dst`` at position ``i`` means: the path was in ``src`` at ``i - D`` and
occupies ``dst`` at every position ``i - D + 1 … i``. Its score is the edge's weight, plus the
condition score at its entry position ``i - D + 1`` (``-inf`` forbids it there: a splice
dinucleotide, a start or stop codon), plus the emissions of ``dst``'s class over the ``D``
positions. A delay ``D > 1`` enforces a minimum length (an intron of at least ``D`` bases)
without a chain of ``D`` states. Paths start in ``start_state`` at position 0 and end in
``end_state`` at the last position.

The passes read evidence position-major (every row of one position together) and keep only a
ring of score rows as deep as the longest delay; forward and backward copy out just the rows
asked for. The loops are compiled with numba.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np

__all__ = ["DecodedPath", "EdgeList", "Evidence", "backward", "forward", "viterbi"]

_NEG_INF = -np.inf
#: Condition rows a model may use: a position's open rows are one 64-bit mask.
_MAX_CONDITIONS = 64
# The index of a 64-bit mask's lowest set bit, ``low``: ``(low * _DE_BRUIJN) >> _SHIFT`` is a
# distinct 6-bit number for each of the 64 powers of two (a de Bruijn sequence), which
# ``_BIT_INDEX`` maps back to the exponent.
_ONE = np.uint64(1)
_DE_BRUIJN = np.uint64(0x03F79D71B4CB0A89)
_SHIFT = np.uint64(58)
_BIT_INDEX = np.zeros(64, dtype=np.intp)
for _bit in range(64):
    _BIT_INDEX[((1 << _bit) * 0x03F79D71B4CB0A89 % 2**64) >> 58] = _bit


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

    @cached_property
    def delayed_classes(self) -> tuple[int, ...]:
        """Emission classes that delayed edges cover: the only ones whose running sums the
        passes read (fly's model: 1 of 11)."""
        return tuple(sorted({int(c) for c in self.state_class[self.dst[self.delay > 1]]}))

    # The compiled passes take the edges in two parts. *Steady* edges (one base, condition 0)
    # are open everywhere: CSR lists of them (into each state for Viterbi and forward, out of
    # each for backward), whose destination emission is common and applied once per state.
    # *Gated* edges (a condition, or a delay) come grouped by (delay, condition): one test of
    # the entry condition closes a whole group, and at most positions most groups are closed
    # (a splice dinucleotide, a start or a stop codon is needed).

    @cached_property
    def steady_in(self) -> tuple:
        """Steady edges by destination: ``(src, weight, exp(weight), starts, index)``; the
        edges into ``s`` are ``starts[s]:starts[s + 1]``, ``index`` their place in this list."""
        return self._steady(self.src, order_by=self.dst)

    @cached_property
    def steady_out(self) -> tuple:
        """Steady edges by source: ``(dst, weight, exp(weight), starts, index)``."""
        return self._steady(self.dst, order_by=self.src)

    def _steady(self, other: np.ndarray, order_by: np.ndarray) -> tuple:
        chosen = np.flatnonzero((self.delay == 1) & (self.condition == 0))
        chosen = chosen[np.argsort(order_by[chosen], kind="stable")]
        counts = np.bincount(order_by[chosen], minlength=self.n_states)
        starts = np.concatenate(([0], np.cumsum(counts)))
        weight = self.weight[chosen]
        return _index(other[chosen]), weight, np.exp(weight), _index(starts), _index(chosen)

    @cached_property
    def gated(self) -> tuple:
        """Gated edges ``(src, dst, delay, condition, weight, exp(weight), index, groups)``;
        group ``g`` is ``groups[g]:groups[g + 1]``."""
        chosen = np.flatnonzero((self.delay > 1) | (self.condition != 0))
        chosen = chosen[np.lexsort((self.condition[chosen], self.delay[chosen]))]
        key = self.delay[chosen].astype(np.int64) << 32 | self.condition[chosen]
        starts = np.flatnonzero(np.diff(key, prepend=-1)) if len(chosen) else []
        weight = self.weight[chosen]
        return (
            _index(self.src[chosen]), _index(self.dst[chosen]), _index(self.delay[chosen]),
            _index(self.condition[chosen]), weight, np.exp(weight), _index(chosen),
            _index(np.append(starts, len(chosen))),
        )  # fmt: skip

    @cached_property
    def gate_table(self) -> tuple:
        """``(delays, masks, group_of)``: the gated edges' distinct delays (ascending); for each,
        a bit mask of the conditions that have a group at that delay, and ``group_of[d, c]``,
        the group of delay index ``d`` and condition ``c`` (-1: none). A pass then visits only
        the groups whose condition is open at their entry position, found from the
        evidence's :attr:`Evidence.open_conditions` bits, in the groups' own order."""
        _, _, delay, condition, *_, groups = self.gated
        firsts = groups[:-1]
        delays = np.unique(delay[firsts]) if len(firsts) else np.zeros(0, dtype=np.intp)
        masks = np.zeros(len(delays), dtype=np.uint64)
        group_of = np.full((len(delays), _MAX_CONDITIONS), -1, dtype=np.intp)
        for g, first in enumerate(firsts):
            d = int(np.searchsorted(delays, delay[first]))
            c = int(condition[first])
            if c >= _MAX_CONDITIONS:
                raise ValueError(f"at most {_MAX_CONDITIONS} condition rows are supported")
            masks[d] |= np.uint64(1) << np.uint64(c)
            group_of[d, c] = g
        return _index(delays), masks, group_of

    @cached_property
    def self_block(self) -> tuple:
        """``(lo, klass, weight, weight_exp, edge)``: states ``lo … S - 1`` form a block whose
        only steady edges, in and out, are their self-loops, all of emission class ``klass``
        (introns, which :func:`genatator.decode.topology.build_gene_model` numbers last).
        The passes update the block as one contiguous, vectorisable run; ``weight``,
        ``weight_exp`` and ``edge`` (the self-loop's log weight, its exp, and its index) are
        indexed by state, zero below ``lo``."""
        n = self.n_states
        steady = (self.delay == 1) & (self.condition == 0)
        loops = steady & (self.src == self.dst)
        only_loop = (np.bincount(self.dst[steady], minlength=n) == 1) & (
            np.bincount(self.src[steady], minlength=n) == 1
        )
        only_loop &= np.bincount(self.dst[loops], minlength=n) == 1
        lo = n
        while lo > 1 and only_loop[lo - 1] and self.state_class[lo - 1] == self.state_class[-1]:
            lo -= 1
        weight, edge = np.zeros(n), np.zeros(n, dtype=np.intp)
        for k in np.flatnonzero(loops):
            if self.dst[k] >= lo:
                weight[self.dst[k]], edge[self.dst[k]] = self.weight[k], k
        klass = int(self.state_class[-1]) if lo < n else 0
        return lo, klass, weight, np.exp(weight), edge

    @cached_property
    def indexes(self) -> tuple:
        """``(src, delay, state_class, incoming)`` as machine-word integers for the loops."""
        return tuple(_index(a) for a in (self.src, self.delay, self.state_class, self.incoming))


def _index(values: np.ndarray) -> np.ndarray:
    """Machine-word indices: the compiled loops run measurably faster on them than on int32,
    which must be widened at every use."""
    return np.ascontiguousarray(values, dtype=np.intp)


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

    def prefix(self, classes: tuple[int, ...]) -> np.ndarray:
        """float64 ``(K, n + 1)`` running sums of the emissions of ``classes`` from zero, for
        delayed edges; the other rows are zero, never written (computed once per class set)."""
        key = ("prefix", classes)
        cache = self.__dict__.setdefault("_prefix", {})  # frozen: keep it beside the fields
        if key not in cache:
            out = np.zeros((self.emissions.shape[0], len(self) + 1))
            _prefix_sums(self.emissions, np.asarray(classes, dtype=np.intp), out)
            cache[key] = out
        return cache[key]

    @cached_property
    def open_conditions(self) -> np.ndarray:
        """uint64 ``(n,)``: bit ``c`` is set where condition row ``c`` is not ``-inf``, so a
        pass tests the few open rows at a position instead of every gated edge group."""
        conditions = self.by_position[1]
        if conditions.shape[1] > _MAX_CONDITIONS:
            raise ValueError(f"at most {_MAX_CONDITIONS} condition rows are supported")
        out = np.empty(len(self), dtype=np.uint64)
        _open_masks(conditions, out)
        return out

    @cached_property
    def emissions_exp(self) -> np.ndarray:
        """float64 exp of the position-major emissions (computed once): a one-base edge then
        costs multiplications in the forward and backward passes, not an exp."""
        with np.errstate(over="ignore"):
            return np.exp(self.by_position[0], dtype=np.float64)

    def window(self, lo: int, hi: int) -> Evidence:
        """The evidence of positions ``[lo, hi)``, sharing this one's position-major arrays and
        prefix sums (views); its exp table is its own, so they exist only where needed.

        Delayed edges use only differences of the prefix sums, so a slice of this stretch's
        prefix sums (those computed so far) serves the window as it is.
        """
        part = Evidence(self.emissions[:, lo:hi], self.conditions[:, lo:hi])
        emissions, conditions = self.by_position
        derived = part.__dict__  # where cached_property keeps its values
        derived["by_position"] = (emissions[lo:hi], conditions[lo:hi])
        if "open_conditions" in self.__dict__:
            derived["open_conditions"] = self.open_conditions[lo:hi]
        derived["_prefix"] = {
            key: sums[:, lo : hi + 1] for key, sums in self.__dict__.get("_prefix", {}).items()
        }
        return part


@dataclass(frozen=True)
class DecodedPath:
    """The best path: its state at every position, and its log score."""

    states: np.ndarray
    score: float


def viterbi(edges: EdgeList, evidence: Evidence, start_state: int, end_state: int) -> DecodedPath:
    """The highest-scoring path from ``start_state`` at 0 to ``end_state`` at ``n - 1``.

    Memory is one byte per (position, state) for back-pointers plus a ring of scores as deep as
    the longest delay. Returns a path of ``-1`` with score ``-inf`` when no path exists.
    """
    n = len(evidence)
    states = np.full(n, -1, dtype=np.int16)
    if n == 0:
        return DecodedPath(states, 0.0)
    src, weight, _, starts, index = edges.steady_in
    score = _viterbi(
        src, weight, starts, index, *edges.self_block, *edges.gated, *edges.gate_table,
        *edges.indexes, *evidence.by_position, evidence.open_conditions,
        evidence.prefix(edges.delayed_classes), start_state, end_state, states,
    )  # fmt: skip
    return DecodedPath(states, float(score))


def _kept_rows(rows: np.ndarray | None, n: int) -> np.ndarray:
    if rows is None:
        return np.arange(n, dtype=np.int64)
    rows = np.unique(np.asarray(rows, dtype=np.int64))
    if len(rows) and (rows[0] < 0 or rows[-1] >= n):
        raise ValueError("kept rows must lie in [0, n)")
    return rows


def forward(
    edges: EdgeList, evidence: Evidence, start_state: int, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Scaled forward variables: ``(alpha, log_scale)``.

    ``alpha[i, s]`` is the probability of the evidence up to ``i`` with the path in ``s`` at
    ``i``, divided by ``exp(log_scale[i])``; each row of ``alpha`` sums to 1. With ``rows``
    (positions), only those rows are kept, in ascending order: the pass itself needs only a
    ring as deep as the longest delay, so memory does not grow with the stretch.
    """
    n, s = len(evidence), edges.n_states
    kept = _kept_rows(rows, n)
    alpha = np.zeros((len(kept), s))
    log_scale = np.zeros(n)
    if n:
        src, _, weight_exp, starts, _ = edges.steady_in
        _forward(
            src, weight_exp, starts, *edges.self_block, *edges.gated, *edges.gate_table,
            edges.indexes[2], *evidence.by_position, evidence.open_conditions,
            evidence.prefix(edges.delayed_classes), evidence.emissions_exp, start_state, kept,
            alpha, log_scale,
        )  # fmt: skip
    return alpha, log_scale


def backward(
    edges: EdgeList,
    evidence: Evidence,
    end_state: int,
    log_scale: np.ndarray,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Backward variables scaled with the forward pass's ``log_scale``.

    ``beta[i, s]`` is the probability of the evidence after ``i`` given state ``s`` at ``i``,
    times ``exp(log_scale[i] - log_scale[-1])``, so that ``alpha * beta / alpha[-1, end_state]``
    is the posterior probability that an edge into ``s`` ends at ``i`` (the path's occupancy,
    except inside a delayed edge's span), and the log-likelihood of the
    whole stretch is ``log_scale[-1] + log(alpha[-1, end_state])``. ``rows`` as in
    :func:`forward`; the pass stops at the first of them, as nothing before it is asked for.
    """
    n, s = len(evidence), edges.n_states
    kept = _kept_rows(rows, n)
    beta = np.zeros((len(kept), s))
    if len(kept):
        dst, _, weight_exp, starts, _ = edges.steady_out
        _backward(
            dst, weight_exp, starts, *edges.self_block, *edges.gated, *edges.gate_table,
            edges.indexes[2], *evidence.by_position, evidence.open_conditions,
            evidence.prefix(edges.delayed_classes), evidence.emissions_exp, end_state,
            log_scale, kept, beta,
        )  # fmt: skip
    return beta


@numba.njit(cache=True, nogil=True)
def _ring_depth(delay):
    """Rows kept by a pass: a power of two above the longest delay, so that the row of position
    ``i`` is ``i & (depth - 1)`` (an integer division per edge would dominate the loops)."""
    longest = 1
    for d in delay:
        longest = max(longest, d)
    depth = 1
    while depth < longest + 1:
        depth *= 2
    return depth


@numba.njit(cache=True, nogil=True)
def _viterbi(
    steady_src, steady_weight, steady_starts, steady_index,
    block, block_class, block_weight, block_weight_exp, block_edge,
    gated_src, gated_dst, gated_delay, gated_condition, gated_weight, gated_weight_exp,
    gated_index, groups, gate_delays, gate_masks, group_of, src, delay, state_class, incoming,
    emissions, conditions, open_conditions, prefix, start_state, end_state, states_out,
):  # fmt: skip
    n = emissions.shape[0]
    n_states = state_class.shape[0]
    mask = _ring_depth(delay) - 1
    ring = np.full((mask + 1, n_states), _NEG_INF)
    pointers = np.empty((n, n_states), dtype=np.int8)  # every row past 0 is written; 0 never read
    late = np.empty(n_states)
    late_k = np.empty(n_states, dtype=np.intp)
    ring[0, start_state] = emissions[0, state_class[start_state]]
    for i in range(1, n):
        late[:] = _NEG_INF
        for di in range(gate_delays.shape[0]):
            d = gate_delays[di]
            entry = i - d + 1
            if entry < 1:
                continue
            before = ring[(i - d) & mask]
            bits = open_conditions[entry] & gate_masks[di]
            while bits:
                c, bits = _pop_lowest(bits)
                g = group_of[di, c]
                gate = conditions[entry, c]
                for j in range(groups[g], groups[g + 1]):
                    t = gated_dst[j]
                    klass = state_class[t]
                    if d == 1:
                        gain = emissions[i, klass]
                    else:
                        gain = prefix[klass, i + 1] - prefix[klass, entry]
                    value = before[gated_src[j]] + gated_weight[j] + gate + gain
                    if value > late[t]:
                        late[t] = value
                        late_k[t] = gated_index[j]
        last = ring[(i - 1) & mask]
        row = ring[i & mask]
        for s in range(block):
            best = _NEG_INF
            best_k = -1
            # Branch-free: which edge wins is data, and a mispredicted branch costs more than
            # the arithmetic.
            for j in range(steady_starts[s], steady_starts[s + 1]):
                value = last[steady_src[j]] + steady_weight[j]
                better = value > best
                best = value if better else best
                best_k = steady_index[j] if better else best_k
            best += emissions[i, state_class[s]]
            if late[s] > best:
                best = late[s]
                best_k = late_k[s]
            row[s] = best
            pointers[i, s] = best_k - incoming[s]
        shared = emissions[i, block_class]
        for s in range(block, n_states):
            best = last[s] + block_weight[s]
            best += shared
            later = late[s] > best
            row[s] = late[s] if later else best
            pointers[i, s] = (late_k[s] if later else block_edge[s]) - incoming[s]
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
    steady_src, steady_weight_exp, steady_starts,
    block, block_class, block_weight, block_weight_exp, block_edge,
    gated_src, gated_dst, gated_delay, gated_condition, gated_weight, gated_weight_exp,
    gated_index, groups, gate_delays, gate_masks, group_of, state_class, emissions, conditions,
    open_conditions, prefix, emissions_exp, start_state, kept, alpha_out, log_scale,
):  # fmt: skip
    n = emissions.shape[0]
    n_states = state_class.shape[0]
    mask = _ring_depth(gated_delay) - 1
    ring = np.zeros((mask + 1, n_states))
    late = np.empty(n_states)
    ring[0, start_state] = 1.0
    log_scale[0] = emissions[0, state_class[start_state]]
    next_kept = _keep_row(ring[0], 0, kept, 0, alpha_out)
    for i in range(1, n):
        late[:] = 0.0
        for di in range(gate_delays.shape[0]):
            d = gate_delays[di]
            entry = i - d + 1
            if entry < 1:
                continue
            before = ring[(i - d) & mask]
            bits = open_conditions[entry] & gate_masks[di]
            while bits:
                c, bits = _pop_lowest(bits)
                g = group_of[di, c]
                first = groups[g]
                gate = conditions[entry, c]
                if d == 1:
                    gate_exp = np.exp(np.float64(gate))
                    for j in range(first, groups[g + 1]):
                        t = gated_dst[j]
                        late[t] += (
                            before[gated_src[j]]
                            * gated_weight_exp[j]
                            * gate_exp
                            * emissions_exp[i, state_class[t]]
                        )
                    continue
                # Row i - d is scaled by its own cumulative factor: bring it to row i - 1's.
                rescale = gate + log_scale[i - d] - log_scale[i - 1]
                # One exp per emission class, not per edge: a group's edges mostly share theirs.
                last_klass, factor = -1, 0.0
                for j in range(first, groups[g + 1]):
                    previous = before[gated_src[j]]
                    if previous == 0.0:
                        continue
                    t = gated_dst[j]
                    klass = state_class[t]
                    if klass != last_klass:
                        factor = np.exp(rescale + prefix[klass, i + 1] - prefix[klass, entry])
                        last_klass = klass
                    late[t] += previous * gated_weight_exp[j] * factor
        last = ring[(i - 1) & mask]
        row = ring[i & mask]
        total = 0.0
        for s in range(block):
            acc = 0.0
            for j in range(steady_starts[s], steady_starts[s + 1]):
                acc += last[steady_src[j]] * steady_weight_exp[j]
            acc = acc * emissions_exp[i, state_class[s]] + late[s]
            row[s] = acc
            total += acc
        shared = emissions_exp[i, block_class]
        for s in range(block, n_states):
            acc = last[s] * block_weight_exp[s] * shared + late[s]
            row[s] = acc
            total += acc
        if total == 0.0:
            log_scale[i:] = _NEG_INF
            return
        scale = 1.0 / total
        for s in range(n_states):
            row[s] *= scale
        log_scale[i] = log_scale[i - 1] + np.log(total)
        next_kept = _keep_row(row, i, kept, next_kept, alpha_out)


@numba.njit(cache=True, nogil=True)
def _backward(
    steady_dst, steady_weight_exp, steady_starts,
    block, block_class, block_weight, block_weight_exp, block_edge,
    gated_src, gated_dst, gated_delay, gated_condition, gated_weight, gated_weight_exp,
    gated_index, groups, gate_delays, gate_masks, group_of, state_class, emissions, conditions,
    open_conditions, prefix, emissions_exp, end_state, log_scale, kept, beta_out,
):  # fmt: skip
    n = emissions.shape[0]
    n_states = state_class.shape[0]
    mask = _ring_depth(gated_delay) - 1
    ring = np.zeros((mask + 1, n_states))
    following = np.empty(n_states)
    late = np.empty(n_states)
    ring[(n - 1) & mask, end_state] = 1.0
    # Kept rows are filled from the last one down.
    next_kept = _keep_row_down(ring[(n - 1) & mask], n - 1, kept, kept.shape[0] - 1, beta_out)
    for i in range(n - 2, kept[0] - 1, -1):
        # Row i + 1 is scaled by its own cumulative factor: bring it to row i's.
        step = np.exp(log_scale[i] - log_scale[i + 1])
        after = ring[(i + 1) & mask]
        for t in range(n_states):
            following[t] = after[t] * emissions_exp[i + 1, state_class[t]] * step
        late[:] = 0.0
        entry = i + 1
        for di in range(gate_delays.shape[0]):
            d = gate_delays[di]
            if i + d > n - 1:
                continue
            bits = open_conditions[entry] & gate_masks[di]
            while bits:
                c, bits = _pop_lowest(bits)
                g = group_of[di, c]
                first = groups[g]
                gate = conditions[entry, c]
                if d == 1:
                    gate_exp = np.exp(np.float64(gate))
                    for j in range(first, groups[g + 1]):
                        late[gated_src[j]] += (
                            following[gated_dst[j]] * gated_weight_exp[j] * gate_exp
                        )
                    continue
                later_row = ring[(i + d) & mask]
                rescale = gate + log_scale[i] - log_scale[i + d]
                last_klass, factor = -1, 0.0  # one exp per emission class, as in the forward pass
                for j in range(first, groups[g + 1]):
                    later = later_row[gated_dst[j]]
                    if later == 0.0:
                        continue
                    klass = state_class[gated_dst[j]]
                    if klass != last_klass:
                        factor = np.exp(rescale + prefix[klass, i + d + 1] - prefix[klass, entry])
                        last_klass = klass
                    late[gated_src[j]] += later * gated_weight_exp[j] * factor
        row = ring[i & mask]
        for s in range(block):
            acc = late[s]
            for j in range(steady_starts[s], steady_starts[s + 1]):
                acc += following[steady_dst[j]] * steady_weight_exp[j]
            row[s] = acc
        for s in range(block, n_states):
            row[s] = late[s] + following[s] * block_weight_exp[s]
        next_kept = _keep_row_down(row, i, kept, next_kept, beta_out)


@numba.njit(cache=True, nogil=True, inline="always")
def _pop_lowest(bits):
    """The index of the lowest set bit of ``bits`` (not 0), and ``bits`` without it."""
    low = bits & (~bits + _ONE)
    return _BIT_INDEX[(low * _DE_BRUIJN) >> _SHIFT], bits ^ low


@numba.njit(cache=True, nogil=True)
def _open_masks(conditions, out):
    """``out[i]``: bit ``c`` set where ``conditions[i, c]`` (position-major) is not ``-inf``."""
    for i in range(conditions.shape[0]):
        bits = np.uint64(0)
        for c in range(conditions.shape[1]):
            if conditions[i, c] != _NEG_INF:
                bits |= np.uint64(1) << np.uint64(c)
        out[i] = bits


@numba.njit(cache=True, nogil=True)
def _prefix_sums(values, classes, out):
    """``out[k, i + 1] = out[k, i] + values[k, i]`` for each ``k`` in ``classes``: running sums
    of class-major ``(K, n)`` rows, each a contiguous pass."""
    for k in classes:
        row, total = values[k], 0.0
        for i in range(row.shape[0]):
            total += row[i]
            out[k, i + 1] = total


@numba.njit(cache=True, nogil=True)
def _keep_row(row, i, kept, next_kept, out):
    """Copy ``row`` (position ``i``) out when it is the next kept row; returns the next one."""
    if next_kept < kept.shape[0] and kept[next_kept] == i:
        out[next_kept] = row
        return next_kept + 1
    return next_kept


@numba.njit(cache=True, nogil=True)
def _keep_row_down(row, i, kept, next_kept, out):
    """As :func:`_keep_row`, for a pass from the end down."""
    if next_kept >= 0 and kept[next_kept] == i:
        out[next_kept] = row
        return next_kept - 1
    return next_kept
