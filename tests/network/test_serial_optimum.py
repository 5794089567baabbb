"""Tests of the exact serial optimum (``agents.network.serial_optimum``)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from scipy import stats

from agents.network.serial_optimum import (
    NormalDemand,
    PoissonDemand,
    serial_cost,
    solve_serial,
)
from envs.core.config import ConfigError
from tests.conftest import one_line_error

# -- Snyder & Shen, Example 6.1 ---------------------------------------------------------------

EX61_HOLDING = (7.0, 4.0, 2.0)  # local: h_1 = 3 + 2 + 2, h_2 = 2 + 2, h_3 = 2
EX61_PENALTY = 37.12
EX61_PERIODS = (1, 1, 2)
EX61_DEMAND = NormalDemand(5.0, 1.0)


def test_snyder_shen_example_6_1():
    """Snyder & Shen, *Fundamentals of Supply Chain Theory*, 2nd ed., Example 6.1.

    Parameters, from stockpyl (LarrySnyder/stockpyl, ``src/stockpyl/ssm_serial.py``,
    docstring of ``optimize_base_stock_levels``, "**Example** (Example 6.1)")::

        optimize_base_stock_levels(num_nodes=3, echelon_holding_cost=[3, 2, 2],
            lead_time=[1, 1, 2], stockout_cost=37.12, demand_mean=5,
            demand_standard_deviation=1)
        S_star = {1: 6.5144388073261155, 2: 12.012332294949644, 3: 22.700237234889784}
        C_star = 47.668653127136345

    (stage 1 downstream; stockpyl's test instance ``instance_example_6_1`` has node 1:
    echelon holding cost 3, lead time 1, stockout cost 37.12, demand N(5, 1); node 2: 2
    and 1; node 3: 2 and 2; so local holding costs 7, 4, 2). The lead times are used
    directly as the periods of demand ``n_j`` of its ``C_j`` recursion. Its simulation
    documentation simulates the same system with levels ``{1: 6.49, 2: 12.02, 3: 22.71}``
    ("expected cost of 47.65 predicted by the theory").

    Tolerances: stockpyl solves on an x-grid of 1000 steps over [-8, 36] (step 0.044, so
    its levels are off by up to 0.022, plus its 100-point demand discretisation); we allow
    0.03 on levels and 0.02 on cost against its figures. Our grid (200 steps per sd) is
    converged to ~1e-5, so against the two-decimal levels we allow rounding (0.005) plus
    a margin: 0.006. Stage 1's level has a closed form (the newsvendor fractile
    ``(p + h_1 - h'_1) / (p + h_1)`` of one period of demand), checked to 1e-3.
    """
    opt = solve_serial(EX61_HOLDING, EX61_PENALTY, EX61_PERIODS, EX61_DEMAND)
    assert opt.echelon_levels.shape == (3,)
    np.testing.assert_allclose(opt.echelon_levels, [6.5144, 12.0123, 22.7002], atol=0.03)
    assert opt.cost == pytest.approx(47.6687, abs=0.02)
    np.testing.assert_allclose(opt.echelon_levels, [6.49, 12.02, 22.71], atol=0.006)
    s1 = 5.0 + stats.norm.ppf((EX61_PENALTY + 7.0 - 3.0) / (EX61_PENALTY + 7.0))
    assert opt.echelon_levels[0] == pytest.approx(s1, abs=1e-3)
    np.testing.assert_allclose(opt.local_levels, np.diff(opt.echelon_levels, prepend=0.0))
    # serial_cost agrees with the solver, and any other vector costs more.
    assert serial_cost(
        opt.echelon_levels, EX61_HOLDING, EX61_PENALTY, EX61_PERIODS, EX61_DEMAND
    ) == (pytest.approx(opt.cost, abs=1e-4))
    for j, delta in itertools.product(range(3), (-0.3, 0.3)):
        other = opt.echelon_levels.copy()
        other[j] += delta
        assert (
            serial_cost(other, EX61_HOLDING, EX61_PENALTY, EX61_PERIODS, EX61_DEMAND)
            > opt.cost + 1e-3
        )


@pytest.mark.parametrize(
    ("h", "p", "n", "mean", "sd"), [(1.0, 9.0, 3, 10.0, 2.0), (2.5, 4.0, 1, 40.0, 7.0)]
)
def test_one_stage_normal_is_the_newsvendor(h, p, n, mean, sd):
    z = stats.norm.ppf(p / (p + h))
    opt = solve_serial([h], p, [n], NormalDemand(mean, sd))
    assert opt.echelon_levels[0] == pytest.approx(n * mean + z * sd * np.sqrt(n), abs=1e-3)
    assert opt.cost == pytest.approx((p + h) * sd * np.sqrt(n) * stats.norm.pdf(z), rel=1e-5)


# -- N = 1, Poisson: the newsvendor ----------------------------------------------------------


def _newsvendor_cost(level: int, h: float, p: float, lam: float) -> float:
    k = np.arange(0, int(lam + 40 * np.sqrt(lam) + 60))
    f = stats.poisson.pmf(k, lam)
    return float(np.sum(f * (h * np.maximum(level - k, 0) + p * np.maximum(k - level, 0))))


@pytest.mark.parametrize(
    ("h", "p", "n", "mean"),
    [
        (1.0, 9.0, 1, 4.0),
        (1.0, 19.0, 3, 2.5),
        (0.7, 3.3, 5, 12.0),
        (2.0, 50.0, 11, 20.0),
        (3.0, 1.0, 2, 0.8),
    ],
)
def test_one_stage_poisson_is_the_newsvendor(h, p, n, mean):
    opt = solve_serial([h], p, [n], PoissonDemand(mean))
    expected = int(stats.poisson.ppf(p / (p + h), n * mean))
    assert opt.echelon_levels.dtype == np.int64
    assert int(opt.echelon_levels[0]) == expected
    assert opt.cost == pytest.approx(_newsvendor_cost(expected, h, p, n * mean), rel=1e-9, abs=1e-9)
    for level in (expected - 3, expected + 2):
        got = serial_cost([level], [h], p, [n], PoissonDemand(mean))
        assert got == pytest.approx(_newsvendor_cost(level, h, p, n * mean), rel=1e-9, abs=1e-9)


# -- brute force over echelon levels ---------------------------------------------------------


@pytest.mark.parametrize(
    ("holding", "penalty", "periods", "mean", "top"),
    [
        ((2.0, 1.0), 9.0, (2, 1), 2.0, 16),
        ((1.0, 1.0), 4.0, (1, 3), 1.0, 12),
        ((3.0, 2.0, 0.5), 12.0, (1, 2, 1), 1.5, 13),
        ((2.0, 0.5, 0.5), 20.0, (0, 1, 2), 1.0, 11),
    ],
)
def test_brute_force_over_integer_levels(holding, penalty, periods, mean, top):
    demand = PoissonDemand(mean)
    opt = solve_serial(holding, penalty, periods, demand)
    grid = list(itertools.product(range(-1, top + 1), repeat=len(holding)))  # nested or not
    costs = np.array([serial_cost(s, holding, penalty, periods, demand) for s in grid])
    best = int(np.argmin(costs))
    assert all(-1 < v < top for v in grid[best]), "grid too small"
    assert np.all(np.diff(opt.echelon_levels) >= 0) and np.all(opt.local_levels >= 0)
    assert opt.cost == pytest.approx(costs[best], abs=1e-9)
    if tuple(opt.echelon_levels) != grid[best]:  # a tie
        assert costs[grid.index(tuple(int(v) for v in opt.echelon_levels))] == pytest.approx(
            costs[best], abs=1e-9
        )
    assert serial_cost(opt.echelon_levels, holding, penalty, periods, demand) == pytest.approx(
        opt.cost, abs=1e-9
    )


# -- Monte Carlo simulation of the serial system ---------------------------------------------


def simulate(levels, lead, holding, penalty, mean, periods, seed, warmup=1000, batches=50):
    """Average cost per period, and its standard error (batch means), of the serial system
    under echelon base-stock ``levels`` (stage 1 first), simulated directly.

    Every period: (1) shipments due arrive (a shipment made in period t into stage j
    arrives at the start of period t + lead[j]); (2) each stage orders up to its level on
    its echelon inventory position (echelon stock on hand and in transit, plus its orders
    not yet shipped by its upstream, minus customer backorders); (3) shipping, upstream
    first: the supplier ships stage N's orders in full, stage j + 1 ships what it can of
    stage j's outstanding orders (the rest stays backordered); a lead time of 0 arrives at
    once; (4) demand at stage 1, backlog served from stock; (5) end-of-period costs:
    h_j per unit on hand at j, h_{j+1} per unit in transit into j (0 into stage N), p per
    unit backordered at stage 1.
    """
    n = len(lead)
    rng = np.random.default_rng(seed)
    demand = rng.poisson(mean, warmup + periods).tolist()
    ring = max(lead) + 1
    arrivals = [[0] * ring for _ in range(n)]
    on_hand = [int(levels[0])] + [int(levels[j] - levels[j - 1]) for j in range(1, n)]
    transit = [0] * n
    owed = [0] * n  # owed[j]: stage j's orders not yet shipped by stage j + 1
    backorders = 0
    transit_rate = list(holding[1:]) + [0.0]
    costs = np.empty(periods)
    for t in range(warmup + periods):
        slot = t % ring
        for j in range(n):
            if arrivals[j][slot]:
                on_hand[j] += arrivals[j][slot]
                transit[j] -= arrivals[j][slot]
                arrivals[j][slot] = 0
        echelon_level = -backorders
        for j in range(n):
            echelon_level += on_hand[j] + (transit[j - 1] if j > 0 else 0)
            position = echelon_level + transit[j] + owed[j]
            owed[j] += max(int(levels[j]) - position, 0)
        for j in range(n - 1, -1, -1):
            ship = owed[j] if j == n - 1 else min(on_hand[j + 1], owed[j])
            if j < n - 1:
                on_hand[j + 1] -= ship
            owed[j] -= ship
            if lead[j] == 0:
                on_hand[j] += ship
            else:
                arrivals[j][(t + lead[j]) % ring] += ship
                transit[j] += ship
        backorders += demand[t]
        served = min(on_hand[0], backorders)
        on_hand[0] -= served
        backorders -= served
        if t >= warmup:
            costs[t - warmup] = (
                sum(h * x for h, x in zip(holding, on_hand, strict=True))
                + sum(h * x for h, x in zip(transit_rate, transit, strict=True))
                + penalty * backorders
            )
    means = costs.reshape(batches, -1).mean(axis=1)
    return float(costs.mean()), float(means.std(ddof=1) / np.sqrt(batches))


@pytest.mark.parametrize(
    ("levels", "lead", "holding", "penalty", "mean", "seed"),
    [
        ((6, 10, 13), (1, 2, 1), (3.0, 1.5, 0.5), 10.0, 2.0, 1),  # shortfalls at both links
        ((5, 6), (0, 1), (2.0, 1.0), 8.0, 2.0, 2),
        (None, (2, 1, 3), (4.0, 1.0, 0.5), 15.0, 1.5, 3),  # the optimum, from solve_serial
    ],
)
def test_serial_cost_matches_a_direct_simulation(levels, lead, holding, penalty, mean, seed):
    """The simulator timing above maps to ``n_1 = L_1 + 1``, ``n_j = L_j`` (j >= 2) and
    holding windows ``m_j = L_j + 1``: then serial_cost is the simulated cost. The other
    candidate mappings are rejected by the same simulation (they differ by many standard
    errors), so the test can tell them apart."""
    n = (lead[0] + 1, *lead[1:])
    m = tuple(v + 1 for v in lead)
    demand = PoissonDemand(mean)
    if levels is None:
        opt = solve_serial(holding, penalty, n, demand, holding_periods=m)
        levels = tuple(int(v) for v in opt.echelon_levels)
        assert opt.cost == pytest.approx(
            serial_cost(levels, holding, penalty, n, demand, holding_periods=m)
        )
    simulated, se = simulate(levels, lead, holding, penalty, mean, 200_000, seed)
    exact = serial_cost(levels, holding, penalty, n, demand, holding_periods=m)
    assert abs(simulated - exact) < 4 * se, (simulated, exact, se)
    # The default holding windows (m = n) charge upstream echelons one period of demand
    # earlier: exactly mean * h_2 more.
    default = serial_cost(levels, holding, penalty, n, demand)
    assert default - exact == pytest.approx(mean * holding[1], rel=1e-9)
    assert abs(simulated - default) > 10 * se
    # Wrong lead-time mappings.
    for alt in (tuple(v + 1 for v in lead), tuple(lead)):  # n_j = L_j + 1 for all j; n_j = L_j
        cost = serial_cost(levels, holding, penalty, alt, demand, holding_periods=m)
        assert abs(simulated - cost) > 8 * se, (alt, cost, simulated, se)


# -- speed -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("holding", "periods"),
    [((3.0,), (11,)), ((3.0, 2.0, 1.0), (11, 10, 10)), ((3.0, 2.0, 1.0, 0.5), (11, 10, 10, 10))],
)
def test_poisson_mean_20_long_lead_times_solve_fast(holding, periods):
    start = time.perf_counter()
    opt = solve_serial(holding, 20.0, periods, PoissonDemand(20.0))
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5, elapsed
    assert np.all(opt.local_levels > 0)
    assert opt.echelon_levels[-1] > 20 * sum(periods)  # safety stock on total lead-time demand


# -- bad input -------------------------------------------------------------------------------

GOOD = {
    "holding": (2.0, 1.0),
    "penalty": 9.0,
    "demand_periods": (1, 2),
    "demand": PoissonDemand(2.0),
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"holding": (1.0, 2.0)}, "holding:"),
        ({"holding": ()}, "holding:"),
        ({"holding": (2.0, -1.0)}, "holding[1]:"),
        ({"holding": (2.0, float("nan"))}, "holding[1]:"),
        ({"penalty": 0.0}, "penalty:"),
        ({"penalty": -3}, "penalty:"),
        ({"demand_periods": (1,)}, "demand_periods:"),
        ({"demand_periods": (0, 0)}, "demand_periods:"),
        ({"demand_periods": (1, -1)}, "demand_periods[1]:"),
        ({"demand_periods": (1, 1.5)}, "demand_periods[1]:"),
        ({"demand": 2.0}, "demand:"),
        ({"holding_periods": (1,)}, "holding_periods:"),
        ({"echelon_levels": (3,)}, "echelon_levels:"),
        ({"echelon_levels": (3, 4.5)}, "echelon_levels[1]:"),
        ({"echelon_levels": (3, 10**8)}, "echelon_levels:"),
        ({"demand": PoissonDemand(5e6), "demand_periods": (10, 10)}, "demand.mean:"),
    ],
)
def test_bad_input_is_a_one_line_error_naming_the_field(change, field):
    kwargs = {**GOOD, **change}
    levels = kwargs.pop("echelon_levels", None)
    if levels is None:
        message = one_line_error(ConfigError, solve_serial, **kwargs)
        assert message.startswith(field), message
    message = one_line_error(ConfigError, serial_cost, levels or (3, 6), **kwargs)
    assert message.startswith(field), message


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: PoissonDemand(0.0), "demand.mean:"),
        (lambda: PoissonDemand(float("inf")), "demand.mean:"),
        (lambda: NormalDemand(5.0, 0.0), "demand.sd:"),
        (lambda: NormalDemand(-1.0, 1.0), "demand.mean:"),
    ],
)
def test_bad_demand_is_a_one_line_error(make, field):
    assert one_line_error(ConfigError, make).startswith(field)
