"""The slotting simulator: inbound loads put away one per step, picking tours in between.

State: every slot holds one SKU (``slot_sku``, -1 if free) and ``slot_units`` units (1 ..
``slot_capacity``; a slot whose stock reaches 0 is free again). A SKU may lie in several
slots. The *stock* of a SKU is the sum of its slots' units. Demand is
:mod:`envs.slotting.demand` (common random numbers: the tours do not depend on the actions).

Reset (``reset(rng)``)
    ``rng`` is split with ``rng.spawn(2)`` into the demand's generator and the placement
    generator. ``k = min(round(initial_occupancy * n_slots), n_skus)`` slots, drawn uniformly
    without replacement, each receive a distinct SKU (the first ``k`` of a random permutation
    of the SKUs: random storage, one slot per SKU) and a uniform number of units in ``1 ..
    slot_capacity``. SKUs left out have no stock and are ordered at once. Then the reorder
    rule runs and the demand advances (below) until the first load can be stored; the tours
    played then are in the KPIs but charged to no step
    (:attr:`SlottingSimulator.reset_result`).
Inbound loads (the reorder rule)
    After reset, after every tour and after every putaway, each active SKU with stock <=
    ``reorder_point`` and no load already queued appends one load of ``load_units`` units to
    the FIFO inbound queue (in increasing SKU id). Loads arrive at once (no lead time). A
    launched SKU has no stock, so it is ordered at once; a retiring SKU's queued load is
    cancelled. This keeps every active SKU stocked, so the occupancy settles where the
    catalogue's stock needs it.
Popularity estimate (:meth:`SlottingSimulator.popularity_estimate`)
    Per SKU, the lines requested (filled or not) in past tours, each tour's weight decaying by
    ``0.5 ** (1 / estimate_halflife)`` per tour; at reset it holds a history of the same
    weight at tour 0's true shares (``shares(0) * batch_size * lines_per_order / (1 -
    decay)``), a launched SKU starts at 0. The estimated share is the SKU's value over the
    active SKUs' sum. The observation and the ABC / COI policies use it; only the turnover
    oracle reads the true shares ``demand.shares()``.
Operators (``SlottingSimulator(config, operators=n)``)
    Operator ``i`` holds load ``i`` of the queue. After reset and after every step, tours
    are played until the queue holds at least ``n`` loads and each of the first ``n`` has a
    legal slot (one always does while a slot is free). ``step(slots)`` takes one slot per
    operator and stores the loads in operator order (step 1 below, for each load).
Legal slots of a load of SKU ``s`` (:meth:`SlottingSimulator.legal_mask`)
    A free slot, or a slot already holding ``s`` with room for the whole load
    (``units + load_units <= slot_capacity``). Loads are never split.
Timing of a step ``step(slot)``
    1. The head load of the queue (:meth:`SlottingSimulator.current_load`) is put away into
       ``slot``; an illegal slot raises a one-line ``ValueError`` and changes nothing.
       Putaway travel: depot -> slot -> depot, rectilinear, ``2 (|x - depot_x| + y)``.
    2. The reorder rule runs. If the (new) head load has a legal slot (with ``n``
       operators: the first ``n`` loads, above), the step ends. Otherwise (empty queue, or
       no room for the head load: it waits at the dock) one picking tour is played, and this
       repeats. So between two steps, zero or more tours.
    3. A tour: for each order, each line (one unit of SKU ``s``) picks from the slot of
       ``s`` with the fewest units (ties: the lowest slot id), which empties slots early and
       frees space. A line of a SKU without stock is *unfilled* (shortage KPI) and not
       walked to. The tour's length is ``routing.tour_length(layout, picked slots,
       routing)``. Then the tour's drift applies: a retired SKU's remaining stock is cleared
       from its slots (``units_cleared``) and its slots are free; launched SKUs are ordered.
    ``relocate(src, dst)`` may be called between steps: all units of ``src`` move to
    ``dst`` (free, or the same SKU with room for them all) at ``relocation_cost``.
Cost accounting (:class:`StepResult`)
    ``cost = pick_travel + putaway_cost + relocation_cost`` where ``pick_travel`` (m, 1 per
    metre) is the length of the tours played in the step, ``putaway_cost =
    putaway_cost_per_m * putaway_travel`` and ``relocation_cost`` that of the relocations
    made since the previous step. The step is the last one (``done``) when
    ``episode_loads`` loads have been put away.
Units are conserved
    ``units_initial + units_put_away = units_picked + units_cleared + slot_units.sum()``.
KPIs (:meth:`SlottingSimulator.kpis`, since reset)
    travel per filled pick line and per order (orders of the tours played), lines per hour
    ``3600 * lines / (pick_travel / walking_speed + lines * time_per_pick)``, golden-zone
    share of the pick lines (golden zone: the front third of the positions, ``position <
    ceil(slots_per_side / 3)``, on the two lowest levels ``level <= 1``), space utilisation
    (occupied slots / slots, and units / (slots * slot_capacity)), unfilled lines and fill
    rate, putaway travel, relocations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from envs.slotting.config import SlottingConfig
from envs.slotting.policies import distance_rank
from envs.slotting.replay import make_demand
from envs.slotting.routing import points_length

MAX_WAIT_TOURS = 100_000
"""Tours played while a load waits for room before the simulator gives up (RuntimeError)."""


@dataclass
class StepResult:
    """What one step (or the reset) cost and did."""

    cost: float = 0.0
    pick_travel: float = 0.0
    putaway_travel: float = 0.0
    putaway_cost: float = 0.0
    relocation_cost: float = 0.0
    relocations: int = 0
    tours: int = 0
    orders: int = 0
    lines: int = 0
    unfilled: int = 0
    golden_lines: int = 0
    done: bool = False
    tour_picks: list[np.ndarray] = field(default_factory=list)  # picked slot ids, one per filled line
    tour_skus: list[np.ndarray] = field(default_factory=list)  # the SKU of each pick
    tour_lengths: list[float] = field(default_factory=list)
    loads: int = 0  # loads put away (in snapshots)
    putaway_by_load: np.ndarray | None = None  # putaway cost of each load of the step, in operator order


_TOTALS = ("cost", "pick_travel", "putaway_travel", "putaway_cost", "relocation_cost", "relocations", "tours",
           "orders", "lines", "unfilled", "golden_lines")


@dataclass(frozen=True)
class Load:
    """The inbound load to put away: its SKU, units, the SKU's current line share, cube (the
    share of a slot it fills) and the SKU's stock in the slots."""

    sku: int
    units: int
    popularity: float
    cube: float
    stock: int


class SlottingSimulator:
    """The slotting dynamics (module docstring). ``reset(rng)``, then ``step(slot)``."""

    def __init__(self, config: SlottingConfig, operators: int = 1) -> None:
        """``operators``: loads put away per step (the putaway operators of ``slotting_v0``);
        between steps tours are played until the first ``operators`` loads of the queue each
        have a legal slot."""
        self.config = config
        if isinstance(operators, bool) or not isinstance(operators, int | np.integer) or operators < 1:
            raise ValueError(f"operators: expected an integer >= 1, got {operators!r}")
        self.operators = int(operators)
        self.layout = lay = config.layout()
        self.n_slots = lay.n_slots
        self.golden = (lay.slot_position < math.ceil(lay.slots_per_side / 3)) & (lay.slot_level <= 1)
        self.putaway_distance = 2.0 * (np.abs(lay.slot_x - lay.depot_x) + lay.slot_y)
        self.distance_rank = distance_rank(lay)
        self.decay = 0.5 ** (1.0 / config.estimate_halflife)
        self.demand = None  # envs.slotting.demand.Demand or envs.slotting.replay.ReplayDemand

    # -- reset ----------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        c = self.config
        demand_rng, place_rng = rng.spawn(2)
        self.demand = make_demand(c, demand_rng)
        # a history as long as the estimate remembers, at tour 0's shares
        lines_per_tour = c.batch_size * c.lines_per_order
        self.estimate = self.demand.shares() * lines_per_tour / (1.0 - self.decay)
        self.slot_sku = np.full(self.n_slots, -1, dtype=np.int64)
        self.slot_units = np.zeros(self.n_slots, dtype=np.int64)
        n_init = min(int(round(c.initial_occupancy * self.n_slots)), self.demand.n_ids)
        slots = place_rng.choice(self.n_slots, size=n_init, replace=False)
        self.slot_sku[slots] = place_rng.permutation(self.demand.n_ids)[:n_init]
        self.slot_units[slots] = place_rng.integers(1, c.slot_capacity + 1, size=n_init)
        self._stock = np.bincount(self.slot_sku[slots], weights=self.slot_units[slots],
                                  minlength=self.demand.n_ids).astype(np.int64)
        self._slots: dict[int, list[int]] = {int(k): [int(v)] for k, v in zip(self.slot_sku[slots], slots, strict=True)}
        self._queued: set[int] = set()
        self._touched: set[int] = set(range(self.demand.n_ids))
        self.units_initial = int(self.slot_units.sum())
        self.occupied, self.units_held = n_init, self.units_initial  # kept by _put / _take
        self.units_put_away = self.units_picked = self.units_cleared = 0
        self.loads_put_away = 0
        self.queue: list[int] = []
        self.totals = StepResult()
        self.last_tour = np.zeros(0, dtype=np.int64)
        self._acc = StepResult()
        self._advance()
        self.reset_result = self.last_result = self._acc
        self._acc = StepResult()

    # -- queries --------------------------------------------------------------------------
    def stock(self) -> np.ndarray:
        """Units in the slots per SKU id (a copy)."""
        return self._stock.copy()

    def legal_mask(self, sku: int) -> np.ndarray:
        """Slots that can take a load of ``sku`` (module docstring)."""
        room = self.slot_units + self.config.load_units <= self.config.slot_capacity
        return (self.slot_sku == -1) | ((self.slot_sku == sku) & room)

    def free_mask(self) -> np.ndarray:
        """The legal slots of the current load (bool per slot; at least one is True)."""
        return self.legal_mask(self.queue[0])

    def current_load(self, index: int = 0) -> Load:
        """The load ``index`` of the queue (0: the head; operator i holds load i)."""
        sku = self.queue[index]
        c = self.config
        return Load(sku=sku, units=c.load_units, popularity=float(self.popularity_estimate()[sku]),
                    cube=c.load_units / c.slot_capacity, stock=int(self._stock[sku]))

    def popularity_estimate(self) -> np.ndarray:
        """Estimated line share of every SKU id (0 for retired ones): exponentially weighted
        requested lines (module docstring). What a warehouse knows; the true shares are
        ``demand.shares()`` (the oracle's knowledge)."""
        est = np.where(self.demand.active, self.estimate, 0.0)
        total = est.sum()
        return est / total if total > 0 else np.where(self.demand.active, 1.0 / self.demand.active.sum(), 0.0)

    def nearest_legal(self, slot: int, legal: np.ndarray) -> int:
        """The legal slot nearest to ``slot`` in distance rank (ties: the closer one)."""
        cand = np.flatnonzero(legal)
        gap = np.abs(self.distance_rank[cand] - self.distance_rank[slot])
        return int(cand[np.lexsort((self.distance_rank[cand], gap))[0]])

    @property
    def done(self) -> bool:
        return self.loads_put_away >= self.config.episode_loads

    # -- actions --------------------------------------------------------------------------
    def _check_slot(self, name: str, slot) -> int:
        if isinstance(slot, bool) or not isinstance(slot, int | np.integer) or not 0 <= slot < self.n_slots:
            raise ValueError(f"{name}: expected a slot id in [0, {self.n_slots}), got {slot!r}")
        return int(slot)

    def step(self, slot) -> StepResult:
        """Put the current load away into ``slot`` and advance to the next load. With several
        operators, ``slot`` is a sequence: load ``i`` of the queue goes to ``slot[i]``, in
        that order (a slot filled by an earlier load of the step is judged as it is then);
        ``-1`` (or None) for a load that waits: it keeps its place in the queue (at least one
        load is stored). One illegal slot is a one-line ValueError and the step changes
        nothing. ``StepResult.putaway_by_load``: the putaway cost of each stored load."""
        c = self.config
        slots = [slot] if self.operators == 1 and not isinstance(slot, list | tuple | np.ndarray) else list(slot)
        if len(slots) != self.operators:
            raise ValueError(f"slot: expected {self.operators} slot ids (one per operator), got {len(slots)}")
        slots = [-1 if s is None or (isinstance(s, int | np.integer) and not isinstance(s, bool) and s == -1)
                 else self._check_slot("slot", s) for s in slots]
        if all(s < 0 for s in slots):
            raise ValueError("slot: at least one load must be stored in a step")
        sku_now, units_now = self.slot_sku.copy(), self.slot_units.copy()  # the state as each load meets it
        for i, s in enumerate(slots):
            if s < 0:
                continue
            sku = self.queue[i]
            if not (sku_now[s] == -1 or (sku_now[s] == sku and units_now[s] + c.load_units <= c.slot_capacity)):
                raise ValueError(f"slot: slot {s} cannot take the load of SKU {sku} ({c.load_units} units): "
                                 f"it holds SKU {int(sku_now[s])} with {int(units_now[s])} of {c.slot_capacity} units")
            sku_now[s], units_now[s] = sku, units_now[s] + c.load_units
        for i, s in enumerate(slots):
            if s >= 0:
                self._put(self.queue[i], s, c.load_units)
                self._queued.discard(self.queue[i])
        stored = [i for i, s in enumerate(slots) if s >= 0]
        self.queue = [sku for i, sku in enumerate(self.queue) if i >= len(slots) or slots[i] < 0]
        slots = [slots[i] for i in stored]
        self.units_put_away += c.load_units * len(slots)
        self.loads_put_away += len(slots)
        acc = self._acc
        travel = float(self.putaway_distance[slots].sum())
        acc.putaway_travel += travel
        acc.putaway_cost += c.putaway_cost_per_m * travel
        acc.putaway_by_load = self.putaway_distance[slots] * c.putaway_cost_per_m
        self.totals.putaway_travel += travel
        self.totals.putaway_cost += c.putaway_cost_per_m * travel
        self._advance()
        acc.cost = acc.pick_travel + acc.putaway_cost + acc.relocation_cost
        acc.done = self.done
        self.totals.cost += acc.cost  # the sum of the step costs (reset tours excluded)
        self._acc = StepResult()
        self.last_result = acc
        return acc

    def relocate(self, src, dst) -> None:
        """Move all units of slot ``src`` to slot ``dst`` at ``relocation_cost``."""
        src = self._check_slot("src", src)
        dst = self._check_slot("dst", dst)
        sku, units = int(self.slot_sku[src]), int(self.slot_units[src])
        if sku < 0:
            raise ValueError(f"src: slot {src} is empty")
        ok = dst != src and (self.slot_sku[dst] == -1 or (
            self.slot_sku[dst] == sku and self.slot_units[dst] + units <= self.config.slot_capacity))
        if not ok:
            raise ValueError(f"dst: slot {dst} cannot take the {units} units of SKU {sku} from slot {src}")
        self._take(src, units)
        self._put(sku, dst, units)
        for r in (self._acc, self.totals):
            r.relocations += 1
            r.relocation_cost += self.config.relocation_cost

    # -- dynamics -------------------------------------------------------------------------
    def _put(self, sku: int, slot: int, units: int) -> None:
        """Add ``units`` of ``sku`` to ``slot`` (free, or holding ``sku``), keeping the indexes."""
        if self.slot_sku[slot] == -1:
            self.slot_sku[slot] = sku
            self._slots.setdefault(sku, []).append(slot)
            self.occupied += 1
        self.slot_units[slot] += units
        self.units_held += units
        self._stock[sku] += units
        self._touched.add(sku)

    def _take(self, slot: int, units: int) -> None:
        """Remove ``units`` from ``slot``; an emptied slot is free again."""
        sku = int(self.slot_sku[slot])
        self.slot_units[slot] -= units
        self.units_held -= units
        self._stock[sku] -= units
        self._touched.add(sku)
        if self.slot_units[slot] == 0:
            self.slot_sku[slot] = -1
            self._slots[sku].remove(slot)
            self.occupied -= 1

    def _reorder(self) -> None:
        """The reorder rule, over the SKUs whose stock or queue state changed since the last
        call (any other low SKU is queued already), in increasing SKU id."""
        rp, active = self.config.reorder_point, self.demand.active
        for sku in sorted(self._touched):
            if active[sku] and self._stock[sku] <= rp and sku not in self._queued:
                self.queue.append(sku)
                self._queued.add(sku)
        self._touched.clear()

    def _advance(self) -> None:
        self._reorder()
        waited = 0
        while not self._ready():
            if waited >= MAX_WAIT_TOURS:
                raise RuntimeError(f"no room for an inbound load after {MAX_WAIT_TOURS} tours")
            self._tour()
            self._reorder()
            waited += 1

    def _ready(self) -> bool:
        """The first ``operators`` loads are queued and each has a legal slot."""
        n = self.operators
        if len(self.queue) < n:
            return False
        if self.occupied < self.n_slots:
            return True
        return all(self.legal_mask(sku).any() for sku in self.queue[:n])

    def _tour(self) -> None:
        tour = self.demand.next_tour()
        picks: list[int] = []
        skus: list[int] = []
        unfilled = 0
        self.estimate *= self.decay
        units = self.slot_units
        if tour.orders:
            np.add.at(self.estimate, np.concatenate(tour.orders), 1.0)
        for order in tour.orders:
            for sku in order.tolist():
                held = self._slots.get(sku)
                if not held:
                    unfilled += 1
                    continue
                s = held[0] if len(held) == 1 else min(held, key=lambda k: (units[k], k))  # fewest units, lowest id
                self._take(s, 1)
                picks.append(s)
                skus.append(sku)
        picked = np.asarray(picks, dtype=np.int64)
        lay = self.layout  # slots never lie at the depot (y > 0): the validated fast path
        length = points_length(lay, lay.slot_aisle[picked], lay.slot_y[picked], self.config.routing) if picks else 0.0
        self.units_picked += len(picks)
        self.last_tour = picked
        for r in (self._acc, self.totals):
            r.tours += 1
            r.orders += len(tour.orders)
            r.lines += len(picks)
            r.unfilled += unfilled
            r.golden_lines += int(self.golden[picked].sum())
            r.pick_travel += length
        self._acc.tour_picks.append(picked)
        self._acc.tour_skus.append(np.asarray(skus, dtype=np.int64))
        self._acc.tour_lengths.append(length)
        for sku in tour.retired:
            for slot in list(self._slots.get(sku, [])):
                self.units_cleared += int(self.slot_units[slot])
                self._take(slot, int(self.slot_units[slot]))
            if sku in self._queued:
                self.queue.remove(sku)
                self._queued.discard(sku)
        if tour.launched:
            grow = self.demand.n_ids - len(self._stock)  # launched SKUs: no stock, no history
            self._stock = np.concatenate([self._stock, np.zeros(grow, dtype=np.int64)])
            self.estimate = np.concatenate([self.estimate, np.zeros(grow)])
            self._touched.update(tour.launched)

    # -- KPIs -----------------------------------------------------------------------------
    def snapshot(self) -> StepResult:
        """A copy of the running totals, for :meth:`kpis` over a window (``kpis(since=...)``)."""
        t = self.totals
        return StepResult(**{f: getattr(t, f) for f in _TOTALS}, loads=self.loads_put_away)

    def kpis(self, since: StepResult | None = None) -> dict[str, float]:
        """Key figures since reset, or since the :meth:`snapshot` ``since`` (module docstring)."""
        c = self.config
        t = self.snapshot()
        if since is not None:
            t = StepResult(**{f: getattr(t, f) - getattr(since, f) for f in (*_TOTALS, "loads")})
        lines = t.lines
        hours = (t.pick_travel / c.walking_speed + lines * c.time_per_pick) / 3600.0
        requested = lines + t.unfilled
        return {
            "pick_travel": t.pick_travel,
            "travel_per_line": t.pick_travel / lines if lines else 0.0,
            "travel_per_order": t.pick_travel / t.orders if t.orders else 0.0,
            "lines_per_hour": lines / hours if hours > 0 else 0.0,
            "golden_share": t.golden_lines / lines if lines else 0.0,
            "space_utilisation": self.occupied / self.n_slots,
            "cube_utilisation": self.units_held / (self.n_slots * c.slot_capacity),
            "lines": float(lines),
            "orders": float(t.orders),
            "tours": float(t.tours),
            "unfilled_lines": float(t.unfilled),
            "fill_rate": lines / requested if requested else 1.0,
            "putaway_travel": t.putaway_travel,
            "relocations": float(t.relocations),
            "relocation_cost": t.relocation_cost,
            "loads_put_away": float(t.loads),
            "cost_per_load": t.cost / t.loads if t.loads else 0.0,
        }
