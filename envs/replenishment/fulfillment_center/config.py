"""Typed configuration of the multi-SKU fulfilment centre (``fulfillgym/FulfillmentCenter-v0``).

The keyword arguments of the Gymnasium env, the PettingZoo env and Hydra's
``env=fulfillment_center`` group are the fields of :class:`FulfillmentConfig`.
:meth:`FulfillmentConfig.build` turns a config into a :class:`Problem`: the catalogue
(per-SKU demand scale, volume, cost, price, lead time) and the per-SKU cost arrays the
simulator charges.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from envs.core.config import (
    MAX_COST,
    MAX_DAILY_DEMAND,
    ConfigError,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_keys,
    check_work,
)
from envs.core.scenario import Scenario
from envs.replenishment.demand.processes import DemandModelConfig

CATALOGUES = ("synthetic", "uniform", "csv")
OVERFLOW_RULES = ("discard", "return")
ACTION_TYPES = ("discrete", "continuous", "level", "order")
DISCRETE_ACTIONS = ("discrete", "level")  # one choice out of a list per SKU
EPISODE_STARTS = ("fixed", "random")
INITIAL_STATES = ("mean", "zero")
OBS_FORMATS = ("flat", "dict")
MAX_SKUS = 100_000
"""SKUs: ~1.3 us a SKU-step through the env at this size (0.13 s and 190 MB a step)."""
MAX_SKU_PERIODS = 5_000_000
"""SKU-periods of an episode (SKUs x episode_length): at most ~2-7 s an episode (0.4 us a
SKU-step at 100 SKUs, 1.3 us at 100,000), which the benchmark plays hundreds of times
(tuning, replications, agents); docs/reliability.md."""
DEFAULT_MULTIPLES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
DEFAULT_LEVELS = (0.0, 0.5, 0.75, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5, 1.75, 2.0, 2.5)
MAX_MULTIPLE = 1000.0
"""Largest order / level multiple: orders of at most 1,000 periods of demand."""
MAX_COST_RATE = 1000.0
"""Largest ``holding_rate`` and ``penalty_margin`` (multipliers of a SKU's unit cost / margin)."""
MIN_CAPACITY = 1e-6
"""Smallest finite capacity (volume units): observation features divide by it."""
MAX_CAPACITY_DAYS = 1e6
MAX_DAY = 1_000_000
"""Largest |start_day| (about 2,700 years of days)."""


@dataclass(frozen=True)
class FulfillmentConfig:
    """Parameters of ``fulfillgym/FulfillmentCenter-v0`` (the names are its keyword arguments).

    Limits (each refused with a one-line :class:`ConfigError` naming the field): cost
    coefficients (``holding_cost``, ``penalty``, ``fixed_order_cost``, ``unit_cost``,
    ``overflow_cost``) in [0, 1e9] (``MAX_COST``); ``holding_rate`` and ``penalty_margin`` in
    [0, 1000]; ``mean_demand`` in (0, 1e9] (``MAX_DAILY_DEMAND``, also the largest expected
    demand of a SKU on any day once seasonality, trend and promotions apply, checked when
    the problem is built); multiples in [0, 1000]; ``capacity`` >= 1e-6 and
    ``capacity_days`` <= 1e6; ``start_day`` in [-1e6, 1e6] and, when replaying a CSV with a
    fixed start, inside the history (checked when the problem is built); ``n_skus x
    episode_length`` at most 5,000,000 (``MAX_SKU_PERIODS``, docs/reliability.md).
    """

    n_skus: int | None = 100
    """N, the number of SKUs. With ``demand_csv``: the N most popular SKUs of the file
    (None = all of them)."""
    catalogue: str = "synthetic"
    """``synthetic``: a long-tail e-commerce catalogue drawn from ``catalogue_seed``
    (``envs.replenishment.demand.catalogue``); ``uniform``: N identical regular SKUs (mean demand
    ``mean_demand``, volume 1); ``csv``: the SKUs and demand history of ``demand_csv``
    (set automatically when ``demand_csv`` is given)."""
    catalogue_seed: int = 0
    """Seed of the synthetic catalogue (products stay the same across episodes)."""
    demand_csv: str | None = None
    """Long-format CSV (``date, sku, demand`` [, ``unit_cost, price, volume, lead_time``]):
    demand is replayed from the file instead of sampled."""
    demand: DemandModelConfig = field(default_factory=DemandModelConfig)
    """Stochastic demand model (``envs.replenishment.demand.processes``): distribution,
    weekly / yearly seasonality, trend, promotions, intermittency. Ignored when replaying."""
    mean_demand: float = 5.0
    """Mean demand per period of every SKU of the ``uniform`` catalogue."""
    lead_time: int | None = None
    """Lead time in periods (>= 1) of every SKU; None = the catalogue's per-SKU lead times
    (uniform catalogue: 2)."""
    lead_time_jitter: int = 0
    """j >= 0: each order's lead time is uniform on ``max(1, L_i - j) .. L_i + j`` (drawn
    every period for every SKU, so the draws do not depend on the policy). Orders may cross."""
    holding_cost: float = 1.0
    """Per unit left after demand, per period (added to ``holding_rate * unit_cost``)."""
    holding_rate: float = 0.0
    """Holding cost per period as a fraction of the SKU's unit cost."""
    penalty: float = 9.0
    """Per unit of demand lost (or backordered, per period), added to
    ``penalty_margin * max(price - unit_cost, 0)``."""
    penalty_margin: float = 0.0
    """Weight of the SKU's lost margin in its shortage penalty."""
    fixed_order_cost: float = 0.0
    """K, per SKU with a positive order in the period."""
    unit_cost: float = 0.0
    """Unit cost of every SKU of the ``uniform`` catalogue (other catalogues carry their own)."""
    purchase_cost: bool = False
    """Charge ``unit_cost_i`` per unit ordered (when it is placed)."""
    revenue: bool = False
    """Subtract ``price_i`` per unit sold from the cost (the reward becomes profit)."""
    backorders: bool = False
    """False: unmet demand is lost. True: it is backordered."""
    capacity: float | None = None
    """Warehouse capacity in volume units. None: ``capacity_days`` days of mean demand."""
    capacity_days: float | None = 1.5
    """With ``capacity`` None, capacity = capacity_days * sum_i volume_i * mean_demand_i.
    ``capacity_days`` 0 (or None) with ``capacity`` None: unlimited capacity."""
    overflow: str = "discard"
    """Receipts that do not fit are refused; ``discard``: the units are lost (they were paid
    for if ``purchase_cost``); ``return``: sent back to the supplier for a refund of their
    unit cost. Either way each refused unit costs ``overflow_cost``."""
    overflow_cost: float = 5.0
    """Per unit refused for lack of space."""
    action_type: str = "discrete"
    """``discrete``: MultiDiscrete, order = ``order_multiples[a_i]`` x forecast_i;
    ``continuous``: Box(-1, 1, (N,)), order = (a_i + 1) / 2 * max_multiple x forecast_i;
    ``level``: MultiDiscrete, order up to the inventory position
    ``level_multiples[a_i]`` x rate_i x (L_i + 1) (a scaled base-stock level; rate_i is
    the long-run mean demand or the forecast, ``level_basis``);
    ``order``: MultiDiscrete(q_max_i + 1), the order quantities themselves."""
    order_multiples: tuple[float, ...] = DEFAULT_MULTIPLES
    """Order sizes of the ``discrete`` action, in periods of forecast demand."""
    level_multiples: tuple[float, ...] = DEFAULT_LEVELS
    """Order-up-to levels of the ``level`` action, in units of the forecast demand over the
    lead time plus one review period."""
    level_basis: str = "mean"
    """Demand rate that scales the ``level`` action: ``mean`` (the SKU's long-run mean
    demand; the policy sees the forecast in its observation and can adapt) or
    ``forecast`` (the smoothed recent demand)."""
    max_multiple: float = 8.0
    """Largest order of the ``continuous`` action, in periods of forecast demand."""
    forecast_alpha: float = 0.1
    """Smoothing weight of the exponentially smoothed demand forecast (the "recent mean
    demand" that scales actions and observations' demand features)."""
    episode_length: int = 365
    """Periods per episode; the env truncates itself (replay needs to know the window)."""
    episode_start: str = "fixed"
    """``fixed``: every episode starts at ``start_day``; ``random``: uniform over the days
    where a whole episode fits (replay), or a random day of the year (synthetic demand)."""
    start_day: int = 0
    """First day of fixed episodes; negative counts from the end of the history
    (``-365`` = the last year of a CSV, a test window)."""
    initial_state: str = "mean"
    """``mean``: on-hand and every pipeline slot start at round(mean demand) (scaled down
    pro rata if that exceeds capacity); ``zero``: empty warehouse."""
    pipeline_slots: int = 8
    """P: pipeline slots in each SKU's observation (units due at the end of periods t ..
    t+P-1; the last slot also holds everything due later). Fixed, so that the observation
    size does not depend on the catalogue's lead times and one shared policy can control
    any catalogue."""
    obs_format: str = "flat"
    """``flat``: one float32 vector; ``dict``: {"sku": (N, F), "global": (G,)}."""
    q_max: int | None = None
    """Largest order per SKU for ``action_type=order``; None = per SKU
    ceil(2 (L_i + 1) mean_i) + 10."""
    scenario: Scenario = field(default_factory=Scenario)
    """A stress scenario overlaid on a window of periods (``envs.core.scenario``; default
    ``kind=none``). ``demand_surge`` scales every SKU's demand draws; ``supplier_disruption``
    delivers ``1 - size`` of each SKU's order placed in the window; ``lead_time_shock`` adds
    ``size`` periods to the lead time of orders placed in the window; ``capacity_cut``
    multiplies the storage capacity (receipts beyond it are refused as overflow) and each
    SKU's order capacity ``q_max_i`` by ``1 - size`` (see the simulator's docstring)."""

    def __post_init__(self) -> None:
        e = "env"
        if self.demand_csv is not None:
            if not isinstance(self.demand_csv, str | Path):
                raise ConfigError(f"{e}.demand_csv: expected a file path, got {self.demand_csv!r}")
            object.__setattr__(self, "demand_csv", str(self.demand_csv))
            object.__setattr__(self, "catalogue", "csv")
        check_choice(f"{e}.catalogue", self.catalogue, CATALOGUES)
        if self.catalogue == "csv" and self.demand_csv is None:
            raise ConfigError(f"{e}.demand_csv: required with catalogue=csv (a path to a long-format CSV)")
        if self.n_skus is not None:
            object.__setattr__(self, "n_skus", check_int(f"{e}.n_skus", self.n_skus, 1, MAX_SKUS))
        elif self.catalogue != "csv":
            raise ConfigError(f"{e}.n_skus: expected an integer in [1, {MAX_SKUS}], got None")
        object.__setattr__(self, "catalogue_seed", check_int(f"{e}.catalogue_seed", self.catalogue_seed, 0))
        if not isinstance(self.demand, DemandModelConfig):
            object.__setattr__(self, "demand", DemandModelConfig.from_value(self.demand))
        object.__setattr__(self, "mean_demand", check_float(f"{e}.mean_demand", self.mean_demand, 0.0,
                                                            float(MAX_DAILY_DEMAND), strict_low=True))
        if self.lead_time is not None:
            object.__setattr__(self, "lead_time", check_int(f"{e}.lead_time", self.lead_time, 1, 365))
        object.__setattr__(self, "lead_time_jitter", check_int(f"{e}.lead_time_jitter", self.lead_time_jitter, 0, 365))
        for name in ("holding_cost", "penalty", "fixed_order_cost", "unit_cost", "overflow_cost"):
            object.__setattr__(self, name, check_float(f"{e}.{name}", getattr(self, name), 0.0, MAX_COST))
        for name in ("holding_rate", "penalty_margin"):
            object.__setattr__(self, name, check_float(f"{e}.{name}", getattr(self, name), 0.0, MAX_COST_RATE))
        for name in ("purchase_cost", "revenue", "backorders"):
            object.__setattr__(self, name, check_bool(f"{e}.{name}", getattr(self, name)))
        if self.capacity is not None:
            object.__setattr__(self, "capacity", check_float(f"{e}.capacity", self.capacity, MIN_CAPACITY))
        if self.capacity_days is not None:
            object.__setattr__(self, "capacity_days", check_float(f"{e}.capacity_days", self.capacity_days, 0.0,
                                                                  MAX_CAPACITY_DAYS))
        check_choice(f"{e}.overflow", self.overflow, OVERFLOW_RULES)
        check_choice(f"{e}.action_type", self.action_type, ACTION_TYPES)
        for name in ("order_multiples", "level_multiples"):
            object.__setattr__(self, name, _multiples(f"{e}.{name}", getattr(self, name)))
        check_choice(f"{e}.level_basis", self.level_basis, ("mean", "forecast"))
        object.__setattr__(self, "max_multiple", check_float(f"{e}.max_multiple", self.max_multiple, 0.0, MAX_MULTIPLE,
                                                             strict_low=True))
        object.__setattr__(self, "forecast_alpha", check_float(f"{e}.forecast_alpha", self.forecast_alpha, 0.0, 1.0, strict_low=True))
        object.__setattr__(self, "episode_length", check_int(f"{e}.episode_length", self.episode_length, 1, 100_000))
        check_choice(f"{e}.episode_start", self.episode_start, EPISODE_STARTS)
        object.__setattr__(self, "start_day", check_int(f"{e}.start_day", self.start_day, -MAX_DAY, MAX_DAY))
        check_choice(f"{e}.initial_state", self.initial_state, INITIAL_STATES)
        check_choice(f"{e}.obs_format", self.obs_format, OBS_FORMATS)
        object.__setattr__(self, "pipeline_slots", check_int(f"{e}.pipeline_slots", self.pipeline_slots, 1, 365))
        if self.q_max is not None:
            object.__setattr__(self, "q_max", check_int(f"{e}.q_max", self.q_max, 1, 10_000_000))
        object.__setattr__(self, "scenario", Scenario.from_value(self.scenario))
        if self.n_skus is not None:
            self.check_work(self.n_skus)
        if self.holding_cost == 0 and self.holding_rate == 0 and self.penalty == 0 and self.penalty_margin == 0:
            raise ConfigError(f"{e}.penalty: holding and shortage costs cannot all be 0")

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> FulfillmentConfig:
        check_keys("env", kwargs, [f.name for f in fields(cls)])
        kwargs = dict(kwargs)
        for key in ("order_multiples", "level_multiples"):
            if isinstance(kwargs.get(key), list):
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("demand", "scenario")}
        out["demand"] = {f.name: getattr(self.demand, f.name) for f in fields(self.demand)}
        out["scenario"] = self.scenario.to_dict()
        return out

    def check_work(self, n_skus: int) -> None:
        """Refuse more SKU-periods per episode than ``MAX_SKU_PERIODS`` (docs/reliability.md)."""
        check_work("the SKU-periods of an episode (n_skus x episode_length)", n_skus * self.episode_length,
                   MAX_SKU_PERIODS, {"env.n_skus": n_skus, "env.episode_length": self.episode_length})

    @property
    def action_choices(self) -> tuple[float, ...] | None:
        """The per-SKU choices of a discrete action type (None for continuous and order)."""
        if self.action_type == "discrete":
            return self.order_multiples
        if self.action_type == "level":
            return self.level_multiples
        return None

    def fixed_start(self, history_days: int) -> int:
        """The first day of fixed episodes in a history of ``history_days`` days
        (``start_day``; negative counts from the end)."""
        return self.start_day + history_days if self.start_day < 0 else self.start_day

    def replace(self, **changes: Any) -> FulfillmentConfig:
        return type(self).from_kwargs({**{f.name: getattr(self, f.name) for f in fields(self)}, **changes})

    def build(self) -> Problem:
        """The catalogue and per-SKU cost arrays this config describes (loads/generates data)."""
        from envs.replenishment.demand.catalogue import Catalogue, synthetic_catalogue
        from envs.replenishment.demand.history import load_demand_csv

        if self.catalogue == "csv":
            cat = load_demand_csv(self.demand_csv, lead_time=self.lead_time or 2)
            if self.n_skus is not None:
                if self.n_skus > cat.n:
                    raise ConfigError(f"env.n_skus: expected at most {cat.n} (the SKUs in {self.demand_csv}), "
                                      f"got {self.n_skus}")
                cat = cat.subset(self.n_skus)
            self.check_work(cat.n)  # n_skus None: every SKU of the file
            history_days = len(cat.history)
            if self.episode_length > history_days:
                raise ConfigError(f"env.episode_length: expected at most {history_days} (the days in "
                                  f"{self.demand_csv}), got {self.episode_length}")
        elif self.catalogue == "uniform":
            cat = Catalogue.uniform(self.n_skus, mean_demand=self.mean_demand, lead_time=self.lead_time or 2,
                                    unit_cost=self.unit_cost)
        else:
            cat = synthetic_catalogue(self.n_skus, np.random.default_rng(self.catalogue_seed), self.lead_time)
        return Problem(self, cat)


@dataclass(frozen=True, eq=False)
class Problem:
    """A config plus its catalogue: everything per SKU the simulator and the policies need."""

    config: FulfillmentConfig
    catalogue: Any  # envs.replenishment.demand.catalogue.Catalogue

    def __post_init__(self) -> None:
        cfg, cat = self.config, self.catalogue
        lead = np.full(cat.n, cfg.lead_time, dtype=np.int64) if cfg.lead_time else cat.lead_time.astype(np.int64)
        mean = np.asarray(cat.mean_demand, dtype=np.float64)
        margin = np.maximum(cat.price - cat.unit_cost, 0.0)
        volume = np.asarray(cat.volume, dtype=np.float64)
        if cfg.capacity is not None:
            capacity = cfg.capacity
        elif cfg.capacity_days:
            capacity = cfg.capacity_days * float(volume @ mean)
            if capacity < MIN_CAPACITY:
                raise ConfigError(f"env.capacity_days: gives a capacity of {capacity:.3g} volume units, below the "
                                  f"smallest supported ({MIN_CAPACITY:g}); expected a larger value, got {cfg.capacity_days}")
        else:
            capacity = math.inf
        if cfg.catalogue == "csv" and cat.history is not None:
            _check_window(cfg, len(cat.history))
        else:
            _check_peak_demand(cfg, mean)
        q_max = (np.full(cat.n, cfg.q_max, dtype=np.int64) if cfg.q_max is not None
                 else np.ceil(2 * (lead + 1) * mean).astype(np.int64) + 10)
        values = {
            "n": cat.n,
            "lead_time": lead,
            "max_lead_time": int(lead.max()) + cfg.lead_time_jitter,
            "mean_demand": mean,
            "volume": volume,
            "holding": cfg.holding_cost + cfg.holding_rate * cat.unit_cost,
            "penalty": cfg.penalty + cfg.penalty_margin * margin,
            "unit_cost": np.asarray(cat.unit_cost, dtype=np.float64),
            "price": np.asarray(cat.price, dtype=np.float64),
            "capacity": float(capacity),
            "q_max": q_max,
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)

    n: int = field(init=False)
    lead_time: np.ndarray = field(init=False)
    max_lead_time: int = field(init=False)
    mean_demand: np.ndarray = field(init=False)
    volume: np.ndarray = field(init=False)
    holding: np.ndarray = field(init=False)
    penalty: np.ndarray = field(init=False)
    unit_cost: np.ndarray = field(init=False)
    price: np.ndarray = field(init=False)
    capacity: float = field(init=False)
    q_max: np.ndarray = field(init=False)

    @property
    def limited(self) -> bool:
        return math.isfinite(self.capacity)

    def training_split(self) -> Problem:
        """The problem to tune heuristics and train policies on, disjoint from what they are
        tested on. Sampled demand: this problem (tuning and training seeds differ from the
        evaluation seeds). Replayed demand (CSV) tested on a fixed window: random windows of
        the history *before* the test window, so that nothing is fitted to the demand it is
        tested on; if that history is shorter than an episode, random windows of the whole
        history (a warning is logged, and results on that window are in-sample)."""
        cfg, cat = self.config, self.catalogue
        if cfg.catalogue != "csv" or cfg.episode_start != "fixed":
            return self
        test_start = cfg.fixed_start(len(cat.history))
        if test_start >= cfg.episode_length:
            cat = replace(cat, history=cat.history[:test_start],
                          dates=None if cat.dates is None else cat.dates[:test_start])
        else:
            logging.getLogger(__name__).warning(
                "training on random windows of the whole history: the %d days before the test window "
                "are fewer than one episode (%d)", test_start, cfg.episode_length)
        return Problem(cfg.replace(episode_start="random"), cat)


def _check_window(cfg: FulfillmentConfig, days: int) -> None:
    """A replayed episode must lie inside the history: episode_length <= days and, with
    fixed starts, start_day in [0, days - E] or [-days, -E]."""
    length = cfg.episode_length
    if length > days:
        raise ConfigError(f"env.episode_length: expected at most {days} (the days of the demand history), got {length}")
    if cfg.episode_start == "fixed" and not 0 <= cfg.fixed_start(days) <= days - length:
        raise ConfigError(f"env.start_day: expected an integer in [0, {days - length}] or [{-days}, {-length}] "
                          f"(an episode of {length} days inside the {days}-day demand history), got {cfg.start_day}")


def _check_peak_demand(cfg: FulfillmentConfig, mean: np.ndarray) -> None:
    """Refuse a stochastic model whose expected demand of a SKU exceeds ``MAX_DAILY_DEMAND`` on a
    day an episode can reach: the largest mean x weekly x yearly x trend x promo_uplift
    factors (an upper bound of the rate ``DemandProcess`` draws from), computed in logs."""
    model, length = cfg.demand, cfg.episode_length
    first, last = (0, 364 + length) if cfg.episode_start == "random" else (cfg.start_day, cfg.start_day + length)
    log_peak = math.log(float(mean.max())) + math.log1p(model.yearly_amplitude)
    if model.weekly is not None:
        log_peak += math.log(max(model.weekly) / (sum(model.weekly) / 7))
    if model.promo_probability > 0:
        log_peak += math.log(model.promo_uplift)
    if model.trend:
        growth = math.log1p(model.trend) / 365
        log_peak += max(first * growth, last * growth)
    if log_peak > math.log(MAX_DAILY_DEMAND) + 1e-9:
        raise ConfigError(
            f"env.demand: the expected demand of a SKU reaches about 10^{log_peak / math.log(10):.1f} per day on "
            f"days {first}..{last} (largest mean_demand x weekly x yearly x trend x promo_uplift); at most "
            f"{MAX_DAILY_DEMAND:.0e} per SKU and day is supported: lower the trend, promo_uplift or mean demand, "
            f"or the episode window")


def _float_tuple(name: str, value: Any) -> tuple[float, ...]:
    try:
        out = tuple(float(x) for x in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a list of numbers, got {value!r}") from None
    if not all(math.isfinite(x) for x in out):
        raise ConfigError(f"{name}: expected finite numbers, got {list(out)}")
    return out


def _multiples(name: str, value: Any) -> tuple[float, ...]:
    out = _float_tuple(name, value)
    if len(out) < 2 or any(not 0 <= m <= MAX_MULTIPLE for m in out) or list(out) != sorted(set(out)):
        raise ConfigError(f"{name}: expected at least 2 distinct increasing numbers in [0, {MAX_MULTIPLE:g}], "
                          f"got {list(out)}")
    return out
