"""Fitting the HMM's few evidence weights on a held-out region by coordinate search."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from genatator.decode.options import HmmWeights

__all__ = ["SEARCH_STEPS", "FitResult", "fit_weights"]

logger = logging.getLogger(__name__)

#: Candidate moves per weight: multiplicative for scales, additive for biases and penalties.
SEARCH_STEPS: dict[str, tuple[str, tuple[float, ...]]] = {
    "gene": ("add", (-0.2, -0.1, 0.1, 0.2)),
    "exon": ("add", (-0.1, 0.1, 0.2)),
    "cds": ("add", (-0.1, 0.1, 0.2)),
    "utr": ("add", (-0.1, 0.1, 0.2)),
    "content": ("times", (0.7, 1.4)),
    "site": ("times", (0.7, 1.4)),
    "site_bias": ("add", (-1.0, 1.0)),
    "matrices": ("add", (-0.25, 0.25, 0.5)),
    "gene_penalty": ("add", (-2.0, 2.0)),
    "noncoding_penalty": ("add", (-2.0, 2.0, 4.0)),
    "noncoding_bias": ("add", (-0.1, 0.1)),
    "utr_intron_penalty": ("add", (-2.0, 2.0, 4.0)),
    "long_intron_scale": ("times", (0.125, 0.25, 0.5, 2.0)),
}


@dataclass
class FitResult:
    """The best weights, their objective, and every (weights, objective) tried, in order."""

    weights: HmmWeights
    objective: float
    tried: list[tuple[HmmWeights, float]] = field(default_factory=list)


def _moves(weights: HmmWeights, name: str) -> list[HmmWeights]:
    kind, steps = SEARCH_STEPS[name]
    value = getattr(weights, name)
    out = []
    for step in steps:
        new = value * step if kind == "times" else value + step
        if name in ("gene", "exon", "cds", "utr", "content", "site", "matrices") and new < 0:
            continue
        out.append(dataclasses.replace(weights, **{name: round(new, 6)}))
    return out


def fit_weights(
    objective: Callable[[HmmWeights], float],
    start: HmmWeights,
    *,
    names: tuple[str, ...] = tuple(SEARCH_STEPS),
    rounds: int = 2,
    restarts: int = 0,
    seed: int = 0,
) -> FitResult:
    """Coordinate search: for each weight in turn keep the move that raises ``objective``.

    The objective (e.g. exon F1 + CDS F1 of the decoded region) is a step function of the
    weights, so gradient methods do not apply; a handful of weights and a few rounds of
    coordinate moves reach a good optimum with a few dozen decodes. That optimum is local: with
    ``restarts``, the search runs again that many times from the best weights so far with every
    weight moved by one random step of its own (``seed`` fixes them), and the best of all wins.
    """
    best = _coordinate_search(objective, start, names, rounds, tried=[])
    rng = np.random.default_rng(seed)
    for restart in range(restarts):
        jumped = _random_jump(best.weights, names, rng)
        found = _coordinate_search(objective, jumped, names, rounds, tried=best.tried)
        logger.info(
            "restart %d: objective %.4f (best %.4f)", restart + 1, found.objective, best.objective
        )
        if found.objective > best.objective + 1e-9:
            best.weights, best.objective = found.weights, found.objective
    return best


def _coordinate_search(
    objective: Callable[[HmmWeights], float],
    start: HmmWeights,
    names: tuple[str, ...],
    rounds: int,
    tried: list[tuple[HmmWeights, float]],
) -> FitResult:
    best = FitResult(start, objective(start), tried)
    best.tried.append((start, best.objective))
    for round_number in range(rounds):
        improved = False
        for name in names:
            for candidate in _moves(best.weights, name):
                value = objective(candidate)
                best.tried.append((candidate, value))
                if value > best.objective + 1e-9:
                    best.weights, best.objective, improved = candidate, value, True
            logger.info("round %d, %s: objective %.4f", round_number + 1, name, best.objective)
        if not improved:
            break
    return best


def _random_jump(
    weights: HmmWeights, names: tuple[str, ...], rng: np.random.Generator
) -> HmmWeights:
    """``weights`` with each of ``names`` moved by one of its steps, or kept, at random."""
    for name in names:
        options = _moves(weights, name)
        pick = int(rng.integers(len(options) + 1))
        if pick < len(options):
            weights = options[pick]
    return weights
