"""Exact average-cost optimal policies for ``fulfillgym/LostSales-v0``, and exact evaluation
of any stationary policy.

Timing (identical to ``envs.replenishment.dynamics``): the state at the start of a period
is ``(x, p_1, ..., p_{L-1})``, on-hand stock and the pipeline oldest first. The order ``q``
is placed (cost ``K [q > 0] + c q``; with ``L = 0`` it arrives at once), demand ``D`` is
served from the stock ``z`` (``z = x``, or ``x + q`` when ``L = 0``), ``h`` is charged per
unit left and ``p`` per unit short, then the order placed ``L - 1`` periods ago arrives::

    L >= 2:  ((z - D)^+ + p_1, p_2, ..., p_{L-1}, q)
    L == 1:  (z - D)^+ + q
    L == 0:  (z - D)^+,  z = x + q

Lost sales (:func:`solve`)
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

Backorders (:func:`solve`)
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

Exact policy evaluation (:func:`exact_average_cost`, :func:`evaluate_policy`)
    The long-run average cost of any stationary lost-sales policy, from the Markov chain
    it induces on the states reachable from the env's initial state.

Demand
    The DP uses ``config.demand.pmf_array()`` (tail below 1e-12 dropped). A ``series``
    demand is treated as i.i.d. draws from its empirical pmf; the solution is then
    marked ``exact=False`` (the env replays the series deterministically).

Cache
    Solutions are cached as ``.npz`` under ``$FULFILLGYM_CACHE`` (default
    ``~/.cache/fulfillgym/optimal/``), keyed by a hash of ``config.to_dict()``, the solver
    version, ``tol`` and ``bound``. Unreadable cache files are ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from agents.base import OrderPolicy
from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.simulator import initial_state

SOLVER_VERSION = "optimal-v1"
CACHE_ENV = "FULFILLGYM_CACHE"
DEFAULT_CACHE = Path("~/.cache/fulfillgym/optimal")
# K > 0, lost sales: how many times the bound may grow before we give up and report it binding.
MAX_BOUND_ROUNDS = 5
# Largest state key for which index lookups use a dense inverse table (int32 entries).
DENSE_LOOKUP_LIMIT = 50_000_000
# exact_average_cost: largest reachable state set it will explore.
MAX_EVAL_STATES = 3_000_000
# exact_average_cost: largest long-run probability of on-hand stock at its clamp.
TRUNCATION_TOL = 1e-10
# ... and the probability above which the policy is declared unstable (ValueError).
UNSTABLE_MASS = 1e-6

OrderFn = Callable[[np.ndarray], np.ndarray]


# -- the solution ---------------------------------------------------------------------------
@dataclass
class OptimalSolution:
    """An optimal stationary policy and its long-run average cost per period.

    ``states`` holds one state per row: ``(x, p_1, ..., p_{L-1})`` for lost sales (sorted
    lexicographically), the inventory position ``y`` (one column, ascending) for
    backorders; ``policy[i]`` is the optimal order in ``states[i]``.
    """

    average_cost: float
    """Long-run average cost per period g (midpoint of ``cost_bounds``)."""
    policy: np.ndarray
    states: np.ndarray
    bound: int
    """Largest inventory position in the state space (``B`` or ``y_hi``)."""
    lower: int
    """Smallest inventory position in the state space (0, or ``y_lo`` with backorders)."""
    backorders: bool
    lead_time: int
    iterations: int
    solve_seconds: float
    exact_bound: bool
    """True when a theorem guarantees the truncation to ``lower..bound`` loses nothing."""
    exact: bool
    """False when the DP only approximates the env (``series`` demand)."""
    cost_bounds: tuple[float, float]
    """Odoni bounds ``min(TV - V) <= g* <= max(TV - V)`` from the last iteration; the
    returned policy's own average cost is also at most the upper bound."""
    bound_binding: bool = False
    """True if ``exact_bound`` is False and the policy orders up to ``bound`` somewhere: the
    truncation may then cost something (solve again with a larger ``bound``)."""
    values: np.ndarray | None = field(default=None, repr=False)
    """Relative values V of ``states`` (``V[0] = 0``); for backorders without ``c``."""
    from_cache: bool = False
    _keys: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def n_states(self) -> int:
        return int(len(self.states))

    def order(self, obs: np.ndarray) -> np.ndarray:
        """Optimal orders for observation rows (on-hand, pipeline oldest first; floats).

        Lost sales: states with inventory position above ``bound`` order 0 (optimal by
        Morton's bound when ``K = 0``). Backorders: above ``y_hi`` order 0, below ``y_lo``
        order up to the level chosen at ``y_lo``.
        """
        rows = np.rint(np.asarray(obs, dtype=np.float64)).astype(np.int64)
        rows = rows.reshape(len(rows), -1) if rows.ndim > 1 else rows.reshape(1, -1)
        if self.backorders:
            return self._order_backorders(rows.sum(axis=1))
        return self._order_lost_sales(np.maximum(rows, 0))

    def _order_lost_sales(self, rows: np.ndarray) -> np.ndarray:
        base = self.bound + 1
        inside = rows.sum(axis=1) <= self.bound
        keys = _encode(np.where(inside[:, None], rows, 0), base)
        if self._keys is None:
            self._keys = _encode(self.states, base)
        table = self._keys
        idx = np.clip(np.searchsorted(table, keys), 0, len(table) - 1)
        found = inside & (table[idx] == keys)
        return np.where(found, self.policy[idx], 0).astype(np.int64)

    def _order_backorders(self, y: np.ndarray) -> np.ndarray:
        idx = np.clip(y - self.lower, 0, len(self.policy) - 1)
        target = self.states[idx, 0] + self.policy[idx]
        q = np.maximum(target - y, 0)
        return np.where(y > self.bound, 0, q).astype(np.int64)


# -- demand helpers -------------------------------------------------------------------------
def _demand_pmf(config: LostSalesConfig) -> np.ndarray:
    return np.asarray(config.demand.pmf_array(), dtype=np.float64)


def _expected_left(pmf: np.ndarray, z: np.ndarray) -> np.ndarray:
    """E[(z - D)^+] for integer z (any sign), D ~ pmf on 0..len(pmf)-1."""
    z = np.asarray(z, dtype=np.int64)
    mean = float(np.dot(np.arange(len(pmf)), pmf))
    # E[(z - D)^+] = sum_{k < z} P(D <= k); beyond the support it is z - mean.
    table = np.concatenate([[0.0], np.cumsum(np.cumsum(pmf))])
    inside = np.clip(z, 0, len(table) - 1)
    return np.where(z <= 0, 0.0, np.where(z < len(table), table[inside], z - mean))


def newsvendor_cost(pmf: np.ndarray, z: np.ndarray, h: float, p: float) -> np.ndarray:
    """``h E[(z - D)^+] + p E[(D - z)^+]``: the expected holding/shortage cost of stock z."""
    mean = float(np.dot(np.arange(len(pmf)), pmf))
    left = _expected_left(pmf, z)
    return h * left + p * (left + mean - np.asarray(z, dtype=np.float64))


# -- state spaces ---------------------------------------------------------------------------
def _enumerate_states(dim: int, bound: int) -> np.ndarray:
    """All non-negative integer vectors of length ``dim`` with sum <= bound, lexicographic."""
    states = np.zeros((1, 0), dtype=np.int64)
    room = np.array([bound], dtype=np.int64)
    for _ in range(dim):
        counts = room + 1
        parent = np.repeat(np.arange(len(states)), counts)
        value = _ranges(counts)
        states = np.column_stack([states[parent], value])
        room = room[parent] - value
    return states


def _ranges(counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(n)`` for each n in ``counts``."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


def _encode(vectors: np.ndarray, base: int) -> np.ndarray:
    """Mixed-radix key of each row (first column most significant): sorted rows, sorted keys."""
    vectors = np.asarray(vectors, dtype=np.int64)
    keys = np.zeros(len(vectors), dtype=np.int64)
    for col in range(vectors.shape[1]):
        keys = keys * base + vectors[:, col]
    return keys


@dataclass
class _Step:
    """What happens to a batch of (state, order) rows: demand is served from ``stock``,
    ``arrival`` joins the leftover, ``tail`` is the rest of the next state."""

    stock: np.ndarray  # (n,)
    arrival: np.ndarray  # (n,)
    tail: np.ndarray  # (n, dim - 1)


def _step(states: np.ndarray, q: np.ndarray, lead_time: int) -> _Step:
    x = states[:, 0]
    if lead_time == 0:
        return _Step(x + q, np.zeros_like(x), states[:, 1:])
    if lead_time == 1:
        return _Step(x, q, states[:, 1:])
    return _Step(x, states[:, 1], np.column_stack([states[:, 2:], q]))


def _successors(
    step: _Step, pmf: np.ndarray, stock_cap: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Next on-hand stock of each row and its probability, grouped by row (CSR layout).

    Row i has the outcomes ``d = 0, 1, ..., min(stock_i, d_max)`` of ``min(D, stock)``:
    probability ``P(D = d)`` for ``d < stock`` and the lumped tail ``P(D >= stock)`` for
    ``d = stock`` (everything is sold). Zero-probability outcomes are dropped. Returns
    ``(indptr, next_on_hand, prob)``; the rest of the next state is ``step.tail[row]``.
    ``stock_cap`` (policy evaluation only) clamps the next on-hand stock.
    """
    dmax = len(pmf) - 1
    counts = np.minimum(step.stock, dmax) + 1
    indptr = np.concatenate([[0], np.cumsum(counts)])
    d = _ranges(counts)
    prob = pmf[d]
    lumped = step.stock <= dmax  # the last outcome of these rows is "everything sold"
    tail_prob = np.cumsum(pmf[::-1])[::-1]  # P(D >= k)
    prob[indptr[1:][lumped] - 1] = tail_prob[step.stock[lumped]]
    on_hand = np.repeat(step.stock + step.arrival, counts) - d
    if stock_cap is not None:
        on_hand = np.minimum(on_hand, stock_cap)
    keep = prob > 0
    if not keep.all():
        kept = np.concatenate([[0], np.cumsum(keep)])
        indptr, on_hand, prob = kept[indptr], on_hand[keep], prob[keep]
    return indptr, on_hand, prob


def _next_states(step: _Step, on_hand: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Full next-state vectors for the outcomes returned by :func:`_successors`."""
    return np.column_stack([on_hand, np.repeat(step.tail, np.diff(indptr), axis=0)])


def _transition_matrix(
    step: _Step, pmf: np.ndarray, table: np.ndarray, base: int, stock_cap: int | None = None
) -> sparse.csr_matrix:
    """Sparse (rows x states) transition matrix; ``table`` holds the sorted state keys."""
    indptr, on_hand, prob = _successors(step, pmf, stock_cap)
    width = step.tail.shape[1]
    keys = on_hand * base**width + np.repeat(_encode(step.tail, base), np.diff(indptr))
    cols = _lookup(table, keys)
    if cols.min(initial=0) < 0:
        raise RuntimeError("a transition left the state space (solver bug)")
    shape = (len(step.stock), len(table))
    return sparse.csr_matrix((prob, cols.astype(np.int32), indptr), shape=shape)


def _lookup(table: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Index of each key in the sorted ``table`` (-1 if absent): a dense inverse table
    when the key range is small (much faster than a binary search), else searchsorted."""
    if len(table) and table[-1] < DENSE_LOOKUP_LIMIT and keys.min(initial=0) >= 0:
        inverse = np.full(int(max(table[-1], keys.max(initial=0))) + 1, -1, dtype=np.int32)
        inverse[table] = np.arange(len(table), dtype=np.int32)
        return inverse[keys]
    pos = np.minimum(np.searchsorted(table, keys), len(table) - 1)
    return np.where(table[pos] == keys, pos, -1).astype(np.int32)


# -- relative value iteration ---------------------------------------------------------------
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


def _eoq(config: LostSalesConfig) -> int:
    """EOQ-sized margin sqrt(2 K mean / h) (or a few periods of demand when h = 0)."""
    mean = config.demand.mean
    if config.holding_cost > 0:
        return max(
            1, math.ceil(math.sqrt(2 * config.fixed_order_cost * mean / config.holding_cost))
        )
    return max(1, math.ceil(4 * mean))


# -- backorders -----------------------------------------------------------------------------
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


# -- disk cache -----------------------------------------------------------------------------
_SCALARS = (
    "average_cost", "bound", "lower", "backorders", "lead_time", "iterations",
    "solve_seconds", "exact_bound", "exact", "bound_binding",
)  # fmt: skip


def cache_dir() -> Path:
    """``$FULFILLGYM_CACHE`` or ``~/.cache/fulfillgym/optimal``."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def _cache_path(config: LostSalesConfig, tol: float, bound: int | None) -> Path:
    payload = {"config": config.to_dict(), "version": SOLVER_VERSION, "tol": tol, "bound": bound}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return cache_dir() / f"{digest[:32]}.npz"


def _save(path: Path, solution: OptimalSolution) -> None:
    """Write atomically (temp file + rename); a failure to write is not an error."""
    arrays = {name: np.asarray(getattr(solution, name)) for name in _SCALARS}
    arrays.update(
        policy=solution.policy,
        states=solution.states,
        values=np.asarray(solution.values if solution.values is not None else []),
        cost_bounds=np.asarray(solution.cost_bounds),
        version=np.asarray(SOLVER_VERSION),
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
            np.savez(f, **arrays)
        os.replace(f.name, path)
    except OSError as err:
        warnings.warn(f"could not write the optimal-policy cache {path}: {err}", stacklevel=3)


def _load(path: Path) -> OptimalSolution | None:
    """The cached solution, or None when missing, corrupt or from another solver version."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["version"]) != SOLVER_VERSION:
                return None
            scalars = {name: data[name].item() for name in _SCALARS}
            solution = OptimalSolution(
                policy=data["policy"].astype(np.int64),
                states=data["states"].astype(np.int64),
                values=data["values"].astype(np.float64),
                cost_bounds=tuple(float(v) for v in data["cost_bounds"]),
                from_cache=True,
                **scalars,
            )
    except Exception:  # noqa: BLE001 - any unreadable file means "recompute"
        return None
    ok = len(solution.policy) == len(solution.states) > 0 and len(solution.cost_bounds) == 2
    return solution if ok and np.isfinite(solution.average_cost) else None


# -- exact evaluation of any policy ---------------------------------------------------------
@dataclass
class PolicyEvaluation:
    """Exact long-run behaviour of a stationary policy (lost sales)."""

    average_cost: float
    components: dict[str, float]
    """Long-run ``holding_cost``, ``shortage_cost`` and ``ordering_cost`` per period."""
    fill_rate: float
    states: np.ndarray
    """States reachable from the start state, sorted; ``orders`` and ``distribution`` align."""
    orders: np.ndarray
    distribution: np.ndarray
    """Long-run fraction of periods spent in each state (0 on transient states)."""
    bound: int
    """Largest inventory position after ordering over the reachable states."""
    stock_cap: int
    """On-hand stock was clamped to this level (see :func:`evaluate_policy`)."""
    truncated_mass: float
    """Long-run probability of on-hand stock at ``stock_cap`` (0 unless the cap matters)."""


def exact_average_cost(
    config: LostSalesConfig, order_fn: OrderFn, bound: int | None = None
) -> float:
    """Exact long-run average cost of the stationary policy ``order_fn`` (obs batch -> orders).

    See :func:`evaluate_policy`.
    """
    return evaluate_policy(config, order_fn, bound).average_cost


def evaluate_policy(
    config: LostSalesConfig,
    order_fn: OrderFn,
    bound: int | None = None,
    *,
    start: np.ndarray | None = None,
    max_states: int = MAX_EVAL_STATES,
    stock_cap: int | None = None,
) -> PolicyEvaluation:
    """Exact long-run averages of a policy on the lost-sales chain it induces.

    The state space is the set of states reachable from ``start`` (default: the config's
    ``mean`` or ``zero`` initial state; ``random`` uses ``mean``), found by breadth-first
    search; it is automatically as large as the policy needs (its largest inventory
    position after ordering is reported as ``bound``). ``order_fn`` is called on float32
    observation batches and its orders are rounded and clipped to ``[0, q_max]`` as
    ``OrderPolicy.predict`` does. The long-run distribution is computed by power
    iteration to ~1e-11 in L1 (see :func:`_limit_distribution`); if several closed classes
    are reachable they are weighted by their absorption probabilities from ``start``.
    ``bound`` optionally caps the inventory position (ValueError beyond it).

    Policies that do not order up to a level (e.g. constant orders) can reach any on-hand
    stock, with geometrically vanishing probability. On-hand stock is therefore clamped at
    ``stock_cap`` (default ``4 (B + d_max)``, doubled up to three times until the long-run
    probability of sitting at the cap is below 1e-10, else a RuntimeWarning); the clamp
    never binds for policies that order up to a level below it. A policy still at the
    largest cap with probability above 1e-6 is unstable (ValueError), as is one reaching
    more than ``max_states`` states.
    """
    if config.backorders:
        raise NotImplementedError(
            "exact_average_cost covers lost sales only; with backorders use solve() for the "
            "optimum or simulate the policy (agents.evaluation.rollout)"
        )
    if start is None:
        start = _start_state(config)
    start = np.asarray(start, dtype=np.int64).reshape(config.obs_dim)
    caps = (
        [stock_cap]
        if stock_cap is not None
        else [_default_cap(config, start) * 2**k for k in range(4)]
    )
    for cap in caps:
        states, orders = _explore(config, order_fn, start, bound, max_states, cap)
        evaluation = _long_run(config, states, orders, start, cap)
        if evaluation.truncated_mass < TRUNCATION_TOL:
            return evaluation
    message = (
        f"on-hand stock reaches the cap {cap} with long-run probability "
        f"{evaluation.truncated_mass:.2g}"
    )
    if evaluation.truncated_mass > UNSTABLE_MASS:
        raise ValueError(
            f"{message}: the policy is unstable (its on-hand stock grows without bound; "
            "does it order at least the mean demand every period?)"
        )
    warnings.warn(f"{message}; the evaluated cost is approximate", RuntimeWarning, stacklevel=2)
    return evaluation


def _default_cap(config: LostSalesConfig, start: np.ndarray) -> int:
    """Initial on-hand clamp for policy evaluation: far above any sensible stock level."""
    return 4 * (max(config.newsvendor_level(), int(start.sum())) + len(_demand_pmf(config)))


def _start_state(config: LostSalesConfig) -> np.ndarray:
    """The env's initial state (``mean`` for ``random``, which has no single start)."""
    if config.initial_state == "random":
        config = replace(config, initial_state="mean")
    x0, pipe = initial_state(config, None)
    return np.array([x0, *pipe], dtype=np.int64)


def _policy_orders(order_fn: OrderFn, states: np.ndarray, config: LostSalesConfig) -> np.ndarray:
    """``order_fn`` on float32 observations, rounded and clipped to ``[0, q_max]``."""
    q = np.asarray(order_fn(states.astype(np.float32)), dtype=np.float64).reshape(-1)
    q = np.broadcast_to(q, (len(states),))
    return np.clip(np.rint(q), 0, config.q_max).astype(np.int64)


def _explore(
    config: LostSalesConfig,
    order_fn: OrderFn,
    start: np.ndarray,
    bound: int | None,
    max_states: int,
    stock_cap: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Breadth-first search of the states reachable from ``start``, sorted by key, and the
    policy's (clipped) order in each."""
    pmf = _demand_pmf(config)
    base = _search_base(config.obs_dim)
    frontier = start[None, :]
    seen = _encode(frontier, base)
    found, orders = [], []
    while len(frontier):
        q = _policy_orders(order_fn, frontier, config)
        found.append(frontier)
        orders.append(q)
        top = int((frontier.sum(axis=1) + q).max())
        if bound is not None and top > bound:
            raise ValueError(f"the policy orders up to inventory position {top} > bound {bound}")
        step = _step(frontier, q, config.lead_time)
        indptr, on_hand, _ = _successors(step, pmf, stock_cap)
        nxt = _next_states(step, on_hand, indptr)
        if nxt.size and nxt.max() >= base:
            raise ValueError(f"the policy's chain reaches stock levels >= {base}; is it stable?")
        keys, first = np.unique(_encode(nxt, base), return_index=True)
        new = ~np.isin(keys, seen, assume_unique=True)
        frontier = nxt[first[new]]
        seen = np.union1d(seen, keys[new])
        if len(seen) > max_states:
            raise ValueError(
                f"more than {max_states} states reachable: the policy's chain is too large to "
                "evaluate exactly (does it order more than it sells?)"
            )
    states, orders = np.concatenate(found), np.concatenate(orders)
    order = np.argsort(_encode(states, base))
    return states[order], orders[order]


def _search_base(dim: int) -> int:
    """A radix for state keys that fits in int64 (stock levels must stay below it)."""
    return 1 << min(62 // dim, 31)


def _long_run(
    config: LostSalesConfig,
    states: np.ndarray,
    orders: np.ndarray,
    start: np.ndarray,
    stock_cap: int,
) -> PolicyEvaluation:
    """Long-run averages of the chain on the explored ``states`` under ``orders``."""
    pmf = _demand_pmf(config)
    base = _search_base(config.obs_dim)
    table = _encode(states, base)
    step = _step(states, orders, config.lead_time)
    matrix = _transition_matrix(step, pmf, table, base, stock_cap)
    start_index = int(np.searchsorted(table, _encode(start[None, :], base))[0])
    distribution = _limit_distribution(matrix, start_index)
    mean = float(np.dot(np.arange(len(pmf)), pmf))
    left = _expected_left(pmf, step.stock)
    lost = left + mean - step.stock
    components = {
        "holding_cost": float(distribution @ (config.holding_cost * left)),
        "shortage_cost": float(distribution @ (config.penalty * lost)),
        "ordering_cost": float(
            distribution @ (config.fixed_order_cost * (orders > 0) + config.unit_cost * orders)
        ),
    }
    return PolicyEvaluation(
        average_cost=sum(components.values()),
        components=components,
        fill_rate=1.0 - float(distribution @ lost) / mean if mean > 0 else 1.0,
        states=states,
        orders=orders,
        distribution=distribution,
        stock_cap=stock_cap,
        truncated_mass=float(distribution[states[:, 0] >= stock_cap].sum()),
        bound=int((states.sum(axis=1) + orders).max()),
    )


def _limit_distribution(
    matrix: sparse.csr_matrix, start: int, tol: float = 1e-11, max_iter: int = 200_000
) -> np.ndarray:
    """``lim (1/T) sum_t P^t[start, :]`` by power iteration on the lazy chain ``(I + P) / 2``.

    The lazy chain is aperiodic and has the same closed classes, stationary distributions
    and absorption probabilities as ``P``, so its powers converge to ``P``'s Cesaro limit
    from ``start``: the stationary distribution when the chain is unichain, otherwise the
    mixture of the closed classes' distributions weighted by their absorption probabilities.
    Iteration stops when the L1 change, extrapolated geometrically, is below ``tol``.
    (A sparse LU of ``I - P`` suffers catastrophic fill-in on these chains.)
    """
    forward = matrix.T.tocsr()
    pi = np.zeros(matrix.shape[0])
    pi[start] = 1.0
    previous = np.inf
    for _ in range(max_iter):
        new = 0.5 * (pi + forward @ pi)
        change = float(np.abs(new - pi).sum())
        pi = new
        rate = change / previous if previous > 0 else 0.0
        previous = change
        if change < tol and (rate >= 1.0 or change * rate / (1.0 - rate) < tol):
            return pi / pi.sum()
    warnings.warn(
        f"the policy's chain had not converged after {max_iter} steps (L1 change {change:.2g})",
        RuntimeWarning,
        stacklevel=4,
    )
    return pi / pi.sum()


# -- policy ---------------------------------------------------------------------------------
class OptimalPolicy(OrderPolicy):
    """The exact optimum as an :class:`~agents.base.OrderPolicy` (solved, or read from the
    cache, on construction)."""

    name = "optimal"

    def __init__(
        self,
        config: LostSalesConfig,
        *,
        solution: OptimalSolution | None = None,
        **solve_kwargs: Any,
    ):
        super().__init__(config)
        self.solution = solution if solution is not None else solve(config, **solve_kwargs)

    def orders(self, obs: np.ndarray) -> np.ndarray:
        return self.solution.order(obs)

    def params(self) -> dict[str, Any]:
        return {"average_cost": self.solution.average_cost, "states": self.solution.n_states}


def make_optimal(config: LostSalesConfig, **solve_kwargs: Any) -> OptimalPolicy:
    """Build an :class:`OptimalPolicy` for ``config`` (keyword arguments go to :func:`solve`)."""
    return OptimalPolicy(config, **solve_kwargs)
