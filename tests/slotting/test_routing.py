"""Picker routing: hand-computed tours, the Ratliff-Rosenthal DP against a brute-force TSP on
the rectilinear aisle graph, and the heuristics against their closed forms."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path

from envs.core.config import ConfigError
from envs.slotting.layout import Layout, LayoutConfig
from envs.slotting.routing import METHODS, tour_length

HEURISTICS = ("s_shape", "return", "largest_gap")


def lay(n=4, spp=5, spacing=3.0, width=1.0, depot="left", levels=1):
    return Layout(LayoutConfig(n_aisles=n, slots_per_side=spp, levels=levels, aisle_spacing=spacing,
                               slot_width=width, depot=depot))


# ------------------------------------------------------------------------- layout
def test_slot_indexing_round_trip_and_coordinates():
    layout = lay(n=3, spp=4, levels=2, spacing=2.5, width=0.5)
    assert layout.n_slots == 3 * 2 * 4 * 2
    ids = np.arange(layout.n_slots)
    a, s, p, lv = layout.decompose(ids)
    assert np.array_equal(layout.slot_id(a, s, p, lv), ids)
    assert layout.slot_id(2, 1, 3, 1) == layout.n_slots - 1
    assert layout.decompose(layout.slot_id(1, 0, 2, 1)) == (1, 0, 2, 1)
    x, y = layout.coordinates(layout.slot_id(2, 1, 3, 0))
    assert (x, y) == (5.0, 1.75)
    assert layout.aisle_length == 2.0
    with pytest.raises(ValueError):
        layout.decompose(layout.n_slots)


@pytest.mark.parametrize(("n", "aisle"), [(1, 0), (2, 0), (3, 1), (4, 1), (5, 2), (6, 2)])
def test_centre_depot_is_the_left_middle_aisle(n, aisle):
    layout = lay(n=n, depot="centre", spacing=2.0)
    assert layout.depot_aisle == aisle and layout.depot_x == 2.0 * aisle
    assert lay(n=n, depot="left").depot_x == 0.0


@pytest.mark.parametrize(("field", "value"), [
    ("n_aisles", 0), ("n_aisles", 2.5), ("slots_per_side", -1), ("levels", "3"),
    ("aisle_spacing", 0.0), ("slot_width", float("nan")), ("depot", "right"),
])
def test_config_errors_are_one_line_naming_the_field(field, value):
    with pytest.raises(ConfigError) as info:
        LayoutConfig(**{field: value})
    message = str(info.value)
    assert message.startswith(f"env.{field}: expected ") and "\n" not in message


# ------------------------------------------------------------- hand-computed tours
# Default hand layout: 4 aisles at x = 0, 3, 6, 9; L = 5 (positions at y = 0.5 .. 4.5).
def test_empty_pick_list_is_zero():
    for method in METHODS:
        assert tour_length(lay(), [], method) == 0.0
        assert tour_length(lay(depot="centre"), np.zeros((0, 2)), method) == 0.0


def test_single_pick_all_methods_return_route():
    # pick at (x=6, y=2.5), depot at x=0: 2 * 6 horizontal + 2 * 2.5 up and down = 17
    for method in METHODS:
        assert tour_length(lay(), [(2, 2.5)], method) == 17.0


def test_hand_s_shape_and_return():
    picks = [(1, 1.5), (2, 3.5), (3, 0.5)]
    # s_shape: k = 3 (odd): aisles 1 and 2 traversed (2 * 5), aisle 3 entered from the front up
    # to 0.5 and back (1); horizontal 2 * 9 = 18 -> 18 + 10 + 1 = 29
    assert tour_length(lay(), picks, "s_shape") == 29.0
    # return: 18 + 2 * (1.5 + 3.5 + 0.5) = 29
    assert tour_length(lay(), picks, "return") == 29.0
    # even k: aisles 1, 3 traversed: 18 + 10 = 28
    assert tour_length(lay(), [(1, 0.5), (3, 0.5)], "s_shape") == 28.0
    # return there: 18 + 1 + 1 = 20; optimal too (no better tour than two short visits)
    assert tour_length(lay(), [(1, 0.5), (3, 0.5)], "return") == 20.0
    assert tour_length(lay(), [(1, 0.5), (3, 0.5)], "optimal") == 20.0


def test_hand_largest_gap():
    # 5 aisles, L = 10, spacing 2: aisles 0 and 4 traversed fully (2 * 10); aisle 2 picks at
    # 1.5, 3.5, 8.5: gaps 1.5, 2, 5, 1.5 -> largest 5 -> cost 2 * (10 - 5) = 10;
    # horizontal 2 * 8 = 16 -> 16 + 20 + 10 = 46
    layout = lay(n=5, spp=10, spacing=2.0)
    picks = [(0, 4.5), (2, 1.5), (2, 3.5), (2, 8.5), (4, 5.5)]
    assert tour_length(layout, picks, "largest_gap") == 46.0
    # the optimal tour is shorter: aisle 0 from the front to 4.5 and back (9), front cross to
    # aisle 2 (4), up aisle 2 (10), back cross to 4 (4), down aisle 4 (10), front cross home
    # (8): 45
    assert tour_length(layout, picks, "optimal") == 45.0
    # s_shape: 3 aisles -> 16 + 2 * 10 + 2 * 5.5 = 47; return: 16 + 9 + 17 + 11 = 53
    assert tour_length(layout, picks, "s_shape") == 47.0
    assert tour_length(layout, picks, "return") == 53.0


def test_hand_optimal_beats_heuristics():
    # 3 aisles, L = 10, spacing 1, depot left. Picks deep in aisle 0 and aisle 2, and near the
    # front of aisle 1. Optimal: up aisle 0 (10), back cross to 2 (2), down aisle 2 (10), front
    # cross back to 0 (2) passing aisle 1, which is visited from the front to 0.5 and back (1):
    # 25. s_shape: 3 aisles -> 2 * 2 + 2 * 10 + 2 * 9.5 = 43. return: 4 + 19 + 1 + 19 = 43.
    # largest_gap: 4 + 20 + 2 * (10 - 9.5) = 25.
    layout = lay(n=3, spp=10, spacing=1.0)
    picks = [(0, 9.5), (1, 0.5), (2, 9.5)]
    assert tour_length(layout, picks, "optimal") == 25.0
    assert tour_length(layout, picks, "s_shape") == 43.0
    assert tour_length(layout, picks, "return") == 43.0
    assert tour_length(layout, picks, "largest_gap") == 25.0


def test_hand_centre_depot():
    # 5 aisles at x = 0..8 (spacing 2), depot centre = aisle 2 (x = 4), L = 5. Picks at
    # (0, 0.5) and (4, 0.5): horizontal 2 * 8 = 16, return 16 + 1 + 1 = 18 = optimal
    layout = lay(n=5, spacing=2.0, depot="centre")
    assert tour_length(layout, [(0, 0.5), (4, 0.5)], "return") == 18.0
    assert tour_length(layout, [(0, 0.5), (4, 0.5)], "optimal") == 18.0
    # one pick right of the depot: 2 * 2 + 2 * 4.5 = 13
    assert tour_length(layout, [(3, 4.5)], "optimal") == 13.0


def test_slot_ids_and_points_agree():
    layout = lay(levels=2)
    ids = [layout.slot_id(1, 0, 2, 1), layout.slot_id(1, 1, 2, 0), layout.slot_id(3, 1, 4, 1)]
    points = [(1, 2.5), (3, 4.5)]  # both sides/levels of one position share a point
    for method in METHODS:
        assert tour_length(layout, ids, method) == tour_length(layout, points, method)


def test_bad_inputs():
    with pytest.raises(ValueError, match="method"):
        tour_length(lay(), [(0, 1.0)], "nearest")
    with pytest.raises(ValueError, match="y must be"):
        tour_length(lay(), [(0, 6.0)], "optimal")
    with pytest.raises(ValueError, match="aisles"):
        tour_length(lay(), [(4, 1.0)], "optimal")


# --------------------------------------------------------------------- brute force
def brute_force(layout, points) -> float:
    """Shortest closed tour from the depot through ``points`` on the graph of aisle and
    cross-aisle segments: shortest paths by Dijkstra, the TSP by trying every order."""
    n, length, w = layout.n_aisles, layout.aisle_length, layout.aisle_spacing
    points = sorted(set((int(a), float(y)) for a, y in points) - {(layout.depot_aisle, 0.0)})
    if not points:
        return 0.0
    nodes = sorted({(a, 0.0) for a in range(n)} | {(a, length) for a in range(n)} | set(points))
    index = {v: i for i, v in enumerate(nodes)}
    rows, cols, data = [], [], []
    for a in range(n):
        column = sorted(v for v in nodes if v[0] == a)
        for u, v in itertools.pairwise(column):
            rows.append(index[u]), cols.append(index[v]), data.append(v[1] - u[1])
        if a + 1 < n:
            for y in (0.0, length):
                rows.append(index[(a, y)]), cols.append(index[(a + 1, y)]), data.append(w)
    graph = coo_matrix((data, (rows, cols)), shape=(len(nodes), len(nodes))).tocsr()
    dist = shortest_path(graph, directed=False)
    depot = index[(layout.depot_aisle, 0.0)]
    targets = [index[p] for p in points]
    best = np.inf
    for order in itertools.permutations(targets):
        route = (depot, *order, depot)
        best = min(best, sum(dist[u, v] for u, v in itertools.pairwise(route)))
    return float(best)


@st.composite
def instances(draw, max_picks=6, max_aisles=5, max_spp=5):
    n = draw(st.integers(1, max_aisles))
    spp = draw(st.integers(1, max_spp))
    layout = lay(n=n, spp=spp, spacing=draw(st.sampled_from([0.5, 1.0, 2.5, 4.0])),
                 width=draw(st.sampled_from([0.5, 1.0, 1.5])), depot=draw(st.sampled_from(["left", "centre"])))
    k = draw(st.integers(0, max_picks))
    slots = draw(st.lists(st.integers(0, layout.n_slots - 1), min_size=k, max_size=k))
    return layout, slots


def points_of(layout, slots):
    _, y = layout.coordinates(np.asarray(slots, dtype=np.int64))
    return [(int(a), float(v)) for a, v in zip(layout.slot_aisle[slots], y, strict=True)]


@settings(max_examples=150, deadline=None)
@given(instances())
def test_optimal_equals_brute_force(instance):
    layout, slots = instance
    expected = brute_force(layout, points_of(layout, slots))
    assert tour_length(layout, slots, "optimal") == pytest.approx(expected, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(instances(max_picks=5), st.data())
def test_optimal_equals_brute_force_with_cross_aisle_points(instance, data):
    # (aisle, y) points may lie on the cross-aisles themselves (y = 0 or y = L)
    layout, slots = instance
    points = points_of(layout, slots)
    for _ in range(data.draw(st.integers(0, 2))):
        points.append((data.draw(st.integers(0, layout.n_aisles - 1)),
                       data.draw(st.sampled_from([0.0, layout.aisle_length]))))
    expected = brute_force(layout, points)
    got = tour_length(layout, np.array(points, dtype=float).reshape(-1, 2), "optimal")
    assert got == pytest.approx(expected, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(instances(max_picks=40, max_aisles=12, max_spp=15))
def test_optimal_is_at_most_every_heuristic(instance):
    layout, slots = instance
    best = tour_length(layout, slots, "optimal")
    for method in HEURISTICS:
        assert best <= tour_length(layout, slots, method) + 1e-9


def closed_forms(layout, slots):
    """s_shape and return from their formulas, written independently of the module."""
    if not slots:
        return 0.0, 0.0
    length, w, d = layout.aisle_length, layout.aisle_spacing, layout.depot_aisle
    far = {}
    for a, y in points_of(layout, slots):
        far[a] = max(far.get(a, 0.0), y)
    aisles = sorted(far)
    horizontal = 2 * w * (max(aisles[-1], d) - min(aisles[0], d))
    ret = horizontal + sum(2 * far[a] for a in aisles)
    k = len(aisles)
    s_shape = horizontal + length * k if k % 2 == 0 else horizontal + length * (k - 1) + 2 * far[aisles[-1]]
    return s_shape, ret


@settings(max_examples=150, deadline=None)
@given(instances(max_picks=30, max_aisles=10, max_spp=10))
def test_s_shape_and_return_equal_their_formulas(instance):
    layout, slots = instance
    s_shape, ret = closed_forms(layout, slots)
    assert tour_length(layout, slots, "s_shape") == pytest.approx(s_shape)
    assert tour_length(layout, slots, "return") == pytest.approx(ret)


@settings(max_examples=100, deadline=None)
@given(instances(max_picks=20, max_aisles=8, max_spp=8), st.randoms(use_true_random=False))
def test_invariant_to_order_and_duplicates(instance, rnd):
    layout, slots = instance
    shuffled = list(slots) + list(slots[:2])
    rnd.shuffle(shuffled)
    for method in METHODS:
        assert tour_length(layout, shuffled, method) == pytest.approx(tour_length(layout, slots, method))


@settings(max_examples=100, deadline=None)
@given(instances(max_picks=8), st.data())
def test_single_aisle_picks(instance, data):
    # all picks in one aisle: every heuristic is the return route 2 * (horizontal + ymax);
    # the optimal tour is the same (going to the back and around cannot help in one aisle)
    layout, _ = instance
    aisle = data.draw(st.integers(0, layout.n_aisles - 1))
    positions = data.draw(st.lists(st.integers(0, layout.slots_per_side - 1), min_size=1, max_size=6))
    slots = [layout.slot_id(aisle, data.draw(st.integers(0, 1)), p) for p in positions]
    ymax = (max(positions) + 0.5) * layout.slot_width
    expected = 2 * (layout.aisle_spacing * abs(aisle - layout.depot_aisle) + ymax)
    for method in METHODS:
        assert tour_length(layout, slots, method) == pytest.approx(expected)
