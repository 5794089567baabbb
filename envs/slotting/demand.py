"""Customer demand of the slotting operation: a drifting long-tail catalogue, multi-line
orders, picking tours.

Everything here is drawn from one ``numpy.random.Generator`` (the ``rng`` given to
:class:`Demand`) in the fixed order given below, and nothing depends on the storage decisions:
the stream is a function of the config and of the generator's initial state only, so with the
same generator state tour ``t`` has the same orders whatever the policy did (common random
numbers). The simulator only *consumes* tours, one after the other.

Catalogue
    SKUs have ids ``0, 1, 2, ...``; the first ``n_skus`` are active at the start, launched
    SKUs get the next ids. A SKU's *base weight* is ``(rank) ** -zipf_exponent`` with
    ``popularity: zipf`` (initial SKU ``i`` has rank ``i + 1``, so SKU 0 is the most popular;
    a launched SKU gets the rank of a uniform draw in ``1 .. n_skus``) and 1 with
    ``popularity: uniform``. Each SKU has a phase ``phi ~ U[0, 2 pi)`` drawn when it enters.
Popularity at tour ``t``
    ``weight_i(t) = base_i * (1 + season_amplitude * sin(2 pi t / season_period + phi_i))``
    over the SKUs active at tour ``t``; the *line share* ``p_i(t) = weight_i(t) / sum_active
    weight(t)`` is the probability that a line is for SKU ``i`` (:meth:`Demand.shares`).
Orders
    An order drawn at tour ``t`` has ``n = 1 + Poisson(lines_per_order - 1)`` lines, capped by
    the number of SKUs active at tour ``t``; its SKUs are ``n`` distinct SKUs drawn by
    sequential sampling without replacement with probabilities ``p(t)`` (line 1 from ``p(t)``,
    each further line from ``p(t)`` restricted to the SKUs not yet in the order: the law of
    ``rng.choice(..., replace=False, p=p(t))``). Every line asks for one unit. An order is
    returned as its SKU ids sorted ascending (int64).
Drift
    After tour ``t`` (so acting from tour ``t + 1``): ``min(Poisson(retire_rate), active - 1)``
    retirements (one SKU always stays), each a uniform choice among the SKUs active at that
    moment, then ``Poisson(launch_rate)`` launches, each a new SKU (next id, base rank, phase).
    A SKU launched after tour ``t`` is active from tour ``t + 1``; a SKU retired after tour
    ``t`` never appears in a tour after ``t``.
Tours (:meth:`Demand.next_tour`, tour ``t``)
    Tour ``t`` has ``batch_size`` *candidate* orders drawn at ``p(t)``. Without
    ``picker_capacity`` the tour's orders are its candidates. With ``picker_capacity`` (lines
    per tour) the tour takes the order left over from tour ``t - 1`` (if any) first, then its
    candidates in order, until it has ``batch_size`` orders; an order that would take the tour
    above the capacity is not taken but left over for tour ``t + 1``, the tour stops there and
    its remaining candidates are discarded (the first order of a tour is always taken,
    whatever its size). So at most one order is left over; the retirements after tour ``t``
    drop their lines from it, and it disappears if no line is left (:attr:`Demand.backlog`).

Draw order (the implementation draws the stream in *blocks* of tours)
    At construction: the ``n_skus`` initial phases (``rng.uniform(0, 2 pi, n_skus)``). When
    tour ``t0`` is requested and no drawn tour is pending, a block of ``T`` tours
    ``t0 .. t0 + T - 1`` is drawn, with ``T = min(BLOCK_TOURS, max(1, BLOCK_CELLS // (m +
    ceil(BLOCK_TOURS * launch_rate))))`` where ``m`` is the number of SKUs active at ``t0``.
    The block's draws, in this order:

    1. ``rng.poisson(retire_rate, T)`` and ``rng.poisson(launch_rate, T)``: the drawn numbers
       of retirements and launches after each tour of the block;
    2. ``rng.random(R)`` (``R``: sum of the drawn retirements): tour after tour, the ``j``-th
       retirement takes the SKU at index ``floor(u * a)`` of the ascending list of the ``a``
       SKUs active at that moment (the ``u`` of retirements cut by the ``active - 1`` cap are
       skipped, keeping the order of the others);
    3. ``rng.integers(1, n_skus + 1, L)`` then ``rng.uniform(0, 2 pi, L)`` (``L``: sum of the
       launches): the ranks and phases of the launched SKUs in id order (ranks are drawn even
       with ``popularity: uniform``);
    4. ``1 + rng.poisson(lines_per_order - 1, T * batch_size)``: the line counts of the
       candidate orders (tour by tour, ``batch_size`` each), then capped;
    5. ``rng.random(N)`` (``N``: total lines): line ``j`` of each order is the SKU whose
       cumulative share interval at its tour contains its ``u`` (inverse CDF, SKUs in id order);
    6. distinctness, position by position (``j = 2, 3, ...``): while some orders have a line
       ``j`` equal to one of their lines ``1 .. j - 1``, these lines are redrawn, one
       ``rng.random(k)`` per round (orders in stream order), by inverse CDF at their tour's
       ``p``; this is rejection sampling, so it gives the sequential without-replacement law.
       After ``REDRAW_ROUNDS`` rounds, the lines still repeated get one ``rng.random(k)`` and
       are drawn exactly (inverse CDF) from ``p(t)`` restricted to the SKUs not yet in the order.

    Within a block, drift events are applied lazily: ``t``, ``active``, ``n_ids``, ``base``,
    ``phase`` and :meth:`Demand.shares` only reflect the drift after tours already returned
    by :meth:`Demand.next_tour`. Shares are used up to floating-point rounding (a SKU whose
    share is below about ``1e-13`` may be drawn only by the exact step of 6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the config imports the order replay, which uses Tour
    from envs.slotting.config import SlottingConfig

BLOCK_TOURS = 256
"""Tours drawn at once (at most)."""
BLOCK_CELLS = 1 << 18
"""Bound on tours x SKUs of the share table of a block (sets fewer tours for big catalogues)."""
REDRAW_ROUNDS = 8
"""Rejection rounds per line position before the exact draw of the remaining repeated lines."""


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


@dataclass
class _Block:
    """Tours ``t0 .. t0 + n_tours - 1`` drawn, not all returned yet."""

    t0: int
    n_tours: int
    skus: np.ndarray  # the SKU ids of all lines, order after order (each order sorted)
    bounds: list[int]  # order k occupies skus[bounds[k]:bounds[k + 1]]
    retired: dict[int, list[int]]  # local tour -> SKUs retired after it
    launched: dict[int, list[int]]  # local tour -> SKUs launched after it


class Demand:
    """The demand stream (module docstring). ``next_tour()`` returns tour 0, 1, 2, ..."""

    def __init__(self, config: SlottingConfig, rng: np.random.Generator) -> None:
        self.config = config
        self.rng = rng
        self.t = 0
        n = config.n_skus
        self._base_all = self._base_weights(np.arange(1, n + 1))
        self._phase_all = rng.uniform(0.0, 2.0 * np.pi, size=n)
        self.base = self._base_all
        self.phase = self._phase_all
        self.active = np.ones(n, dtype=bool)
        self.backlog: list[np.ndarray] = []  # the order left over for the next tour (0 or 1)
        self._block: _Block | None = None
        self._buffer = np.empty(0)

    def _base_weights(self, ranks: np.ndarray) -> np.ndarray:
        if self.config.popularity == "uniform":
            return np.ones(len(ranks))
        return np.asarray(ranks, dtype=float) ** -self.config.zipf_exponent

    @property
    def n_ids(self) -> int:
        """SKU ids ever used (active or not): ``0 .. n_ids - 1``."""
        return len(self.base)

    def weights(self, t: int | None = None) -> np.ndarray:
        """``weight_i(t)`` of every SKU id (0 for inactive SKUs), current active set."""
        c = self.config
        t = self.t if t is None else t
        season = 1.0 + c.season_amplitude * np.sin(2.0 * np.pi * t / c.season_period + self.phase)
        return np.where(self.active, self.base * season, 0.0)

    def shares(self, t: int | None = None) -> np.ndarray:
        """Line shares ``p_i(t)`` of every SKU id (they sum to 1 over the active SKUs)."""
        w = self.weights(t)
        return w / w.sum()

    # -- tours ----------------------------------------------------------------------------
    def next_tour(self) -> Tour:
        """Return tour ``t`` (module docstring), apply the drift after it, move to ``t + 1``."""
        c = self.config
        block = self._block
        if block is None or self.t >= block.t0 + block.n_tours:
            block = self._block = self._draw_block()
        k = self.t - block.t0
        b, skus = block.bounds, block.skus
        first = k * c.batch_size
        candidates = [skus[b[i]:b[i + 1]] for i in range(first, first + c.batch_size)]
        if c.picker_capacity is None:
            orders = candidates
        else:
            orders = []
            lines = 0
            queue = self.backlog + candidates
            self.backlog = []
            for order in queue:
                if len(orders) == c.batch_size:
                    break
                if orders and lines + len(order) > c.picker_capacity:
                    self.backlog = [order]
                    break
                orders.append(order)
                lines += len(order)
        tour = Tour(self.t, orders)
        retired = block.retired.get(k)
        if retired:
            tour.retired = list(retired)
            self.active[retired] = False
            if self.backlog:
                kept = self.backlog[0][~np.isin(self.backlog[0], retired)]
                self.backlog = [kept] if len(kept) else []
        launched = block.launched.get(k)
        if launched:
            tour.launched = list(launched)
            n = launched[-1] + 1
            self.base = self._base_all[:n]
            self.phase = self._phase_all[:n]
            self.active = np.concatenate([self.active, np.ones(n - len(self.active), dtype=bool)])
        self.t += 1
        return tour

    # -- block drawing --------------------------------------------------------------------
    def _draw_block(self) -> _Block:
        c, rng = self.config, self.rng
        t0 = self.t
        init_ids = np.flatnonzero(self.active)
        n_tours = min(BLOCK_TOURS, max(1, BLOCK_CELLS // (len(init_ids) + math.ceil(BLOCK_TOURS * c.launch_rate))))
        ks = np.arange(n_tours)

        # 1-3: drift events
        n_ret = rng.poisson(c.retire_rate, n_tours)
        n_lau = rng.poisson(c.launch_rate, n_tours)
        u_ret = rng.random(int(n_ret.sum()))
        n_new = int(n_lau.sum())
        ranks = rng.integers(1, c.n_skus + 1, n_new)
        new_phases = rng.uniform(0.0, 2.0 * np.pi, n_new)
        n_ids0 = len(self._base_all)
        if n_new:
            self._base_all = np.concatenate([self._base_all, self._base_weights(ranks)])
            self._phase_all = np.concatenate([self._phase_all, new_phases])
        cols = np.concatenate([init_ids, np.arange(n_ids0, n_ids0 + n_new)])  # table column -> SKU id
        n_cols, n_init = len(cols), len(init_ids)
        retired: dict[int, list[int]] = {}
        launched: dict[int, list[int]] = {}
        if n_ret.any():
            alive_ids = init_ids
            next_id, j = n_ids0, 0
            for k in np.flatnonzero(n_ret + n_lau):
                k = int(k)
                gone: list[int] = []
                n_k = int(n_ret[k])
                for u in u_ret[j:j + min(n_k, len(alive_ids) - 1)]:
                    i = min(int(u * len(alive_ids)), len(alive_ids) - 1)
                    gone.append(int(alive_ids[i]))
                    alive_ids = np.delete(alive_ids, i)
                j += n_k
                if gone:
                    retired[k] = gone
                if n_lau[k]:
                    alive_ids = np.concatenate([alive_ids, np.arange(next_id, next_id + n_lau[k])])
                    next_id += int(n_lau[k])
        first_new = n_ids0 + np.cumsum(n_lau) - n_lau
        for k in np.flatnonzero(n_lau):
            launched[int(k)] = list(range(int(first_new[k]), int(first_new[k] + n_lau[k])))

        # share table: weights of every (local tour, column); their cumulative sum over the
        # flattened table is globally monotone, row k spanning [ends[k - 1], ends[k])
        n_cells = n_tours * n_cols
        if len(self._buffer) < 2 * n_cells:  # reused from block to block (no fresh pages)
            self._buffer = np.empty(2 * n_cells)
        weight = self._buffer[:n_cells].reshape(n_tours, n_cols)
        table = self._buffer[n_cells:2 * n_cells]
        base = self._base_all[cols]
        if c.season_amplitude:
            # sin(w t + phi) = sin(w t) cos(phi) + cos(w t) sin(phi): a rank-3 product (einsum
            # without BLAS: a threaded BLAS call per block is slow when the cores are busy)
            wt = (2.0 * np.pi / c.season_period) * (t0 + ks)
            phi = self._phase_all[cols]
            lhs = np.stack([np.ones(n_tours), np.sin(wt), np.cos(wt)], axis=1)
            ab = c.season_amplitude * base
            np.einsum("tk,kc->tc", lhs, np.stack([base, ab * np.cos(phi), ab * np.sin(phi)]), out=weight,
                      optimize=False)
        else:
            weight[:] = base
        n_alive = np.full(n_tours, n_cols)
        for k, gone in retired.items():  # a retired SKU is out from the next tour on
            g = np.asarray(gone)
            weight[k + 1:, np.where(g < n_ids0, np.searchsorted(init_ids, g), n_init + g - n_ids0)] = 0.0
            n_alive[k + 1:] -= len(gone)
        for k, new in launched.items():  # a launched SKU is in from the next tour on
            weight[:k + 1, n_init + new[0] - n_ids0:n_init + new[-1] + 1 - n_ids0] = 0.0
            n_alive[:k + 1] -= len(new)
        np.cumsum(weight.ravel(), out=table)
        ends = table[n_cols - 1::n_cols]
        starts_k = np.concatenate([[0.0], ends[:-1]])
        last_below = np.nextafter(ends, -np.inf)

        def draw(tour: np.ndarray, u: np.ndarray) -> np.ndarray:
            lo = starts_k[tour]
            q = np.minimum(lo + u * (ends[tour] - lo), last_below[tour])
            return np.minimum(np.searchsorted(table, q, side="right") - tour * n_cols, n_cols - 1)

        # 4-5: candidate orders
        n_orders = n_tours * c.batch_size
        order_tour = np.repeat(ks, c.batch_size)
        counts = 1 + rng.poisson(c.lines_per_order - 1.0, n_orders)
        np.minimum(counts, n_alive[order_tour], out=counts)
        n_lines = int(counts.sum())
        starts = np.zeros(n_orders + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        line_order = np.repeat(np.arange(n_orders), counts)
        line_pos = np.arange(n_lines) - starts[line_order]
        width = int(counts.max())
        table_cols = np.full((n_orders, width), n_cols, dtype=np.int64)  # padding sorts last
        table_cols[line_order, line_pos] = draw(order_tour[line_order], rng.random(n_lines))

        # 6: distinct lines, position by position
        for pos in range(1, width):
            rows = np.flatnonzero(counts > pos)
            for rounds in range(REDRAW_ROUNDS + 1):
                m = table_cols[rows]
                rows = rows[(m[:, :pos] == m[:, pos:pos + 1]).any(axis=1)]
                if not len(rows):
                    break
                u = rng.random(len(rows))
                if rounds < REDRAW_ROUNDS:
                    table_cols[rows, pos] = draw(order_tour[rows], u)
                    continue
                for r, ur in zip(rows, u, strict=True):  # exact draw without the lines already there
                    w = weight[order_tour[r]].copy()
                    w[table_cols[r, :pos]] = 0.0
                    cw = np.cumsum(w)
                    i = int(np.searchsorted(cw, ur * cw[-1], side="right"))
                    table_cols[r, pos] = i if i < n_cols else int(np.flatnonzero(w)[-1])
                break
        table_cols.sort(axis=1)
        skus = cols[table_cols[np.arange(width) < counts[:, None]]]
        return _Block(t0, n_tours, skus, starts.tolist(), retired, launched)
