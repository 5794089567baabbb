"""Relative value iteration on post-decision pairs, shared by the lost-sales and the
backorder DP."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class _RVIResult:
    values: np.ndarray
    q_values: np.ndarray  # Q of every post-decision pair, computed from ``values``
    cost_bounds: tuple[float, float]
    iterations: int


def _rvi(
    expected_next: Callable[[np.ndarray], np.ndarray],
    cost: np.ndarray,
    minimise: Callable[[np.ndarray], np.ndarray],
    n_states: int,
    tol: float,
    max_iter: int,
) -> _RVIResult:
    """Relative value iteration ``V <- T V - (T V)[0]`` until the span of ``T V - V`` < tol.

    ``expected_next(V)`` gives ``E[V(next)]`` per post-decision pair and ``minimise(Q)``
    the minimum over each state's pairs. The Odoni bounds ``min(TV - V) <= g <= max(TV - V)``
    bracket the optimal average cost, and the policy greedy for the returned ``values``
    costs at most the upper bound.
    """
    values = np.zeros(n_states)
    lo, hi = -math.inf, math.inf
    for it in range(1, max_iter + 1):
        q_values = cost + expected_next(values)
        new = minimise(q_values)
        diff = new - values
        lo, hi = float(diff.min()), float(diff.max())
        if hi - lo < tol:
            return _RVIResult(values, q_values, (lo, hi), it)
        values = new - new[0]
    warnings.warn(
        f"relative value iteration stopped after {max_iter} iterations with span {hi - lo:.3g}"
        f" > tol {tol:g}; average_cost is only known to lie in [{lo:.6f}, {hi:.6f}]",
        RuntimeWarning,
        stacklevel=3,
    )
    return _RVIResult(values, cost + expected_next(values), (lo, hi), max_iter)


def _greedy(q_values: np.ndarray, starts: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """Per state, the smallest order whose Q is within rounding of the minimum."""
    best = np.minimum.reduceat(q_values, starts)
    counts = np.diff(np.append(starts, len(q_values)))
    best = np.repeat(best, counts)
    ties = q_values <= best + 1e-10 * (1.0 + np.abs(best))
    return np.minimum.reduceat(np.where(ties, orders, np.iinfo(np.int64).max), starts)
