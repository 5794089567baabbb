"""Typed configuration of the single-SKU replenishment environment."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from envs.core.config import (
    MAX_COST,
    ConfigError,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_keys,
)
from envs.core.scenario import Scenario
from envs.replenishment.demand.distributions import DemandConfig

ACTION_TYPES = ("discrete", "continuous")
INITIAL_STATES = ("mean", "zero", "random")
Q_MAX_LIMIT = 100_000


@dataclass(frozen=True)
class LostSalesConfig:
    """Parameters of ``fulfillgym/LostSales-v0`` (the names are its keyword arguments).

    Limits (each refused with a one-line :class:`ConfigError` naming the field): cost
    coefficients in [0, 1e9] (``MAX_COST``: every period's cost stays finite); ``lead_time``
    in [0, 52]; ``q_max`` in [1, 100000]; the demand's mean in (0, 100000] and one period's
    demand at most 200,000 (``DemandConfig``). Building a config takes under a millisecond
    at any allowed mean (the default ``q_max`` comes from closed-form quantiles).
    """

    lead_time: int = 2
    """L >= 0: an order placed at the start of period t first serves demand in period t+L."""
    holding_cost: float = 1.0
    """h in [0, 1e9], per unit of on-hand stock left after demand, per period."""
    penalty: float = 9.0
    """p in [0, 1e9], per unit of unmet demand (lost sales) or per backordered unit per period."""
    backorders: bool = False
    """False: unmet demand is lost. True: it is backordered and filled when stock arrives."""
    fixed_order_cost: float = 0.0
    """K in [0, 1e9], charged once in every period with a positive order."""
    unit_cost: float = 0.0
    """c in [0, 1e9], per unit ordered, charged when the order is placed."""
    demand: DemandConfig = field(default_factory=DemandConfig)
    """One period's demand distribution (see ``envs.replenishment.demand.distributions``)."""
    q_max: int | None = None
    """Largest order. Default: the largest order an optimal policy can need (see ``order_cap``)."""
    action_type: str = "discrete"
    """``discrete``: Discrete(q_max + 1), the action is the order. ``continuous``: Box(-1, 1)."""
    initial_state: str = "mean"
    """``mean``: on-hand and every pipeline slot start at round(mean demand); ``zero``;
    ``random``: each uniform on 0..q_max (for exploration during training)."""
    scenario: Scenario = field(default_factory=Scenario)
    """A stress scenario overlaid on a window of periods (``envs.core.scenario``; default
    ``kind=none``). Lost sales: ``demand_surge`` scales the demand draws; ``supplier_disruption``
    delivers ``1 - size`` of each order placed in the window (confirmed at once: the pipeline holds
    what will arrive; refused units are not charged); ``lead_time_shock`` adds ``size`` periods to
    the lead time of orders placed in the window; ``capacity_cut`` (there is no storage capacity)
    caps each order placed in the window at ``floor((1 - size) q_max)``, the rest refused."""

    def __post_init__(self) -> None:
        e = "env"
        object.__setattr__(self, "lead_time", check_int(f"{e}.lead_time", self.lead_time, 0, 52))
        for name in ("holding_cost", "penalty", "fixed_order_cost", "unit_cost"):
            object.__setattr__(self, name, check_float(f"{e}.{name}", getattr(self, name), 0.0, MAX_COST))
        object.__setattr__(self, "backorders", check_bool(f"{e}.backorders", self.backorders))
        if not isinstance(self.demand, DemandConfig):
            object.__setattr__(self, "demand", DemandConfig.from_value(self.demand))
        check_choice(f"{e}.action_type", self.action_type, ACTION_TYPES)
        object.__setattr__(self, "scenario", Scenario.from_value(self.scenario))
        check_choice(f"{e}.initial_state", self.initial_state, INITIAL_STATES)
        if self.q_max is None:
            cap = self.order_cap()
            if cap > Q_MAX_LIMIT:
                raise ConfigError(
                    f"{e}.q_max: the default for this config exceeds {Q_MAX_LIMIT} (tiny holding_cost "
                    f"or huge demand); set q_max to an integer in [1, {Q_MAX_LIMIT}]"
                )
            object.__setattr__(self, "q_max", cap)
        else:
            object.__setattr__(self, "q_max", check_int(f"{e}.q_max", self.q_max, 1, Q_MAX_LIMIT))
        if self.holding_cost == 0 and self.penalty == 0:
            raise ConfigError(f"{e}.penalty: holding_cost and penalty cannot both be 0 (every policy would cost nothing)")

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> LostSalesConfig:
        """Build from keyword arguments (``gymnasium.make`` kwargs or Hydra's ``env``)."""
        names = [f.name for f in fields(cls)]
        check_keys("env", kwargs, names)
        return cls(**dict(kwargs))

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (no derived caches): the key of cached solutions and policy cards."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("demand", "scenario")}
        if self.scenario.active:  # omitted when none: the keys of cached solutions stay as they were
            out["scenario"] = self.scenario.to_dict()
        out["demand"] = {
            f.name: getattr(self.demand, f.name)
            for f in fields(self.demand)
            if f.init and getattr(self.demand, f.name) is not None
        }
        return out

    def stationary(self) -> LostSalesConfig:
        """This config without its scenario (the stationary problem the exact DP solves)."""
        return self if not self.scenario.active else replace(self, scenario=Scenario())

    # -- derived quantities ------------------------------------------------------------
    @property
    def critical_ratio(self) -> float:
        """p' / (p' + h), the newsvendor ratio of the long-run problem.

        With lost sales every unit bought is eventually sold, so in the long run the
        purchase cost c * (units ordered) equals c * (demand - lost units): a lost sale
        also saves c, and the effective shortage cost is p' = max(p - c, 0). With
        backorders every demand is eventually bought for, c is a constant and p' = p."""
        p = self.penalty if self.backorders else max(self.penalty - self.unit_cost, 0.0)
        return p / (p + self.holding_cost) if p + self.holding_cost > 0 else 0.0

    def newsvendor_level(self) -> int:
        """(L+1)-period newsvendor quantile: the optimal base-stock level with backorders and
        K = 0, and Morton's (1971) upper bound on the optimal inventory position after
        ordering with lost sales and K = 0."""
        return self.demand.sum_quantile(self.lead_time + 1, self.critical_ratio)

    def order_cap(self) -> int:
        """Default q_max: never binding for an optimal policy when K = 0 (it orders at most
        Morton's bound) and, with K > 0, room for an EOQ-sized batch on top."""
        cap = max(self.newsvendor_level(), self.demand.sum_quantile(1, 0.999), 1)
        if self.fixed_order_cost > 0 and self.holding_cost > 0:
            eoq = math.sqrt(2 * self.fixed_order_cost * self.demand.mean / self.holding_cost)
            cap += math.ceil(min(eoq, Q_MAX_LIMIT + 1))  # bounded: eoq can be inf for tiny h
        return int(cap)

    @property
    def obs_dim(self) -> int:
        """On-hand plus the L-1 orders still in the pipeline (1 when L <= 1)."""
        return max(self.lead_time, 1)
