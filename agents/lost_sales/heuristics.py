"""Classic replenishment heuristics for ``fulfillgym/LostSales-v0`` and their tuning.

Every heuristic is an :class:`agents.base.OrderPolicy`: it maps a batch of observations
(on-hand stock, then the pipeline oldest first) to integer orders. The inventory
position ``IP`` is the row sum (on-hand is negative under backorders when there is a
backlog). Parameters may be scalars or arrays of shape ``(n,)``, one per batch row:
that is how :func:`tune` evaluates hundreds of candidate parameter values in *one*
batched simulation.

Tuning is by simulation with common random numbers (CRN): batch row ``i * R + r`` is
candidate ``i`` on replication ``r`` (:meth:`agents.evaluation.Scenario.tile`), so every
candidate sees the same demand and the comparison between candidates is paired. The
search is a successive-halving race over a grid derived from the config:

1. *screen*: the whole grid (coarsened if it has more than 700 points) on a few
   replications, as many as a fixed simulation budget allows (at least 8);
2. *refine*: if the grid was coarsened, the unit-step neighbourhood of the best points;
3. *race*: the 16 best candidates on ``n_reps / 4`` replications, then the 6 best of
   those on ``n_reps`` replications; the lowest mean cost wins.

Between stages the best candidates by mean are kept, and so is any other candidate
whose paired cost difference to the leader is not significant (within 4 standard
errors), up to twice as many, so that a candidate that noise made look bad in a short
screen survives. If the winner lies on an edge of the grid that is not a natural
limit, the grid is extended and the search repeated (at most 3 rounds).

Tuning uses the seeds ``seed_base + r`` (``TUNE_SEED_BASE``), disjoint from the
evaluation seeds (``EVAL_SEED_BASE``). The tuned policy records its mean tuning cost per
period in ``tuning_cost`` (slightly optimistic: the winner of a noisy race), its 95%
half-width in ``tuning_ci95`` and search statistics (stages, simulated row-periods,
seconds) in ``tuning``. With the defaults, the tuned base-stock level equals the exact
best level on all 16 classic instances (Poisson(5), h = 1, p in {4, 9, 19, 39},
L in {1..4}), checked against exact Markov-chain costs.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from agents.base import OrderPolicy
from agents.lost_sales.rollout import TUNE_SEED_BASE, Scenario, ci95, rollout
from envs.replenishment.lost_sales.config import LostSalesConfig

# -- helpers ------------------------------------------------------------------------------


def _ip(obs: np.ndarray) -> np.ndarray:
    """Integer inventory positions of a batch of observations."""
    obs = np.asarray(obs, dtype=np.float64)
    return np.rint(obs.reshape(len(obs), -1).sum(axis=1)).astype(np.int64)


def _param(value: Any) -> Any:
    """A parameter as given: an int, or an int64 array (one value per batch row)."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        return int(arr)
    return arr.astype(np.int64)


def _plain(value: Any) -> Any:
    """A parameter for ``params()``: a Python int, or a list for per-row arrays."""
    return int(value) if np.ndim(value) == 0 else np.asarray(value).tolist()


class _Tuned:
    """Attributes every tunable heuristic carries (None until :func:`tune` sets them)."""

    tuning_cost: float | None = None
    tuning_ci95: float | None = None
    tuning: dict[str, Any] | None = None


# -- policies -----------------------------------------------------------------------------


class BaseStock(_Tuned, OrderPolicy):
    """Base-stock (order-up-to) policy: order ``max(level - IP, 0)``.

    Raises the inventory position to ``level`` every period. Optimal with backorders
    and ``K = 0`` at ``level = config.newsvendor_level()`` (the (L+1)-period newsvendor
    quantile; Karlin and Scarf 1958); a standard but, for long lead times, poor
    heuristic with lost sales (Zipkin 2008; Huh et al. 2009 show it is asymptotically
    optimal as p grows).

    Parameters: ``level`` (int, or an array with one level per batch row).

    Tuning: every level from the ``critical_ratio / 10`` quantile of the (L+1)-period
    demand to ``newsvendor_level + 2 + sd/2`` (sd of the (L+1)-period demand) is raced
    by CRN simulation; the grid is extended if the winner sits on one of its edges.
    """

    name = "base_stock"

    def __init__(self, config: LostSalesConfig, level):
        super().__init__(config)
        self.level = _param(level)

    def orders(self, obs: np.ndarray) -> np.ndarray:
        return np.maximum(self.level - _ip(obs), 0)

    def params(self) -> dict[str, Any]:
        return {"level": _plain(self.level)}


class CappedBaseStock(_Tuned, OrderPolicy):
    """Capped base-stock policy: order ``min(max(level - IP, 0), cap)``.

    A base-stock policy whose orders never exceed ``cap``, which smooths orders and
    avoids over-reacting to a run of high demand; near-optimal for lost-sales systems
    across lead times, and asymptotically optimal as the lead time grows (it contains
    the constant-order policy) (Xin 2021, "Understanding the performance of capped
    base-stock policies in lost-sales inventory models", Operations Research).

    Parameters: ``level`` and ``cap`` (ints, or arrays with one value per batch row).

    Tuning: a 2-D grid, ``level`` over the base-stock range with a wider upper margin
    (``+ sd`` instead of ``+ sd/2``: a cap lets the best level exceed the uncapped one)
    and ``cap`` in ``1 .. 99.9% quantile of one period's demand`` plus ``cap = q_max``
    (uncapped, i.e. base stock, so the tuned capped policy is never worse than the tuned
    base-stock one up to noise); raced by CRN simulation, with local refinement if the
    grid had to be coarsened and extension if the winner is on an edge.
    """

    name = "capped_base_stock"

    def __init__(self, config: LostSalesConfig, level, cap):
        super().__init__(config)
        self.level = _param(level)
        self.cap = _param(cap)

    def orders(self, obs: np.ndarray) -> np.ndarray:
        return np.minimum(np.maximum(self.level - _ip(obs), 0), self.cap)

    def params(self) -> dict[str, Any]:
        return {"level": _plain(self.level), "cap": _plain(self.cap)}


class ConstantOrder(_Tuned, OrderPolicy):
    """Constant-order policy: always order ``quantity``, ignoring the state.

    Asymptotically optimal for lost sales as the lead time grows, because the
    pipeline then carries no usable information (Reiman 2004; Goldberg et al. 2016).
    Orders are integers, so with integer mean demand the best stable quantity is
    ``mean - 1``: with lost sales any ``quantity >= mean`` makes on-hand stock a
    random walk with non-negative drift, whose long-run holding cost is infinite.

    Parameters: ``quantity`` (int, or an array with one value per batch row).

    Tuning: lost sales: every stable quantity ``0 .. ceil(mean) - 1`` raced by CRN
    simulation. Backorders: no constant order is stable (the backlog or the stock
    drifts); the quantities ``0 .. ceil(mean) + 1`` are compared over the tuning
    horizon, so the result depends on that horizon.
    """

    name = "constant_order"

    def __init__(self, config: LostSalesConfig, quantity):
        super().__init__(config)
        self.quantity = _param(quantity)

    def orders(self, obs: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.quantity, (len(obs),)).astype(np.int64)

    def params(self) -> dict[str, Any]:
        return {"quantity": _plain(self.quantity)}


class SS(_Tuned, OrderPolicy):
    """(s, S) policy: if ``IP <= s`` order ``S - IP``, else order nothing.

    Convention: ``s`` is the largest inventory position at which an order is placed
    (``IP <= s``, not ``IP < s``), so ``s = S - 1`` is the base-stock policy with
    level ``S``. Optimal with backorders and a fixed ordering cost ``K > 0`` (Scarf
    1960); with ``K = 0`` the base-stock policy is the best (s, S) policy with
    backorders.

    Parameters: ``s`` < ``S`` (ints, or arrays with one value per batch row).

    Tuning: a 2-D grid over ``S`` (the base-stock range, its top raised by the economic
    order quantity ``EOQ = sqrt(2 K mean / h)``) and the gap ``S - s`` in
    ``1 .. EOQ + ceil(mean) + 2`` (``s >= 0`` with lost sales, where ``IP >= 0``); raced
    by CRN simulation, with extension if the winner is on an edge (e.g. a larger gap).
    """

    name = "s_S"

    def __init__(self, config: LostSalesConfig, s, S):
        super().__init__(config)
        self.s = _param(s)
        self.S = _param(S)
        if np.any(np.asarray(self.s) >= np.asarray(self.S)):
            raise ValueError(f"s_S: expected s < S, got s={self.s}, S={self.S}")

    def orders(self, obs: np.ndarray) -> np.ndarray:
        ip = _ip(obs)
        return np.where(ip <= self.s, self.S - ip, 0)

    def params(self) -> dict[str, Any]:
        return {"s": _plain(self.s), "S": _plain(self.S)}


class Myopic(OrderPolicy):
    """Myopic policy: the order minimising the expected cost of the period it first serves.

    An order placed now (period t) first serves demand in period t+L. Let ``Y`` be the
    stock on hand at the start of period t+L *before* this order is added. Its exact
    distribution is obtained by propagating the dynamics through the next L periods:
    ``Y <- (Y - D)^+`` (lost sales) or ``Y <- Y - D`` (backorders), adding the pipeline
    order that arrives after each of the first L-1 periods' demand. So ``Y = x`` for
    ``L = 0`` (the order arrives at once) and ``Y = (x - D_t)^+`` for ``L = 1`` (it
    arrives after this period's demand). The order is then

        q* = argmin_{0 <= q <= q_max}  E[h (Y + q - D)^+ + p' (D - Y - q)^+],

    i.e. the smallest q with ``P(D - Y <= q) >= p' / (p' + h)`` = ``config.critical_ratio``
    (the objective is convex in q). The unit cost c is accounted for in the long-run
    sense, as in the critical ratio: every unit bought is eventually sold (lost sales)
    or fills demand (backorders), so the purchase cost c q equals, on average,
    ``c * (demand - lost units)``: with lost sales a lost unit saves c, hence
    ``p' = p - c``; with backorders ``p' = p`` and c does not matter. The fixed cost K
    is ignored. With backorders the myopic policy is the base-stock policy at
    ``newsvendor_level()`` (optimal for K = 0); with lost sales it is Zipkin's (2008)
    "myopic" policy (Morton 1971), which performs well for moderate lead times.

    Parameters: none. Orders are cached per (integer) state, since states repeat.
    """

    name = "myopic"

    def __init__(self, config: LostSalesConfig):
        super().__init__(config)
        self._cache: dict[tuple[int, ...], int] = {}
        self._demand = config.demand.pmf_array()
        self._ratio = config.critical_ratio
        dim = config.obs_dim
        self._mult = np.random.default_rng(0).integers(1, 2**63, dim, dtype=np.uint64) | 1
        self._keys = np.empty(0, dtype=np.uint64)
        self._rows = np.empty((0, dim), dtype=np.int64)
        self._values = np.empty(0, dtype=np.int64)

    def orders(self, obs: np.ndarray) -> np.ndarray:
        states = np.rint(np.asarray(obs, dtype=np.float64)).astype(np.int64)
        states = states.reshape(len(states), -1)
        # Vectorised cache lookup: a hash of each row, searched in a sorted table; a hit
        # is only accepted if the stored state equals the row (so collisions are safe).
        keys = (states.astype(np.uint64) * self._mult[: states.shape[1]]).sum(axis=1)
        out = np.empty(len(states), dtype=np.int64)
        hit = np.zeros(len(states), dtype=bool)
        if len(self._keys):
            pos = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
            hit = (self._keys[pos] == keys) & (self._rows[pos] == states).all(axis=1)
            out[hit] = self._values[pos[hit]]
        if not hit.all():
            miss = np.flatnonzero(~hit)
            rows, first, inverse = np.unique(
                states[miss], axis=0, return_index=True, return_inverse=True
            )
            values = np.array([self._order_cached(tuple(r)) for r in rows.tolist()], dtype=np.int64)
            out[miss] = values[inverse.reshape(-1)]
            self._remember(keys[miss[first]], rows, values)
        return out

    def _order_cached(self, state: tuple[int, ...]) -> int:
        q = self._cache.get(state)
        if q is None:
            q = self._cache[state] = self.order_for_state(state)
        return q

    def _remember(self, keys: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
        # Misses are new keys unless a hash collides; a colliding key keeps its first state
        # (the other states sharing it are then answered from the dict cache).
        _, first = np.unique(keys, return_index=True)
        new = np.zeros(len(keys), dtype=bool)
        new[first] = True
        if len(self._keys):
            pos = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
            new &= self._keys[pos] != keys
        keys = np.concatenate([self._keys, keys[new]])
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        self._rows = np.concatenate([self._rows, rows[new]])[order]
        self._values = np.concatenate([self._values, values[new]])[order]

    def stock_distribution(self, state: Iterable[int]) -> tuple[int, np.ndarray]:
        """Distribution of Y, the stock at the start of period t+L before the new order.

        Returns ``(lo, pmf)``: ``pmf[k] = P(Y = lo + k)``.
        """
        state = [int(v) for v in state]
        lead = self.config.lead_time
        demand = self._demand
        lo, pmf = state[0], np.ones(1)
        arrivals = state[1:] if lead >= 2 else []
        for k in range(lead):
            # Y - D: values lo - d_max .. lo + len - 1.
            pmf = np.convolve(pmf, demand[::-1])
            lo -= len(demand) - 1
            if not self.config.backorders and lo < 0:
                zero = -lo  # index of value 0
                if zero >= len(pmf):
                    pmf, lo = np.ones(1), 0
                else:
                    pmf = np.concatenate(([pmf[: zero + 1].sum()], pmf[zero + 1 :]))
                    lo = 0
            if k < len(arrivals):
                lo += arrivals[k]
        return lo, pmf

    def order_for_state(self, state: Iterable[int]) -> int:
        """The myopic order for one integer state (on-hand, pipeline oldest first)."""
        lo, pmf_y = self.stock_distribution(state)
        # W = D - Y takes the values -(lo + len(pmf_y) - 1) .. d_max - lo.
        pmf_w = np.convolve(self._demand, pmf_y[::-1])
        w_lo = -(lo + len(pmf_y) - 1)
        cdf = np.cumsum(pmf_w)
        idx = int(np.searchsorted(cdf, self._ratio - 1e-12))
        q = w_lo + min(idx, len(cdf) - 1)
        return int(min(max(q, 0), self.config.q_max))


class RandomPolicy(OrderPolicy):
    """Uniformly random orders on ``0 .. q_max``: the floor any policy should beat.

    Parameters: ``seed`` of the policy's own ``numpy.random.Generator`` (independent of
    the environment's demand stream); the same seed gives the same orders.
    """

    name = "random"

    def __init__(self, config: LostSalesConfig, seed: int = 0):
        super().__init__(config)
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)

    def orders(self, obs: np.ndarray) -> np.ndarray:
        return self.rng.integers(0, self.config.q_max + 1, size=len(obs))

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed}


HEURISTICS: dict[str, tuple[type[OrderPolicy], bool]] = {
    "base_stock": (BaseStock, True),
    "capped_base_stock": (CappedBaseStock, True),
    "constant_order": (ConstantOrder, True),
    "s_S": (SS, True),
    "myopic": (Myopic, False),
    "random": (RandomPolicy, False),
}
"""name -> (policy class, tunable). Untunable ones are built as ``cls(config)``."""


# -- tuning -------------------------------------------------------------------------------

DEFAULT_REPS = 512
DEFAULT_PERIODS = 1000
# Row-periods (batch rows x simulated periods) of the screening stage, and of one
# rollout call (bounds the memory of the tiled demand matrix to ~64 MB).
SCREEN_BUDGET = 6_000_000
CHUNK_BUDGET = 8_000_000
SCREEN_MIN_REPS = 8
MAX_SCREEN_CANDIDATES = 700
RACE_KEEP = (16, 6)  # candidates kept for the n_reps/4 stage, then for the n_reps stage
DROP_Z = 4.0  # drop a candidate only if it is worse than the leader by > DROP_Z std errors


def default_warmup(config: LostSalesConfig) -> int:
    """Periods simulated before measuring: the start-up transient of the initial state."""
    return 100 + 10 * config.lead_time


class _Axis:
    """One parameter's candidate values (sorted) and whether each end may be extended."""

    def __init__(
        self, name: str, values, low_limit: float = -math.inf, high_limit: float = math.inf
    ):
        self.name = name
        self.values = np.unique(np.asarray(values, dtype=np.int64))
        self.low_limit, self.high_limit = low_limit, high_limit

    def extend(self, side: int) -> bool:
        """Add values beyond one end (side -1: low, +1: high); False if at its limit."""
        v = self.values
        width = max(4, (int(v[-1]) - int(v[0])) // 2)
        if side > 0:
            top = int(min(v[-1] + width, self.high_limit))
            if top <= v[-1]:
                return False
            self.values = np.unique(np.concatenate([v, np.arange(v[-1] + 1, top + 1)]))
        else:
            bottom = int(max(v[0] - width, self.low_limit))
            if bottom >= v[0]:
                return False
            self.values = np.unique(np.concatenate([np.arange(bottom, v[0]), v]))
        return True


def _stages(n_reps: int) -> list[int]:
    return [max(SCREEN_MIN_REPS, n_reps // 4), n_reps]


def _race(
    config: LostSalesConfig,
    cls: type[OrderPolicy],
    axes: list[_Axis],
    valid: Callable[[dict[str, np.ndarray]], np.ndarray] | None,
    scenario: Scenario,
    warmup: int,
    n_reps: int,
    to_kwargs: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Successive-halving search over the grid of ``axes`` (see the module docstring).

    ``valid`` filters grid points (arrays of axis values -> bool mask); ``to_kwargs``
    maps axis values to the policy's keyword arguments (default: the same names).
    """
    to_kwargs = to_kwargs or (lambda params: params)
    q_max = config.q_max
    horizon = scenario.demand.shape[1]
    evaluated = 0

    def points(index_sets: list[np.ndarray]) -> np.ndarray:
        grid = np.array(list(itertools.product(*index_sets)), dtype=np.int64)
        grid = grid.reshape(-1, len(axes))
        if valid is not None and len(grid):
            grid = grid[valid(as_params(grid))]
        return grid

    def as_params(idx: np.ndarray) -> dict[str, np.ndarray]:
        return {a.name: a.values[idx[:, j]] for j, a in enumerate(axes)}

    def evaluate(idx: np.ndarray, reps: int) -> np.ndarray:
        """Per-replication mean cost per period, shape (len(idx), reps)."""
        nonlocal evaluated
        evaluated += len(idx) * reps * horizon
        sub = Scenario(
            scenario.on_hand[:reps],
            scenario.pipeline[:reps],
            scenario.demand[:reps],
            scenario.seeds[:reps],
        )
        params = as_params(idx)
        out = np.empty((len(idx), reps))
        per_chunk = max(1, CHUNK_BUDGET // (reps * horizon))
        for start in range(0, len(idx), per_chunk):
            stop = min(start + per_chunk, len(idx))
            k = stop - start
            chunk = {n: np.repeat(v[start:stop], reps) for n, v in params.items()}
            policy = cls(config, **to_kwargs(chunk))

            def order_fn(obs, policy=policy):
                return np.clip(policy.orders(obs), 0, q_max)

            res = rollout(config, policy, sub.tile(k), warmup, order_fn=order_fn)
            out[start:stop] = res.mean_cost.reshape(k, reps)
        return out

    def survivors(costs: np.ndarray, keep: int) -> np.ndarray:
        """Positions of the candidates kept: the ``keep`` best by mean cost, and any
        other whose paired difference to the leader is not significant (at most 2 keep)."""
        means = costs.mean(axis=1)
        order = np.argsort(means, kind="stable")
        diff = costs - costs[order[0]]
        reps = costs.shape[1]
        se = diff.std(axis=1, ddof=1) / math.sqrt(reps) if reps > 1 else np.zeros(len(costs))
        close = diff.mean(axis=1) <= DROP_Z * se + 1e-12
        chosen = [i for rank, i in enumerate(order) if rank < keep or close[i]]
        return np.array(chosen[: 2 * keep], dtype=np.int64)

    def screen_reps(n_candidates: int) -> int:
        top = max(SCREEN_MIN_REPS, n_reps // 4)
        return int(np.clip(SCREEN_BUDGET // (n_candidates * horizon), SCREEN_MIN_REPS, top))

    # Stage 1: screen the (possibly coarsened) grid.
    sizes = [len(a.values) for a in axes]
    step = 1
    while (
        step < max(sizes)
        and len(points([np.arange(0, n, step) for n in sizes])) > MAX_SCREEN_CANDIDATES
    ):
        step += 1
    idx = points([np.unique(np.append(np.arange(0, n, step), n - 1)) for n in sizes])
    reps = screen_reps(len(idx))
    costs = evaluate(idx, reps)
    stages = [(len(idx), reps)]
    if step > 1:
        # Stage 1b: the unit-step neighbourhood of the best coarse points.
        near = set()
        for row in idx[survivors(costs, RACE_KEEP[0] // 2)]:
            ranges = [
                np.arange(max(0, i - step + 1), min(n, i + step))
                for i, n in zip(row, sizes, strict=True)
            ]
            near.update(map(tuple, points(ranges).tolist()))
        idx = np.array(sorted(near), dtype=np.int64).reshape(-1, len(axes))
        reps = screen_reps(len(idx))
        costs = evaluate(idx, reps)
        stages.append((len(idx), reps))
    # Stages 2, 3: race the best on more replications.
    for keep, reps in zip(RACE_KEEP, _stages(n_reps), strict=True):
        pos = survivors(costs, keep)
        idx, costs = idx[pos], costs[pos]
        if reps > costs.shape[1]:
            costs = evaluate(idx, reps)
            stages.append((len(idx), reps))
    means = costs.mean(axis=1)
    win = int(np.argmin(means))
    best_idx = idx[win]
    edges = [(j, -1) for j, i in enumerate(best_idx) if i == 0] + [
        (j, +1) for j, i in enumerate(best_idx) if i == sizes[j] - 1
    ]
    return {
        "params": to_kwargs({a.name: int(a.values[best_idx[j]]) for j, a in enumerate(axes)}),
        "cost": float(means[win]),
        "ci95": ci95(costs[win]),
        "edges": edges,
        "stages": stages,
        "row_periods": evaluated,
    }


def _search(
    name: str,
    config: LostSalesConfig,
    axes: list[_Axis],
    valid=None,
    to_kwargs=None,
    *,
    n_reps: int | None,
    periods: int | None,
    warmup: int | None,
    seed_base: int,
) -> OrderPolicy:
    cls = HEURISTICS[name][0]
    n_reps = DEFAULT_REPS if n_reps is None else int(n_reps)
    periods = DEFAULT_PERIODS if periods is None else int(periods)
    warmup = default_warmup(config) if warmup is None else int(warmup)
    if n_reps < 2 or periods < 1 or warmup < 0:
        raise ValueError(
            f"tune: expected n_reps >= 2, periods >= 1, warmup >= 0, got {n_reps}, {periods}, {warmup}"
        )
    start = time.perf_counter()
    scenario = Scenario.from_seeds(config, seed_base + np.arange(n_reps), periods + warmup)
    rounds = 0
    while True:
        rounds += 1
        result = _race(config, cls, axes, valid, scenario, warmup, n_reps, to_kwargs)
        extended = [axes[j].extend(side) for j, side in result["edges"]]
        if not any(extended) or rounds >= 3:
            break
    policy = cls(config, **result["params"])
    policy.tuning_cost = result["cost"]
    policy.tuning_ci95 = result["ci95"]
    policy.tuning = {
        "seconds": time.perf_counter() - start,
        "rounds": rounds,
        "stages": result["stages"],
        "row_periods": result["row_periods"],
        "n_reps": n_reps,
        "periods": periods,
        "warmup": warmup,
        "seed_base": seed_base,
        "grid": {a.name: (int(a.values[0]), int(a.values[-1])) for a in axes},
    }
    return policy


def _level_range(config: LostSalesConfig, extra_sd: float = 0.5) -> tuple[int, int]:
    """Candidate base-stock levels: from a low quantile of the (L+1)-period demand (the
    search extends below it if the winner is there) to ``newsvendor_level`` + a margin."""
    periods = config.lead_time + 1
    low = config.demand.sum_quantile(periods, config.critical_ratio / 10)
    sd = math.sqrt(periods * _demand_variance(config))
    high = config.newsvendor_level() + 2 + math.ceil(extra_sd * sd)
    return low, high


def _demand_variance(config: LostSalesConfig) -> float:
    pmf = config.demand.pmf_array()
    values = np.arange(len(pmf))
    mean = float(values @ pmf)
    return float((values - mean) ** 2 @ pmf)


def _eoq(config: LostSalesConfig) -> int:
    """Economic order quantity sqrt(2 K mean / h) (0 without a fixed cost)."""
    if config.fixed_order_cost <= 0:
        return 0
    h = config.holding_cost if config.holding_cost > 0 else 1.0
    return math.ceil(math.sqrt(2 * config.fixed_order_cost * config.demand.mean / h))


def _level_low_limit(config: LostSalesConfig) -> float:
    # With lost sales IP >= 0, so levels below 0 never order: 0 is a natural limit.
    return -math.inf if config.backorders else 0


def tune_base_stock(config: LostSalesConfig, **kwargs) -> BaseStock:
    """Tune the base-stock level (see :class:`BaseStock`); kwargs as :func:`tune`."""
    low, high = _level_range(config)
    axes = [_Axis("level", np.arange(low, high + 1), low_limit=_level_low_limit(config))]
    return _search("base_stock", config, axes, None, **_opts(kwargs))


def tune_capped_base_stock(config: LostSalesConfig, **kwargs) -> CappedBaseStock:
    """Tune level and cap (see :class:`CappedBaseStock`); kwargs as :func:`tune`."""
    low, high = _level_range(config, extra_sd=1.0)
    q_max = config.q_max
    cap_high = min(
        max(config.demand.sum_quantile(1, 0.999), math.ceil(config.demand.mean) + 1), q_max
    )
    caps = np.append(np.arange(1, cap_high + 1), q_max)
    axes = [
        _Axis("level", np.arange(low, high + 1), low_limit=_level_low_limit(config)),
        _Axis("cap", caps, low_limit=1, high_limit=q_max),
    ]
    return _search("capped_base_stock", config, axes, None, **_opts(kwargs))


def tune_constant_order(config: LostSalesConfig, **kwargs) -> ConstantOrder:
    """Tune the constant order (see :class:`ConstantOrder`); kwargs as :func:`tune`."""
    mean = config.demand.mean
    if config.backorders:
        high, limit = math.ceil(mean) + 1, config.q_max
    else:
        high = limit = math.ceil(mean) - 1  # the largest quantity < mean (stable)
    high = min(high, config.q_max)
    axes = [_Axis("quantity", np.arange(0, high + 1), low_limit=0, high_limit=limit)]
    return _search("constant_order", config, axes, None, **_opts(kwargs))


def tune_s_S(config: LostSalesConfig, **kwargs) -> SS:
    """Tune s < S (see :class:`SS`); kwargs as :func:`tune`."""
    low, high = _level_range(config)
    eoq = _eoq(config)
    limit = _level_low_limit(config)
    axes = [
        _Axis("S", np.arange(low + 1, high + eoq + 1), low_limit=limit + 1),
        _Axis("gap", np.arange(1, eoq + math.ceil(config.demand.mean) + 3), low_limit=1),
    ]

    def valid(p: dict[str, np.ndarray]) -> np.ndarray:
        return p["S"] - p["gap"] >= limit

    def to_kwargs(p: dict[str, Any]) -> dict[str, Any]:
        return {"s": p["S"] - p["gap"], "S": p["S"]}

    return _search("s_S", config, axes, valid, to_kwargs, **_opts(kwargs))


def _opts(kwargs: dict[str, Any]) -> dict[str, Any]:
    allowed = {"n_reps", "periods", "warmup", "seed_base"}
    unknown = set(kwargs) - allowed
    if unknown:
        raise TypeError(f"tune: unexpected keyword arguments {sorted(unknown)}")
    out = {"n_reps": None, "periods": None, "warmup": None, "seed_base": TUNE_SEED_BASE}
    out.update(kwargs)
    return out


TUNERS: dict[str, Callable[..., OrderPolicy]] = {
    "base_stock": tune_base_stock,
    "capped_base_stock": tune_capped_base_stock,
    "constant_order": tune_constant_order,
    "s_S": tune_s_S,
}


def tune(
    name: str,
    config: LostSalesConfig,
    *,
    n_reps: int | None = None,
    periods: int | None = None,
    warmup: int | None = None,
    seed_base: int = TUNE_SEED_BASE,
) -> OrderPolicy:
    """Tune the heuristic ``name`` for ``config`` by CRN simulation; return the policy.

    Args:
        name: a tunable key of :data:`HEURISTICS`.
        n_reps: replications of the final race stage (default 512); the screening stage
            uses fewer, sized to a fixed simulation budget.
        periods: measured periods per replication (default 1000).
        warmup: periods simulated before measuring (default ``100 + 10 L``).
        seed_base: replication r uses seed ``seed_base + r`` (default ``TUNE_SEED_BASE``,
            disjoint from the evaluation seeds).
    """
    if name not in HEURISTICS:
        raise ValueError(
            f"tune: unknown heuristic {name!r}; expected one of {', '.join(HEURISTICS)}"
        )
    if name not in TUNERS:
        raise ValueError(
            f"tune: {name!r} has no parameters to tune; build it as HEURISTICS[{name!r}][0](config)"
        )
    return TUNERS[name](config, n_reps=n_reps, periods=periods, warmup=warmup, seed_base=seed_base)


def tune_all(
    config: LostSalesConfig, names: Iterable[str] | None = None, **kwargs
) -> dict[str, OrderPolicy]:
    """Ready policies for ``names`` (default: all of :data:`HEURISTICS`): tunable ones
    tuned with :func:`tune` (``kwargs`` passed on), the others built as ``cls(config)``."""
    out: dict[str, OrderPolicy] = {}
    for name in HEURISTICS if names is None else names:
        if name not in HEURISTICS:
            raise ValueError(
                f"tune_all: unknown heuristic {name!r}; expected one of {', '.join(HEURISTICS)}"
            )
        cls, tunable = HEURISTICS[name]
        out[name] = tune(name, config, **kwargs) if tunable else cls(config)
    return out
