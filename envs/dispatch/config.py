"""Typed configuration of same-day delivery (``fulfillgym/SameDayDelivery-v0``, ``env=dispatch``).

The keyword arguments of the Gymnasium env, the PettingZoo courier env and Hydra's
``env=dispatch`` / ``env=dispatch_euro_neurips`` groups are the fields of
:class:`DispatchConfig`. Times are minutes from the start of the day; distances are km
(for an instance with an explicit matrix: the matrix's unit, see ``rules``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from envs.core.config import (
    MAX_COST,
    ConfigError,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_keys,
    check_work,
    env_fields,
)
from envs.dispatch.instance_files import euro_instance, instance_coordinates

RULES = ("same_day", "euro_neurips")
LOCATIONS = ("uniform", "clustered", "instance")
ROUTERS = ("insertion", "pyvrp")
OBS_FORMATS = ("flat", "dict")
DEFAULT_RATES = (25.0, 35.0, 45.0, 45.0, 40.0, 45.0, 35.0, 30.0)
"""Orders per hour over the default 8 order-taking hours (300 expected orders a day)."""
MAX_MINUTES = 7 * 24 * 60
MAX_ORDERS_PER_HOUR = 10_000.0
MAX_VEHICLES = 1000
MAX_EPOCHS = 10_000
"""Decision epochs of a day (``day_minutes / epoch_minutes``): an epoch with few orders steps in
under 1 ms, so a day of them stays under ~10 s (docs/reliability.md)."""
MAX_DAILY_ORDERS = 2_000.0
"""Expected orders of a same-day day (the sum of ``arrival_rates``, orders per hour over whole
hours): routing is superlinear in the orders, measured 0.4 s a day at 300, 6.5 s at 1,200,
17 s and 400 MB at 2,000, 1.1 GB after 32 of 40 epochs at 4,000 (docs/reliability.md)."""


REPO = Path(__file__).resolve().parents[2]


def find_instance(path: Any) -> Path:
    """An instance file: ``path`` as given, else relative to the repository (the shipped
    ``data/dispatch`` files work from any working directory)."""
    if isinstance(path, str | Path):
        for candidate in (Path(path), REPO / path):
            if candidate.is_file():
                return candidate
    raise ConfigError(f"instance: expected the path of an existing instance file, got {path!r}")


@dataclass(frozen=True)
class DispatchConfig:
    """Parameters of a dispatch day (the names are the env's keyword arguments).

    The day:
        ``day_minutes``: the operating day [0, T]; decision epochs at 0, ``epoch_minutes``,
        ... while before T. ``arrival_rates``: Poisson order rate per hour of the order-taking
        period (hour h of the tuple covers minutes [60h, 60h+60)); it must end by T.
        ``promise_minutes``: an order's deadline is its arrival plus this;
        ``earliest_delay_minutes``: its window opens this long after arrival (0: at once).
        ``size_min``/``size_max``: order size (capacity units), uniform integers;
        ``service_minutes``: service time at the customer.
    Locations (``locations``): ``uniform`` in a square of side ``area_km`` with the depot
        at its centre; ``clustered``: ``n_hotspots`` Gaussian hotspots (std
        ``hotspot_km``) at uniform centres, clipped to the square; ``instance``: customers
        drawn uniformly from a VRPLIB file's nodes (``instance``), its coordinates scaled
        by ``instance_km_per_unit`` and centred on its depot.
    Fleet: ``n_vehicles`` (None: unlimited, every epoch has as many vehicles as orders)
        of ``capacity``, at ``speed_kmh``, all working until ``shift_end_minutes`` (None: T).
        Trips dispatched at epoch t leave at t + ``dispatch_margin_minutes``.
    Routing (``router``): ``insertion`` (cheapest insertion + local search) or ``pyvrp``
        (per epoch, stopped after ``router_iterations`` iterations and/or
        ``router_time_limit`` seconds; an iteration limit alone is reproducible across
        machines, a time limit is not).
    Costs: ``cost_per_km``, ``cost_per_trip``, ``cost_per_late_minute``, ``failed_penalty``
        (per order not delivered by day end); ``co2_kg_per_km`` is a KPI only.
        ``hard_deadlines``: lateness is infeasible rather than charged (EURO-NeurIPS).
    Observation: the ``max_orders`` (K) most urgent pending orders; ``observation``:
        ``flat`` or ``dict``.
    Rules (``rules``): ``same_day`` (the generator above) or ``euro_neurips`` (the EURO
        Meets NeurIPS 2022 dynamic protocol on ``instance``; see
        ``envs/dispatch/euro_neurips.py``: hourly epochs, a 60-minute dispatch margin, up to
        100 requests an epoch, the instance's durations converted from seconds to minutes,
        the cost in driving seconds).
    """

    rules: str = "same_day"
    day_minutes: float = 600.0
    epoch_minutes: float = 15.0
    arrival_rates: tuple[float, ...] = DEFAULT_RATES
    promise_minutes: float = 120.0
    earliest_delay_minutes: float = 0.0
    size_min: int = 1
    size_max: int = 3
    service_minutes: float = 3.0
    locations: str = "uniform"
    area_km: float = 15.0
    n_hotspots: int = 5
    hotspot_km: float = 1.5
    instance: str | None = None
    instance_km_per_unit: float = 1.0
    n_vehicles: int | None = 10
    capacity: int = 12
    speed_kmh: float = 30.0
    shift_end_minutes: float | None = None
    dispatch_margin_minutes: float = 0.0
    router: str = "insertion"
    router_time_limit: float | None = None
    router_iterations: int | None = 1000
    cost_per_km: float = 0.5
    cost_per_trip: float = 5.0
    cost_per_late_minute: float = 0.5
    failed_penalty: float = 50.0
    co2_kg_per_km: float = 0.25
    hard_deadlines: bool = False
    max_orders: int = 64
    observation: str = "flat"

    def __post_init__(self) -> None:
        with env_fields():  # name the field as the command line does (env.<field>)
            self._validate()

    def _validate(self) -> None:
        s = object.__setattr__
        s(self, "rules", check_choice("rules", self.rules, RULES))
        s(self, "day_minutes", check_float("day_minutes", self.day_minutes, 1.0, MAX_MINUTES))
        s(self, "epoch_minutes", check_float("epoch_minutes", self.epoch_minutes, 0.0, self.day_minutes, strict_low=True))
        rates = self.arrival_rates
        if isinstance(rates, str | bytes) or not hasattr(rates, "__len__") or not len(rates):
            raise ConfigError(f"arrival_rates: expected a non-empty list of orders per hour, got {rates!r}")
        rates = tuple(check_float(f"arrival_rates[{i}]", r, 0.0, MAX_ORDERS_PER_HOUR) for i, r in enumerate(rates))
        if 60.0 * len(rates) > self.day_minutes + 1e-9:
            raise ConfigError(f"arrival_rates: {len(rates)} hours of orders do not fit in day_minutes={self.day_minutes:g}")
        s(self, "arrival_rates", rates)
        for name in ("promise_minutes", "service_minutes"):
            s(self, name, check_float(name, getattr(self, name), 0.0, MAX_MINUTES))
        s(self, "earliest_delay_minutes", check_float("earliest_delay_minutes", self.earliest_delay_minutes, 0.0, self.promise_minutes))
        s(self, "size_min", check_int("size_min", self.size_min, 0, 1_000_000))
        s(self, "size_max", check_int("size_max", self.size_max, self.size_min, 1_000_000))
        s(self, "locations", check_choice("locations", self.locations, LOCATIONS))
        s(self, "area_km", check_float("area_km", self.area_km, 0.0, 10_000.0, strict_low=True))
        s(self, "n_hotspots", check_int("n_hotspots", self.n_hotspots, 1, 1000))
        s(self, "hotspot_km", check_float("hotspot_km", self.hotspot_km, 0.0, 10_000.0))
        s(self, "instance_km_per_unit", check_float("instance_km_per_unit", self.instance_km_per_unit, 0.0, 1e6, strict_low=True))
        if self.instance is not None:
            s(self, "instance", str(find_instance(self.instance)))
        needs_instance = self.locations == "instance" or self.rules == "euro_neurips"
        if needs_instance and self.instance is None:
            raise ConfigError(f"instance: required with {'rules=euro_neurips' if self.rules == 'euro_neurips' else 'locations=instance'}; give env.instance=<path to a VRPLIB file>")
        if self.instance is not None:  # read now (cached), so a malformed file fails here, in one line
            (euro_instance if self.rules == "euro_neurips" else instance_coordinates)(self.instance)
        if self.n_vehicles is not None:
            s(self, "n_vehicles", check_int("n_vehicles", self.n_vehicles, 1, MAX_VEHICLES))
        s(self, "capacity", check_int("capacity", self.capacity, 1, 10**9))
        if self.size_max > self.capacity:
            raise ConfigError(f"size_max: expected at most capacity={self.capacity}, got {self.size_max}")
        s(self, "speed_kmh", check_float("speed_kmh", self.speed_kmh, 0.0, 10_000.0, strict_low=True))
        if self.shift_end_minutes is not None:
            s(self, "shift_end_minutes", check_float("shift_end_minutes", self.shift_end_minutes, self.epoch_minutes, MAX_MINUTES))
        s(self, "dispatch_margin_minutes", check_float("dispatch_margin_minutes", self.dispatch_margin_minutes, 0.0, MAX_MINUTES))
        s(self, "router", check_choice("router", self.router, ROUTERS))
        if self.router_time_limit is not None:
            s(self, "router_time_limit", check_float("router_time_limit", self.router_time_limit, 0.0, 3600.0, strict_low=True))
        if self.router_iterations is not None:
            s(self, "router_iterations", check_int("router_iterations", self.router_iterations, 1, 10**9))
        if self.router_time_limit is None and self.router_iterations is None:
            raise ConfigError("router_iterations: give router_iterations or router_time_limit (seconds) for router=pyvrp")
        for name in ("cost_per_km", "cost_per_trip", "cost_per_late_minute", "failed_penalty", "co2_kg_per_km"):
            s(self, name, check_float(name, getattr(self, name), 0.0, MAX_COST))
        s(self, "hard_deadlines", check_bool("hard_deadlines", self.hard_deadlines))
        s(self, "max_orders", check_int("max_orders", self.max_orders, 1, 4096))
        s(self, "observation", check_choice("observation", self.observation, OBS_FORMATS))
        check_work("the decision epochs of a day (day_minutes / epoch_minutes)", self.day_minutes / self.epoch_minutes,
                   MAX_EPOCHS, {"epoch_minutes": self.epoch_minutes, "day_minutes": self.day_minutes})
        if self.rules == "same_day":  # the EURO-NeurIPS rules take the requests from the instance
            check_work("the expected orders of a day (the sum of arrival_rates)", sum(self.arrival_rates),
                       MAX_DAILY_ORDERS, {"arrival_rates": list(self.arrival_rates)})

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> DispatchConfig:
        """A config from keyword arguments, unknown keys refused in one line."""
        check_keys("env", kwargs, [f.name for f in fields(cls)])
        return cls(**dict(kwargs))

    @property
    def shift_end(self) -> float:
        return self.day_minutes if self.shift_end_minutes is None else self.shift_end_minutes

    @property
    def n_epochs(self) -> int:
        """Decision epochs 0, epoch, 2 epoch, ... strictly before the end of the day."""
        return max(1, math.ceil(self.day_minutes / self.epoch_minutes - 1e-9))

    @property
    def speed(self) -> float:
        """km per minute."""
        return self.speed_kmh / 60.0

    def plain(self) -> dict[str, Any]:
        """JSON-ready keyword arguments."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["arrival_rates"] = list(self.arrival_rates)
        return out


EURO_INSTANCE = "data/dispatch/euro_neurips_synthetic_n60.txt"
"""A small synthetic instance in the competition's format (ours; the competition's own
instances are CC BY-NC and are not shipped: give ``env.instance=<file>``)."""


@dataclass(frozen=True)
class EuroNeuripsConfig(DispatchConfig):
    """:class:`DispatchConfig` with the EURO Meets NeurIPS 2022 dynamic protocol's values as
    defaults (``env=dispatch_euro_neurips``): its rules on ``instance``, hourly epochs, a
    60-minute dispatch margin, unlimited vehicles (capacity from the instance), hard time
    windows, and the cost = driving duration in seconds (``cost_per_km`` 1 on the instance's
    seconds; no trip or lateness charges). ``failed_penalty`` prices an order no vehicle
    took (the protocol's must-dispatch rule makes that impossible with the default router;
    the competition voids such a solution). The same-day fields (arrival rates, locations,
    sizes, speed) are not used by these rules."""

    rules: str = "euro_neurips"
    instance: str | None = EURO_INSTANCE
    day_minutes: float = 1440.0
    epoch_minutes: float = 60.0
    dispatch_margin_minutes: float = 60.0
    n_vehicles: int | None = None
    capacity: int = 1_000_000
    cost_per_km: float = 1.0
    cost_per_trip: float = 0.0
    cost_per_late_minute: float = 0.0
    failed_penalty: float = 100_000.0
    hard_deadlines: bool = True
    max_orders: int = 128
