"""The exact optimum of a serial network, per SKU, or why there is none.

A network has an exact optimum here when it is the Clark-Scarf system of
``agents.network.serial_optimum``: a serial chain, customer and internal backorders, shipping
after arrivals, deterministic lead times, no order or storage capacity, no transshipment,
no scenario, no fixed or unit costs and no revenue, in-transit units held at the shipping
stage's rate (the default ``pipeline_holding_cost``), local holding costs not increasing
upstream, and stationary Poisson demand (a ``uniform`` or ``synthetic`` catalogue without
intermittent, launched or retired SKUs, the default demand model). SKUs are independent, so
the optimum of the network is the sum of the SKUs' optima.

Lead-time mapping (the simulator's timing, ``envs.network.simulator``): with stage 1 the
leaf, ``n_1 = L_1 + 1``, ``n_j = L_j`` (j >= 2) periods of demand per stage and echelon
holding charged ``m_j = L_j + 1`` periods after each echelon position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.network.serial_optimum import PoissonDemand, solve_serial
from envs.network.topology import Network


@dataclass(frozen=True)
class SerialExact:
    """Echelon levels (M, N) in the network's node order and the optimal cost per period."""

    levels: np.ndarray
    cost: float
    per_sku: np.ndarray


def why_not_exact(net: Network) -> str | None:
    """None if ``net`` is a Clark-Scarf system (module docstring), else the first reason."""
    cfg, a, cat = net.config, net.arrays, net.catalogue
    checks = [
        (net.is_serial(), "the network is not a serial chain"),
        (cfg.backorders and cfg.internal == "backorder", "the optimum needs customer and internal backorders"),
        (cfg.shipping == "after_arrivals", "the optimum assumes shipping after arrivals"),
        (np.all(net.lead_time_max() == net.lead_time()), "lead times are random"),
        (not np.isfinite(a["order_capacity"]).any() and not np.isfinite(a["storage_capacity"]).any(),
         "a node has an order or storage capacity"),
        (cfg.transshipment.mode == "none" and not cfg.scenario.active, "transshipment or a stress scenario is on"),
        (not np.any(a["fixed_order_cost"]) and not np.any(a["unit_cost"]) and not cfg.revenue,
         "fixed or unit costs or revenue are on"),
        (np.allclose(a["pipeline_holding"], np.where(net.parent >= 0, a["holding"][np.maximum(net.parent, 0)], 0.0)),
         "pipeline_holding_cost differs from the shipping node's holding cost"),
        (cfg.catalogue != "csv" and cfg.demand.is_default_shape and cfg.demand.distribution == "poisson",
         "demand is not stationary Poisson"),
        (not cfg.demand.intermittent or bool(np.all(cat.intermittency >= 1.0)), "some SKUs are intermittent"),
        (bool(np.all(cat.launch_day <= 0) and np.all(cat.retire_day >= 10**9)), "some SKUs launch or retire"),
    ]
    for ok, reason in checks:
        if not ok:
            return reason
    chain = _chain(net)
    h = a["holding"][chain]
    if np.any(np.diff(h) > 1e-12):
        return "holding costs increase upstream"
    if a["penalty"][chain[0]] <= 0:
        return "the leaf's penalty is 0"
    return None


def _chain(net: Network) -> np.ndarray:
    """Node positions from the leaf (stage 1) up to the root (stage N)."""
    return np.arange(net.m)[::-1]  # a serial chain in topological order is root first


def serial_exact(net: Network) -> SerialExact | str:
    """The optimum (module docstring), or the reason it does not exist for ``net``."""
    why = why_not_exact(net)
    if why is not None:
        return why
    chain = _chain(net)
    lead = net.lead_time()[chain]
    n = [int(lead[0]) + 1, *(int(v) for v in lead[1:])]
    m = [int(v) + 1 for v in lead]
    holding = net.arrays["holding"][chain]
    penalty = float(net.arrays["penalty"][chain[0]])
    levels = np.zeros((net.m, net.n), dtype=np.int64)
    costs = np.zeros(net.n)
    for i in range(net.n):
        opt = solve_serial(holding, penalty, n, PoissonDemand(float(net.leaf_mean[0, i])), holding_periods=m)
        levels[chain, i] = opt.echelon_levels
        costs[i] = opt.cost
    return SerialExact(levels=levels, cost=float(costs.sum()), per_sku=costs)
