"""Reading daily demand histories: the validated loader of long-format CSV files.

:func:`load_demand_csv` reads ``date,sku,demand[,unit_cost,price,volume,lead_time]`` (one row
per day and SKU; :func:`envs.replenishment.demand.catalogue.write_demand_csv` writes it) into
a :class:`~envs.replenishment.demand.catalogue.Catalogue` with a history. Every problem is a
one-line :class:`ConfigError` naming the file, the column and the offending CSV lines.

Limits of a CSV: ``demand`` an integer in [0, 1e9] (``MAX_DAILY_DEMAND``: with orders of at
most 1,000 periods of demand and episodes of at most 100,000 periods, stock + pipeline stays
far below the int64 limit); ``unit_cost`` and ``price`` in [0, 1e9] (``MAX_COST``);
``volume`` in (0, 1e9]; ``lead_time`` an integer in [1, 365].
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from envs.core.config import MAX_COST, MAX_DAILY_DEMAND, ConfigError, check_int
from envs.replenishment.demand.catalogue import (
    CSV_COLUMNS,
    MAX_LEAD_TIME,
    MAX_VOLUME,
    MIN_MEAN_DEMAND,
    NEVER,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    Catalogue,
)

SHOW_LINES = 5
"""Offending CSV lines named in an error message (the rest are counted)."""
ATTRIBUTE_RULES = {
    "unit_cost": ("expected a number >= 0 and <= 1e9", lambda a: (a >= 0) & (a <= MAX_COST)),
    "price": ("expected a number >= 0 and <= 1e9", lambda a: (a >= 0) & (a <= MAX_COST)),
    "volume": ("expected a number > 0 and <= 1e9", lambda a: (a > 0) & (a <= MAX_VOLUME)),
    "lead_time": (f"expected an integer >= 1 and <= {MAX_LEAD_TIME}",
                  lambda a: (a >= 1) & (a <= MAX_LEAD_TIME) & (a == np.floor(a))),
}
"""Per-SKU constant columns: the rule a value must pass and the message when it does not."""


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

    def check(self, column: str, problem: str, bad: np.ndarray, text: np.ndarray) -> None:
        """Raise :meth:`fail` for the rows where ``bad`` is True, quoting their ``text``."""
        idx = np.flatnonzero(bad)
        if idx.size:
            raise self.fail(column, problem, idx, [_clip(text[i]) for i in idx])


def _clip(text: Any) -> str:
    text = str(text)
    return repr(text if len(text) <= 20 else text[:17] + "...")


def load_demand_csv(path: str | Path, lead_time: int = 2, field: str = "env.demand_csv") -> Catalogue:
    """Load a long-format demand CSV (see the module docstring) as a catalogue with a history.

    Required columns ``date`` (YYYY-MM-DD), ``sku``, ``demand`` (integer in [0, 1e9]); optional
    per-SKU constants ``unit_cost`` (in [0, 1e9], default 0), ``price`` (in [0, 1e9], default
    0), ``volume`` (in (0, 1e9], default 1), ``lead_time`` (integer in [1, 365], default
    ``lead_time``). The dates must be consecutive days and every SKU needs a row on every
    date (demand 0 before launch or after retirement). A ``.gz`` path is read gzip-compressed.

    The result has SKUs sorted by name; ``mean_demand`` = mean over the history (floored at
    0.01); ``launch_day`` = first day with demand when the SKU sells nothing for the first
    max(28, 5 x its mean inter-demand interval) days (else 0), ``retire_day`` = the day after
    its last demand when it sells nothing for as long at the end (else ``NEVER``);
    ``intermittency`` = fraction of days with demand between launch and retirement, clipped to
    [0.01, 1] and set to 1 from 0.9.
    """
    lead_time = check_int("env.lead_time", lead_time, 1, MAX_LEAD_TIME)
    path = Path(path)
    where = f"{field}: {path}"
    header, raw, lines = _read_csv(path, where)
    table = _Rows(where, lines)
    columns = _columns(table, header, raw)
    dates = _parse_dates(table, columns["date"])
    sku = columns["sku"]
    bad = np.flatnonzero(sku == "")
    if bad.size:
        raise table.fail("sku", "expected a SKU id", bad, ["empty"] * len(bad))
    demand = _parse_demand(table, columns["demand"])
    extras = {name: _parse_attribute(table, name, columns[name]) for name in OPTIONAL_COLUMNS if name in columns}

    names, sku_idx = np.unique(sku.astype(str), return_inverse=True)
    d0 = dates.min()
    day = (dates - d0).astype(np.int64)
    n_days = int(day.max()) + 1
    _check_unique_rows(table, day * len(names) + sku_idx, dates, sku)
    _, first_row = np.unique(sku_idx, return_index=True)  # first row of each SKU
    for name, values in extras.items():
        _check_constant(table, name, columns[name], values, first_row, sku_idx, sku)
    _check_complete(where, day, sku_idx, names, d0, n_days)

    history = np.zeros((n_days, len(names)), dtype=np.int64)
    history[day, sku_idx] = demand
    attributes = {name: values[first_row] for name, values in extras.items()}
    return _catalogue(names, history, attributes, lead_time, d0)


def _catalogue(names: np.ndarray, history: np.ndarray, attributes: dict[str, np.ndarray], lead_time: int,
               d0: np.datetime64) -> Catalogue:
    """The catalogue of a validated (T, N) history and its per-SKU attribute columns."""
    n_days, n = history.shape
    launch, retire, intermittency = _lifecycle(history)

    def attribute(name: str, default: float) -> np.ndarray:
        return attributes[name] if name in attributes else np.full(n, default, dtype=np.float64)

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


def _columns(table: _Rows, header: list[str], raw: list[list[str]]) -> dict[str, np.ndarray]:
    """The known columns as stripped string arrays, once every line has the header's field count."""
    cols = _check_header(header, table.where)
    if not raw:
        raise ConfigError(f"{table.where}: no data rows after the header (line 1)")
    counts = np.fromiter((len(r) for r in raw), dtype=np.int64, count=len(raw))
    bad = np.flatnonzero(counts != len(header))
    if bad.size:
        shown = ", ".join(f"{table.lines[i]} ({counts[i]} fields)" for i in bad[:SHOW_LINES])
        more = f" and {bad.size - SHOW_LINES} more" if bad.size > SHOW_LINES else ""
        raise ConfigError(f"{table.where}: expected {len(header)} fields per line like the header, "
                          f"got other counts at line(s) {shown}{more}")
    return {name: np.char.strip(np.array([r[j] for r in raw], dtype=str)) for name, j in cols.items()}


def _parse_dates(table: _Rows, text: np.ndarray) -> np.ndarray:
    parsed = pd.to_datetime(pd.Series(text), format="%Y-%m-%d", errors="coerce")
    table.check("date", "expected a date YYYY-MM-DD", parsed.isna().to_numpy(), text)
    return parsed.to_numpy().astype("datetime64[D]")


def _parse_demand(table: _Rows, text: np.ndarray) -> np.ndarray:
    """int64 demand: numbers (finite), then >= 0, integral and <= MAX_DAILY_DEMAND."""
    demand = _numbers(table, "demand", text, "expected an integer >= 0")
    table.check("demand", "expected an integer >= 0, got a negative number", demand < 0, text)
    table.check("demand", "expected an integer >= 0, got a fraction", demand != np.floor(demand), text)
    table.check("demand", f"expected an integer <= {MAX_DAILY_DEMAND} (the largest daily demand of a SKU), "
                f"got a larger number", demand > MAX_DAILY_DEMAND, text)
    return demand.astype(np.int64)


def _parse_attribute(table: _Rows, name: str, text: np.ndarray) -> np.ndarray:
    problem, ok = ATTRIBUTE_RULES[name]
    values = _numbers(table, name, text, problem)
    table.check(name, problem, ~ok(values), text)
    return values


def _check_unique_rows(table: _Rows, key: np.ndarray, dates: np.ndarray, sku: np.ndarray) -> None:
    """No two rows with the same (date, SKU) ``key``."""
    order = np.argsort(key, kind="stable")
    dup = order[1:][key[order][1:] == key[order][:-1]]
    if dup.size:
        first_line = {}
        for i in order:
            first_line.setdefault(int(key[i]), int(table.lines[i]))
        raise table.fail("columns 'date', 'sku'", "duplicate (date, sku) row", np.sort(dup),
                         [f"{dates[i]}, {_clip(sku[i])}, first at line {first_line[int(key[i])]}"
                          for i in np.sort(dup)])


def _check_constant(table: _Rows, name: str, text: np.ndarray, values: np.ndarray, first_row: np.ndarray,
                    sku_idx: np.ndarray, sku: np.ndarray) -> None:
    """A per-SKU attribute column holds one value per SKU."""
    first = first_row[sku_idx]
    bad = np.flatnonzero(values != values[first])
    if bad.size:
        raise table.fail(
            name, "expected one value per SKU (a constant), got a different one", bad,
            [f"SKU {_clip(sku[i])}: {_clip(text[i])}, first {_clip(text[first[i]])} at line {table.lines[first[i]]}"
             for i in bad])


def _check_complete(where: str, day: np.ndarray, sku_idx: np.ndarray, names: np.ndarray, d0: np.datetime64,
                    n_days: int) -> None:
    """Consecutive dates, and a row for every SKU on every date."""
    present = np.zeros(n_days, dtype=bool)
    present[day] = True
    if not present.all():
        missing = np.flatnonzero(~present)
        raise ConfigError(
            f"{where}: column 'date': no rows for {d0 + missing[0]} (the dates must be consecutive "
            f"days; {missing.size} of the {n_days} days from {d0} to {d0 + n_days - 1} are missing)")
    per_sku = np.bincount(sku_idx, minlength=len(names))
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
