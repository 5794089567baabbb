"""Exact average-cost optimal policies for ``fulfillgym/LostSales-v0``: :func:`solve`.

Lost sales
    Relative value iteration on the exact state space: integer vectors with inventory
    position ``x + sum(p) <= B``. With ``K = 0``, ``B = config.newsvendor_level()`` is
    Morton's (1971) bound on the optimal inventory position after ordering, so the
    truncation is exact. (With ``c > 0`` every unit bought is eventually sold, so a lost
    sale also saves ``c``: the problem is the one with shortage cost ``p - c`` and no unit
    cost, plus the constant ``c * E[D]``; the config's critical ratio uses ``p - c``, so
    ``B`` is Morton's bound of that equivalent problem.) Orders
    obey ``ip + q <= B`` and ``q <= q_max``. The Bellman
    operator works on *post-decision* pairs ``(state, q)`` sorted by (state, q): one sparse
    matrix-vector product gives the expected next value of every pair and
    ``np.minimum.reduceat`` minimises over ``q``. Demand enters only through
    ``min(D, z)``; the tail ``P(D >= z)`` is the single outcome "stock-out" (``w = 0``).
    With ``K > 0`` Morton's bound does not hold: the bound starts at the newsvendor level
    plus an EOQ margin and grows until the policy never orders up to it; ``exact_bound`` is
    then False because that check is numerical, not a proof.

Backorders
    A 1-D DP on the inventory position over the Zheng-Federgruen window (see
    :mod:`agents.lost_sales.optimal.backorders`).

The timing, the state space and the demand pmf are described in
:mod:`agents.lost_sales.optimal.chain`; solutions are cached on disk
(:mod:`agents.lost_sales.optimal.cache`).
"""

from __future__ import annotations

import time

import numpy as np

from agents.lost_sales.optimal.backorders import _solve_backorders
from agents.lost_sales.optimal.cache import _cache_path, _load, _save
from agents.lost_sales.optimal.chain import (
    _demand_pmf,
    _encode,
    _enumerate_states,
    _eoq,
    _ranges,
    _step,
    _transition_matrix,
    newsvendor_cost,
)
from agents.lost_sales.optimal.rvi import _greedy, _rvi, _RVIResult
from agents.lost_sales.optimal.solution import OptimalSolution
from envs.replenishment.lost_sales.config import LostSalesConfig

# K > 0, lost sales: how many times the bound may grow before we give up and report it binding.
MAX_BOUND_ROUNDS = 5


# -- lost sales -----------------------------------------------------------------------------
def _lost_sales_states(config: LostSalesConfig, bound: int) -> np.ndarray:
    """States with inventory position <= bound and pipeline orders <= q_max."""
    states = _enumerate_states(config.obs_dim, bound)
    if states.shape[1] > 1:
        states = states[(states[:, 1:] <= config.q_max).all(axis=1)]
    return states


def _solve_lost_sales_once(
    config: LostSalesConfig, bound: int, tol: float, max_iter: int
) -> tuple[_RVIResult, np.ndarray, np.ndarray, np.ndarray]:
    """One RVI on the space ``ip <= bound``. Returns (result, states, policy, binding)."""
    pmf = _demand_pmf(config)
    states = _lost_sales_states(config, bound)
    ip = states.sum(axis=1)
    room = np.minimum(bound - ip, config.q_max)
    counts = room + 1
    starts = np.cumsum(counts) - counts
    pair_state = np.repeat(np.arange(len(states)), counts)
    q = _ranges(counts)
    step = _step(states[pair_state], q, config.lead_time)
    table = _encode(states, bound + 1)
    matrix = _transition_matrix(step, pmf, table, bound + 1)
    cost = newsvendor_cost(pmf, step.stock, config.holding_cost, config.penalty)
    cost = cost + config.fixed_order_cost * (q > 0) + config.unit_cost * q
    del step, pair_state
    result = _rvi(
        matrix.dot,
        cost,
        lambda qv: np.minimum.reduceat(qv, starts),
        len(states),
        tol,
        max_iter,
    )
    policy = _greedy(result.q_values, starts, q)
    binding = (policy > 0) & (ip + policy == bound) & (bound - ip <= config.q_max)
    return result, states, policy, binding


def _solve_lost_sales(config: LostSalesConfig, tol: float, max_iter: int, bound: int | None):
    """Lost-sales DP with Morton's bound (K = 0) or a growing bound (K > 0)."""
    morton = config.newsvendor_level()
    fixed = config.fixed_order_cost > 0
    if bound is not None:
        bounds = [int(bound)]
    elif not fixed:
        bounds = [morton]
    else:
        margin = _eoq(config)
        bounds = [morton + margin * 2**k for k in range(MAX_BOUND_ROUNDS)]
    exact_bound = not fixed and bounds[0] >= morton
    total_iterations = 0
    for b in bounds:
        result, states, policy, binding = _solve_lost_sales_once(config, b, tol, max_iter)
        total_iterations += result.iterations
        if not binding.any():
            break
    return dict(
        result=result,
        states=states,
        policy=policy,
        bound=b,
        lower=0,
        iterations=total_iterations,
        exact_bound=exact_bound,
        bound_binding=bool(binding.any()) and not exact_bound,
    )


# -- public solver --------------------------------------------------------------------------
def solve(
    config: LostSalesConfig,
    *,
    tol: float = 1e-7,
    max_iter: int = 20_000,
    bound: int | None = None,
    cache: bool = True,
) -> OptimalSolution:
    """The average-cost optimal policy of ``config`` (see the module docstring).

    Args:
        config: the env configuration (lost sales or backorders).
        tol: stop when the Odoni bounds on the average cost are ``tol`` apart.
        max_iter: iteration cap per value iteration (a RuntimeWarning if reached).
        bound: override the largest inventory position of the state space (``B`` for
            lost sales, ``y_hi`` for backorders); ``exact_bound`` says whether it is safe.
        cache: read and write the on-disk cache.
    """
    path = _cache_path(config, tol, bound) if cache else None
    if path is not None:
        cached = _load(path)
        if cached is not None:
            return cached
    started = time.perf_counter()
    if config.backorders:
        parts = _solve_backorders(config, tol, max_iter, bound)
    else:
        parts = _solve_lost_sales(config, tol, max_iter, bound)
    result: _RVIResult = parts.pop("result")
    lo, hi = result.cost_bounds
    solution = OptimalSolution(
        average_cost=0.5 * (lo + hi),
        cost_bounds=(lo, hi),
        backorders=config.backorders,
        lead_time=config.lead_time,
        solve_seconds=time.perf_counter() - started,
        exact=config.demand.distribution != "series",
        values=result.values,
        **parts,
    )
    if path is not None:
        _save(path, solution)
    return solution
