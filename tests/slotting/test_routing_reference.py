"""``envs.slotting.routing.tour_length`` against the independent reference of
``tests/slotting/reference_routing.py`` (heuristics: the docstring's formulas; optimal: shortest
paths on the aisle graph + Held-Karp), on random small layouts and pick lists."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.slotting.layout import Layout, LayoutConfig
from envs.slotting.routing import tour_length
from tests.slotting.reference_routing import (
    held_karp,
    optimal,
    points_length_reference,
    s_shape,
    tour_length_reference,
    warehouse_graph,
)

METHODS = ("s_shape", "return", "largest_gap", "optimal")
REL = 1e-9


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL, abs_tol=REL)


@st.composite
def layouts(draw) -> Layout:
    return Layout(LayoutConfig(
        n_aisles=draw(st.integers(1, 6)),
        slots_per_side=draw(st.integers(1, 8)),
        levels=draw(st.integers(1, 2)),
        aisle_spacing=draw(st.floats(0.25, 10.0, allow_nan=False, allow_infinity=False)),
        slot_width=draw(st.floats(0.1, 5.0, allow_nan=False, allow_infinity=False)),
        depot=draw(st.sampled_from(["left", "centre"])),
    ))


@st.composite
def layout_and_picks(draw):
    layout = draw(layouts())
    picks = draw(st.lists(st.integers(0, layout.n_slots - 1), min_size=0, max_size=10))
    return layout, np.asarray(picks, dtype=np.int64)


@st.composite
def layout_and_points(draw):
    """``(aisle, y)`` points, with ``y`` on the cross-aisles (0, L) as well as inside."""
    layout = draw(layouts())
    length = layout.aisle_length
    ys = st.one_of(st.just(0.0), st.just(length), st.floats(0.0, length, allow_nan=False))
    pts = draw(st.lists(st.tuples(st.integers(0, layout.n_aisles - 1), ys), min_size=0, max_size=9))
    return layout, pts


@settings(max_examples=300, deadline=None)
@given(layout_and_picks())
def test_tour_length_matches_reference(case):
    layout, picks = case
    got = {m: tour_length(layout, picks, m) for m in METHODS}
    for m in METHODS:
        ref = tour_length_reference(layout, picks, m)
        assert close(got[m], ref), (m, layout, picks.tolist(), got[m], ref)
    tol = REL * max(1.0, got["optimal"])
    for m in ("s_shape", "return", "largest_gap"):
        assert got["optimal"] <= got[m] + tol, (m, layout, picks.tolist(), got)


@settings(max_examples=200, deadline=None)
@given(layout_and_points())
def test_tour_length_on_points_matches_reference(case):
    layout, pts = case
    arr = np.asarray(pts, dtype=float).reshape(-1, 2)
    xy = [(a * layout.aisle_spacing, y) for a, y in pts]
    for m in METHODS:
        got = tour_length(layout, arr, m)
        ref = points_length_reference(layout, xy, m)
        assert close(got, ref), (m, layout, pts, got, ref)


@settings(max_examples=100, deadline=None)
@given(layout_and_picks(), st.randoms(use_true_random=False))
def test_order_duplicates_and_depot_picks_change_nothing(case, rnd):
    layout, picks = case
    shuffled = list(picks) + list(picks[: len(picks) // 2])
    rnd.shuffle(shuffled)
    pts = [(layout.slot_x[s], layout.slot_y[s]) for s in shuffled] + [(layout.depot_x, 0.0)]
    for m in METHODS:
        assert close(tour_length(layout, np.asarray(shuffled, dtype=np.int64), m),
                     tour_length_reference(layout, picks, m))
        assert close(points_length_reference(layout, pts, m), tour_length_reference(layout, picks, m))


# -------------------------------------------------------- the reference checks itself
def test_reference_hand_computed():
    # 3 aisles 2 m apart, L = 4, depot left; picks (aisle 1, y 1) and (aisle 2, y 3)
    pts = [(2.0, 1.0), (4.0, 3.0)]
    args = (0.0, 2.0, 4.0)
    assert s_shape(pts, *args) == 8 + 4 * 2  # H = 8, two aisles traversed
    assert optimal(pts, *args) == 8 + 2 * 1 + 2 * 3  # return route: H + 2 + 6 = 16 = S-shape
    assert optimal([(4.0, 4.0)], *args) == 8 + 8
    assert optimal([], *args) == 0.0
    assert optimal([(0.0, 0.0)], *args) == 0.0  # a pick at the depot


def test_held_karp_equals_permutation_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(20):
        pts = [(int(rng.integers(0, 4)), float(rng.integers(0, 6))) for _ in range(rng.integers(1, 7))]
        dist, depot, targets = warehouse_graph(pts, 4, 1.5, 5.0, 1)
        brute = min(
            sum(dist[a, b] for a, b in itertools.pairwise((depot, *perm, depot)))
            for perm in itertools.permutations(targets)
        ) if targets else 0.0
        assert math.isclose(held_karp(dist, depot, targets), brute)
