"""Fitting the HMM's evidence weights: coordinate search, and restarts that leave local optima."""

from __future__ import annotations

from genatator.decode.fit import fit_weights
from genatator.decode.options import HmmWeights

START = HmmWeights(gene=0.2, site_bias=-1.0)


def separable(weights: HmmWeights) -> float:
    """Peaks at gene 0.5, site_bias 2: each coordinate improves on its own."""
    return -abs(weights.gene - 0.5) - abs(weights.site_bias - 2.0)


def two_peaks(weights: HmmWeights) -> float:
    """A local peak at the start; the global one needs gene and site_bias to move together."""
    if weights.gene == 0.0 and weights.site_bias <= -2.0:
        return 2.0 if weights.site_bias <= -3.0 else 1.5
    return 1.0 if (weights.gene, weights.site_bias) == (0.2, -1.0) else 0.0


def test_coordinate_search_climbs_each_weight_to_its_best() -> None:
    result = fit_weights(separable, START, names=("gene", "site_bias"), rounds=5)
    assert (result.weights.gene, result.weights.site_bias) == (0.5, 2.0)
    assert result.objective == 0.0
    assert result.tried[0] == (START, separable(START))  # every evaluation is recorded


def test_coordinate_search_stops_in_a_local_optimum_and_restarts_leave_it() -> None:
    names = ("gene", "site_bias")
    stuck = fit_weights(two_peaks, START, names=names, rounds=3)
    assert stuck.weights == START and stuck.objective == 1.0
    found = fit_weights(two_peaks, START, names=names, rounds=3, restarts=30, seed=1)
    assert found.objective == 2.0
    assert found.weights.gene == 0.0 and found.weights.site_bias <= -3.0
    assert len(found.tried) > len(stuck.tried)  # restarts add to the same record
    # The same seed gives the same search.
    again = fit_weights(two_peaks, START, names=names, rounds=3, restarts=30, seed=1)
    assert again.weights == found.weights and again.tried == found.tried
