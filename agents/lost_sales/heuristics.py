"""Classic replenishment heuristics for ``fulfillgym/LostSales-v0``.

Every heuristic is an :class:`agents.lost_sales.policies.OrderPolicy`: it maps a batch of
observations (on-hand stock, then the pipeline oldest first) to integer orders. The
inventory position ``IP`` is the row sum (on-hand is negative under backorders when there
is a backlog). Parameters may be scalars or arrays of shape ``(n,)``, one per batch row:
that is how tuning (``agents.lost_sales.tuning``) evaluates hundreds of candidate
parameter values in *one* batched simulation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from agents.lost_sales.policies import OrderPolicy
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
