"""Customer demand of the slotting operation: a drifting long-tail catalogue, multi-line
orders, picking tours.

Everything here is drawn from one ``numpy.random.Generator`` (the ``rng`` given to
:class:`Demand`) in a fixed order, and nothing depends on the storage decisions: with the
same generator state, tour ``t`` has the same orders whatever the policy did (common random
numbers). The simulator only *consumes* tours, one after the other.

Catalogue
    SKUs have ids ``0, 1, 2, ...``; the first ``n_skus`` are active at the start, launched
    SKUs get the next ids. A SKU's *base weight* is ``(rank) ** -zipf_exponent`` with
    ``popularity: zipf`` (initial SKU ``i`` has rank ``i + 1``, so SKU 0 is the most popular;
    a launched SKU gets the rank of a uniform draw in ``1 .. n_skus``) and 1 with
    ``popularity: uniform``. Each SKU has a phase ``phi ~ U[0, 2 pi)`` drawn when it enters.
Popularity at tour ``t``
    ``weight_i(t) = base_i * (1 + season_amplitude * sin(2 pi t / season_period + phi_i))``
    over the active SKUs; the *line share* ``p_i(t) = weight_i(t) / sum_active weight(t)`` is
    the probability that a line is for SKU ``i`` (:meth:`Demand.shares`).
Orders
    An order drawn at tour ``t`` has ``n = 1 + Poisson(lines_per_order - 1)`` lines, capped by
    the number of active SKUs; its SKUs are ``n`` distinct SKUs drawn without replacement with
    probabilities ``p(t)``. Every line asks for one unit.
Tours (:meth:`Demand.next_tour`, tour ``t``), in this order of draws:
    1. Orders: orders left over from tour ``t - 1`` come first, then new orders drawn at
       ``p(t)``, until the tour has ``batch_size`` orders. With ``picker_capacity`` (lines per
       tour), an order that would take the tour above the capacity is left over for the next
       tour (the first order of a tour is always taken, whatever its size).
    2. Drift, applied after the tour's orders are formed (it acts from tour ``t + 1``): the
       number of retirements ``Poisson(retire_rate)`` (at most ``active - 1``: one SKU always
       stays), each a uniform draw among the active SKUs; lines of retired SKUs are dropped
       from the left-over orders (an order left without lines disappears); then
       ``Poisson(launch_rate)`` launches, each a new SKU (base rank, then phase).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from envs.slotting.config import SlottingConfig


@dataclass
class Tour:
    """One picking tour: its index, its orders (arrays of SKU ids, one per line) and the
    catalogue changes applied after it."""

    index: int
    orders: list[np.ndarray]
    retired: list[int] = field(default_factory=list)
    launched: list[int] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return int(sum(len(o) for o in self.orders))


class Demand:
    """The demand stream (module docstring). ``next_tour()`` returns tour 0, 1, 2, ..."""

    def __init__(self, config: SlottingConfig, rng: np.random.Generator) -> None:
        self.config = config
        self.rng = rng
        self.t = 0
        n = config.n_skus
        self.base = self._base_weights(np.arange(1, n + 1))
        self.phase = rng.uniform(0.0, 2.0 * np.pi, size=n)
        self.active = np.ones(n, dtype=bool)
        self.leftover: list[np.ndarray] = []

    def _base_weights(self, ranks: np.ndarray) -> np.ndarray:
        if self.config.popularity == "uniform":
            return np.ones(len(ranks))
        return np.asarray(ranks, dtype=float) ** -self.config.zipf_exponent

    @property
    def n_ids(self) -> int:
        """SKU ids ever used (active or not): ``0 .. n_ids - 1``."""
        return len(self.base)

    def weights(self, t: int | None = None) -> np.ndarray:
        """``weight_i(t)`` of every SKU id (0 for inactive SKUs)."""
        c = self.config
        t = self.t if t is None else t
        season = 1.0 + c.season_amplitude * np.sin(2.0 * np.pi * t / c.season_period + self.phase)
        return np.where(self.active, self.base * season, 0.0)

    def shares(self, t: int | None = None) -> np.ndarray:
        """Line shares ``p_i(t)`` of every SKU id (they sum to 1 over the active SKUs)."""
        w = self.weights(t)
        return w / w.sum()

    def _order(self, p: np.ndarray) -> np.ndarray:
        c = self.config
        n = 1 + int(self.rng.poisson(c.lines_per_order - 1.0))
        n = min(n, int(np.count_nonzero(p > 0)))
        return np.sort(self.rng.choice(len(p), size=n, replace=False, p=p)).astype(np.int64)

    def next_tour(self) -> Tour:
        """Draw tour ``t`` (module docstring) and move to ``t + 1``."""
        c = self.config
        p = self.shares()
        orders: list[np.ndarray] = []
        lines = 0
        while len(orders) < c.batch_size:
            order = self.leftover.pop(0) if self.leftover else self._order(p)
            if orders and c.picker_capacity is not None and lines + len(order) > c.picker_capacity:
                self.leftover.insert(0, order)
                break
            orders.append(order)
            lines += len(order)
        tour = Tour(self.t, orders)
        self._drift(tour)
        self.t += 1
        return tour

    def _drift(self, tour: Tour) -> None:
        c = self.config
        n_retire = min(int(self.rng.poisson(c.retire_rate)), int(self.active.sum()) - 1)
        for _ in range(n_retire):
            sku = int(self.rng.choice(np.flatnonzero(self.active)))
            self.active[sku] = False
            tour.retired.append(sku)
        if tour.retired:
            gone = np.asarray(tour.retired)
            kept = [o[~np.isin(o, gone)] for o in self.leftover]
            self.leftover = [o for o in kept if len(o)]
        for _ in range(int(self.rng.poisson(c.launch_rate))):
            rank = int(self.rng.integers(1, c.n_skus + 1))
            self.base = np.append(self.base, self._base_weights(np.array([rank])))
            self.phase = np.append(self.phase, self.rng.uniform(0.0, 2.0 * np.pi))
            self.active = np.append(self.active, True)
            tour.launched.append(self.n_ids - 1)
