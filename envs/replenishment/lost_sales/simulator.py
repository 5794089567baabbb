"""The batched single-SKU simulator of ``LostSales-v0`` and its action/initial-state rules.

:func:`advance` is the one implementation of a ``LostSales-v0`` period (orders accepted,
pipeline shifted or lead-time shocked, :func:`envs.replenishment.dynamics.period`, costs), on
Python ints for one copy (the Gymnasium env's step) and on int arrays for a batch:
:class:`BatchSimulator` advances many independent copies of the single-SKU system with it.

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
        order = np.asarray(order, dtype=np.int64)
        self.on_hand, self.pipeline, out = advance(self.config, self.on_hand, self.pipeline, order, demand,
                                                   self.t, self.stress)
        self.t += 1
        filled, short, left, accepted, holding, shortage, ordering, cost = out
        return {
            "cost": cost,
            "holding_cost": holding,
            "shortage_cost": shortage,
            "ordering_cost": ordering,
            "filled": filled,
            "short": short,
            "left": left,
            "order": order,
            "accepted": accepted,
        }


def advance(config: LostSalesConfig, on_hand, pipeline, order, demand, t: int, stress):
    """One period of ``LostSales-v0`` (the env docstring's timing of events), written once for
    one copy and for a batch: Python ints, ``pipeline`` a list (oldest order first) and ``stress``
    a :class:`ScenarioClock` (the Gymnasium env), or int64 arrays (batch,), ``pipeline``
    (batch, W) and a :class:`ScenarioBatch` (:class:`BatchSimulator`); ``stress`` None without
    an active scenario. With a lead-time shock the pipeline is kept by arrival period.

    Returns ``(on_hand, pipeline, (filled, short, left, accepted, holding, shortage, ordering,
    cost))``: the next state (a list pipeline is updated in place, an array one in place or
    replaced) and the period's outcome; ``accepted`` is the part of ``order`` the supplier took.
    """
    if stress is not None:
        order = stress.accept(t, order, config.q_max)
    lead = config.lead_time
    if config.scenario.max_extra_lead_time:
        before, after, pipeline = _shocked(pipeline, order, lead + stress.extra_lead_time(t))
    elif lead == 0:
        before, after = order, 0
    elif lead == 1:
        before, after = 0, order
    elif isinstance(pipeline, list):  # one copy: the fast path of Python ints
        before, after = 0, pipeline.pop(0)
        pipeline.append(order)
    else:
        before, after = 0, pipeline[:, 0].copy()
        pipeline[:, :-1] = pipeline[:, 1:]
        pipeline[:, -1] = order
    on_hand, filled, short, left = period(on_hand, before, after, demand, config.backorders)
    holding = config.holding_cost * left
    shortage = config.penalty * short
    ordering = config.fixed_order_cost * (order > 0) + config.unit_cost * order
    return on_hand, pipeline, (filled, short, left, order, holding, shortage, ordering, holding + shortage + ordering)


def _shocked(pipeline, order, lead):
    """Lead-time shock: add each order to the slot of its arrival (lead ``L + extra``; slot j
    arrives at the end of period t + j), then take the slot arriving this period and shift.
    Returns ``(before_demand, after_demand, pipeline)``."""
    if isinstance(pipeline, list):  # one copy: the fast path of Python ints
        arrive = [*pipeline, 0]
        if lead:
            arrive[lead - 1] += order
        return (0 if lead else order), arrive[0], arrive[1:]
    rows = np.arange(len(order))
    before = np.where(lead == 0, order, 0)
    width = pipeline.shape[1]
    arrive = np.concatenate([pipeline, np.zeros((len(order), 1), dtype=np.int64)], axis=1)
    late = lead >= 1
    np.add.at(arrive, (rows[late], lead[late] - 1), order[late])
    return before, arrive[:, 0].copy(), arrive[:, 1:width + 1].copy()


def observe_pipeline(pipeline, lead_time: int):
    """The observed pipeline of an arrival-indexed pipeline (rows, W), or of one copy's (a list):
    the first L-1 slots, the last of them also holding every unit due later (so the
    observation's sum stays the inventory position); none when L <= 1 (the observation has no
    pipeline slot)."""
    slots = max(lead_time - 1, 0)
    if isinstance(pipeline, list):  # one copy: the fast path of Python ints
        seen = pipeline[:slots]
        if slots:
            seen[-1] += sum(pipeline[slots:])
        return seen
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
