"""Storage policies: hand-computed distances, ABC zones and fallback, COI ordering, and
properties (the chosen slot is free, deterministic, a full warehouse is a ValueError)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.slotting.layout import Layout, LayoutConfig
from envs.slotting.policies import (
    abc_class,
    abc_slot,
    abc_zones,
    closest_open,
    coi,
    coi_slot,
    coi_target,
    distance_order,
    random_open,
    slot_distance,
    zone_has_free,
    zone_slot,
)


def lay(n=2, spp=2, levels=1, spacing=3.0, width=1.0, depot="left"):
    return Layout(LayoutConfig(n_aisles=n, slots_per_side=spp, levels=levels, aisle_spacing=spacing,
                               slot_width=width, depot=depot))


# ------------------------------------------------------------------------ distances
def test_distances_hand_computed():
    layout = lay()  # slots: (aisle, side, position) row-major
    # aisle 0: y = 0.5, 1.5 on both sides; aisle 1 adds 3
    assert slot_distance(layout).tolist() == [0.5, 1.5, 0.5, 1.5, 3.5, 4.5, 3.5, 4.5]
    assert distance_order(layout).tolist() == [0, 2, 1, 3, 4, 6, 5, 7]
    centre = lay(n=3, spp=1, spacing=2.0, width=2.0, depot="centre")  # depot at aisle 1, x = 2
    assert slot_distance(centre).tolist() == [3.0, 3.0, 1.0, 1.0, 3.0, 3.0]
    assert distance_order(centre).tolist() == [2, 3, 0, 1, 4, 5]
    levels = lay(n=1, spp=1, levels=2)
    assert slot_distance(levels).tolist() == [0.5] * 4


def test_closest_open_is_min_distance_free_slot():
    layout = lay(n=4, spp=5, levels=2)
    rng = np.random.default_rng(0)
    d = slot_distance(layout)
    for _ in range(50):
        free = rng.random(layout.n_slots) < 0.3
        free[rng.integers(layout.n_slots)] = True
        s = closest_open(layout, free)
        assert free[s] and d[s] == d[free].min()
        assert s == np.flatnonzero(free & (d == d[free].min()))[0]  # tie-break by slot id


# ------------------------------------------------------------------------------ ABC
def test_abc_zones_partition_with_shares_ordered_by_distance():
    layout = lay(n=5, spp=10)  # 100 slots
    zones = abc_zones(layout)
    assert np.bincount(zones).tolist() == [20, 30, 50]
    d = slot_distance(layout)
    assert d[zones == 0].max() <= d[zones == 1].min()
    assert d[zones == 1].max() <= d[zones == 2].min()
    assert (zones[distance_order(layout)] == np.repeat([0, 1, 2], [20, 30, 50])).all()
    four = abc_zones(layout, shares=(0.1, 0.2, 0.3, 0.4))
    assert np.bincount(four).tolist() == [10, 20, 30, 40]
    with pytest.raises(ValueError, match="shares"):
        abc_zones(layout, shares=(0.5, 0.6))


def test_abc_class_by_popularity_rank():
    pop = np.array([1, 50, 3, 0, 20, 5, 5, 2, 8, 10], dtype=float)  # 10 SKUs: 2 A, 3 B, 5 C
    classes = [abc_class(pop, s) for s in range(10)]
    assert [s for s in range(10) if classes[s] == 0] == [1, 4]
    assert [s for s in range(10) if classes[s] == 1] == [5, 8, 9]
    assert classes[6] == 2  # tie with SKU 5 broken by SKU id
    with pytest.raises(ValueError, match="sku"):
        abc_class(pop, 10)


def test_abc_slot_closest_in_class_then_falls_back_outward_then_inward():
    layout = lay(n=5, spp=10)
    zones = abc_zones(layout)
    order = distance_order(layout)
    free = np.ones(layout.n_slots, dtype=bool)
    assert abc_slot(layout, free, zones, 1) == order[20]
    free[zones == 1] = False  # B full -> closest C
    assert abc_slot(layout, free, zones, 1) == order[50]
    free[zones == 2] = False  # B and C full -> A
    assert abc_slot(layout, free, zones, 1) == order[0]
    free[order[0]] = False
    assert abc_slot(layout, free, zones, 2) == order[1]
    # an A load into full A goes to B before C
    free = np.ones(layout.n_slots, dtype=bool)
    free[zones == 0] = False
    assert abc_slot(layout, free, zones, 0) == order[20]


# ------------------------------------------------------------------------------ COI
def test_coi_orders_by_cube_per_frequency():
    cube = np.array([2.0, 1.0, 4.0, 1.0])
    freq = np.array([4.0, 1.0, 2.0, 0.0])
    v = coi(cube, freq)
    assert v.tolist() == [0.5, 1.0, 2.0, np.inf]
    assert np.argsort(v).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="cube"):
        coi([0.0], [1.0])


def test_coi_most_popular_small_sku_lands_closest():
    layout = lay(n=4, spp=5)  # 40 slots
    cube = np.array([1.0, 5.0, 2.0, 3.0, 3.0])
    freq = np.array([100.0, 10.0, 2.0, 1.0, 0.0])  # COI 0.01, 0.5, 1, 3, inf
    v = coi(cube, freq)
    free = np.ones(layout.n_slots, dtype=bool)
    slots = [coi_slot(layout, free, v, s) for s in range(5)]
    d = slot_distance(layout)
    assert slots[0] == closest_open(layout, free)
    assert list(np.argsort(d[slots], kind="stable")) == [0, 1, 2, 3, 4]
    assert [coi_target(layout, v, s) for s in range(5)] == [0, 8, 16, 24, 32]
    # only SKUs 0 and 4 active: SKU 4 targets the middle of the distance order
    assert coi_target(layout, v, 4, active=[True, False, False, False, True]) == 20
    # target taken: nearest free rank, ties to the closer slot
    order = distance_order(layout)
    free[order[8]] = False
    assert coi_slot(layout, free, v, 1) == order[7]


def test_zone_slot_and_full_zone():
    layout = lay(n=5, spp=10)
    zones = abc_zones(layout)
    order = distance_order(layout)
    free = np.ones(layout.n_slots, dtype=bool)
    assert zone_slot(layout, free, zones, 2) == order[50]
    free[zones == 2] = False
    assert zone_has_free(free, zones, 3).tolist() == [True, True, False]
    with pytest.raises(ValueError, match="zone 2 has no free slot"):
        zone_slot(layout, free, zones, 2)


# ------------------------------------------------------------------------ properties
@st.composite
def cases(draw):
    layout = lay(n=draw(st.integers(1, 4)), spp=draw(st.integers(1, 6)), levels=draw(st.integers(1, 2)),
                 spacing=draw(st.sampled_from([1.0, 2.5, 3.0])), depot=draw(st.sampled_from(["left", "centre"])))
    free = np.array(draw(st.lists(st.booleans(), min_size=layout.n_slots, max_size=layout.n_slots)))
    n_skus = draw(st.integers(1, 8))
    cube = np.array(draw(st.lists(st.floats(0.1, 10.0), min_size=n_skus, max_size=n_skus)))
    freq = np.array(draw(st.lists(st.integers(0, 20), min_size=n_skus, max_size=n_skus)), dtype=float)
    sku = draw(st.integers(0, n_skus - 1))
    seed = draw(st.integers(0, 2**32 - 1))
    return layout, free, cube, freq, sku, seed


def choose_all(layout, free, cube, freq, sku, seed):
    zones = abc_zones(layout)
    cls = abc_class(freq, sku)
    return [closest_open(layout, free), random_open(layout, free, np.random.default_rng(seed)),
            abc_slot(layout, free, zones, cls), coi_slot(layout, free, coi(cube, freq), sku)]


@settings(max_examples=150, deadline=None)
@given(cases())
def test_policies_return_free_slots_deterministically_or_refuse_a_full_warehouse(case):
    layout, free, cube, freq, sku, seed = case
    if not free.any():
        zones = abc_zones(layout)
        for call in (lambda: closest_open(layout, free), lambda: random_open(layout, free, seed),
                     lambda: abc_slot(layout, free, zones, 0), lambda: coi_slot(layout, free, coi(cube, freq), sku),
                     lambda: zone_slot(layout, free, zones, 0)):
            with pytest.raises(ValueError, match="full"):
                call()
        return
    first = choose_all(layout, free, cube, freq, sku, seed)
    assert all(free[s] for s in first)
    assert choose_all(layout, free.copy(), cube, freq, sku, seed) == first
    zones = abc_zones(layout)
    for k in np.flatnonzero(zone_has_free(free, zones, 3)):
        s = zone_slot(layout, free, zones, int(k))
        assert free[s] and zones[s] == k


def test_the_aisle_storage_order_fills_whole_aisles_nearest_the_depot_first():
    from envs.slotting.config import SlottingConfig
    from envs.slotting.layout import Layout
    from envs.slotting.policies import distance_order

    for depot in ("left", "centre"):
        lay = Layout(n_aisles=5, slots_per_side=4, levels=2, depot=depot, storage_order="aisle")
        order = distance_order(lay)
        steps = np.abs(lay.slot_aisle[order] - lay.depot_aisle)
        assert np.all(np.diff(steps) >= 0)  # aisle by aisle, outward from the depot
        for a in np.unique(lay.slot_aisle):
            ys = lay.slot_y[order][lay.slot_aisle[order] == a]
            assert np.all(np.diff(ys) >= 0)  # front to back within an aisle
    assert SlottingConfig(routing="s_shape").layout().storage_order == "aisle"
    assert SlottingConfig(routing="largest_gap").layout().storage_order == "aisle"
    assert SlottingConfig(routing="return").layout().storage_order == "distance"
    assert SlottingConfig(routing="optimal").layout().storage_order == "distance"
    assert SlottingConfig(routing="return", slot_order="aisle").layout().storage_order == "aisle"
