"""Exact long-run average cost of any stationary lost-sales policy
(:func:`exact_average_cost`, :func:`evaluate_policy`), from the Markov chain it induces on
the states reachable from the env's initial state."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse

from agents.lost_sales.optimal.chain import (
    _demand_pmf,
    _encode,
    _expected_left,
    _next_states,
    _step,
    _successors,
    _transition_matrix,
)
from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.simulator import initial_state

# exact_average_cost: largest reachable state set it will explore.
MAX_EVAL_STATES = 3_000_000
# exact_average_cost: largest long-run probability of on-hand stock at its clamp.
TRUNCATION_TOL = 1e-10
# ... and the probability above which the policy is declared unstable (ValueError).
UNSTABLE_MASS = 1e-6

OrderFn = Callable[[np.ndarray], np.ndarray]


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
            "optimum or simulate the policy (agents.lost_sales.rollout.rollout)"
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
