"""The single-SKU inventory simulator: one period's dynamics, written once.

:func:`period` is the only implementation of the dynamics. It is elementwise and
uses only arithmetic and comparisons, so the same code runs on Python ints (the
Gymnasium env's fast scalar path) and on NumPy integer arrays (:class:`BatchSimulator`,
which runs many replications or many candidate policies side by side for
evaluation and tuning). A test checks the two paths give identical trajectories.

Timing of events in period t (Zipkin 2008; Xin 2021):

1. the order q_t is placed (ordering cost K * [q_t > 0] + c * q_t);
   with L = 0 it arrives at once;
2. demand D_t is served from on-hand stock;
3. holding cost h is charged on stock left after demand, and the shortage cost p on
   each unit of demand not met (lost sales) or on each backordered unit (backorders);
4. the order placed at the start of period t-L+1 arrives (L >= 1).
"""

from __future__ import annotations

import numpy as np

from envs.replenishment.config import LostSalesConfig


def period(on_hand, before_demand, after_demand, demand, backorders: bool):
    """One period's inventory dynamics, elementwise on ints or integer arrays.

    Args:
        on_hand: stock at the start of the period (net inventory, < 0 = backlog).
        before_demand: units arriving before demand (the new order when L = 0).
        after_demand: units arriving after demand (the order placed L-1 periods ago).
        demand: this period's demand.
        backorders: whether unmet demand is backordered instead of lost.

    Returns:
        ``(next_on_hand, filled, short, left)``: stock at the start of the next period,
        demand met from stock this period, shortage units charged ``p`` (lost units, or
        the backlog after demand), and stock left after demand (charged ``h``).
    """
    # builtins on Python ints (the scalar env's fast path), ufuncs on arrays
    if isinstance(on_hand, np.ndarray):
        positive, smaller = np.maximum, np.minimum
    else:
        positive, smaller = max, min
    stock = on_hand + before_demand
    net = stock - demand
    left = positive(net, 0)
    filled = smaller(positive(stock, 0), demand)
    if backorders:
        return net + after_demand, filled, left - net, left
    return left + after_demand, filled, demand - filled, left


def order_from_action(action, config: LostSalesConfig):
    """Map env actions to order quantities (vectorised; see the env docstring)."""
    if config.action_type == "discrete":
        return np.asarray(action, dtype=np.int64)
    a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    return np.rint((a + 1.0) * 0.5 * config.q_max).astype(np.int64)


class BatchSimulator:
    """``batch`` independent copies of the system, advanced together.

    State: ``on_hand`` (batch,) and ``pipeline`` (batch, L-1), oldest order first.
    Used for evaluation with common random numbers (all policies see the same demand
    matrix) and for tuning heuristics (a batch = candidates x replications).
    """

    def __init__(self, config: LostSalesConfig, on_hand: np.ndarray, pipeline: np.ndarray):
        self.config = config
        self.on_hand = np.asarray(on_hand, dtype=np.int64).copy()
        self.pipeline = np.asarray(pipeline, dtype=np.int64).reshape(len(self.on_hand), -1).copy()
        if self.pipeline.shape[1] != max(config.lead_time - 1, 0):
            raise ValueError(f"pipeline must have L-1 = {max(config.lead_time - 1, 0)} columns")

    def observation(self) -> np.ndarray:
        """Observations in the env's format: (batch, max(L, 1)) float32."""
        return np.concatenate([self.on_hand[:, None], self.pipeline], axis=1).astype(np.float32)

    @property
    def inventory_position(self) -> np.ndarray:
        return self.on_hand + self.pipeline.sum(axis=1)

    def step(self, order: np.ndarray, demand: np.ndarray) -> dict[str, np.ndarray]:
        """Advance one period; ``order`` and ``demand`` are int arrays of shape (batch,)."""
        cfg = self.config
        order = np.asarray(order, dtype=np.int64)
        lead = cfg.lead_time
        if lead == 0:
            before, after = order, 0
        elif lead == 1:
            before, after = 0, order
        else:
            before, after = 0, self.pipeline[:, 0].copy()
            self.pipeline[:, :-1] = self.pipeline[:, 1:]
            self.pipeline[:, -1] = order
        self.on_hand, filled, short, left = period(self.on_hand, before, after, demand, cfg.backorders)
        holding = cfg.holding_cost * left
        shortage = cfg.penalty * short
        ordering = cfg.fixed_order_cost * (order > 0) + cfg.unit_cost * order
        return {
            "cost": holding + shortage + ordering,
            "holding_cost": holding,
            "shortage_cost": shortage,
            "ordering_cost": ordering,
            "filled": filled,
            "short": short,
            "left": left,
            "order": order,
        }


def initial_state(config: LostSalesConfig, rng: np.random.Generator | None) -> tuple[int, list[int]]:
    """The starting on-hand stock and pipeline (oldest first) for ``config.initial_state``."""
    slots = max(config.lead_time - 1, 0)
    if config.initial_state == "zero":
        return 0, [0] * slots
    if config.initial_state == "mean":
        level = int(round(config.demand.mean))
        return level, [level] * slots
    draws = rng.integers(0, config.q_max + 1, size=slots + 1)
    return int(draws[0]), [int(x) for x in draws[1:]]
