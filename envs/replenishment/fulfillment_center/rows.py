"""Rows of (centre, SKU) stepped together: the batched fulfilment-centre simulator behind
Deep Controlled Learning's rollouts (``agents.fulfillment_center.dcl``).

:class:`FulfillmentSimulator` steps one centre of N SKUs. :class:`SkuRows` steps m rows at
once, each row one SKU of some copy of the centre in some state (many copies of many sampled
states, or one SKU in many states), with the simulator's dynamics: the same timing of events,
:func:`~envs.replenishment.dynamics.period` for demand, the simulator's order rule
(:func:`~envs.replenishment.fulfillment_center.simulator.action_orders`) and feature writer
(:func:`~envs.replenishment.fulfillment_center.features.write_features`). Tests check that a
batch of whole centres gives the simulator's trajectories exactly.

What couples the rows is the shared storage capacity, and the caller says how: ``step`` takes
a function that returns the units each row refuses at receipt, given the rows' receipts and
their stock left after demand. :func:`grouped_refusals` is the simulator's pro-rata rule for
rows grouped by centre (each group of N consecutive rows one centre, SKUs in catalogue
order); DCL's per-SKU rollouts charge one SKU against the others' receipts and stock held as
they were in a base rollout.

Supported: lost sales, fixed lead times, no stress scenario (what DCL trains on); the
caller checks. Rows carry their own calendar day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from envs.replenishment.dynamics import period
from envs.replenishment.fulfillment_center.config import Problem
from envs.replenishment.fulfillment_center.features import (
    GLOBAL_FEATURES,
    SKU_FEATURES,
    calendar_angles,
    static_features,
    write_features,
)
from envs.replenishment.fulfillment_center.simulator import (
    CentreState,
    FulfillmentSimulator,
    action_orders,
)

Refusals = Callable[[np.ndarray, np.ndarray], "np.ndarray | None"]
"""(receipts due, stock left after demand) of every row -> units refused per row (or None)."""


@dataclass
class RowPeriod:
    """Per-row quantities of one period (int64, or float64 for ``cost``). ``cost``: the row's
    own cost (holding, shortage, ordering, purchase, minus revenue), without the overflow
    cost and refunds, which depend on how the caller couples the rows."""

    order: np.ndarray
    demand: np.ndarray
    filled: np.ndarray
    short: np.ndarray
    left: np.ndarray
    need: np.ndarray
    rejected: np.ndarray | None
    cost: np.ndarray


class SkuRows:
    """m (centre, SKU) rows of ``problem`` (module docstring). ``sku`` (m,): each row's SKU
    index; ``on_hand``, ``forecast``, ``last_demand``, ``day`` (m,); ``pipe`` (W, m): units due
    at the end of periods t, t+1, ..., t+W-1 (arrival order; W = the simulator's ring width)."""

    def __init__(self, problem: Problem, sku, on_hand, pipe, forecast, last_demand, day):
        cfg = problem.config
        if cfg.backorders or cfg.lead_time_jitter or cfg.scenario.active:
            raise ValueError("SkuRows: lost sales, fixed lead times and no scenario only")
        self.problem, self.config = problem, cfg
        self.sku = np.asarray(sku, dtype=np.int64)
        self.m = m = len(self.sku)
        self.pipe = np.array(pipe, dtype=np.int64, order="C").reshape(-1, m)  # C order: step writes through a flat view
        self.width = len(self.pipe)
        self.head = 0
        self.on_hand = np.array(on_hand, dtype=np.int64)
        self.pipe_total = self.pipe.sum(axis=0)
        self.forecast = np.array(forecast, dtype=np.float64)
        self.last_demand = np.array(last_demand, dtype=np.int64)
        self.day = np.array(day, dtype=np.int64)
        s = self.sku
        self._ar = np.arange(m)
        self._lead = problem.lead_time[s]
        self._mean = problem.mean_demand[s]
        self._horizon = (self._lead + 1).astype(np.float64)
        self.volume = problem.volume[s]
        self._static = static_features(problem)[:, s]
        self._inv = 1.0 / self._mean
        self._inv32 = self._inv.astype(np.float32)
        self._holding, self._penalty = problem.holding[s], problem.penalty[s]
        self._unit_cost = problem.unit_cost[s] if cfg.purchase_cost else None
        self._price = problem.price[s] if cfg.revenue else None
        self._multiples = np.asarray(cfg.order_multiples, dtype=np.float64)
        self._levels = np.asarray(cfg.level_multiples, dtype=np.float64)

    @classmethod
    def from_states(cls, problem: Problem, states: list[CentreState]) -> SkuRows:
        """Every SKU of each centre state (``FulfillmentSimulator.snapshot``), state by state
        (N rows each)."""
        n = problem.n
        return cls(problem, np.tile(np.arange(n), len(states)),
                   np.concatenate([s.on_hand for s in states]),
                   np.concatenate([s.pipeline for s in states], axis=1),
                   np.concatenate([s.forecast for s in states]),
                   np.concatenate([s.last_demand for s in states]),
                   np.concatenate([np.full(n, s.day) for s in states]))

    @classmethod
    def from_simulators(cls, sims: list[FulfillmentSimulator]) -> SkuRows:
        """Every SKU of each simulator's current state, centre by centre."""
        return cls.from_states(sims[0].problem, [s.snapshot() for s in sims])

    def take(self, index: np.ndarray) -> SkuRows:
        """A new batch of the rows ``index`` (repeats allowed), in their current state."""
        pipe = np.concatenate([self.pipe[self.head:], self.pipe[: self.head]])[:, index]
        return SkuRows(self.problem, self.sku[index], self.on_hand[index], pipe, self.forecast[index],
                       self.last_demand[index], self.day[index])

    # -- policy side ---------------------------------------------------------------------
    @property
    def position(self) -> np.ndarray:
        return self.on_hand + self.pipe_total

    def orders(self, action: np.ndarray) -> np.ndarray:
        """Orders (m,) of per-row actions of the config's action type."""
        return action_orders(self.config, action, self.forecast, self.position, self._mean, self._horizon,
                             self._multiples, self._levels)

    def observations(self, utilisation: np.ndarray) -> np.ndarray:
        """(m, F + G) float32: each row's per-agent observation (the PettingZoo env's), with the
        shared ``utilisation`` (m,) of its centre given by the caller."""
        f = len(SKU_FEATURES) + self.config.pipeline_slots
        out = np.empty((f + len(GLOBAL_FEATURES), self.m), dtype=np.float32)
        write_features(out[:f], self.on_hand, self.pipe_total, self.forecast, self.last_demand, self._static,
                       (self.pipe[self.head:], self.pipe[: self.head]), self._inv, self._inv32)
        dow, doy = calendar_angles(self.day)
        out[f] = utilisation
        out[f + 1], out[f + 2], out[f + 3], out[f + 4] = np.sin(dow), np.cos(dow), np.sin(doy), np.cos(doy)
        return np.ascontiguousarray(out.T)

    def stock_volume(self) -> np.ndarray:
        """(m,) volume of each row's stock on hand."""
        return self.volume * self.on_hand

    # -- dynamics ------------------------------------------------------------------------
    def step(self, q: np.ndarray, d: np.ndarray, refusals: Refusals | None) -> RowPeriod:
        """One period with orders ``q`` and demands ``d`` (m,); ``refusals`` (None: unlimited
        capacity) gives the units refused at receipt (module docstring)."""
        q = np.asarray(q, dtype=np.int64)
        width, head = self.width, self.head
        self.pipe.reshape(-1)[((head + self._lead - 1) % width) * self.m + self._ar] += q
        self.pipe_total += q
        _, filled, short, left = period(self.on_hand, 0, 0, d, False)
        need = self.pipe[head].copy()
        self.pipe[head] = 0
        self.head = head + 1 if head + 1 < width else 0
        self.pipe_total -= need
        rejected = refusals(need, left) if refusals is not None else None
        self.on_hand = left + (need if rejected is None else need - rejected)
        self.forecast += self.config.forecast_alpha * (d - self.forecast)
        self.last_demand = np.asarray(d, dtype=np.int64)
        self.day = self.day + 1
        cost = self._holding * left + self._penalty * short
        if self.config.fixed_order_cost:
            cost = cost + self.config.fixed_order_cost * (q > 0)
        if self._unit_cost is not None:
            cost = cost + self._unit_cost * q
        if self._price is not None:
            cost = cost - self._price * filled
        return RowPeriod(q, self.last_demand, filled, short, left, need, rejected, cost)


def grouped_refusals(rows: SkuRows, capacity: float) -> Refusals:
    """The simulator's pro-rata receipt rule (``pro_rata_refusals``) for rows grouped by centre:
    rows ``g * N .. g * N + N - 1`` are the N SKUs of centre g (``SkuRows.from_simulators``
    order, or its repeats)."""
    n = rows.problem.n
    volume = rows.problem.volume

    def refuse(need: np.ndarray, left: np.ndarray) -> np.ndarray | None:
        need2 = need.reshape(-1, n)
        incoming = need2 @ volume
        free = capacity - left.reshape(-1, n) @ volume
        over = (incoming > free) & (incoming > 0.0)
        if not over.any():
            return None
        ratio = np.where(over, np.maximum(free, 0.0) / np.where(over, incoming, 1.0), 1.0)
        kept = np.floor(need2 * ratio[:, None]).astype(np.int64)
        return np.where(over[:, None], need2 - kept, 0).reshape(-1)

    return refuse
