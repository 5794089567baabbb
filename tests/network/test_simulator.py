"""Property tests of the network simulator (:mod:`envs.network.simulator`), with Hypothesis.

Small trees are drawn (serial chains of 1-3 stages, a DC with 2-3 leaves, a root with a DC
and a direct leaf, two roots, in shuffled config order), with random and deterministic lead times,
lost sales / backorders, internal lost / backorder, every allocation rule, transshipment,
order and storage capacities and random integer orders. Each period:

* units are conserved: initial units + everything the supplier shipped = net stock (on hand
  minus customer backlog) + units in transit + units refused for lack of space + units
  that left to customers (demand with backorders: the backlog is negative stock; sales
  with lost sales). Internal lost requests and lost customer demand move no unit;
* costs add up: ``cost`` = the sum of its components minus revenue = the sum of
  ``node_cost``, and each component is recomputed from the state;
* stock is never negative at interior nodes (nor at leaves without backorders); ``owed``
  is non-negative and zero with ``internal=lost``;
* the allocation never ships more than a child requested nor more than the parent has, and
  never leaves stock on hand while a request of that SKU is unmet; ``priority`` serves the
  children in order; unshipped requests become ``owed`` (backorder) or ``internal_lost``;
* storage capacity is never exceeded by the accepted arrivals (nor by units transshipped
  with lead time 0); order capacity is respected
  (orders above it cut pro rata, rounded down);
* the same seed gives the same trajectory, and the demand does not depend on the orders.

Unit tests of :func:`envs.network.allocation.allocate` for the three rules, including the
balanced rule's water-filling (equal positions / mean up to one unit of rounding).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envs.network.allocation import allocate
from envs.network.config import NetworkConfig
from envs.network.simulator import COSTS, NetworkSimulator

EXAMPLES = int(os.environ.get("NETWORK_PROPERTY_EXAMPLES", 150))  # more for a bug hunt
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PERIODS = 25


@st.composite
def node_fields(draw, name: str, parent: str | None) -> dict:
    lead = draw(st.integers(1, 3))
    return {
        "name": name, "parent": parent, "lead_time": lead,
        "lead_time_max": draw(st.none() | st.integers(lead, lead + 2)),
        "holding_cost": draw(st.sampled_from([0.0, 0.5, 1.0, 2.0])),
        "pipeline_holding_cost": draw(st.none() | st.sampled_from([0.0, 0.25])),
        "penalty": draw(st.sampled_from([0.0, 4.0, 19.0])),
        "unit_cost": draw(st.sampled_from([0.0, 1.0])),
        "price": draw(st.sampled_from([0.0, 3.0])),
        "fixed_order_cost": draw(st.sampled_from([0.0, 2.5])),
        "order_capacity": draw(st.none() | st.integers(0, 40)),
        "storage_capacity": draw(st.none() | st.integers(0, 80)),
        "initial_inventory": draw(st.integers(0, 15)),
    }


@st.composite
def configs(draw) -> NetworkConfig:
    shape = draw(st.sampled_from(["chain", "tree", "deep", "forest"]))
    if shape == "chain":
        m = draw(st.integers(1, 3))
        links = [(f"S{k}", f"S{k - 1}" if k else None) for k in range(m)]
    elif shape == "tree":
        links = [("DC", None)] + [(f"MFC{i}", "DC") for i in range(draw(st.integers(2, 3)))]
    elif shape == "deep":  # a root with a DC of two leaves and one leaf of its own
        links = [("R", None), ("DC", "R"), ("A", "DC"), ("B", "DC"), ("C", "R")]
    else:  # two roots: a single node and a DC with two leaves
        links = [("P", None), ("Q", None), ("Q1", "Q"), ("Q2", "Q")]
    nodes = [draw(node_fields(name, parent)) for name, parent in links]
    leaves = [n for n in nodes if not any(c["parent"] == n["name"] for c in nodes)]
    if len(leaves) > 1 and draw(st.booleans()):
        leaves[0]["demand_share"] = draw(st.sampled_from([0.0, 0.3, 0.6]))
    nodes = draw(st.permutations(nodes))
    trans = None
    if len(leaves) > 1 and draw(st.booleans()):
        trans = {"mode": "balance", "lead_time": draw(st.integers(0, 2)),
                 "threshold": draw(st.sampled_from([0.5, 1.0, 2.0])), "cost": 0.5}
    return NetworkConfig(
        nodes=nodes, n_skus=draw(st.integers(1, 4)), catalogue=draw(st.sampled_from(["uniform", "synthetic"])),
        catalogue_seed=draw(st.integers(0, 3)), mean_demand=draw(st.sampled_from([0.5, 3.0, 8.0])),
        backorders=draw(st.booleans()), internal=draw(st.sampled_from(["backorder", "lost"])),
        allocation=draw(st.sampled_from(["proportional", "priority", "balanced"])), transshipment=trans,
        revenue=draw(st.booleans()), overflow_cost=draw(st.sampled_from([0.0, 5.0])),
        shipping=draw(st.sampled_from(["after_arrivals", "before_arrivals"])),
        supplier_penalty=draw(st.sampled_from([0.0, 7.0])),
        initial_state=draw(st.sampled_from(["mean", "zero", "given"])), action_type="order")


def random_orders(sim: NetworkSimulator, rng: np.random.Generator) -> np.ndarray:
    """Integer orders (M, N): mostly within q_max, sometimes zero, sometimes large."""
    scale = rng.choice([0.0, 0.3, 1.0, 3.0])
    return rng.integers(0, np.maximum(1, (scale * sim.net.q_max).astype(np.int64)) + 1)


def watch(sim: NetworkSimulator) -> dict:
    """Wrap the simulator's steps 1 and 2 to record, per period, the accepted arrivals (M, N)
    (``accepted``; with ``shipping=before_arrivals`` they enter stock after the shipments),
    the units refused per node (``refused``, M) and the units each leaf sent by
    transshipment (``sent``, M); assert that the accepted arrivals and the units transshipped
    with lead time 0 fit the storage capacity (or, at a node already over it, that none of
    them needs space)."""
    rec = {"storage_calls": 0}
    arrive, fit_storage, transship = sim._arrive, sim._fit_storage, sim._transship

    def arrive_(cap_factor):
        before = sim.stock.copy()
        rec["refused"] = np.zeros(sim.m)
        result = arrive(cap_factor)
        rec["accepted"] = sim.stock - before
        return result

    def fit_storage_(arriving, cap_factor):
        accepted, refused = fit_storage(arriving, cap_factor)
        assert np.all(accepted >= 0) and np.all(accepted <= arriving)
        for k in sim.limited_storage:
            before = float(sim.volume @ np.maximum(sim.stock[k], 0))
            after = float(sim.volume @ np.maximum(sim.stock[k] + accepted[k], 0))
            assert after <= max(sim.storage_cap[k] * cap_factor, before) + 1e-9
            assert np.array_equal(refused[k], arriving[k] - accepted[k])
        rec["storage_calls"] += 1
        rec["refused"] = refused.sum(axis=1)
        return accepted, refused

    def transship_(node_cost, cap_factor):
        before = sim.stock.copy()
        moved = transship(node_cost, cap_factor)
        sent = np.maximum(before - sim.stock, 0).sum(axis=1)
        assert sent.sum() == moved  # a leaf gives or receives, never both
        if sim.cfg.transshipment.lead_time == 0:  # received at once: within the storage capacity
            assert np.maximum(sim.stock - before, 0).sum() == moved
            for k in sim.limited_storage:
                vol_before = float(sim.volume @ np.maximum(before[k], 0))
                vol_after = float(sim.volume @ np.maximum(sim.stock[k], 0))
                assert vol_after <= max(sim.storage_cap[k] * cap_factor, vol_before) + 1e-9
        rec["sent"] = sent
        return moved

    sim._arrive, sim._fit_storage, sim._transship = arrive_, fit_storage_, transship_
    return rec


def check_period(sim: NetworkSimulator, orders, owed_before, totals, rec) -> None:
    net, cfg, last = sim.net, sim.cfg, sim.last
    accepted = rec["accepted"]
    # interior stock right after the shipments (before_arrivals: the arrivals come after them)
    after_shipping = sim.stock - (accepted if cfg.shipping == "before_arrivals" else 0)
    q, shipped = last["orders"], last["shipped"]
    a = net.arrays
    # order capacity: cut pro rata, rounded down
    assert np.all(q >= 0) and np.all(q <= orders)
    for k in range(sim.m):
        cap = a["order_capacity"][k]
        total = int(orders[k].sum())
        if total <= cap:
            assert np.array_equal(q[k], orders[k])
        else:
            assert q[k].sum() <= cap
            assert np.array_equal(q[k], np.floor(orders[k] * (cap / total)).astype(np.int64))
    # the supplier ships the roots' orders (after the capacity cut) in full
    assert np.array_equal(shipped[sim.roots], q[sim.roots])
    lost_internal = cfg.internal == "lost"
    supplier_lost = (orders[sim.roots] - q[sim.roots]).sum(axis=1) if lost_internal else np.zeros(len(sim.roots))
    # allocation at interior nodes
    assert np.all(sim.owed >= 0)
    if lost_internal:
        assert not sim.owed.any()
    for u in sim.interior:
        kids = net.children[u]
        request = q[kids] if lost_internal else q[kids] + owed_before[kids]
        x = shipped[kids]
        assert np.all(x >= 0) and np.all(x <= request)
        assert np.all(after_shipping[u] >= 0)  # shipped no more than available
        unmet = request - x
        if lost_internal:  # what the order capacity cut is lost too
            assert last["internal_lost"][u] == (orders[kids] - x).sum()
        else:
            assert np.array_equal(sim.owed[kids], unmet)
            assert last["internal_lost"][u] == 0
        assert np.all(after_shipping[u][unmet.any(axis=0)] == 0), "stock left while a request is unmet"
        if cfg.allocation == "priority":
            for i in range(sim.n):
                first = np.flatnonzero(unmet[:, i])
                if first.size:
                    assert not x[first[0] + 1:, i].any(), "priority: a later child served before an earlier one"
    assert not last["internal_lost"][sim.leaves].any()
    # stock signs
    if not cfg.backorders:
        assert np.all(sim.stock >= 0)
    assert all(np.all(sim.stock[u] >= 0) for u in sim.interior)
    # the pipeline and its total agree
    assert np.all(sim.pipe >= 0) and np.array_equal(sim.pipe.sum(axis=0), sim.in_transit)
    # demand at the leaves
    demand, sales, short = last["demand"], last["sales"], last["short"]
    assert np.all(sales >= 0) and np.all(sales <= demand)
    if cfg.backorders:
        assert np.array_equal(short, np.maximum(-sim.stock[sim.leaves], 0))
        assert totals["backlog"] == short.sum() and totals["lost"] == 0
    else:
        assert np.array_equal(short, demand - sales) and totals["lost"] == short.sum()
    # totals mirror the state
    assert totals["on_hand"] == np.maximum(sim.stock, 0).sum()
    assert totals["in_transit"] == sim.in_transit.sum() and totals["owed"] == sim.owed.sum()
    assert totals["ordered"] == q.sum() and totals["shipped"] == shipped.sum()
    assert totals["demand"] == demand.sum() and totals["sales"] == sales.sum()
    # costs add up
    parts = sum(totals[c] for c in COSTS if c != "revenue") - totals["revenue"]
    assert totals["cost"] == pytest.approx(parts, rel=1e-12, abs=1e-9)
    assert last["node_cost"].sum() == pytest.approx(totals["cost"], rel=1e-12, abs=1e-9)
    held = np.maximum(sim.stock, 0).sum(axis=1)
    assert totals["holding_cost"] == pytest.approx(float(a["holding"] @ held))
    assert totals["pipeline_cost"] == pytest.approx(float(a["pipeline_holding"] @ sim.in_transit.sum(axis=1)))
    assert totals["ordering_cost"] == pytest.approx(float(a["fixed_order_cost"] @ (q > 0).sum(axis=1)))
    assert totals["purchase_cost"] == pytest.approx(float(a["unit_cost"] @ shipped.sum(axis=1)))
    assert totals["overflow_cost"] == pytest.approx(cfg.overflow_cost * totals["overflow_units"])
    assert totals["transshipment_cost"] == pytest.approx(cfg.transshipment.cost * totals["transshipped"])
    shortage = np.zeros(sim.m)
    shortage[sim.leaves] = a["penalty"][sim.leaves] * short.sum(axis=1)
    shortage += a["penalty"] * last["internal_lost"]
    shortage[sim.roots] += cfg.supplier_penalty * supplier_lost  # each root pays for its own order
    assert totals["shortage_cost"] == pytest.approx(float(shortage.sum()))
    assert totals["internal_lost"] == last["internal_lost"].sum() + supplier_lost.sum()
    own = shortage + a["holding"] * held + a["pipeline_holding"] * sim.in_transit.sum(axis=1)
    own += a["fixed_order_cost"] * (q > 0).sum(axis=1) + a["unit_cost"] * shipped.sum(axis=1)
    own += cfg.overflow_cost * rec["refused"]
    assert rec["refused"].sum() == totals["overflow_units"]
    if cfg.transshipment.mode != "none":
        own += cfg.transshipment.cost * rec["sent"]
        assert rec["sent"].sum() == totals["transshipped"]
    if cfg.revenue:
        out = np.zeros(sim.m)
        out[sim.leaves] = sales.sum(axis=1)
        for u in sim.interior:
            out[u] = shipped[net.children[u]].sum()
        assert totals["revenue"] == pytest.approx(float(a["price"] @ out))
        own -= a["price"] * out
    else:
        assert totals["revenue"] == 0
    assert np.allclose(last["node_cost"], own, rtol=1e-12, atol=1e-9), "node_cost is not each node's own cost"
    if cfg.transshipment.mode == "none":
        assert totals["transshipped"] == 0
    if not sim.limited_storage.size:
        assert totals["overflow_units"] == 0


@SETTINGS
@given(config=configs(), seed=st.integers(0, 2**31), order_seed=st.integers(0, 2**31))
def test_units_conserved_costs_add_up_allocation_and_capacities(config, seed, order_seed):
    sim = NetworkSimulator(config.build())
    rec = watch(sim)
    sim.reset(np.random.default_rng(seed))
    rng = np.random.default_rng(order_seed)
    initial = int(sim.stock.sum() + sim.in_transit.sum())
    supplied = refused = left = 0
    for _ in range(PERIODS):
        owed_before = sim.owed.copy()
        orders = random_orders(sim, rng)
        totals = sim.step(orders)
        check_period(sim, orders, owed_before, totals, rec)
        supplied += int(sim.last["shipped"][sim.roots].sum())
        refused += int(totals["overflow_units"])
        left += int(totals["demand"] if config.backorders else totals["sales"])
        assert initial + supplied == sim.stock.sum() + sim.in_transit.sum() + refused + left
    assert rec["storage_calls"] == (PERIODS if sim.limited_storage.size else 0)


def trajectory(config: NetworkConfig, seed: int, order_seed: int, periods: int = 20):
    sim = NetworkSimulator(config.build())
    sim.reset(np.random.default_rng(seed))
    rng = np.random.default_rng(order_seed)
    out = []
    for _ in range(periods):
        totals = sim.step(random_orders(sim, rng))
        out.append((totals, sim.stock.copy(), sim.in_transit.copy(), sim.owed.copy(), sim.last["demand"].copy(),
                    sim.last["node_cost"].copy()))
    return out


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs(), seed=st.integers(0, 2**31), order_seed=st.integers(0, 2**31))
def test_same_seed_same_trajectory_and_demand_independent_of_orders(config, seed, order_seed):
    a, b = trajectory(config, seed, order_seed), trajectory(config, seed, order_seed)
    for x, y in zip(a, b, strict=True):
        assert x[0] == y[0]
        assert all(np.array_equal(u, v) for u, v in zip(x[1:], y[1:], strict=True))
    other = trajectory(config, seed, order_seed + 1)
    assert all(np.array_equal(x[4], y[4]) for x, y in zip(a, other, strict=True))


def test_random_lead_times_stay_in_range_and_orders_can_cross():
    nodes = [{"name": "DC", "lead_time": 1, "lead_time_max": 4}]
    sim = NetworkSimulator(NetworkConfig(nodes=nodes, n_skus=50, catalogue="uniform", initial_state="zero").build())
    sim.reset(np.random.default_rng(0))
    leads = []
    for _ in range(30):
        before = sim.pipe.copy()
        head = sim.head
        sim.step(np.ones((1, 50), dtype=np.int64))
        added = sim.pipe - before
        added[head] = 0  # the slot that just arrived (cleared) and was not written to
        rows = np.argmax(added[:, 0, :], axis=0)  # one unit per SKU, in one row
        assert np.all(added[:, 0, :].sum(axis=0) == 1)
        leads.append((rows - head) % sim.width)
    leads = np.concatenate(leads)
    assert leads.min() == 1 and leads.max() == 4 and set(leads.tolist()) == {1, 2, 3, 4}


def test_transshipment_at_once_only_fills_the_receivers_free_space():
    nodes = [{"name": "DC"}, {"name": "A", "parent": "DC", "initial_inventory": 30},
             {"name": "B", "parent": "DC", "storage_capacity": 3}]
    cfg = NetworkConfig(nodes=nodes, n_skus=1, catalogue="uniform", mean_demand=10.0, initial_state="given",
                        transshipment={"mode": "balance", "lead_time": 0}, demand={"distribution": "poisson"})
    sim = NetworkSimulator(cfg.build())
    rec = watch(sim)
    sim.reset(np.random.default_rng(0))
    totals = sim.step(np.zeros((3, 1), dtype=np.int64))
    # B's target is 5 (its mean demand), but only 3 units fit: A sends 3
    assert totals["transshipped"] == 3 and rec["sent"].tolist() == [0, 3, 0]
    assert totals["transshipment_cost"] == pytest.approx(1.5)


def test_serial_timing_by_hand():
    """Two stages, L = 2 and 1, deterministic: an upstream order of period 0 is on hand at
    stage 0 at the start of period 2 and reaches stage 1 at the start of period 4 if
    stage 1 orders it in period 2."""
    nodes = [{"name": "up", "lead_time": 2}, {"name": "down", "parent": "up", "lead_time": 1}]
    cfg = NetworkConfig(nodes=nodes, n_skus=1, catalogue="uniform", mean_demand=1e-6, initial_state="zero")
    sim = NetworkSimulator(cfg.build())
    sim.reset(np.random.default_rng(0))
    plan = {0: [[5], [0]], 2: [[0], [3]]}
    stocks = []
    for t in range(5):
        sim.step(np.array(plan.get(t, [[0], [0]])))
        stocks.append(sim.stock[:, 0].tolist())
    # down's order of period 2 is shipped at once (up holds 5 after arrivals) and arrives in period 3
    assert stocks == [[0, 0], [0, 0], [2, 0], [2, 3], [2, 3]]
    assert sim.in_transit.sum() == 0


# -- allocate ------------------------------------------------------------------------------
def col(*values) -> np.ndarray:
    return np.array(values, dtype=np.int64)[:, None]


def test_allocate_ships_every_request_when_stock_covers_them():
    request = np.array([[3, 0], [4, 2]])
    for rule in ("proportional", "priority", "balanced"):
        out = allocate(np.array([7, 5]), request, rule, np.zeros((2, 2)), np.ones((2, 2)))
        assert np.array_equal(out, request)


def test_allocate_proportional_floors_then_largest_remainders_first_child_on_ties():
    assert allocate(np.array([10]), col(6, 4, 5), "proportional").ravel().tolist() == [4, 3, 3]
    assert allocate(np.array([1]), col(1, 1), "proportional").ravel().tolist() == [1, 0]
    assert allocate(np.array([2]), col(1, 1, 1), "proportional").ravel().tolist() == [1, 1, 0]
    assert allocate(np.array([0]), col(3, 4), "proportional").ravel().tolist() == [0, 0]
    # columns are independent: only the short one is rationed
    out = allocate(np.array([9, 3]), np.array([[2, 3], [3, 3]]), "proportional")
    assert out.tolist() == [[2, 2], [3, 1]]


def test_allocate_priority_serves_children_in_order():
    assert allocate(np.array([7]), col(5, 4, 3), "priority").ravel().tolist() == [5, 2, 0]
    assert allocate(np.array([7]), col(0, 4, 3), "priority").ravel().tolist() == [0, 4, 3]
    assert allocate(np.array([0]), col(5, 4), "priority").ravel().tolist() == [0, 0]


def test_allocate_balanced_water_fills_positions_over_mean():
    # positions 0, 10, 4; means 1, 1, 2; 12 units: level 16/3 -> 5.33, 0, 6.67 -> 5, 0, 7
    out = allocate(np.array([12]), col(20, 20, 20), "balanced", col(0, 10, 4), np.array([[1.0], [1.0], [2.0]]))
    assert out.ravel().tolist() == [5, 0, 7]
    # a request caps a child's share; the rest goes to the others
    out = allocate(np.array([10]), col(2, 20), "balanced", col(0, 0), np.ones((2, 1)))
    assert out.ravel().tolist() == [2, 8]
    # a child with a negative position (customer backlog) is filled first
    out = allocate(np.array([4]), col(10, 10), "balanced", col(-6, 0), np.ones((2, 1)))
    assert out.ravel().tolist() == [4, 0]


@settings(max_examples=150, deadline=None)
@given(data=st.data(), children=st.integers(1, 4), n=st.integers(1, 3))
def test_allocate_properties(data, children, n):
    ints = st.integers(0, 30)
    request = np.array(data.draw(st.lists(st.lists(ints, min_size=n, max_size=n), min_size=children,
                                          max_size=children)), dtype=np.int64)
    available = np.array(data.draw(st.lists(ints, min_size=n, max_size=n)), dtype=np.int64)
    position = np.array(data.draw(st.lists(st.lists(st.integers(-10, 40), min_size=n, max_size=n),
                                           min_size=children, max_size=children)), dtype=np.int64)
    scale = np.array(data.draw(st.lists(st.lists(st.sampled_from([0.5, 1.0, 2.0, 7.5]), min_size=n, max_size=n),
                                        min_size=children, max_size=children)))
    for rule in ("proportional", "priority", "balanced"):
        x = allocate(available, request, rule, position, scale)
        assert x.dtype == np.int64 and x.shape == request.shape
        assert np.all(x >= 0) and np.all(x <= request)
        assert np.array_equal(x.sum(axis=0), np.minimum(available, request.sum(axis=0)))
        if rule == "proportional":  # within one unit of the exact pro-rata share
            total = np.maximum(request.sum(axis=0), 1)
            exact = request * np.minimum(available / total, 1.0)
            assert np.all(np.abs(x - exact) < 1.0 + 1e-9)
        if rule == "balanced":  # no unit could move from i to j to bring the levels closer
            level = (position + x) / scale
            for i in range(children):
                for j in range(children):
                    give = (x[i] >= 1) & (x[j] < request[j])
                    assert np.all(~give | ((position[i] + x[i] - 1) / scale[i] <= level[j] + 1 / scale[j] + 1e-6))
