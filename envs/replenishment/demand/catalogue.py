"""Product catalogues of a fulfilment centre: synthetic, uniform, or loaded from a CSV history.

A :class:`Catalogue` holds per-SKU attributes (popularity, volume, cost, price, lead time,
intermittency, lifecycle) and optionally a daily demand history to replay.

* :func:`synthetic_catalogue`: a realistic long-tail e-commerce assortment.
* :meth:`Catalogue.uniform`: N identical regular SKUs.
* :mod:`envs.replenishment.demand.history`: CSV demand histories (``load_demand_csv``,
  ``write_demand_csv``) and the synthetic history generator (``generate_history``), also
  importable from here. Its command line runs as::

      python -m envs.replenishment.demand.catalogue --n-skus 200 --days 730 --seed 0 \\
          --start 2024-01-01 --out data/fc_sample_200x730.csv

Limits: ``mean_demand`` and ``history`` values at most 1e9 per day (``MAX_DAILY_DEMAND``),
``unit_cost`` and ``price`` at most 1e9 (``MAX_COST``), ``volume`` at most 1e9 and
``lead_time`` at most 365 periods.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from envs.core.config import MAX_COST, MAX_DAILY_DEMAND, ConfigError, check_float, check_int

NEVER = 10**9
"""``retire_day`` of SKUs that never retire."""
MIN_MEAN_DEMAND = 0.01
"""Floor of ``mean_demand`` (SKUs with no sales still get a positive scale)."""
MAX_LEAD_TIME = 365
"""Largest lead time of a SKU in periods (as ``env.lead_time``)."""
MAX_VOLUME = 1e9
"""Largest volume of one unit."""
HISTORY_NAMES = ("CSV_COLUMNS", "OPTIONAL_COLUMNS", "REQUIRED_COLUMNS", "SAMPLE_DEMAND_MODEL",
                 "generate_history", "load_demand_csv", "write_demand_csv")
"""Names that moved to :mod:`envs.replenishment.demand.history`, still importable from here."""


@dataclass(frozen=True, eq=False)
class Catalogue:
    """Per-SKU attributes of N SKUs (arrays are read-only copies) and an optional history."""

    skus: tuple[str, ...]
    """SKU ids (unique)."""
    mean_demand: np.ndarray
    """float64 (N,): long-run mean demand per period (floored at 0.01)."""
    volume: np.ndarray
    """float64 (N,) > 0: volume of one unit (litres)."""
    unit_cost: np.ndarray
    """float64 (N,) >= 0: purchase cost of one unit."""
    price: np.ndarray
    """float64 (N,) >= 0: selling price of one unit."""
    lead_time: np.ndarray
    """int64 (N,) >= 1: supplier lead time in periods."""
    intermittency: np.ndarray
    """float64 (N,) in (0, 1]: probability that a period has positive demand (1 = regular)."""
    launch_day: np.ndarray
    """int64 (N,): first day the SKU is sold (0 or negative = from the start)."""
    retire_day: np.ndarray
    """int64 (N,): first day the SKU is no longer sold (``NEVER`` = 10**9: never)."""
    history: np.ndarray | None = None
    """int64 (T, N) >= 0: daily demand history (replayed by the csv catalogue), or None."""
    dates: np.ndarray | None = None
    """datetime64[D] (T,): the date of day 0, 1, ... (history rows), or None."""

    def __post_init__(self) -> None:
        c = "catalogue"
        skus = tuple(str(s) for s in self.skus)
        if not skus or len(set(skus)) != len(skus):
            raise ConfigError(f"{c}.skus: expected at least one SKU id and no duplicates, got {len(skus)} ids")
        object.__setattr__(self, "skus", skus)
        n = len(skus)
        specs = {
            "mean_demand": (np.float64, 0.0, MAX_DAILY_DEMAND, f"numbers in [0, {MAX_DAILY_DEMAND:.0e}]"),
            "volume": (np.float64, None, MAX_VOLUME, f"numbers in (0, {MAX_VOLUME:.0e}]"),
            "unit_cost": (np.float64, 0.0, MAX_COST, f"numbers in [0, {MAX_COST:.0e}]"),
            "price": (np.float64, 0.0, MAX_COST, f"numbers in [0, {MAX_COST:.0e}]"),
            "lead_time": (np.int64, 1, MAX_LEAD_TIME, f"integers in [1, {MAX_LEAD_TIME}]"),
            "intermittency": (np.float64, None, 1.0, "numbers in (0, 1]"),
            "launch_day": (np.int64, -math.inf, math.inf, "integers"),
            "retire_day": (np.int64, -math.inf, math.inf, "integers"),
        }
        for name, (dtype, low, high, what) in specs.items():
            arr = _per_sku(f"{c}.{name}", getattr(self, name), n, dtype, low, high, what)
            if name == "mean_demand":
                arr = np.maximum(arr, MIN_MEAN_DEMAND)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if self.history is not None:
            hist = _history(f"{c}.history", self.history, n)
            hist.setflags(write=False)
            object.__setattr__(self, "history", hist)
        if self.dates is not None:
            dates = np.array(self.dates, dtype="datetime64[D]")
            if dates.ndim != 1 or (self.history is not None and len(dates) != len(self.history)):
                raise ConfigError(f"{c}.dates: expected one date per history row, got shape {dates.shape}")
            dates.setflags(write=False)
            object.__setattr__(self, "dates", dates)

    def __repr__(self) -> str:
        hist = "None" if self.history is None else f"{self.history.shape[0]} days"
        return (f"Catalogue(n={self.n}, skus={self.skus[0]!r}..{self.skus[-1]!r}, "
                f"mean_demand={self.mean_demand.sum():.4g} in total, history={hist})")

    @property
    def n(self) -> int:
        """Number of SKUs."""
        return len(self.skus)

    def popularity_order(self) -> np.ndarray:
        """SKU indices by decreasing mean demand (ties by index)."""
        return np.argsort(-self.mean_demand, kind="stable")

    def popularity_class(self) -> np.ndarray:
        """ABC class per SKU ('A', 'B' or 'C'): ranked by mean demand, a SKU is A when the SKUs
        above it make less than 80% of the total mean demand, B when less than 95%, else C."""
        order = self.popularity_order()
        share = self.mean_demand[order] / self.mean_demand.sum()
        before = np.concatenate([[0.0], np.cumsum(share)[:-1]])
        ranked = np.where(before < 0.80 - 1e-12, "A", np.where(before < 0.95 - 1e-12, "B", "C"))
        out = np.empty(self.n, dtype="<U1")
        out[order] = ranked
        return out

    def subset(self, n: int) -> Catalogue:
        """The ``n`` most popular SKUs (by mean demand, ties by index), in catalogue order."""
        n = check_int("env.n_skus", n, 1, self.n)
        keep = np.sort(self.popularity_order()[:n])
        return Catalogue(
            skus=tuple(self.skus[i] for i in keep),
            mean_demand=self.mean_demand[keep],
            volume=self.volume[keep],
            unit_cost=self.unit_cost[keep],
            price=self.price[keep],
            lead_time=self.lead_time[keep],
            intermittency=self.intermittency[keep],
            launch_day=self.launch_day[keep],
            retire_day=self.retire_day[keep],
            history=None if self.history is None else self.history[:, keep],
            dates=self.dates,
        )

    @classmethod
    def uniform(
        cls,
        n: int,
        mean_demand: float = 5.0,
        lead_time: int = 2,
        volume: float = 1.0,
        unit_cost: float = 0.0,
        price: float = 0.0,
    ) -> Catalogue:
        """N identical regular SKUs, always alive."""
        n = check_int("env.n_skus", n, 1)
        return cls(
            skus=sku_ids(n),
            mean_demand=np.full(n, check_float("env.mean_demand", mean_demand, 0.0, strict_low=True)),
            volume=np.full(n, check_float("env.volume", volume, 0.0, strict_low=True)),
            unit_cost=np.full(n, check_float("env.unit_cost", unit_cost, 0.0)),
            price=np.full(n, check_float("env.price", price, 0.0)),
            lead_time=np.full(n, check_int("env.lead_time", lead_time, 1), dtype=np.int64),
            intermittency=np.ones(n),
            launch_day=np.zeros(n, dtype=np.int64),
            retire_day=np.full(n, NEVER, dtype=np.int64),
        )


def sku_ids(n: int) -> tuple[str, ...]:
    """``SKU00001``, ``SKU00002``, ... (zero-padded so that name order is index order)."""
    width = max(5, len(str(n)))
    return tuple(f"SKU{i + 1:0{width}d}" for i in range(n))


# -- synthetic catalogue ---------------------------------------------------------------
def _truncated_lognormal(rng: np.random.Generator, median: float, sigma: float, low: float,
                         high: float, n: int) -> np.ndarray:
    mu = math.log(median)
    a, b = ndtr((math.log(low) - mu) / sigma), ndtr((math.log(high) - mu) / sigma)
    return np.clip(np.exp(mu + sigma * ndtri(rng.uniform(a, b, n))), low, high)


def _round_significant(x: np.ndarray, digits: int) -> np.ndarray:
    """Round positive values to ``digits`` significant digits (keeps the sample CSV small)."""
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(x)))
    return np.round(x * scale) / scale


def synthetic_catalogue(n_skus: int, rng: np.random.Generator, lead_time: int | None = None) -> Catalogue:
    """A long-tail e-commerce catalogue of ``n_skus`` SKUs, every SKU alive throughout.

    Mean demand: lognormal (median 0.75/day, sigma 2) truncated to [0.04, 80] units/day, so
    the top 20% of SKUs make ~80% of the volume and ~half the SKUs sell less than once a day.
    Those (mean m < 1) are intermittent: intermittency = (1 - exp(-m)) * U(0.5, 0.9), i.e.
    fewer, larger orders than Poisson. Volume: lognormal (median 1.5 l) in [0.1, 50] l (2
    significant digits). Unit cost: lognormal (median 15) in [2, 200]; price = cost * U(1.2,
    2.5) (both 3 significant digits).
    Lead time: 1..7 periods (mostly 2-3), or all equal to ``lead_time``. Draws from ``rng``
    in that order.
    """
    n = check_int("env.n_skus", n_skus, 1)
    if lead_time is not None:
        lead_time = check_int("env.lead_time", lead_time, 1)
    mean = _truncated_lognormal(rng, 0.75, 2.0, 0.04, 80.0, n)
    damp = rng.uniform(0.5, 0.9, n)
    intermittency = np.where(mean < 1.0, np.clip((1.0 - np.exp(-mean)) * damp, 0.01, 1.0), 1.0)
    volume = _round_significant(_truncated_lognormal(rng, 1.5, 1.3, 0.1, 50.0, n), 2)
    unit_cost = _round_significant(_truncated_lognormal(rng, 15.0, 1.0, 2.0, 200.0, n), 3)
    price = _round_significant(unit_cost * rng.uniform(1.2, 2.5, n), 3)
    if lead_time is None:
        probs = np.array([0.15, 0.3, 0.25, 0.12, 0.08, 0.06, 0.04])
        lead = rng.choice(np.arange(1, 8), size=n, p=probs)
    else:
        lead = np.full(n, lead_time)
    return Catalogue(
        skus=sku_ids(n),
        mean_demand=mean,
        volume=volume,
        unit_cost=unit_cost,
        price=price,
        lead_time=lead.astype(np.int64),
        intermittency=intermittency,
        launch_day=np.zeros(n, dtype=np.int64),
        retire_day=np.full(n, NEVER, dtype=np.int64),
    )



def _per_sku(field: str, value: Any, n: int, dtype: type, low: float | None, high: float,
             what: str) -> np.ndarray:
    """``value`` (a scalar or N values) as a fresh ``dtype`` array; values in [low, high]
    ((0, high] for ``low`` None) and integral for int64, else a one-line :class:`ConfigError`."""
    raw = np.asarray(value)
    if raw.dtype.kind not in "biuf":
        raise ConfigError(f"{field}: expected {n} {what}, got dtype {raw.dtype}")
    if raw.ndim == 0:
        raw = np.broadcast_to(raw, (n,))
    if raw.shape != (n,):
        raise ConfigError(f"{field}: expected {n} {what}, got shape {raw.shape}")
    x = raw.astype(np.float64)
    ok = (x > 0 if low is None else x >= low) & (x <= high) & np.isfinite(x)
    if dtype == np.int64:
        ok &= x == np.floor(x)
    if not ok.all():
        i = int(np.argmin(ok))
        raise ConfigError(f"{field}: expected {n} {what}, got {raw[i].item()!r} at index {i}")
    return np.array(raw, dtype=dtype)


def _history(field: str, value: Any, n: int) -> np.ndarray:
    """A (T >= 1, N) int64 copy of ``value``: integers in [0, MAX_DAILY_DEMAND]."""
    raw = np.asarray(value)
    what = f"a (T >= 1, {n}) array of integers in [0, {MAX_DAILY_DEMAND:.0e}]"
    if raw.dtype.kind not in "biuf" or raw.ndim != 2 or raw.shape[1] != n or len(raw) == 0:
        raise ConfigError(f"{field}: expected {what}, got shape {raw.shape} and dtype {raw.dtype}")
    bad = (raw < 0) | (raw > MAX_DAILY_DEMAND)
    if raw.dtype.kind == "f":
        bad |= ~np.isfinite(raw) | (raw != np.floor(raw))
    if bad.any():
        t, i = np.unravel_index(np.argmax(bad), bad.shape)
        raise ConfigError(f"{field}: expected {what}, got {raw[t, i].item()!r} at row {t}, column {i}")
    return np.array(raw, dtype=np.int64)


def __getattr__(name: str) -> Any:
    """The CSV and history-generator names moved to ``history`` (imported lazily: it imports
    this module)."""
    if name in HISTORY_NAMES:
        from envs.replenishment.demand import history

        return getattr(history, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    """The history generator's command line (:func:`envs.replenishment.demand.history.main`)."""
    from envs.replenishment.demand.history import main as history_main

    return history_main(argv)


if __name__ == "__main__":
    sys.exit(main())
