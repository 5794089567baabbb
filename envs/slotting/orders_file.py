"""Order logs for the slotting order replay: a CSV of order lines read once per process
(the file format: :mod:`envs.slotting.replay`). No simulator or demand code here, so the
config can validate ``orders_csv`` without importing them."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from envs.core.config import ConfigError

REPO = Path(__file__).resolve().parents[2]
FIELD = "env.orders_csv"


@dataclass(frozen=True)
class OrderLog:
    """Orders (arrays of SKU ids), SKU labels by id, lines per SKU."""

    orders: tuple[np.ndarray, ...]
    labels: tuple[str, ...]
    lines: np.ndarray


def find_orders_file(path) -> Path:
    """``path`` as given, else relative to the repository."""
    if isinstance(path, str | Path):
        for candidate in (Path(path), REPO / path):
            if candidate.is_file():
                return candidate
    raise ConfigError(f"{FIELD}: expected the path of an existing CSV file of order lines, got {path!r}")


@lru_cache(maxsize=4)
def read_orders(path: str) -> OrderLog:
    """The order log of a CSV file (module docstring); cached per path."""
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            columns = set(reader.fieldnames or ())
            if not {"order", "sku"} <= columns:
                raise ConfigError(f"{FIELD}: {path}: expected a header with the columns order and sku, "
                                  f"got {', '.join(sorted(columns)) or 'none'}")
            grouped: dict[str, dict[str, None]] = {}
            for row in reader:
                order, sku = (row.get("order") or "").strip(), (row.get("sku") or "").strip()
                if not order or not sku:
                    raise ConfigError(f"{FIELD}: {path}: line {reader.line_num}: empty order or sku")
                grouped.setdefault(order, {})[sku] = None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ConfigError(f"{FIELD}: {path}: not a readable CSV file ({type(err).__name__})") from None
    if not grouped:
        raise ConfigError(f"{FIELD}: {path}: holds no order lines")
    counts: dict[str, int] = {}
    for skus in grouped.values():
        for sku in skus:
            counts[sku] = counts.get(sku, 0) + 1
    labels = sorted(counts, key=lambda s: (-counts[s], s))
    ids = {s: i for i, s in enumerate(labels)}
    orders = tuple(np.sort(np.array([ids[s] for s in skus], dtype=np.int64)) for skus in grouped.values())
    return OrderLog(orders, tuple(labels), np.array([counts[s] for s in labels], dtype=np.int64))


def check_orders_config(config) -> None:
    """One-line ConfigErrors for ``orders_csv`` and a ``n_skus`` that does not match it."""
    log = read_orders(str(find_orders_file(config.orders_csv)))
    if config.n_skus != len(log.labels):
        raise ConfigError(f"env.n_skus: {config.orders_csv} holds {len(log.labels)} SKUs; set n_skus={len(log.labels)}")
