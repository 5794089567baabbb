"""The batched single-SKU simulator of ``LostSales-v0`` and its action/initial-state rules.

:class:`BatchSimulator` advances many independent copies of the single-SKU system with
:func:`envs.replenishment.dynamics.period` (the one implementation of the dynamics, shared
with the Gymnasium env's scalar path and with the fulfilment centre).
"""

from __future__ import annotations

import numpy as np

from envs.replenishment.dynamics import period
from envs.replenishment.lost_sales.config import LostSalesConfig


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
