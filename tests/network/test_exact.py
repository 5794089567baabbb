"""The exact serial optimum as the network task uses it: the simulator reproduces the
solver's cost, the tuned echelon base stock lands near it, and the optimum is refused (with
its reason) wherever the Clark-Scarf model does not hold."""

from __future__ import annotations

import numpy as np
import pytest

from agents.network.exact import serial_exact, why_not_exact
from agents.network.heuristics import EchelonBaseStock
from agents.network.serial_optimum import PoissonDemand, serial_cost
from agents.network.task import NetworkTask
from envs.network.simulator import NetworkSimulator

CHAIN = [{"name": "s3", "lead_time": 2, "holding_cost": 1.0},
         {"name": "s2", "parent": "s3", "lead_time": 1, "holding_cost": 2.0},
         {"name": "s1", "parent": "s2", "lead_time": 1, "holding_cost": 4.0, "penalty": 40.0}]


def serial(**kw) -> NetworkTask:
    return NetworkTask(**{"nodes": CHAIN, "n_skus": 1, "catalogue": "uniform", "backorders": True, **kw})


def simulated(task: NetworkTask, levels: np.ndarray, seed: int, periods: int, warmup: int) -> np.ndarray:
    """Mean cost per period of an echelon base stock, one value per SKU (the simulator alone):
    the SKUs of a uniform catalogue are independent replications of one SKU, and their demand
    depends on ``seed`` only (common random numbers for two level vectors)."""
    policy = EchelonBaseStock(task.network, levels)
    sim = NetworkSimulator(task.network)
    sim.reset(np.random.default_rng(seed))
    total = np.zeros(task.network.n)
    for t in range(warmup + periods):
        sim.step(policy.decide(sim.installation_position(), sim.echelon_position()))
        if t >= warmup:
            total += sim.last["cell_cost"].sum(axis=0)
    return total / periods


@pytest.mark.parametrize(("mean", "lead"), [(5.0, (2, 1, 1)), (12.0, (3, 2, 2))])
def test_the_simulator_reproduces_the_optimal_cost_within_its_ci(mean, lead):
    """12 replications of 3000 periods (after 50 of warm-up): 12 identical SKUs of one run."""
    nodes = [dict(n, lead_time=lt) for n, lt in zip(CHAIN, lead, strict=True)]
    task = serial(nodes=nodes, mean_demand=mean, n_skus=12)
    exact = task.exact
    assert np.unique(exact.per_sku).size == 1
    costs = simulated(task, exact.levels, 0, 3000, 50)
    half = 1.96 * costs.std(ddof=1) / np.sqrt(len(costs))
    optimum = exact.per_sku[0]
    assert abs(costs.mean() - optimum) <= max(2 * half, 1e-3 * optimum), (costs.mean(), half, optimum)
    # a worse vector is visibly worse in simulation too (the check can fail)
    worse = simulated(task, exact.levels - np.array([[4], [0], [0]]), 0, 3000, 50)
    assert (worse - costs).mean() > 0


def test_the_tuned_echelon_base_stock_is_within_half_a_percent_of_the_optimum():
    task = serial()
    tuned = task.make_agent("echelon_base_stock", tuning_reps=8)
    chain = np.arange(task.network.m)[::-1]
    lead = task.network.lead_time()[chain]
    n = [int(lead[0]) + 1, *(int(v) for v in lead[1:])]
    cost = serial_cost(tuned.levels[chain, 0], [4.0, 2.0, 1.0], 40.0, n, PoissonDemand(5.0),
                       holding_periods=[int(v) + 1 for v in lead])
    assert cost / task.exact.cost - 1 < 0.005, (tuned.levels.ravel(), cost, task.exact.cost)


def test_every_sku_gets_its_own_optimum():
    two = serial(n_skus=2, catalogue="synthetic", demand={"intermittent": False})
    for i in range(2):
        one = serial(mean_demand=float(two.network.leaf_mean[0, i]))
        assert np.array_equal(two.exact.levels[:, i], one.exact.levels[:, 0])
    assert two.exact.cost == pytest.approx(two.exact.per_sku.sum())


@pytest.mark.parametrize(("change", "reason"), [
    ({"backorders": False}, "backorders"),
    ({"internal": "lost"}, "backorders"),
    ({"shipping": "before_arrivals"}, "shipping"),
    ({"nodes": [dict(CHAIN[0], lead_time_max=4), *CHAIN[1:]]}, "random"),
    ({"nodes": [dict(CHAIN[0], order_capacity=10), *CHAIN[1:]]}, "capacity"),
    ({"nodes": [dict(CHAIN[0], fixed_order_cost=1.0), *CHAIN[1:]]}, "fixed"),
    ({"nodes": [dict(CHAIN[0], holding_cost=9.0), *CHAIN[1:]]}, "increase upstream"),
    ({"nodes": [dict(CHAIN[0], pipeline_holding_cost=0.5), *CHAIN[1:]]}, "pipeline_holding_cost"),
    ({"demand": {"distribution": "negative_binomial"}}, "Poisson"),
    ({"scenario": {"kind": "demand_surge", "start": 5, "duration": 5, "size": 1.0}}, "scenario"),
    ({"nodes": [*CHAIN, {"name": "s0", "parent": "s2", "penalty": 1.0}]}, "serial"),
])
def test_the_optimum_is_refused_where_the_model_does_not_hold(change, reason):
    task = serial(**change)
    why = why_not_exact(task.network)
    assert why is not None and reason in why and "\n" not in why
    assert isinstance(serial_exact(task.network), str)
    assert task.reference_name() is None and task.unavailable("exact") == why
