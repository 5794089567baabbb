"""Typed configuration of the slotting operation (``env=slotting``).

The fields of :class:`SlottingConfig` are the env's ``env.*`` keys. Lengths are metres,
times seconds, the time unit of the demand's drift is one picking *tour* (the tour index
``t = 0, 1, 2, ...`` of :mod:`envs.slotting.demand`). The config holds no seed: every random
draw comes from the ``numpy.random.Generator`` passed to ``SlottingSimulator.reset``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from envs.core.config import (
    MAX_COST,
    check_choice,
    check_float,
    check_int,
    check_keys,
    check_work,
    env_fields,
)
from envs.slotting.layout import DEPOTS, STORAGE_ORDERS, Layout, LayoutConfig
from envs.slotting.orders_file import check_orders_config, find_orders_file
from envs.slotting.routing import METHODS

POPULARITIES = ("zipf", "uniform")
LAYOUT_FIELDS = ("n_aisles", "slots_per_side", "levels", "aisle_spacing", "slot_width", "depot")
MAX_SKUS = 1_000_000
MAX_UNITS = 1_000_000
MAX_SLOTS = 1_000_000
"""Slots (``n_aisles x 2 x slots_per_side x levels``): a step's mask and observation cost about
0.1 us and 200 bytes a slot (docs/reliability.md), so at most ~0.1 s and ~200 MB a step."""
MAX_TOUR_LINES = 2_000
"""Expected lines of a tour (``batch_size x lines_per_order``): the demand draws 256 tours at
once, ~2 us a line (more when orders cover the catalogue), so a block stays under ~1-5 s."""
MAX_TOURS_PER_LOAD = 1_000
"""Expected tours between two loads: a step plays them all, ~50 us + 2 us a line each."""


@dataclass(frozen=True)
class SlottingConfig:
    """Parameters of the slotting operation (the names are the env's keyword arguments).

    Geometry (:class:`envs.slotting.layout.LayoutConfig`): ``n_aisles``, ``slots_per_side``,
        ``levels``, ``aisle_spacing``, ``slot_width``, ``depot`` (``left`` | ``centre``).
        ``slot_order``: how every storage rule (and the zone classes) ranks slots from best
        to worst (:func:`envs.slotting.policies.distance_order`): ``distance``, ``aisle``, or
        ``auto`` (default): ``aisle`` with ``s_shape`` and ``largest_gap`` routing (they
        traverse or cross the visited aisles), ``distance`` with ``return`` and ``optimal``
        (which order suited which routing was measured: ``docs/benchmarks/slotting.md``).
    Catalogue and demand (:mod:`envs.slotting.demand`): ``n_skus`` SKUs at the start;
        ``popularity``: ``zipf`` (SKU i's base weight ``(i + 1) ** -zipf_exponent``) or
        ``uniform``. Drift: ``season_amplitude`` in [0, 0.95] and ``season_period`` (tours)
        of a sinusoidal multiplier per SKU with a random phase; ``launch_rate`` /
        ``retire_rate``: expected new / retired SKUs per tour (Poisson). Orders have
        ``1 + Poisson(lines_per_order - 1)`` lines (mean ``lines_per_order`` >= 1), one unit
        each. A tour takes ``batch_size`` orders, fewer if ``picker_capacity`` (lines per tour,
        None: no limit) would be exceeded.
    Stock: a slot holds one SKU, at most ``slot_capacity`` units; an inbound load is
        ``load_units`` (<= ``slot_capacity``) units of one SKU. A SKU whose stock (in slots
        plus queued loads) is <= ``reorder_point`` orders one load. ``initial_occupancy``:
        the share of slots filled at reset, one distinct random SKU per slot (random storage;
        at most ``n_skus`` slots).
    Travel and time: ``routing`` (``s_shape`` | ``return`` | ``largest_gap`` | ``optimal``),
        ``walking_speed`` (m/s) and ``time_per_pick`` (s per line) for lines per hour.
    Order replay: ``orders_csv`` (a CSV of order lines, :mod:`envs.slotting.replay`) replaces
        the generated demand; ``n_skus`` must equal its number of SKUs.
    Popularity estimate: the warehouse's estimate of a SKU's line share is its requested lines,
        exponentially weighted with a half-life of ``estimate_halflife`` tours (what the
        observation and the ABC / COI policies see; the turnover oracle sees the true shares).
    Costs: pick travel costs 1 per metre; putaway travel ``putaway_cost_per_m`` per metre;
        a relocation ``relocation_cost``. ``episode_loads``: inbound loads per episode.
    """

    n_aisles: int = 10
    slots_per_side: int = 25
    levels: int = 4
    aisle_spacing: float = 3.0
    slot_width: float = 1.0
    depot: str = "left"
    slot_order: str = "auto"
    n_skus: int = 1000
    popularity: str = "zipf"
    zipf_exponent: float = 1.0
    season_amplitude: float = 0.3
    season_period: float = 500.0
    launch_rate: float = 0.01
    retire_rate: float = 0.01
    lines_per_order: float = 2.0
    batch_size: int = 5
    picker_capacity: int | None = None
    slot_capacity: int = 20
    load_units: int = 20
    reorder_point: int = 2
    initial_occupancy: float = 0.5
    routing: str = "s_shape"
    walking_speed: float = 1.0
    time_per_pick: float = 10.0
    putaway_cost_per_m: float = 1.0
    relocation_cost: float = 10.0
    estimate_halflife: float = 200.0
    orders_csv: str | None = None
    episode_loads: int = 1000

    def __post_init__(self) -> None:
        with env_fields():  # name the field as the command line does (env.<field>)
            self._validate()

    def _validate(self) -> None:
        s = object.__setattr__
        s(self, "routing", check_choice("routing", self.routing, METHODS))
        s(self, "slot_order", check_choice("slot_order", self.slot_order, ("auto", *STORAGE_ORDERS)))
        self.layout_config()  # geometry checks
        s(self, "depot", check_choice("depot", self.depot, DEPOTS))
        for name in LAYOUT_FIELDS[:3]:
            s(self, name, int(getattr(self, name)))
        for name in LAYOUT_FIELDS[3:5]:
            s(self, name, float(getattr(self, name)))
        s(self, "n_skus", check_int("n_skus", self.n_skus, 1, MAX_SKUS))
        s(self, "popularity", check_choice("popularity", self.popularity, POPULARITIES))
        s(self, "zipf_exponent", check_float("zipf_exponent", self.zipf_exponent, 0.0, 10.0))
        s(self, "season_amplitude", check_float("season_amplitude", self.season_amplitude, 0.0, 0.95))
        s(self, "season_period", check_float("season_period", self.season_period, 0.0, 1e9, strict_low=True))
        s(self, "launch_rate", check_float("launch_rate", self.launch_rate, 0.0, 100.0))
        s(self, "retire_rate", check_float("retire_rate", self.retire_rate, 0.0, 100.0))
        s(self, "lines_per_order", check_float("lines_per_order", self.lines_per_order, 1.0, 1000.0))
        s(self, "batch_size", check_int("batch_size", self.batch_size, 1, 10_000))
        if self.picker_capacity is not None:
            s(self, "picker_capacity", check_int("picker_capacity", self.picker_capacity, 1, 1_000_000))
        s(self, "slot_capacity", check_int("slot_capacity", self.slot_capacity, 1, MAX_UNITS))
        s(self, "load_units", check_int("load_units", self.load_units, 1, self.slot_capacity))
        s(self, "reorder_point", check_int("reorder_point", self.reorder_point, 0, MAX_UNITS))
        s(self, "initial_occupancy", check_float("initial_occupancy", self.initial_occupancy, 0.0, 1.0))
        s(self, "walking_speed", check_float("walking_speed", self.walking_speed, 0.0, 100.0, strict_low=True))
        s(self, "time_per_pick", check_float("time_per_pick", self.time_per_pick, 0.0, 3600.0))
        for name in ("putaway_cost_per_m", "relocation_cost"):
            s(self, name, check_float(name, getattr(self, name), 0.0, MAX_COST))
        s(self, "estimate_halflife", check_float("estimate_halflife", self.estimate_halflife, 0.0, 1e9,
                                                 strict_low=True))
        if self.orders_csv is not None:
            find_orders_file(self.orders_csv)  # kept as given (a run dir stays portable)
            check_orders_config(self)
        s(self, "episode_loads", check_int("episode_loads", self.episode_loads, 1, 10_000_000))
        self._check_work()

    def _check_work(self) -> None:
        """The bounds on the work and memory of a step (docs/reliability.md). A tour picks ``lines``
        lines (the picker capacity cuts a tour, its first order is always taken); every load
        replenishes ``load_units`` units and every launched SKU needs a load, so a tour consumes
        ``lines / load_units + launch_rate`` loads and an episode plays about ``episode_loads``
        over that many tours (measured within 10 %). A catalogue that grows (more launches than
        retirements) must fit the warehouse by the episode's end: beyond one SKU per slot, no
        pick ever frees a slot for long and steps wait for thousands of tours."""
        layout = {"n_aisles": self.n_aisles, "slots_per_side": self.slots_per_side, "levels": self.levels}
        slots = 2 * self.n_aisles * self.slots_per_side * self.levels
        check_work("the slot count (n_aisles x 2 x slots_per_side x levels)", slots, MAX_SLOTS, layout)
        lines = self.batch_size * self.lines_per_order
        check_work("the expected lines of a tour (batch_size x lines_per_order)", lines, MAX_TOUR_LINES,
                   {"batch_size": self.batch_size, "lines_per_order": self.lines_per_order})
        if self.picker_capacity is not None:
            lines = min(lines, max(self.picker_capacity, self.lines_per_order))
        launches = 0.0 if self.orders_csv is not None else self.launch_rate  # a replay launches nothing
        per_load = 1.0 / (lines / self.load_units + launches)
        rates = {"load_units": self.load_units, "batch_size": self.batch_size, "lines_per_order": self.lines_per_order,
                 "launch_rate": self.launch_rate}
        check_work("the expected tours per load (1 / (lines per tour / load_units + launch_rate))", per_load,
                   MAX_TOURS_PER_LOAD, rates)
        tours = self.episode_loads * per_load
        if self.orders_csv is None and self.launch_rate > self.retire_rate:
            check_work("the expected SKUs at the episode's end (n_skus + (launch_rate - retire_rate) x its tours; "
                       "the limit: one per slot)", self.n_skus + (self.launch_rate - self.retire_rate) * tours, slots,
                       {"launch_rate": self.launch_rate, "retire_rate": self.retire_rate, "n_skus": self.n_skus,
                        "episode_loads": self.episode_loads})

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> SlottingConfig:
        """A config from keyword arguments, unknown keys refused in one line."""
        check_keys("env", kwargs, [f.name for f in fields(cls)])
        return cls(**dict(kwargs))

    def storage_order(self) -> str:
        """``slot_order``, with ``auto`` resolved (class docstring)."""
        if self.slot_order != "auto":
            return self.slot_order
        return "aisle" if self.routing in ("s_shape", "largest_gap") else "distance"

    def layout_config(self) -> LayoutConfig:
        return LayoutConfig(**{name: getattr(self, name) for name in LAYOUT_FIELDS}, storage_order=self.storage_order())

    def layout(self) -> Layout:
        """The warehouse geometry."""
        return Layout(self.layout_config())

    def plain(self) -> dict[str, Any]:
        """JSON-ready keyword arguments."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
