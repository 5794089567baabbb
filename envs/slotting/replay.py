"""Replayed demand of the slotting operation: customer orders read from a CSV of order lines.

``env.orders_csv=<file>`` replaces the generated demand (:mod:`envs.slotting.demand`) by a
log of real (or any) orders, for slotting studies on a warehouse's own history.

File format
    A CSV with a header holding the columns ``order`` and ``sku`` (others are ignored), one
    row per order line, the rows of an order consecutive or not. Orders keep the order of
    their first row; an order's lines are its *distinct* SKUs (a SKU listed twice in one order
    is one line). SKU labels are any strings; they get ids ``0 .. n - 1`` by decreasing number
    of lines in the file (ties by label), so id 0 is the most picked SKU, as with ``zipf``.
    A malformed file (missing, unreadable, no such columns, no rows, empty labels) is a
    one-line ``ConfigError`` naming ``env.orders_csv``. ``n_skus`` must equal the file's
    number of SKUs (the error says it).
Replay (:class:`ReplayDemand`, the interface of :class:`envs.slotting.demand.Demand`)
    Each episode starts at order ``rng.integers(n_orders)`` of the log (one draw from the
    demand's generator) and replays the orders in file order, wrapping around at the end.
    A tour takes the next ``batch_size`` orders; with ``picker_capacity``, an order that
    would take the tour above the capacity (lines) is left for the next tour, where it comes
    first (the first order of a tour is always taken). The catalogue does not drift (no
    launches or retirements; every SKU is active); ``season_*``, ``launch_rate``,
    ``retire_rate``, ``popularity`` and ``zipf_exponent`` are not used.
True popularity (``shares()``, what the turnover oracle knows)
    Each SKU's share of the lines of the whole log (stationary).
"""

from __future__ import annotations

import numpy as np

from envs.slotting.demand import Demand, Tour
from envs.slotting.orders_file import find_orders_file, read_orders


class ReplayDemand:
    """The order log replayed as tours (module docstring); ``Demand``'s interface."""

    def __init__(self, config, rng: np.random.Generator) -> None:
        self.config = config
        self.log = read_orders(str(find_orders_file(config.orders_csv)))
        self.t = 0
        self.active = np.ones(len(self.log.labels), dtype=bool)
        self._shares = self.log.lines / self.log.lines.sum()
        self.base = self._shares
        self.phase = np.zeros(len(self.active))
        self.next_order = int(rng.integers(len(self.log.orders)))
        self.backlog: list[np.ndarray] = []

    @property
    def n_ids(self) -> int:
        return len(self.active)

    def weights(self, t: int | None = None) -> np.ndarray:
        return self._shares.copy()

    def shares(self, t: int | None = None) -> np.ndarray:
        return self._shares.copy()

    def _take(self) -> np.ndarray:
        if self.backlog:
            return self.backlog.pop()
        order = self.log.orders[self.next_order]
        self.next_order = (self.next_order + 1) % len(self.log.orders)
        return order

    def next_tour(self) -> Tour:
        c = self.config
        orders: list[np.ndarray] = []
        lines = 0
        while len(orders) < c.batch_size:
            order = self._take()
            if orders and c.picker_capacity is not None and lines + len(order) > c.picker_capacity:
                self.backlog = [order]
                break
            orders.append(order)
            lines += len(order)
        tour = Tour(self.t, orders)
        self.t += 1
        return tour


def make_demand(config, rng: np.random.Generator):
    """The demand of ``config``: replayed when ``orders_csv`` is set, else generated."""
    if config.orders_csv is not None:
        return ReplayDemand(config, rng)
    return Demand(config, rng)
