"""Stress scenarios on the network simulator: each acts in its window only and as documented
(``envs.core.scenario``); outside the window, and with ``kind=none``, trajectories are those
of the unstressed network (common random numbers)."""

from __future__ import annotations

import numpy as np
import pytest

from envs.network.config import NetworkConfig
from envs.network.simulator import NetworkSimulator

NODES = [{"name": "DC", "lead_time": 2, "storage_capacity": 400.0, "order_capacity": 200.0},
         {"name": "A", "parent": "DC", "lead_time": 1, "penalty": 9.0},
         {"name": "B", "parent": "DC", "lead_time": 2, "penalty": 9.0}]
WINDOW = (10, 20)


def run(scenario, periods: int = 40, seed: int = 0, orders=None):
    net = NetworkConfig(nodes=NODES, n_skus=3, catalogue="uniform", mean_demand=20.0, scenario=scenario).build()
    sim = NetworkSimulator(net)
    sim.reset(np.random.default_rng(seed))
    rows = []
    for t in range(periods):
        q = np.full((net.m, net.n), 12, dtype=np.int64) if orders is None else orders(t, net)
        totals = sim.step(q)
        rows.append({"t": t, **totals, "demand_cells": sim.last["demand"].copy(),
                     "shipped": sim.last["shipped"].copy(), "stock": sim.stock.copy()})
    return rows


def scenario(kind: str, size: float) -> dict:
    return {"kind": kind, "start": WINDOW[0], "duration": WINDOW[1] - WINDOW[0], "size": size}


def test_none_is_the_unstressed_network():
    base, none = run(None), run({"kind": "none"})
    assert all(a["cost"] == b["cost"] and np.array_equal(a["stock"], b["stock"]) for a, b in zip(base, none, strict=True))


def test_a_demand_surge_scales_the_leaves_demand_in_its_window_only():
    base, surge = run(None, 40), run(scenario("demand_surge", 1.0), 40)
    for a, b in zip(base, surge, strict=True):
        d0, d1 = a["demand_cells"], b["demand_cells"]
        if WINDOW[0] <= a["t"] < WINDOW[1]:
            assert np.all(d1 == 2 * d0)  # size 1: floor(2 D + U) = 2 D
        else:
            assert np.array_equal(d0, d1)
    assert sum(r["demand"] for r in surge) > sum(r["demand"] for r in base)


def test_a_full_supplier_disruption_ships_nothing_to_the_roots_in_its_window():
    rows = run(scenario("supplier_disruption", 1.0))
    for r in rows:
        root_shipped = r["shipped"][0].sum()
        assert (root_shipped == 0) if WINDOW[0] <= r["t"] < WINDOW[1] else root_shipped > 0


@pytest.mark.parametrize("size", [1, 3])
def test_a_lead_time_shock_delays_shipments_made_in_its_window_by_its_size(size):
    net = NetworkConfig(nodes=NODES, n_skus=3, catalogue="uniform", scenario=scenario("lead_time_shock", size)).build()
    sim = NetworkSimulator(net)
    sim.reset(np.random.default_rng(0))
    for t in range(30):
        q = np.zeros((net.m, net.n), dtype=np.int64)
        q[0, 0] = 100 + t  # a root order identifiable by its size, from the supplier
        sim.step(q)
        extra = size if WINDOW[0] <= t < WINDOW[1] else 0
        due = (sim.head + net.lead_time()[0] - 1 + extra) % sim.width  # arrival row of this shipment
        assert sim.pipe[due, 0, 0] >= 100 + t


def test_a_capacity_cut_lowers_storage_and_order_capacity_in_its_window():
    def root_only(t, net):  # the DC fills up: only it orders
        q = np.zeros((net.m, net.n), dtype=np.int64)
        q[0] = 150
        return q

    rows = run(scenario("capacity_cut", 0.5), 40, orders=root_only)
    held = 0.0
    for r in rows:
        cut = WINDOW[0] <= r["t"] < WINDOW[1]
        assert r["shipped"][0].sum() <= (100 if cut else 200)  # order capacity 200, halved
        stock = float(r["stock"][0].sum())  # unit volume: units are volume
        assert stock <= max(held, 200.0 if cut else 400.0) + 1e-9  # arrivals only into free space
        held = stock
    assert all(r["overflow_units"] > 0 for r in rows if WINDOW[0] + 2 <= r["t"] < WINDOW[1])
    assert max(float(r["stock"][0].sum()) for r in rows) > 390.0  # filled up to its capacity (pro rata, rounded down)
