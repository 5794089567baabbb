"""Tests of the exact optimum (``agents.lost_sales.optimal``): the solver's costs on the classic
grid (regression values, checked against exact evaluation of its own policy, every base-stock
level and simulation), the published values that have a verifiable source, backorders, K > 0,
the cache and the policy interface."""

from __future__ import annotations

import numpy as np
import pytest

from agents.base import Policy
from agents.harness import ci95
from agents.lost_sales.optimal import (
    OptimalPolicy,
    cache_dir,
    evaluate_policy,
    exact_average_cost,
    make_optimal,
    newsvendor_cost,
    solve,
)
from agents.lost_sales.rollout import Replications, rollout
from agents.seeds import EVAL_SEED_BASE
from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.simulator import order_from_action

# This solver's own optimal costs (regression values, NOT literature values), Poisson(5) demand,
# h = 1, lead times 1..4, from docs/benchmarks/optimal_solve_times.md. What backs them here:
# exact evaluation of the solver's policy, every base-stock level (tests below) and simulation
# (test_simulated_cost_within_ci, test_simulated_cost_lead_time_4).
SOLVER_COSTS = {
    4: (4.0407, 4.3953, 4.5987, 4.7285),
    9: (5.4382, 6.0936, 6.5314, 6.8359),
    19: (6.6757, 7.6644, 8.3625, 8.8872),
    39: (7.8359, 9.1064, 10.0385, 10.7944),
}
# Published optimal costs, (p, L) -> cost, for the instances with a verifiable source. The
# source is secondary: the public repository NimaMan/invman, which transcribes them from Zipkin
# (2008), "Old and new methods for lost-sales inventory systems", Operations Research
# 56(5):1256-1263 (the paper itself was not available here):
#   invman/problems/lost_sales/problem_info.py @ a7203e982cac9b9e0c29ad98b49194379e76f85e,
#     Poisson_demand_shortage_cost_{4,19}[L]["optimal"]: all four (no table number given);
#   src/problems/lost_sales/vanilla/reference_costs.rs
#     @ 5b2ec024c7dac10014dc77f004538b9e8a4b3fcf, lit_poisson_p4_l4 / lit_poisson_p19_l4:
#     the two L = 4 values, "transcribed from Zipkin (2008) ... Table 3";
#   src/problems/lost_sales/vanilla/literature/baselines.yaml
#     @ 550a436c7ed9310726574aa876dd1dabfc9c0e59: 4.73 pinned to
#     "Table 3(a), Poisson, penalty p=4, lead-time column 4, p.1261".
# No verifiable source was found for p = 9 or 39, or for L = 1 or 3.
PUBLISHED = {(4, 2): 4.40, (19, 2): 7.66, (4, 4): 4.73, (19, 4): 8.89}


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Keep the solver cache of these tests out of the user's home directory."""
    monkeypatch.setenv("FULFILLGYM_CACHE", str(tmp_path_factory.getbasetemp() / "optimal-cache"))


def config(**kwargs) -> LostSalesConfig:
    return LostSalesConfig(**kwargs)


def simulate(cfg: LostSalesConfig, policy, reps: int = 100, periods: int = 2100, warmup: int = 100):
    seeds = [EVAL_SEED_BASE + r for r in range(reps)]
    out = rollout(cfg, policy, Replications.from_seeds(cfg, seeds, periods), warmup)
    return out.mean_cost.mean(), ci95(out.mean_cost)


def base_stock(level: int):
    return lambda obs: np.maximum(level - obs.sum(axis=1), 0)


def constant(quantity: int):
    return lambda obs: np.full(len(obs), quantity)


# -- the classic grid: regression values, exact checks, published values ---------------------
@pytest.mark.parametrize("lead", [1, 2, 3])
@pytest.mark.parametrize("penalty", [4, 9, 19, 39])
def test_solver_costs(lead, penalty):
    """Regression: the solver's costs on the L <= 3 grid, with an exact bound and tight bounds."""
    sol = solve(config(lead_time=lead, penalty=penalty))
    assert sol.average_cost == pytest.approx(SOLVER_COSTS[penalty][lead - 1], abs=1e-4)
    assert sol.exact_bound and sol.exact and not sol.bound_binding
    assert sol.cost_bounds[1] - sol.cost_bounds[0] < 1e-7


@pytest.mark.parametrize("lead", [1, 2, 3])
@pytest.mark.parametrize("penalty", [4, 9, 19, 39])
def test_optimum_is_attained_and_no_base_stock_level_beats_it(lead, penalty):
    """The solver's policy costs exactly ``average_cost`` in the env (from its start state),
    and no base-stock level in 0..B + 2 does better."""
    cfg = config(lead_time=lead, penalty=penalty)
    sol = solve(cfg)
    assert exact_average_cost(cfg, sol.order) == pytest.approx(sol.average_cost, abs=1e-6)
    levels = range(sol.bound + 3)
    assert min(exact_average_cost(cfg, base_stock(s)) for s in levels) >= sol.average_cost - 1e-9


@pytest.mark.parametrize("penalty", [4, 19])
def test_matches_published_optimum_lead_time_2(penalty):
    """The published values with a verifiable source (see ``PUBLISHED``), to 2 decimals."""
    sol = solve(config(lead_time=2, penalty=penalty))
    assert round(sol.average_cost, 2) == PUBLISHED[(penalty, 2)]


@pytest.mark.slow
@pytest.mark.parametrize("penalty", [4, 9, 19, 39])
def test_lead_time_4(penalty):
    """L = 4: regression value, exact bound, exact evaluation of the policy, no better
    base-stock level, and the published value where one has a verifiable source."""
    cfg = config(lead_time=4, penalty=penalty)
    sol = solve(cfg, cache=False)
    assert sol.average_cost == pytest.approx(SOLVER_COSTS[penalty][3], abs=1e-4)
    assert sol.exact_bound and sol.exact and not sol.bound_binding
    assert sol.cost_bounds[1] - sol.cost_bounds[0] < 1e-7
    assert exact_average_cost(cfg, sol.order) == pytest.approx(sol.average_cost, abs=1e-6)
    levels = range(sol.bound + 3)
    assert min(exact_average_cost(cfg, base_stock(s)) for s in levels) >= sol.average_cost - 1e-9
    if (penalty, 4) in PUBLISHED:
        assert round(sol.average_cost, 2) == PUBLISHED[(penalty, 4)]


@pytest.mark.slow
def test_simulated_cost_lead_time_4():
    """Simulation of the env under the solver's policy, p = 39, L = 4."""
    cfg = config(lead_time=4, penalty=39)
    policy = make_optimal(cfg)
    mean, half_width = simulate(cfg, policy)
    assert abs(mean - policy.solution.average_cost) <= half_width


def test_morton_bound_is_not_binding():
    """A wider state space than Morton's bound gives the same optimum."""
    cfg = config(lead_time=3, penalty=19)
    narrow, wide = solve(cfg), solve(cfg, bound=cfg.newsvendor_level() + 4)
    assert wide.average_cost == pytest.approx(narrow.average_cost, abs=1e-7)
    assert wide.n_states > narrow.n_states


# -- agreement with simulation and with exact evaluation ----------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lead_time=2, penalty=9),
        dict(lead_time=0, penalty=4),
        dict(lead_time=2, penalty=9, fixed_order_cost=20.0, unit_cost=1.0),
        dict(lead_time=2, penalty=9, backorders=True, fixed_order_cost=20.0),
        dict(lead_time=3, penalty=39),
    ],
    ids=["lost-sales", "L0", "lost-sales-K", "backorders-K", "lost-sales-L3-p39"],
)
def test_simulated_cost_within_ci(kwargs):
    cfg = config(**kwargs)
    policy = make_optimal(cfg)
    mean, half_width = simulate(cfg, policy)
    assert abs(mean - policy.solution.average_cost) <= half_width


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lead_time=0, penalty=9),
        dict(lead_time=1, penalty=19),
        dict(lead_time=3, penalty=4),
        dict(lead_time=2, penalty=9, unit_cost=2.0),
        dict(lead_time=2, penalty=9, fixed_order_cost=10.0),
        dict(
            lead_time=2,
            penalty=9,
            demand={"distribution": "negative_binomial", "mean": 4, "variance": 9},
        ),
    ],
)
def test_exact_evaluation_of_optimal_policy(kwargs):
    cfg = config(**kwargs)
    sol = solve(cfg)
    evaluation = evaluate_policy(cfg, sol.order)
    assert evaluation.average_cost == pytest.approx(sol.average_cost, abs=1e-6)
    assert evaluation.distribution.sum() == pytest.approx(1.0)
    assert sum(evaluation.components.values()) == pytest.approx(evaluation.average_cost)
    assert 0 < evaluation.fill_rate < 1


@pytest.mark.parametrize("lead,penalty", [(1, 4), (2, 9), (2, 39)])
def test_base_stock_never_beats_optimum(lead, penalty):
    cfg = config(lead_time=lead, penalty=penalty)
    optimum = solve(cfg).average_cost
    top = cfg.newsvendor_level()
    costs = {s: exact_average_cost(cfg, base_stock(s)) for s in range(top - 5, top + 2)}
    assert min(costs.values()) >= optimum - 1e-9
    assert min(costs.values()) - optimum > 0.05  # base-stock is clearly suboptimal here


def test_best_base_stock_costs():
    """Best base-stock costs over levels B - 5..B, by exact evaluation (regression values
    computed here, not literature values)."""
    expected = {(1, 4): 4.16, (1, 9): 5.55, (2, 4): 4.64, (2, 9): 6.32}
    for (lead, penalty), cost in expected.items():
        cfg = config(lead_time=lead, penalty=penalty)
        top = cfg.newsvendor_level()
        best = min(exact_average_cost(cfg, base_stock(s)) for s in range(top - 5, top + 1))
        assert round(best, 2) == cost


def test_exact_evaluation_matches_simulation_of_a_heuristic():
    cfg = config(lead_time=2, penalty=9)
    exact = exact_average_cost(cfg, base_stock(18))
    seeds = [EVAL_SEED_BASE + r for r in range(100)]
    out = rollout(cfg, None, Replications.from_seeds(cfg, seeds, 2100), 100, order_fn=base_stock(18))
    assert abs(out.mean_cost.mean() - exact) <= ci95(out.mean_cost)


def test_exact_evaluation_of_constant_orders():
    """Constant orders can reach any stock level; the on-hand clamp must not matter."""
    cfg = config(lead_time=2, penalty=9)
    evaluation = evaluate_policy(cfg, constant(4))
    assert evaluation.truncated_mass < 1e-10
    wider = evaluate_policy(cfg, constant(4), stock_cap=2 * evaluation.stock_cap)
    assert wider.average_cost == pytest.approx(evaluation.average_cost, abs=1e-9)
    seeds = [EVAL_SEED_BASE + r for r in range(100)]
    out = rollout(cfg, None, Replications.from_seeds(cfg, seeds, 2100), 100, order_fn=constant(4))
    assert abs(out.mean_cost.mean() - evaluation.average_cost) <= ci95(out.mean_cost)


def test_exact_evaluation_rejects_unstable_and_backorder_policies():
    cfg = config(lead_time=2, penalty=9)
    with pytest.raises(ValueError, match="unstable"):
        evaluate_policy(cfg, constant(8))
    with pytest.raises(ValueError, match="states reachable"):
        evaluate_policy(cfg, constant(8), max_states=100)
    with pytest.raises(ValueError, match="bound"):
        exact_average_cost(cfg, base_stock(30), bound=25)
    with pytest.raises(NotImplementedError, match="lost sales only"):
        exact_average_cost(config(backorders=True), base_stock(20))


# -- special cases -----------------------------------------------------------------------
def test_zero_lead_time_is_newsvendor():
    cfg = config(lead_time=0, penalty=9)
    sol = solve(cfg)
    level = cfg.newsvendor_level()
    pmf = cfg.demand.pmf_array()
    assert sol.average_cost == pytest.approx(float(newsvendor_cost(pmf, level, 1.0, 9.0)), abs=1e-9)
    stock = np.arange(level + 5, dtype=float)[:, None]
    np.testing.assert_array_equal(sol.order(stock), np.maximum(level - stock[:, 0], 0))


@pytest.mark.parametrize("lead", [0, 1, 3])
@pytest.mark.parametrize("unit_cost", [0.0, 2.0])
def test_backorders_without_fixed_cost_is_base_stock(lead, unit_cost):
    cfg = config(lead_time=lead, penalty=9, backorders=True, unit_cost=unit_cost)
    sol = solve(cfg)
    level = cfg.newsvendor_level()
    g_star = float(newsvendor_cost(cfg.demand.sum_pmf(lead + 1), level, 1.0, 9.0))
    assert sol.average_cost == pytest.approx(g_star + unit_cost * cfg.demand.mean, abs=1e-9)
    assert sol.exact_bound and not sol.bound_binding
    positions = np.arange(level - 40, level + 10)
    obs = np.zeros((len(positions), cfg.obs_dim))
    obs[:, 0] = positions  # net inventory may be negative; the pipeline is empty
    np.testing.assert_array_equal(sol.order(obs), np.maximum(level - positions, 0))


def test_backorders_with_fixed_cost_is_s_S():
    cfg = config(lead_time=2, penalty=9, backorders=True, fixed_order_cost=50.0)
    sol = solve(cfg)
    positions = sol.states[:, 0]
    ordering = sol.policy > 0
    s, targets = positions[ordering].max(), set((positions + sol.policy)[ordering])
    assert len(targets) == 1 and ordering[positions <= s].all()
    assert sol.exact_bound and not sol.bound_binding
    wide = solve(cfg, bound=sol.bound + 40)
    assert wide.average_cost == pytest.approx(sol.average_cost, abs=1e-7)
    far_below = np.array([[sol.lower - 30.0, 0.0]])
    assert sol.order(far_below)[0] == targets.pop() - (sol.lower - 30)


def test_lost_sales_fixed_cost_bound_is_honest():
    cfg = config(lead_time=1, penalty=9, fixed_order_cost=30.0)
    sol = solve(cfg)
    assert not sol.exact_bound  # Morton's bound is only proven for K = 0
    assert not sol.bound_binding and sol.bound > cfg.newsvendor_level()
    wide = solve(cfg, bound=sol.bound + 10)
    assert wide.average_cost == pytest.approx(sol.average_cost, abs=1e-7)
    tight = solve(cfg, bound=cfg.newsvendor_level())
    assert tight.bound_binding and tight.average_cost > sol.average_cost


def test_out_of_space_observations():
    cfg = config(lead_time=2, penalty=9)
    sol = solve(cfg)
    obs = np.array([[sol.bound + 1.0, 0.0], [0.0, sol.bound + 3.0], [0.0, 0.0]])
    orders = sol.order(obs)
    assert orders[0] == 0 and orders[1] == 0 and orders[2] > 0


def test_series_demand_is_marked_inexact():
    cfg = config(
        lead_time=1, penalty=9, demand={"distribution": "series", "series": [3, 5, 7, 2, 8]}
    )
    sol = solve(cfg)
    assert not sol.exact and sol.average_cost > 0


# -- cache -------------------------------------------------------------------------------
def test_cache_hit_and_corrupt_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FULFILLGYM_CACHE", str(tmp_path))
    cfg = config(lead_time=2, penalty=19)
    first = solve(cfg)
    files = list(tmp_path.glob("*.npz"))
    assert not first.from_cache and len(files) == 1 and cache_dir() == tmp_path
    second = solve(cfg)
    assert second.from_cache
    assert second.average_cost == first.average_cost
    np.testing.assert_array_equal(second.policy, first.policy)
    np.testing.assert_array_equal(second.states, first.states)
    assert second.n_states == first.n_states and second.exact_bound == first.exact_bound

    files[0].write_bytes(b"not an npz file")
    third = solve(cfg)
    assert not third.from_cache and third.average_cost == first.average_cost
    assert solve(cfg).from_cache  # rewritten

    other = solve(config(lead_time=2, penalty=19, unit_cost=1.0))
    assert not other.from_cache and len(list(tmp_path.glob("*.npz"))) == 2


def test_cache_can_be_bypassed(tmp_path, monkeypatch):
    monkeypatch.setenv("FULFILLGYM_CACHE", str(tmp_path))
    solve(config(lead_time=1, penalty=4), cache=False)
    assert not list(tmp_path.iterdir())


# -- policy interface --------------------------------------------------------------------
@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
def test_predict_through_policy_protocol(action_type):
    cfg = config(lead_time=3, penalty=9, action_type=action_type)
    policy = OptimalPolicy(cfg)
    assert isinstance(policy, Policy) and policy.name == "optimal"
    assert set(policy.params()) == {"average_cost", "states"}
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 12, size=(50, cfg.obs_dim)).astype(np.float32)
    actions, state = policy.predict(obs)
    assert state is None
    orders = order_from_action(np.asarray(actions).reshape(len(obs), -1)[:, 0], cfg)
    np.testing.assert_array_equal(orders, policy.solution.order(obs))
    single, _ = policy.predict(obs[0])
    assert np.array_equal(order_from_action(np.asarray(single).reshape(-1)[0], cfg), orders[0])


def test_unit_cost_is_a_shortage_cost_of_p_minus_c_plus_a_constant(tmp_path, monkeypatch):
    # Lost sales: every unit bought is eventually sold, so c * ordered = c * (E[D] - lost).
    monkeypatch.setenv("FULFILLGYM_CACHE", str(tmp_path))
    with_c = solve(LostSalesConfig(lead_time=2, penalty=9.0, unit_cost=3.0), cache=False)
    without = solve(LostSalesConfig(lead_time=2, penalty=6.0), cache=False)
    assert with_c.average_cost == pytest.approx(without.average_cost + 3.0 * 5.0, abs=1e-5)
