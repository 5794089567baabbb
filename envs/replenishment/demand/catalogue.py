"""Product catalogues of a fulfilment centre: synthetic, uniform, or generated with a history.

A :class:`Catalogue` holds per-SKU attributes (popularity, volume, cost, price, lead time,
intermittency, lifecycle) and optionally a daily demand history to replay.

* :func:`synthetic_catalogue`: a realistic long-tail e-commerce assortment.
* :meth:`Catalogue.uniform`: N identical regular SKUs.
* :func:`generate_history` / :func:`write_demand_csv` and the command line::

      python -m envs.replenishment.demand.catalogue --n-skus 200 --days 730 --seed 0 \\
          --start 2024-01-01 --out data/fc_sample_200x730.csv

  simulate a synthetic catalogue's demand (with launches, retirements, weekly and yearly
  seasonality, trend and promotions) and write it as a long CSV
  ``date,sku,demand,unit_cost,price,volume,lead_time``.
* Reading such a CSV back (validated, one-line errors) is
  :func:`envs.replenishment.demand.history.load_demand_csv`.

Limits: ``mean_demand`` and ``history`` values at most 1e9 per day (``MAX_DAILY_DEMAND``),
``unit_cost`` and ``price`` at most 1e9 (``MAX_COST``), ``volume`` at most 1e9 and
``lead_time`` at most 365 periods.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from envs.core.config import MAX_COST, MAX_DAILY_DEMAND, ConfigError, check_float, check_int
from envs.replenishment.demand.processes import DemandModelConfig, DemandProcess

NEVER = 10**9
"""``retire_day`` of SKUs that never retire."""
MIN_MEAN_DEMAND = 0.01
"""Floor of ``mean_demand`` (SKUs with no sales still get a positive scale)."""
MAX_LEAD_TIME = 365
"""Largest lead time of a SKU in periods (as ``env.lead_time``)."""
MAX_VOLUME = 1e9
"""Largest volume of one unit."""
REQUIRED_COLUMNS = ("date", "sku", "demand")
OPTIONAL_COLUMNS = ("unit_cost", "price", "volume", "lead_time")
CSV_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
"""Columns of a long-format demand CSV (written here, read by ``history.load_demand_csv``)."""

SAMPLE_DEMAND_MODEL = DemandModelConfig(
    distribution="negative_binomial",
    dispersion=1.5,
    weekly=(1.15, 1.05, 1.0, 1.0, 0.95, 0.8, 1.05),  # Monday peak, Saturday dip
    yearly_amplitude=0.3,
    yearly_peak_day=335,  # 1 December: Black Friday / Cyber Monday to Christmas
    trend=0.05,
    promo_probability=0.01,
    promo_length=5,
    promo_uplift=2.5,
    intermittent=True,
)
"""Demand model of :func:`generate_history` (and the committed sample file)."""


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

# -- history generator -----------------------------------------------------------------
def generate_history(
    n_skus: int,
    days: int,
    rng: np.random.Generator,
    start: str = "2024-01-01",
    model: DemandModelConfig | None = None,
    lead_time: int | None = None,
) -> Catalogue:
    """Simulate ``days`` days of demand of a synthetic catalogue; all draws from ``rng``.

    Draws the catalogue (:func:`synthetic_catalogue`), then a lifecycle: ~10% of the SKUs
    launch on a day in the middle 80% of the history (demand 0 before) and ~10% others retire
    on such a day (demand 0 from then), then the demand with ``model`` (default
    :data:`SAMPLE_DEMAND_MODEL`) on the calendar starting at ``start``. The result carries the
    catalogue's true attributes (``mean_demand`` is the base rate), its lifecycle, the
    ``history`` and the ``dates``.
    """
    days = check_int("days", days, 1)
    try:
        first = np.datetime64(start, "D")
    except ValueError:
        raise ConfigError(f"start: expected a date YYYY-MM-DD, got {start!r}") from None
    cat = synthetic_catalogue(n_skus, rng, lead_time)
    n = cat.n
    k = int(round(0.1 * n))
    perm = rng.permutation(n)
    lo, hi = days // 10, max(days * 9 // 10, days // 10 + 1)
    launch = np.zeros(n, dtype=np.int64)
    retire = np.full(n, NEVER, dtype=np.int64)
    launch[perm[:k]] = rng.integers(lo, hi, k)
    retire[perm[k:2 * k]] = rng.integers(lo, hi, len(perm[k:2 * k]))
    dates = first + np.arange(days)
    cat = replace(cat, launch_day=launch, retire_day=retire, dates=dates)
    process = DemandProcess(model if model is not None else SAMPLE_DEMAND_MODEL, cat)
    process.reset(rng, 0)
    return replace(cat, history=process.next_block(days))


def _num(x: float) -> str:
    text = repr(round(float(x), 2))
    return text[:-2] if text.endswith(".0") else text


def write_demand_csv(catalogue: Catalogue, path: str | Path) -> None:
    """Write ``catalogue.history`` as a long CSV: date,sku,demand,unit_cost,price,volume,lead_time
    (one row per date and SKU, dates ascending, then SKUs in catalogue order)."""
    if catalogue.history is None or catalogue.dates is None:
        raise ValueError("write_demand_csv needs a catalogue with a history and dates")
    suffix = [
        f",{_num(c)},{_num(p)},{_num(v)},{int(lt)}\n"
        for c, p, v, lt in zip(catalogue.unit_cost, catalogue.price, catalogue.volume,
                               catalogue.lead_time, strict=True)
    ]
    heads = [f"{s}," for s in catalogue.skus]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        fh.write(",".join(CSV_COLUMNS) + "\n")
        for date, row in zip(catalogue.dates.astype(str), catalogue.history.tolist(), strict=True):
            fh.write("".join([f"{date},{h}{d}{s}" for h, d, s in zip(heads, row, suffix, strict=True)]))



# -- command line ----------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m envs.replenishment.demand.catalogue",
        description="Simulate the daily demand history of a synthetic e-commerce catalogue and "
                    "write it as a long CSV (date,sku,demand,unit_cost,price,volume,lead_time) "
                    "that env.demand_csv can replay.",
    )
    parser.add_argument("--n-skus", type=int, default=200, help="number of SKUs (default 200)")
    parser.add_argument("--days", type=int, default=730, help="days of history (default 730)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--start", default="2024-01-01", help="first date, YYYY-MM-DD (default 2024-01-01)")
    parser.add_argument("--lead-time", type=int, default=None,
                        help="lead time of every SKU (default: per-SKU lead times 1..7)")
    parser.add_argument("--out", default=None,
                        help="output CSV (default data/fc_sample_<n-skus>x<days>.csv)")
    args = parser.parse_args(argv)
    try:
        check_int("--n-skus", args.n_skus, 1)
        check_int("--days", args.days, 1)
        check_int("--seed", args.seed, 0)
        cat = generate_history(args.n_skus, args.days, np.random.default_rng(args.seed),
                               start=args.start, lead_time=args.lead_time)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out or f"data/fc_sample_{args.n_skus}x{args.days}.csv")
    write_demand_csv(cat, out)
    total = int(cat.history.sum())
    print(f"wrote {out}: {cat.n} SKUs x {args.days} days from {cat.dates[0]} "
          f"({cat.n * args.days} rows, total demand {total}, {out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
