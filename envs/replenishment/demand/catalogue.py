"""Product catalogues of a fulfilment centre: synthetic, uniform, or loaded from a CSV history.

A :class:`Catalogue` holds per-SKU attributes (popularity, volume, cost, price, lead time,
intermittency, lifecycle) and optionally a daily demand history to replay.

* :func:`synthetic_catalogue`: a realistic long-tail e-commerce assortment.
* :meth:`Catalogue.uniform`: N identical regular SKUs.
* :func:`load_demand_csv`: a long-format CSV ``date,sku,demand[,unit_cost,price,volume,lead_time]``
  (one row per day and SKU), validated with one-line :class:`ConfigError` messages.
* :func:`generate_history` / :func:`write_demand_csv` and the command line::

      python -m envs.replenishment.demand.catalogue --n-skus 200 --days 730 --seed 0 \\
          --start 2024-01-01 --out data/fc_sample_200x730.csv

  simulate a synthetic catalogue's demand (with launches, retirements, weekly and yearly
  seasonality, trend and promotions) and write it in that CSV format.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from envs.core.config import ConfigError, check_float, check_int
from envs.replenishment.demand.processes import DemandModelConfig, DemandProcess

NEVER = 10**9
"""``retire_day`` of SKUs that never retire."""
MIN_MEAN_DEMAND = 0.01
"""Floor of ``mean_demand`` (SKUs with no sales still get a positive scale)."""
REQUIRED_COLUMNS = ("date", "sku", "demand")
OPTIONAL_COLUMNS = ("unit_cost", "price", "volume", "lead_time")
CSV_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
SHOW_LINES = 5
"""Offending CSV lines named in an error message (the rest are counted)."""

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
            "mean_demand": (np.float64, lambda a: np.isfinite(a) & (a >= 0), "finite numbers >= 0"),
            "volume": (np.float64, lambda a: np.isfinite(a) & (a > 0), "finite numbers > 0"),
            "unit_cost": (np.float64, lambda a: np.isfinite(a) & (a >= 0), "finite numbers >= 0"),
            "price": (np.float64, lambda a: np.isfinite(a) & (a >= 0), "finite numbers >= 0"),
            "lead_time": (np.int64, lambda a: a >= 1, "integers >= 1"),
            "intermittency": (np.float64, lambda a: (a > 0) & (a <= 1), "numbers in (0, 1]"),
            "launch_day": (np.int64, lambda a: np.ones(a.shape, bool), "integers"),
            "retire_day": (np.int64, lambda a: np.ones(a.shape, bool), "integers"),
        }
        for name, (dtype, ok, what) in specs.items():
            value = getattr(self, name)
            raw = np.asarray(value)
            arr = np.array(np.broadcast_to(raw, (n,)) if raw.ndim == 0 else raw, dtype=dtype)
            if arr.shape != (n,) or not ok(arr).all() or (dtype == np.int64 and not _integral(raw)):
                raise ConfigError(f"{c}.{name}: expected {n} {what}, got shape {raw.shape}")
            if name == "mean_demand":
                arr = np.maximum(arr, MIN_MEAN_DEMAND)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if self.history is not None:
            hist = np.array(self.history, dtype=np.int64)
            if hist.ndim != 2 or hist.shape[1] != n or len(hist) == 0 or (hist < 0).any():
                raise ConfigError(f"{c}.history: expected a (T >= 1, {n}) array of integers >= 0, "
                                  f"got shape {np.shape(self.history)}")
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


# -- CSV loader ------------------------------------------------------------------------
class _Rows:
    """Raw CSV rows with their 1-based line numbers, for error messages."""

    def __init__(self, where: str, lines: np.ndarray):
        self.where, self.lines = where, lines

    def fail(self, column: str, problem: str, idx: np.ndarray, notes: list[str]) -> ConfigError:
        shown = [f"{self.lines[i]} ({note})" for i, note in zip(idx[:SHOW_LINES], notes, strict=False)]
        more = f" and {len(idx) - SHOW_LINES} more" if len(idx) > SHOW_LINES else ""
        label = "line" if len(idx) == 1 else "lines"
        name = column if column.startswith("columns ") else f"column {column!r}"
        return ConfigError(f"{self.where}: {name}: {problem} at {label} {', '.join(shown)}{more}")


def _clip(text: Any) -> str:
    text = str(text)
    return repr(text if len(text) <= 20 else text[:17] + "...")


def load_demand_csv(path: str | Path, lead_time: int = 2, field: str = "env.demand_csv") -> Catalogue:
    """Load a long-format demand CSV (see the module docstring) as a catalogue with a history.

    Required columns ``date`` (YYYY-MM-DD), ``sku``, ``demand`` (integer >= 0); optional
    per-SKU constants ``unit_cost`` (>= 0, default 0), ``price`` (>= 0, default 0),
    ``volume`` (> 0, default 1), ``lead_time`` (integer >= 1, default ``lead_time``). The
    dates must be consecutive days and every SKU needs a row on every date (demand 0 before
    launch or after retirement). A ``.gz`` path is read gzip-compressed.

    The result has SKUs sorted by name; ``mean_demand`` = mean over the history (floored at
    0.01); ``launch_day`` = first day with demand when the SKU sells nothing for the first
    max(28, 5 x its mean inter-demand interval) days (else 0), ``retire_day`` = the day after
    its last demand when it sells nothing for as long at the end (else ``NEVER``);
    ``intermittency`` = fraction of days with demand between launch and retirement, clipped to
    [0.01, 1] and set to 1 from 0.9.
    """
    lead_time = check_int("env.lead_time", lead_time, 1)
    path = Path(path)
    where = f"{field}: {path}"
    header, raw, lines = _read_csv(path, where)
    table = _Rows(where, lines)
    cols = _check_header(header, where)
    if not raw:
        raise ConfigError(f"{where}: no data rows after the header (line 1)")
    counts = np.fromiter((len(r) for r in raw), dtype=np.int64, count=len(raw))
    bad = np.flatnonzero(counts != len(header))
    if bad.size:
        shown = ", ".join(f"{lines[i]} ({counts[i]} fields)" for i in bad[:SHOW_LINES])
        more = f" and {bad.size - SHOW_LINES} more" if bad.size > SHOW_LINES else ""
        raise ConfigError(f"{where}: expected {len(header)} fields per line like the header, "
                          f"got other counts at line(s) {shown}{more}")
    columns = {name: np.char.strip(np.array([r[j] for r in raw], dtype=str)) for name, j in cols.items()}

    parsed = pd.to_datetime(pd.Series(columns["date"]), format="%Y-%m-%d", errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        raise table.fail("date", "expected a date YYYY-MM-DD", bad, [_clip(columns["date"][i]) for i in bad])
    dates = parsed.to_numpy().astype("datetime64[D]")

    sku = columns["sku"]
    bad = np.flatnonzero(sku == "")
    if bad.size:
        raise table.fail("sku", "expected a SKU id", bad, ["empty"] * len(bad))

    demand = _numbers(table, "demand", columns["demand"], "expected an integer >= 0")
    for problem, bad in (("expected an integer >= 0, got a negative number", demand < 0),
                         ("expected an integer >= 0, got a fraction", demand != np.floor(demand))):
        bad = np.flatnonzero(bad)
        if bad.size:
            raise table.fail("demand", problem, bad, [_clip(columns["demand"][i]) for i in bad])
    demand = demand.astype(np.int64)

    extras: dict[str, np.ndarray] = {}
    rules = {
        "unit_cost": ("expected a number >= 0", lambda a: a >= 0),
        "price": ("expected a number >= 0", lambda a: a >= 0),
        "volume": ("expected a number > 0", lambda a: a > 0),
        "lead_time": ("expected an integer >= 1", lambda a: (a >= 1) & (a == np.floor(a))),
    }
    for name in OPTIONAL_COLUMNS:
        if name in columns:
            problem, ok = rules[name]
            values = _numbers(table, name, columns[name], problem)
            bad = np.flatnonzero(~ok(values))
            if bad.size:
                raise table.fail(name, problem, bad, [_clip(columns[name][i]) for i in bad])
            extras[name] = values

    names, sku_idx = np.unique(sku.astype(str), return_inverse=True)
    n = len(names)
    d0 = dates.min()
    day = (dates - d0).astype(np.int64)
    n_days = int(day.max()) + 1
    key = day * n + sku_idx
    order = np.argsort(key, kind="stable")
    dup = order[1:][key[order][1:] == key[order][:-1]]
    if dup.size:
        first_line = {}
        for i in order:
            first_line.setdefault(int(key[i]), int(lines[i]))
        raise table.fail("columns 'date', 'sku'", "duplicate (date, sku) row", np.sort(dup),
                         [f"{dates[i]}, {_clip(sku[i])}, first at line {first_line[int(key[i])]}"
                          for i in np.sort(dup)])

    _, first_row = np.unique(sku_idx, return_index=True)  # first row of each SKU
    for name, values in extras.items():
        bad = np.flatnonzero(values != values[first_row][sku_idx])
        if bad.size:
            raise table.fail(
                name, "expected one value per SKU (a constant), got a different one", bad,
                [f"SKU {_clip(sku[i])}: {_clip(columns[name][i])}, first "
                 f"{_clip(columns[name][first_row[sku_idx[i]]])} at line {lines[first_row[sku_idx[i]]]}"
                 for i in bad])

    present = np.zeros(n_days, dtype=bool)
    present[day] = True
    if not present.all():
        missing = np.flatnonzero(~present)
        raise ConfigError(
            f"{where}: column 'date': no rows for {d0 + missing[0]} (the dates must be consecutive "
            f"days; {missing.size} of the {n_days} days from {d0} to {d0 + n_days - 1} are missing)")
    per_sku = np.bincount(sku_idx, minlength=n)
    incomplete = np.flatnonzero(per_sku < n_days)
    if incomplete.size:
        s = incomplete[0]
        seen = np.zeros(n_days, dtype=bool)
        seen[day[sku_idx == s]] = True
        first_missing = d0 + int(np.argmin(seen))
        listed = ", ".join(repr(str(names[i])) for i in incomplete[:SHOW_LINES])
        more = f" and {incomplete.size - SHOW_LINES} more" if incomplete.size > SHOW_LINES else ""
        raise ConfigError(
            f"{where}: column 'sku': SKU {str(names[s])!r} has no row for {first_missing} (every SKU "
            f"needs a row on every date, demand 0 when not sold); incomplete SKUs: {listed}{more}")

    history = np.zeros((n_days, n), dtype=np.int64)
    history[day, sku_idx] = demand
    launch, retire, intermittency = _lifecycle(history)

    def attribute(name: str, default: float) -> np.ndarray:
        return extras[name][first_row] if name in extras else np.full(n, default, dtype=np.float64)

    return Catalogue(
        skus=tuple(str(s) for s in names),
        mean_demand=np.maximum(history.mean(axis=0), MIN_MEAN_DEMAND),
        volume=attribute("volume", 1.0),
        unit_cost=attribute("unit_cost", 0.0),
        price=attribute("price", 0.0),
        lead_time=attribute("lead_time", lead_time).astype(np.int64),
        intermittency=intermittency,
        launch_day=launch,
        retire_day=retire,
        history=history,
        dates=d0 + np.arange(n_days),
    )


def _read_csv(path: Path, where: str) -> tuple[list[str], list[list[str]], np.ndarray]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        if '"' in text:  # quoted fields may span lines: ask the reader for each line number
            records, numbers = [], []
            for row in reader:
                records.append(row)
                numbers.append(reader.line_num)
        else:  # one record per physical line
            records = list(reader)
            numbers = range(2, len(records) + 2)
        blank = {i for i, row in enumerate(records) if not row}
        if blank:  # drop blank lines (their numbers still count)
            rows = [row for i, row in enumerate(records) if i not in blank]
            lines = [numbers[i] for i in range(len(records)) if i not in blank]
        else:
            rows, lines = records, list(numbers)
    except FileNotFoundError:
        raise ConfigError(f"{where}: file not found (expected a CSV file with columns "
                          f"{', '.join(REQUIRED_COLUMNS)})") from None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, expected a CSV file") from None
    except (UnicodeDecodeError, csv.Error, OSError, EOFError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{where}: not a readable CSV text file ({detail})") from None
    if header is None or not any(cell.strip() for cell in header):
        raise ConfigError(f"{where}: empty file, expected a header line {','.join(REQUIRED_COLUMNS)}"
                          f"[,{','.join(OPTIONAL_COLUMNS)}]")
    return [h.strip() for h in header], rows, np.asarray(lines, dtype=np.int64)


def _check_header(header: list[str], where: str) -> dict[str, int]:
    accepted = f"accepted columns are {', '.join(CSV_COLUMNS)}"
    cols: dict[str, int] = {}
    for j, name in enumerate(header):
        if name not in CSV_COLUMNS:
            raise ConfigError(f"{where}: column {name!r}: unknown column (line 1); {accepted}")
        if name in cols:
            raise ConfigError(f"{where}: column {name!r}: appears twice in the header (line 1)")
        cols[name] = j
    for name in REQUIRED_COLUMNS:
        if name not in cols:
            raise ConfigError(f"{where}: column {name!r}: missing required column (line 1); "
                              f"required {', '.join(REQUIRED_COLUMNS)}; {accepted}")
    return cols


def _numbers(table: _Rows, column: str, text: np.ndarray, problem: str) -> np.ndarray:
    try:
        values = text.astype(np.float64)
    except ValueError:
        values = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise table.fail(column, f"{problem}, got a non-number", bad, [_clip(text[i]) for i in bad])
    return values


def _lifecycle(history: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """launch_day, retire_day and intermittency estimated from a (T, N) history."""
    t_len, n = history.shape
    pos = history > 0
    count = pos.sum(axis=0)
    sold = count > 0
    first = np.where(sold, pos.argmax(axis=0), 0)
    last = np.where(sold, t_len - 1 - pos[::-1].argmax(axis=0), t_len - 1)
    gap = np.maximum(28, np.ceil(5.0 * t_len / np.maximum(count, 1))).astype(np.int64)
    launch = np.where(sold & (first >= gap), first, 0).astype(np.int64)
    ends = sold & (t_len - 1 - last >= gap)
    retire = np.where(ends, last + 1, NEVER).astype(np.int64)
    alive_days = np.minimum(retire, t_len) - launch
    frac = np.clip(count / np.maximum(alive_days, 1), 0.01, 1.0)
    return launch, retire, np.where(frac >= 0.9, 1.0, frac)


def _integral(raw: np.ndarray) -> bool:
    if raw.dtype.kind in "iub":
        return True
    if raw.dtype.kind == "f":
        return bool(np.all(np.isfinite(raw)) and np.all(raw == np.floor(raw)))
    return False


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
