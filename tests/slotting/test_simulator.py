"""The slotting simulator: conservation of units, slot invariants, illegal slots, determinism
under common random numbers, cost accounting, tour lengths recomputed, config errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.core.config import ConfigError
from envs.slotting.config import SlottingConfig
from envs.slotting.demand import Demand
from envs.slotting.routing import METHODS, tour_length
from envs.slotting.simulator import SlottingSimulator

_configs = st.fixed_dictionaries(dict(  # keyword arguments: with_load makes the config
    load_units=st.just(1),
    n_aisles=st.integers(1, 4),
    slots_per_side=st.integers(1, 6),
    levels=st.integers(1, 3),
    depot=st.sampled_from(("left", "centre")),
    n_skus=st.integers(1, 30),
    popularity=st.sampled_from(("zipf", "uniform")),
    season_amplitude=st.sampled_from((0.0, 0.5)),
    season_period=st.just(20.0),
    launch_rate=st.sampled_from((0.0, 0.3)),
    retire_rate=st.sampled_from((0.0, 0.3)),
    lines_per_order=st.sampled_from((1.0, 2.5)),
    batch_size=st.integers(1, 4),
    picker_capacity=st.sampled_from((None, 3)),
    slot_capacity=st.integers(1, 8),
    reorder_point=st.integers(0, 3),
    initial_occupancy=st.sampled_from((0.0, 0.5, 1.0)),
    routing=st.sampled_from(METHODS),
    relocation_cost=st.just(7.0),
    putaway_cost_per_m=st.sampled_from((0.0, 0.5)),
    episode_loads=st.integers(1, 25),
))
configs = st.tuples(_configs, st.floats(0.0, 1.0)).map(lambda cf: with_load(*cf))


def with_load(kwargs: dict, frac: float) -> SlottingConfig:
    """The load a share of the slot; retirements at least as frequent as launches (a catalogue
    that only grows dilutes the few stored SKUs of a tiny warehouse until no pick ever frees a
    slot: the simulator then stops with its RuntimeError; the config bounds such growth by the
    slots, docs/reliability.md)."""
    return SlottingConfig(**{**kwargs, "load_units": max(1, int(frac * kwargs["slot_capacity"])),
                             "retire_rate": max(kwargs["retire_rate"], kwargs["launch_rate"])})


def run(config: SlottingConfig, seed: int, action_seed: int, relocate: bool = False):
    """Play an episode with random legal actions (and random relocations); check invariants
    after every step; return the simulator and the step results."""
    sim = SlottingSimulator(config)
    sim.reset(np.random.default_rng(seed))
    check_invariants(sim)
    act = np.random.default_rng(action_seed)
    results = []
    while not sim.done:
        if relocate and act.random() < 0.3:
            held = np.flatnonzero(sim.slot_sku >= 0)
            free = np.flatnonzero(sim.slot_sku < 0)
            if len(held) and len(free):
                sim.relocate(int(act.choice(held)), int(act.choice(free)))
        mask = sim.free_mask()
        assert mask.any()
        results.append(sim.step(int(act.choice(np.flatnonzero(mask)))))
        check_invariants(sim)
    return sim, results


def check_invariants(sim: SlottingSimulator) -> None:
    c = sim.config
    held = sim.slot_sku >= 0
    assert np.all(sim.slot_units[held] >= 1) and np.all(sim.slot_units[held] <= c.slot_capacity)
    assert np.all(sim.slot_units[~held] == 0) and np.all(sim.slot_sku[~held] == -1)
    assert sim.units_initial + sim.units_put_away == sim.units_picked + sim.units_cleared + sim.slot_units.sum()
    assert not np.any(sim.slot_sku[held] >= sim.demand.n_ids)
    assert np.all(sim.demand.active[sim.slot_sku[held]])  # retired SKUs are cleared
    # the incremental indexes agree with the slots: stock per SKU, slots per SKU
    stock = np.bincount(sim.slot_sku[held], weights=sim.slot_units[held], minlength=sim.demand.n_ids)
    assert np.array_equal(sim.stock(), stock.astype(np.int64))
    assert {k: sorted(v) for k, v in sim._slots.items() if v} == {
        int(k): sorted(np.flatnonzero(sim.slot_sku == k).tolist()) for k in np.unique(sim.slot_sku[held])}
    assert sim._queued == set(sim.queue) and len(sim.queue) == len(set(sim.queue))
    assert (sim.occupied, sim.units_held) == (int(held.sum()), int(sim.slot_units.sum()))


@settings(max_examples=120, deadline=None)
@given(configs, st.integers(0, 2**32), st.integers(0, 2**32))
def test_units_conserved_and_slots_valid_and_costs_add_up(config, seed, action_seed):
    sim, results = run(config, seed, action_seed, relocate=True)
    assert sim.loads_put_away == config.episode_loads and results[-1].done
    assert not any(r.done for r in results[:-1])
    for r in results:
        assert r.cost == pytest.approx(r.pick_travel + r.putaway_cost + r.relocation_cost)
        assert r.putaway_cost == pytest.approx(config.putaway_cost_per_m * r.putaway_travel)
        assert r.relocation_cost == pytest.approx(config.relocation_cost * r.relocations)
        assert r.pick_travel == pytest.approx(sum(r.tour_lengths))
        assert r.tours == len(r.tour_picks) == len(r.tour_lengths)
        assert r.lines == sum(len(p) for p in r.tour_picks)
        for picks, length in zip(r.tour_picks, r.tour_lengths, strict=True):
            assert length == tour_length(sim.layout, picks, config.routing)
    k = sim.kpis()
    assert k["pick_travel"] == pytest.approx(sim.reset_result.pick_travel + sum(r.pick_travel for r in results))
    assert k["lines"] == sim.units_picked
    assert 0.0 <= k["golden_share"] <= 1.0 and 0.0 <= k["space_utilisation"] <= 1.0
    assert 0.0 <= k["fill_rate"] <= 1.0


@settings(max_examples=50, deadline=None)
@given(configs, st.integers(0, 2**32), st.integers(0, 2**32))
def test_same_seed_and_actions_give_the_same_trajectory(config, seed, action_seed):
    a, ra = run(config, seed, action_seed, relocate=True)
    b, rb = run(config, seed, action_seed, relocate=True)
    assert np.array_equal(a.slot_sku, b.slot_sku) and np.array_equal(a.slot_units, b.slot_units)
    assert a.kpis() == b.kpis()
    for x, y in zip(ra, rb, strict=True):
        assert (x.cost, x.pick_travel, x.putaway_travel, x.tours, x.unfilled) == (
            y.cost, y.pick_travel, y.putaway_travel, y.tours, y.unfilled)
        assert all(np.array_equal(p, q) for p, q in zip(x.tour_picks, y.tour_picks, strict=True))


@settings(max_examples=50, deadline=None)
@given(configs, st.integers(0, 2**32), st.integers(0, 2**32))
def test_demand_stream_does_not_depend_on_the_actions(config, seed, action_seed):
    """After an episode with any actions, the simulator's next tours are those of a fresh
    demand stream with the same seed at the same tour index."""
    sim, _ = run(config, seed, action_seed, relocate=True)
    demand = Demand(config, np.random.default_rng(seed).spawn(2)[0])
    for _ in range(sim.demand.t):
        demand.next_tour()
    for _ in range(3):
        mine, fresh = sim.demand.next_tour(), demand.next_tour()
        assert mine.index == fresh.index and (mine.retired, mine.launched) == (fresh.retired, fresh.launched)
        assert all(np.array_equal(o, p) for o, p in zip(mine.orders, fresh.orders, strict=True))


@settings(max_examples=60, deadline=None)
@given(configs, st.integers(0, 2**32), st.data())
def test_an_illegal_slot_is_a_one_line_value_error_and_changes_nothing(config, seed, data):
    sim = SlottingSimulator(config)
    sim.reset(np.random.default_rng(seed))
    illegal = np.flatnonzero(~sim.free_mask())
    bad = [-1, sim.n_slots, 1.5, "3", True]
    if len(illegal):
        bad.append(int(data.draw(st.sampled_from(list(illegal)))))
    before = (sim.slot_sku.copy(), sim.slot_units.copy(), list(sim.queue))
    for slot in bad:
        with pytest.raises(ValueError) as err:
            sim.step(slot)
        assert "\n" not in str(err.value) and str(err.value).startswith("slot:")
    assert np.array_equal(before[0], sim.slot_sku) and np.array_equal(before[1], sim.slot_units)
    assert before[2] == sim.queue


def test_relocation_rules():
    sim = SlottingSimulator(SlottingConfig(n_aisles=2, slots_per_side=3, initial_occupancy=0.5))
    sim.reset(np.random.default_rng(0))
    held = np.flatnonzero(sim.slot_sku >= 0)
    free = np.flatnonzero(sim.slot_sku < 0)
    with pytest.raises(ValueError, match="^src:"):
        sim.relocate(int(free[0]), int(free[1]))
    with pytest.raises(ValueError, match="^dst:"):
        sim.relocate(int(held[0]), int(held[0]))
    sku, units = sim.slot_sku[held[0]], sim.slot_units[held[0]]
    sim.relocate(int(held[0]), int(free[0]))
    assert (sim.slot_sku[free[0]], sim.slot_units[free[0]], sim.slot_sku[held[0]]) == (sku, units, -1)
    result = sim.step(int(np.flatnonzero(sim.free_mask())[0]))
    assert (result.relocations, result.relocation_cost) == (1, 10.0)


def test_putaway_travel_is_rectilinear_depot_slot_depot():
    config = SlottingConfig(n_aisles=3, slots_per_side=4, aisle_spacing=2.0, slot_width=1.5, depot="centre",
                            initial_occupancy=0.0, putaway_cost_per_m=2.0)
    sim = SlottingSimulator(config)
    sim.reset(np.random.default_rng(3))
    slot = sim.layout.slot_id(2, 1, 3, 0)
    result = sim.step(slot)
    assert result.putaway_travel == 2 * (abs(4.0 - 2.0) + 3.5 * 1.5)
    assert result.putaway_cost == 2.0 * result.putaway_travel


def test_load_description_and_golden_zone():
    config = SlottingConfig(slots_per_side=6, levels=3, slot_capacity=10, load_units=4)
    sim = SlottingSimulator(config)
    sim.reset(np.random.default_rng(1))
    load = sim.current_load()
    assert load.units == 4 and load.cube == 0.4 and 0 < load.popularity <= 1
    assert load.stock == sim.stock()[load.sku] <= config.reorder_point
    lay = sim.layout
    assert np.array_equal(sim.golden, (lay.slot_position < 2) & (lay.slot_level <= 1))


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"n_skus": 0}, "env.n_skus"),
    ({"popularity": "pareto"}, "env.popularity"),
    ({"season_amplitude": 1.0}, "env.season_amplitude"),
    ({"lines_per_order": 0.5}, "env.lines_per_order"),
    ({"load_units": 30, "slot_capacity": 20}, "env.load_units"),
    ({"routing": "tsp"}, "env.routing"),
    ({"walking_speed": 0}, "env.walking_speed"),
    ({"picker_capacity": 0}, "env.picker_capacity"),
    ({"n_aisles": 0}, "env.n_aisles"),
    ({"depot": "right"}, "env.depot"),
    ({"batch_size": 1.5}, "env.batch_size"),
    ({"colour": 1}, "env.colour"),
])
def test_config_errors_are_one_line_naming_the_field(kwargs, field):
    with pytest.raises(ConfigError) as err:
        SlottingConfig.from_kwargs(kwargs)
    message = str(err.value)
    assert "\n" not in message and message.startswith(field + ":")


def test_config_layout_and_defaults():
    config = SlottingConfig.from_kwargs({"n_aisles": 4, "levels": 2})
    layout = config.layout()
    assert layout.n_slots == 4 * 2 * 25 * 2
    assert SlottingConfig().layout().n_slots == 10 * 2 * 25 * 4  # the default warehouse
    sim = SlottingSimulator(SlottingConfig(episode_loads=200))
    sim, _ = run(sim.config, 0, 1)
    k = sim.kpis()
    assert k["lines_per_hour"] > 0 and k["fill_rate"] > 0.9 and 0.2 < k["space_utilisation"] <= 1.0


def test_several_operators_store_in_order_and_an_illegal_slot_changes_nothing():
    config = SlottingConfig(n_aisles=2, slots_per_side=4, levels=1, n_skus=30, initial_occupancy=0.5, episode_loads=40)
    sim = SlottingSimulator(config, operators=3)
    sim.reset(np.random.default_rng(5))
    rng = np.random.default_rng(0)
    while not sim.done:
        assert len(sim.queue) >= 3
        skus = list(sim.queue[:3])
        first = int(rng.choice(np.flatnonzero(sim.legal_mask(skus[0]))))
        # the same slot for a second load of another SKU is illegal: nothing changes
        if skus[1] != skus[0] and sim.slot_sku[first] == -1:
            before = sim.slot_sku.copy(), sim.slot_units.copy(), list(sim.queue)
            with pytest.raises(ValueError):
                sim.step([first, first, first])
            assert np.array_equal(before[0], sim.slot_sku) and np.array_equal(before[1], sim.slot_units)
            assert before[2] == sim.queue
        slots, taken = [], sim.slot_sku.copy()
        units = sim.slot_units.copy()
        for sku in skus:  # legal in order: a slot filled earlier in the step counts as filled
            legal = (taken == -1) | ((taken == sku) & (units + config.load_units <= config.slot_capacity))
            if not legal.any():  # taken by an earlier operator of this step: the load waits
                slots.append(-1)
                continue
            s = int(rng.choice(np.flatnonzero(legal)))
            taken[s], units[s] = sku, units[s] + config.load_units
            slots.append(s)
        put, waiting = sim.loads_put_away, [sku for sku, s in zip(skus, slots, strict=True) if s < 0]
        sim.step(slots)
        assert sim.loads_put_away == put + sum(s >= 0 for s in slots)
        assert sim.queue[: len(waiting)] == waiting  # waiting loads keep their place at the head
        assert np.all(sim.slot_units <= config.slot_capacity)
    assert sim.units_initial + sim.units_put_away == sim.units_picked + sim.units_cleared + sim.slot_units.sum()


def test_popularity_estimate_tracks_the_true_shares():
    config = SlottingConfig(n_aisles=4, slots_per_side=10, levels=2, n_skus=20, season_amplitude=0.0,
                            launch_rate=0.0, retire_rate=0.0, estimate_halflife=50.0, episode_loads=400)
    sim, _ = run(config, 2, 3)
    est, true = sim.popularity_estimate(), sim.demand.shares()
    assert est.sum() == pytest.approx(1.0)
    assert np.argmax(est) == np.argmax(true) and np.abs(est - true).max() < 0.05
