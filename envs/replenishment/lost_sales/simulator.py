"""The batched single-SKU simulator of ``LostSales-v0`` and its action/initial-state rules.

:class:`BatchSimulator` advances many independent copies of the single-SKU system with
:func:`envs.replenishment.dynamics.period` (the one implementation of the dynamics, shared
with the Gymnasium env's scalar path and with the fulfilment centre).

With an active stress scenario (``config.scenario``, ``envs.core.scenario``) the batch
carries one :class:`~envs.core.scenario.ScenarioClock` per row (``stress``): orders are
passed through :meth:`ScenarioClock.accept` (supplier disruption, capacity cut) and, in a
lead-time shock, the pipeline is kept by arrival period with ``size`` extra slots
(:func:`observe_pipeline` folds the slots beyond the observed ones into the last one).
Demand surges are applied to the demand draws before they reach the simulator.
"""

from __future__ import annotations

import numpy as np

from envs.core.scenario import ScenarioBatch
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

    def __init__(self, config: LostSalesConfig, on_hand: np.ndarray, pipeline: np.ndarray,
                 stress: ScenarioBatch | None = None):
        self.config = config
        self.on_hand = np.asarray(on_hand, dtype=np.int64).copy()
        self.pipeline = np.asarray(pipeline, dtype=np.int64).reshape(len(self.on_hand), -1).copy()
        if self.pipeline.shape[1] != max(config.lead_time - 1, 0):
            raise ValueError(f"pipeline must have L-1 = {max(config.lead_time - 1, 0)} columns")
        self.stress = stress if config.scenario.active else None
        if self.stress is not None and len(self.stress) != len(self.on_hand):
            raise ValueError(f"stress must have one clock per row ({len(self.on_hand)}), got {len(self.stress)}")
        self.extra_slots = config.scenario.max_extra_lead_time
        if self.extra_slots:  # arrival-indexed pipeline: slot j arrives at the end of period t + j
            self.pipeline = np.concatenate([self.pipeline, np.zeros((len(self.on_hand), self.extra_slots),
                                                                    dtype=np.int64)], axis=1)
        self.t = 0

    def observation(self) -> np.ndarray:
        """Observations in the env's format: (batch, max(L, 1)) float32."""
        pipe = observe_pipeline(self.pipeline, self.config.lead_time) if self.extra_slots else self.pipeline
        return np.concatenate([self.on_hand[:, None], pipe], axis=1).astype(np.float32)

    @property
    def inventory_position(self) -> np.ndarray:
        return self.on_hand + self.pipeline.sum(axis=1)

    def step(self, order: np.ndarray, demand: np.ndarray) -> dict[str, np.ndarray]:
        """Advance one period; ``order`` and ``demand`` are int arrays of shape (batch,)."""
        cfg = self.config
        order = np.asarray(order, dtype=np.int64)
        placed = order
        if self.stress is not None:
            order = self.stress.accept(self.t, order, cfg.q_max)
        lead = cfg.lead_time
        if self.extra_slots:
            before, after = self._shocked_pipeline(order, self.stress.extra_lead_time(self.t))
        elif lead == 0:
            before, after = order, 0
        elif lead == 1:
            before, after = 0, order
        else:
            before, after = 0, self.pipeline[:, 0].copy()
            self.pipeline[:, :-1] = self.pipeline[:, 1:]
            self.pipeline[:, -1] = order
        self.on_hand, filled, short, left = period(self.on_hand, before, after, demand, cfg.backorders)
        self.t += 1
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
            "order": placed,
            "accepted": order,
        }

    def _shocked_pipeline(self, order: np.ndarray, extra: np.ndarray):
        """Lead-time shock: add each row's order to the slot of its arrival (lead L + extra), then
        take the slot arriving this period and shift. Returns ``(before_demand, after_demand)``."""
        lead = self.config.lead_time + extra  # (batch,) effective lead times
        rows = np.arange(len(order))
        before = np.where(lead == 0, order, 0)
        width = self.pipeline.shape[1]
        arrive = np.concatenate([self.pipeline, np.zeros((len(order), 1), dtype=np.int64)], axis=1)
        late = lead >= 1
        # slot j (0 = arrives at the end of this period) = lead - 1
        np.add.at(arrive, (rows[late], lead[late] - 1), order[late])
        after = arrive[:, 0].copy()
        self.pipeline = arrive[:, 1:width + 1].copy()
        return before, after


def observe_pipeline(pipeline: np.ndarray, lead_time: int) -> np.ndarray:
    """The observed pipeline of an arrival-indexed pipeline (rows, W): the first L-1 slots, the
    last of them also holding every unit due later (so the observation's sum stays the inventory
    position); no column when L <= 1 (the observation has no pipeline slot)."""
    slots = max(lead_time - 1, 0)
    if slots == 0:
        return pipeline[:, :0]
    out = pipeline[:, :slots].copy()
    out[:, -1] += pipeline[:, slots:].sum(axis=1)
    return out


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
