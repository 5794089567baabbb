"""The multi-SKU fulfilment-centre simulator: N SKUs under one shared storage capacity.

Plain NumPy, vectorised over SKUs, no Gymnasium or PettingZoo imports: the Gymnasium
env (``env.py``), the PettingZoo env (``parallel_env.py``) and the
shared-policy VecEnv are thin faces over :class:`FulfillmentSimulator`. ``rows.py`` steps
many (centre, SKU) rows at once with the same dynamics, order rule and features (for DCL's
rollouts; tested equal to this simulator); both write their observations with ``features.py``
and apply the receipt rule of ``receipts.py``.

Timing of events in period t (the same as ``LostSales-v0``, SKU by SKU, with the shared
capacity check added at receipt):

1. orders q_i are placed (cost ``K [q_i > 0]``, plus ``c_i q_i`` if ``purchase_cost``).
   SKU i's order arrives at the end of period ``t + l - 1`` where ``l`` is its lead time
   (``l >= 1``; with ``lead_time_jitter`` > 0, ``l`` is drawn for every SKU every period,
   so a later order can arrive before an earlier one: orders cross. The pipeline is kept
   by *arrival period*, not by order, so crossing needs no special handling);
2. demand D_i is served from on-hand stock (:func:`envs.replenishment.dynamics.period`,
   the single-SKU rule, applied elementwise);
3. holding ``h_i`` per unit left after demand; shortage ``p_i`` per unit lost (or per
   unit backordered); revenue ``price_i`` per unit sold if ``revenue``;
4. the receipts due this period arrive. If their volume exceeds the free space
   (capacity minus the volume of stock left after demand), every SKU's receipt is
   accepted **pro rata**: the same fraction ``free / incoming`` of each SKU's units,
   rounded down, so the capacity is never exceeded. Refused units cost
   ``overflow_cost`` each and are discarded (``overflow=discard``) or returned to the
   supplier for a refund of their unit cost (``overflow=return``, with ``purchase_cost``).
   With backorders, arriving units first fill the backlog and only the rest needs space.

So with N = 1 and unlimited capacity this is exactly ``LostSales-v0`` (a test checks it).

Stress scenarios (``config.scenario``, ``envs.core.scenario``; none by default, and then no
scenario code runs). Period t of the scenario is ``self.t`` (0 = the first period after
``reset()``). A clock is derived from the episode's generator at :meth:`reset` without
drawing from it, so the demand and lead-time streams are those of the unstressed episode.
In the window:

* ``demand_surge``: every SKU's demand draw D becomes ``floor((1 + size) D + U)`` before it
  is served (and before it enters the forecast);
* ``supplier_disruption``: of each SKU's order the supplier confirms
  ``floor((1 - size) q_i + U_i)`` units at once; only those enter the pipeline and are
  charged (``K`` only if some are confirmed); the rest is ``refused``;
* ``lead_time_shock``: orders placed in the window arrive ``size`` periods later (the
  pipeline ring is ``size`` periods wider);
* ``capacity_cut``: the storage capacity of the receipt check is ``(1 - size) capacity``
  (stock above it is kept, but receipts are refused as overflow until it fits; unlimited
  capacity stays unlimited) and each SKU's order is capped at ``floor((1 - size) q_max_i)``
  (its order capacity, ``Problem.q_max``), the rest refused. Observations keep reporting
  utilisation against the nominal capacity.

Refused units appear in the period totals as ``refused`` (only with an active scenario).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from envs.core.episode import step_before_reset
from envs.core.scenario import ScenarioClock
from envs.replenishment.demand.processes import DemandProcess
from envs.replenishment.dynamics import period
from envs.replenishment.fulfillment_center.config import Problem
from envs.replenishment.fulfillment_center.features import (
    GLOBAL_FEATURES,
    SKU_FEATURES,
    calendar_angles,
    static_features,
    write_features,
)
from envs.replenishment.fulfillment_center.receipts import marginal_refusals, pro_rata_refusals

# the feature names live in features.py; agents still import them from here
__all__ = ["GLOBAL_FEATURES", "SKU_FEATURES", "TOTALS", "CentreState", "FulfillmentSimulator", "action_orders"]

# Periods of demand drawn per block: one NumPy call per block. With N = 1 this is the
# single-SKU env's block, so the two draw the same demand stream from the same seed.
DEMAND_BLOCK = 4096
MIN_BLOCK_PERIODS = 16
# orders are rounded up; a multiple that is a whole number of units up to float noise
# (e.g. 2.0000000000000004) is not rounded to the next unit
ROUND_TOL = 1e-9

TOTALS = ("cost", "holding_cost", "shortage_cost", "ordering_cost", "overflow_cost", "revenue",
          "demand", "sales", "lost", "ordered", "received", "overflow_units", "on_hand")


class CentreState(NamedTuple):
    """One centre's state (:meth:`FulfillmentSimulator.snapshot`): ``on_hand``, ``forecast``,
    ``last_demand`` (N,), ``pipeline`` (W, N) in arrival order, the calendar ``day``."""

    on_hand: np.ndarray
    pipeline: np.ndarray
    forecast: np.ndarray
    last_demand: np.ndarray
    day: int


class FulfillmentSimulator:
    """State and dynamics of N SKUs sharing one warehouse (see the module docstring).

    State after :meth:`reset`: ``on_hand`` (N,) net stock (< 0 = backlog), the pipeline
    ``pipe`` (W, N), a ring buffer: row ``(head + k) % W`` holds the units due at the end of
    period t + k (an order with lead time l is added to the row of t + l - 1;
    :meth:`pipeline_slots` gives the rows in arrival order), the smoothed demand ``forecast``
    (N,), ``last_demand`` (N,), the calendar ``day`` and the period ``t`` of the episode.
    """

    def __init__(self, problem: Problem):
        self.problem = p = problem
        cfg = p.config
        self.scenario = cfg.scenario if cfg.scenario.active else None
        self.clock: ScenarioClock | None = None
        # a lead-time shock: orders placed in the window arrive up to `size` periods later
        self.n, self.width = p.n, max(p.max_lead_time, 1) + cfg.scenario.max_extra_lead_time
        self.backorders, self.limited = cfg.backorders, p.limited
        self.demand = DemandProcess(cfg.demand, p.catalogue, replay=cfg.catalogue == "csv")
        self.history_days = len(p.catalogue.history) if cfg.catalogue == "csv" else None
        self.block_periods = max(MIN_BLOCK_PERIODS, DEMAND_BLOCK // self.n)
        ar = np.arange(self.n)
        self._ar = ar
        # flat pipeline index of each SKU's order (fixed lead times) when the ring's head is h:
        # the row of arrival period t + l_i - 1
        self._order_index = np.stack([((h + p.lead_time - 1) % self.width) * self.n + ar
                                      for h in range(self.width)])
        self._jitter = cfg.lead_time_jitter
        if self._jitter:
            self._lead_low = np.maximum(p.lead_time - self._jitter, 1)
            self._lead_high = p.lead_time + self._jitter + 1
        self._holding, self._penalty, self._volume = p.holding, p.penalty, p.volume
        # the same cost for every SKU (the default): an integer sum instead of a dot product
        self._h_scalar = float(p.holding[0]) if np.all(p.holding == p.holding[0]) else None
        self._p_scalar = float(p.penalty[0]) if np.all(p.penalty == p.penalty[0]) else None
        self._K = cfg.fixed_order_cost
        self._unit_cost = p.unit_cost if cfg.purchase_cost else None
        self._refund = cfg.purchase_cost and cfg.overflow == "return"
        self._price = p.price if cfg.revenue else None
        self._overflow_cost, self._alpha = cfg.overflow_cost, cfg.forecast_alpha
        self._multiples = np.asarray(cfg.order_multiples, dtype=np.float64)
        self._levels = np.asarray(cfg.level_multiples, dtype=np.float64)
        self._horizon = (p.lead_time + 1).astype(np.float64)  # lead time + one review period
        self._inv_mean = 1.0 / p.mean_demand
        self._static = static_features(p)
        self._inv_mean32 = self._inv_mean.astype(np.float32)
        self.slots = cfg.pipeline_slots
        self.n_features = len(SKU_FEATURES) + self.slots
        self._util: float | None = None
        self._space: tuple[np.ndarray, float] | None = None
        self._buf = np.empty(self.n)
        self.rng: np.random.Generator | None = None
        # an empty demand block: the first step refills it, and the refill checks for reset()
        self._block = np.empty((0, self.n), dtype=np.int64)
        self._pos = 0

    # -- episode -----------------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode; every random draw (start day, demand, lead times) uses ``rng``."""
        p, cfg = self.problem, self.problem.config
        self.rng = rng
        if self.scenario is not None:  # a derived stream: draws nothing from rng
            self.clock = self.scenario.clock(rng)
        self.start_day = self._start_day(rng)
        self.day, self.t = self.start_day, 0
        self.demand.reset(rng, self.start_day)
        self._block = np.empty((0, self.n), dtype=np.int64)
        self._pos = 0
        self.pipe = np.zeros((self.width, self.n), dtype=np.int64)
        self.head = 0
        self.on_hand = np.zeros(self.n, dtype=np.int64)
        if cfg.initial_state == "mean":
            level = np.rint(p.mean_demand).astype(np.int64)
            self.on_hand = level.copy()
            for k in range(self.width):  # the L_i - 1 orders placed before the episode
                self.pipe[k] = np.where(k < p.lead_time - 1, level, 0)
            if self.limited:
                used = float(self._volume @ self.on_hand)
                if used > p.capacity:
                    self.on_hand = np.floor(self.on_hand * (p.capacity / used)).astype(np.int64)
        self.pipe_total = self.pipe.sum(axis=0)
        self._util = None
        self.forecast = p.mean_demand.copy()
        self.last_demand = np.rint(p.mean_demand).astype(np.int64)
        self.last = None

    def _start_day(self, rng: np.random.Generator) -> int:
        cfg = self.problem.config
        if self.history_days is None:
            return int(rng.integers(0, 365)) if cfg.episode_start == "random" else cfg.start_day
        last_start = self.history_days - cfg.episode_length
        if cfg.episode_start == "random":
            return int(rng.integers(0, last_start + 1))
        return cfg.fixed_start(self.history_days)

    def _next_demand(self) -> np.ndarray:
        if self._pos >= len(self._block):
            if self.rng is None:
                raise step_before_reset()
            size = self.demand.next_size(self.block_periods)
            self._block = self.demand.next_block(size)
            if self._jitter:
                self._lead_block = self.rng.integers(self._lead_low, self._lead_high, size=(size, self.n))
            self._pos = 0
        row = self._pos
        self._pos += 1
        self._lead_row = row
        return self._block[row]

    # -- dynamics ----------------------------------------------------------------------
    def step(self, q: np.ndarray) -> dict[str, float]:
        """Advance one period with integer orders ``q`` (N,) >= 0; return the period's totals.

        Per-SKU quantities of the period stay available as attributes of ``self.last``
        (``demand, filled, short, left, received, rejected, order``) for per-SKU costs
        (:meth:`sku_costs`) and KPIs.
        """
        d = self._next_demand()
        pipe, head, width = self.pipe, self.head, self.width
        flat = pipe.reshape(-1)
        clock, refused, extra = self.clock, None, 0
        if clock is not None:
            d = clock.scale_demand(self.t, d)
            placed, q = q, clock.accept(self.t, q, self.problem.q_max)
            refused = placed - q
            extra = clock.extra_lead_time(self.t)
        if self._jitter:
            flat[((head + self._lead_block[self._lead_row] - 1 + extra) % width) * self.n + self._ar] += q
        elif extra:
            flat[((head + self.problem.lead_time - 1 + extra) % width) * self.n + self._ar] += q
        else:
            flat[self._order_index[head]] += q
        self.pipe_total += q
        # demand is served from on-hand stock (no receipts before demand: l >= 1)
        after, filled, short, left = period(self.on_hand, 0, 0, d, self.backorders)
        received = pipe[head].copy()
        pipe[head] = 0
        self.head = head + 1 if head + 1 < width else 0
        self.pipe_total -= received
        rejected = None
        self._space = None  # (need, free) of a period with refusals, for marginal_overflow_units
        if self.limited:
            # space needed: with backorders arrivals first fill the backlog
            need = received if not self.backorders else np.maximum(after + received, 0) - left
            capacity = self.problem.capacity
            if clock is not None:
                capacity *= clock.capacity_factor(self.t)
            free = capacity - float(self._volume @ left)
            rejected = pro_rata_refusals(need, self._volume, free)
            if rejected is not None:
                received = received - rejected
                self._space = (need, free)
        self.on_hand = after + received
        buf = self._buf  # forecast += alpha (d - forecast), without temporaries
        np.subtract(d, self.forecast, out=buf)
        buf *= self._alpha
        self.forecast += buf
        self.last_demand = d
        self.day += 1
        self.t += 1
        self.last = _Period(q, d, filled, short, left, received, rejected)
        self._util = None
        totals = self._totals(self.last)
        if clock is not None:
            totals["refused"] = int(refused.sum())
        return totals

    def _totals(self, last: _Period) -> dict[str, float]:
        q = last.order
        left_units, short_units = int(last.left.sum()), int(last.short.sum())
        received = int(last.received.sum())
        holding = (self._h_scalar * left_units if self._h_scalar is not None
                   else float(self._holding @ last.left))
        shortage = (self._p_scalar * short_units if self._p_scalar is not None
                    else float(self._penalty @ last.short))
        ordering = self._K * float(np.count_nonzero(q)) if self._K else 0.0
        if self._unit_cost is not None:
            ordering += float(self._unit_cost @ q)
        over_units = 0 if last.rejected is None else int(last.rejected.sum())
        overflow = self._overflow_cost * over_units
        if self._refund and over_units:
            ordering -= float(self._unit_cost @ last.rejected)
        revenue = float(self._price @ last.filled) if self._price is not None else 0.0
        demand = int(last.demand.sum())
        if self.backorders:
            sales, on_hand = int(last.filled.sum()), int(np.maximum(self.on_hand, 0).sum())
        else:  # lost sales: every unit of demand is sold or lost; on-hand = left + received
            sales, on_hand = demand - short_units, left_units + received
        return {
            "cost": holding + shortage + ordering + overflow - revenue,
            "holding_cost": holding, "shortage_cost": shortage, "ordering_cost": ordering,
            "overflow_cost": overflow, "revenue": revenue,
            "demand": demand, "sales": sales, "lost": short_units,
            "ordered": int(q.sum()), "received": received, "overflow_units": over_units,
            "on_hand": on_hand,
        }

    def sku_costs(self, overflow: str = "split") -> np.ndarray:
        """Per-SKU cost of the last period (float64, N). ``overflow="split"``: the shared
        overflow cost is split by each SKU's share of the volume that arrived, so per-SKU
        costs sum to the period's total cost (up to rounding); ``"marginal"``: each SKU pays
        ``overflow_cost`` per unit of :meth:`marginal_overflow_units` instead (these sum to at
        least the total)."""
        last = self.last
        cost = self._holding * last.left + self._penalty * last.short
        if self._K:
            cost += self._K * (last.order > 0)
        if self._unit_cost is not None:
            cost += self._unit_cost * last.order
        if last.rejected is not None:
            if overflow == "marginal":
                cost += self._overflow_cost * self.marginal_overflow_units()
            else:
                over = self._overflow_cost * float(last.rejected.sum())
                arrived = self._volume * (last.received + last.rejected)
                cost += over * arrived / arrived.sum()
            if self._refund:
                cost -= self._unit_cost * last.rejected
        if self._price is not None:
            cost -= self._price * last.filled
        return cost

    def marginal_overflow_units(self) -> np.ndarray:
        """(N,) int64: the refused units of the last period that each SKU causes at the margin,
        total refusals minus the refusals had its receipt not arrived (the others' receipts and
        the free space unchanged, the same pro-rata rule): :func:`marginal_refusals`. Zero in a
        period without refusals. Each SKU's figure is at least its own refused units and at most
        the period's total, so they sum to at least the total (module docstring of
        ``parallel_env``, reward ``marginal``)."""
        if self.last is None or self.last.rejected is None:
            return np.zeros(self.n, dtype=np.int64)
        need, free = self._space
        return marginal_refusals(need, self._volume, free)

    def orders_from_actions(self, action: np.ndarray) -> np.ndarray:
        """Order quantities (N,) int64 for valid actions of ``config.action_type`` (no checks):
        ``discrete``: multiples[a] x forecast; ``continuous``: (a + 1) / 2 x max_multiple x
        forecast; ``level``: up to the inventory position levels[a] x rate x (L_i + 1), the
        rate being the long-run mean demand or the forecast (``level_basis``);
        ``order``: the action itself. Rounded *up* to whole units, so that any
        positive multiple orders at least one unit: a slow mover (forecast 0.05/period)
        could otherwise never be ordered at all."""
        return action_orders(self.problem.config, action, self.forecast, self.on_hand + self.pipe_total,
                             self.problem.mean_demand, self._horizon, self._multiples, self._levels)

    # -- views of the state ------------------------------------------------------------
    def pipeline_slots(self) -> np.ndarray:
        """(W, N) units due at the end of periods t, t+1, ..., t+W-1 (arrival order)."""
        return np.concatenate([self.pipe[self.head:], self.pipe[: self.head]])

    def snapshot(self) -> CentreState:
        """A copy of the state the dynamics carry forward (demand streams aside)."""
        return CentreState(self.on_hand.copy(), self.pipeline_slots(), self.forecast.copy(), self.last_demand.copy(),
                           self.day)

    @property
    def inventory_position(self) -> np.ndarray:
        return self.on_hand + self.pipe_total

    def utilisation(self) -> float:
        """Volume of stock on hand / capacity (0 with unlimited capacity), after the period."""
        if self._util is None:
            stock = np.maximum(self.on_hand, 0) if self.backorders else self.on_hand  # lost sales: >= 0
            self._util = float(self._volume @ stock) / self.problem.capacity if self.limited else 0.0
        return self._util

    def feature_rows(self, extra: int = 0) -> np.ndarray:
        """Per-SKU observation features, feature-major: a float32 vector of length
        F * N + ``extra`` whose first F * N entries are the (F, N) matrix row by row
        (feature f of SKU i at f * N + i; ``SKU_FEATURES`` then the W pipeline slots in
        arrival order), stock and demand in units of the SKU's long-run mean demand.
        Built with contiguous writes only (this is the env's hot path)."""
        out = np.empty(self.n_features * self.n + extra, dtype=np.float32)
        head = self.head
        write_features(out[: self.n_features * self.n].reshape(self.n_features, self.n), self.on_hand,
                       self.pipe_total, self.forecast, self.last_demand, self._static,
                       (self.pipe[head:], self.pipe[:head]), self._inv_mean, self._inv_mean32)
        return out

    def flat_observation(self) -> np.ndarray:
        """The centralised env's flat observation: :meth:`feature_rows` then :meth:`global_features`."""
        glob = self.global_features()
        out = self.feature_rows(extra=len(glob))
        out[-len(glob):] = glob
        return out

    def sku_features(self) -> np.ndarray:
        """(N, F) float32 per-SKU feature matrix (the transpose of :meth:`feature_rows`)."""
        f = self.n_features
        return np.ascontiguousarray(self.feature_rows().reshape(f, self.n).T)

    def global_features(self) -> np.ndarray:
        """(G,) float32: capacity utilisation and the calendar (day of week, day of year)."""
        dow, doy = calendar_angles(self.day)
        return np.array([self.utilisation(), math.sin(dow), math.cos(dow), math.sin(doy), math.cos(doy)],
                        dtype=np.float32)


def action_orders(cfg, action, forecast, position, mean, horizon, multiples, levels) -> np.ndarray:
    """Order quantities (int64) of valid actions of ``cfg.action_type`` for SKUs (or rows) with
    ``forecast``, inventory ``position`` (on hand + pipeline), long-run ``mean`` demand and
    ``horizon`` = L + 1 (the rule of :meth:`FulfillmentSimulator.orders_from_actions`)."""
    if cfg.action_type == "discrete":
        return np.ceil(multiples[action] * forecast - ROUND_TOL).astype(np.int64)
    if cfg.action_type == "level":
        rate = mean if cfg.level_basis == "mean" else forecast
        target = np.ceil(levels[action] * horizon * rate - ROUND_TOL).astype(np.int64)
        return np.maximum(target - position, 0)
    if cfg.action_type == "continuous":
        x = (np.asarray(action, dtype=np.float64) + 1.0) * (0.5 * cfg.max_multiple) * forecast
        return np.ceil(x - ROUND_TOL).astype(np.int64)
    return np.asarray(action, dtype=np.int64)


class _Period:
    """Per-SKU quantities of the last period (references, not copies)."""

    __slots__ = ("order", "demand", "filled", "short", "left", "received", "rejected")

    def __init__(self, order, demand, filled, short, left, received, rejected):
        self.order, self.demand, self.filled, self.short = order, demand, filled, short
        self.left, self.received, self.rejected = left, received, rejected
