"""Average-cost optimum with backorders.

The problem reduces exactly to a chain on the inventory position ``y``: the order
placed now raises ``y`` to ``z`` and fixes the net inventory after demand ``L``
periods later, ``z - D^{(L+1)}``, whose expected cost is
``G(z) = E[h (z - D^{(L+1)})^+ + p (D^{(L+1)} - z)^+]``. In steady state the units
ordered equal the units demanded, so ``c`` adds ``c E[D]`` and drops out of the DP.
The 1-D DP ``V(y) = min_{z >= y} K [z > y] + G(z) + E V(z - D) - g`` is solved on
``y_lo <= y <= y_hi`` with ``y_hi = max{z : G(z) <= G(S0) + K}`` and ``y_lo`` one below
``min{z : G(z) <= G(S0) + K}`` (``S0`` minimises ``G``). Zheng & Federgruen (1991)
show an optimal ``(s, S)`` has ``G(S) <= g*`` and ``G(s + 1) <= g*``, and
``g* <= G(S0) + K``, so ``S <= y_hi`` and ``s >= y_lo``; every ``y <= s`` orders up to
``S`` at the same cost, so lumping ``y < y_lo`` into ``y_lo`` is exact. The DP is the
classic uncapacitated problem: ``q_max`` is ignored, so ``average_cost`` is a lower
bound on the env's optimum. The env clips orders above ``q_max``; with the default
``q_max`` (at least the 99.9% demand quantile, plus an EOQ margin when ``K > 0``) that
needs demand far in its tail and moves the cost by far less than simulation noise.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from agents.lost_sales.optimal.chain import _demand_pmf, _eoq, newsvendor_cost
from agents.lost_sales.optimal.rvi import _rvi, _RVIResult
from envs.replenishment.lost_sales.config import LostSalesConfig


def _backorder_range(config: LostSalesConfig) -> tuple[int, int, bool]:
    """``(y_lo, y_hi, proven)``: the Zheng-Federgruen window of inventory positions."""
    pmf_l = np.asarray(config.demand.sum_pmf(config.lead_time + 1), dtype=np.float64)
    h, p, k = config.holding_cost, config.penalty, config.fixed_order_cost
    support = np.arange(len(pmf_l))
    g_support = newsvendor_cost(pmf_l, support, h, p)
    level = float(g_support.min()) + k
    mean_l = float(np.dot(support, pmf_l))
    cap = 4 * len(pmf_l) + 10 * _eoq(config)
    # G(z) >= h (z - mean) and G(z) >= p (mean - z) bound the window {G <= level}.
    top = math.ceil(mean_l + level / h) + 1 if h > 0 else len(pmf_l) + cap
    bottom = math.floor(mean_l - level / p) - 1 if p > 0 else -cap
    proven = h > 0 and p > 0
    grid = np.arange(bottom, top + 1)
    inside = grid[newsvendor_cost(pmf_l, grid, h, p) <= level + 1e-12]
    return int(inside.min()) - 1, max(int(inside.max()), int(inside.min())), proven


def _solve_backorders(config: LostSalesConfig, tol: float, max_iter: int, bound: int | None):
    """1-D average-cost DP on the inventory position (see the module docstring)."""
    y_lo, y_hi, proven = _backorder_range(config)
    exact_bound = proven
    if bound is not None:
        exact_bound = proven and int(bound) >= y_hi
        y_hi = max(int(bound), y_lo + 1)
    pmf = _demand_pmf(config)
    pmf_l = np.asarray(config.demand.sum_pmf(config.lead_time + 1), dtype=np.float64)
    levels = np.arange(y_lo, y_hi + 1)
    n = len(levels)
    g_cost = newsvendor_cost(pmf_l, levels, config.holding_cost, config.penalty)
    # E[V(z - D)] with z - D below y_lo lumped into y_lo.
    rows = np.repeat(np.arange(n), len(pmf))
    cols = np.maximum(rows - np.tile(np.arange(len(pmf)), n), 0)
    shift = sparse.csr_matrix((np.tile(pmf, n), (rows, cols)), shape=(n, n))
    k = config.fixed_order_cost

    def minimise(j: np.ndarray) -> np.ndarray:
        later = np.append(np.minimum.accumulate(j[::-1])[::-1][1:], np.inf)
        return np.minimum(j, k + later)

    result = _rvi(shift.dot, g_cost, minimise, n, tol, max_iter)
    j = result.q_values
    later = np.append(np.minimum.accumulate(j[::-1])[::-1][1:], np.inf)
    later_arg = _suffix_argmin(j)
    order_up = (k + later) < j - 1e-10 * (1.0 + np.abs(j))
    target = np.where(order_up, levels[np.minimum(later_arg, n - 1)], levels)
    policy = target - levels
    binding = (policy > 0) & (target == y_hi)
    mean = float(np.dot(np.arange(len(pmf)), pmf))
    shifted = _RVIResult(
        result.values,
        result.q_values,
        tuple(b + config.unit_cost * mean for b in result.cost_bounds),
        result.iterations,
    )
    return dict(
        result=shifted,
        states=levels[:, None],
        policy=policy,
        bound=y_hi,
        lower=y_lo,
        iterations=result.iterations,
        exact_bound=exact_bound,
        bound_binding=bool(binding.any()) and not exact_bound,
    )


def _suffix_argmin(j: np.ndarray) -> np.ndarray:
    """For each i, the first index of the minimum of ``j[i+1:]`` (len(j) when empty)."""
    n = len(j)
    out = np.full(n, n)
    best, arg = np.inf, n
    for i in range(n - 1, -1, -1):
        out[i] = arg
        if j[i] <= best:
            best, arg = j[i], i
    return out
