"""The result of :func:`~agents.lost_sales.optimal.solver.solve`: an optimal stationary
policy, its average cost, and the lookup that turns observations into orders."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agents.lost_sales.optimal.chain import _encode


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
