"""Fulfilment-centre heuristics (agents/fulfillment_center/heuristics.py), their tuning and benchmark."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import agents.fulfillment_center.tuning as fc_tuning
from agents.base import ObservationPolicy
from agents.fulfillment_center.heuristics import (
    FC_HEURISTICS,
    CapacityAwareBaseStock,
    ForecastBaseStock,
    RandomOrders,
    SsPolicy,
)
from agents.fulfillment_center.quantiles import critical_ratio, demand_quantile
from agents.fulfillment_center.rollout import problem_env, run_episodes
from agents.fulfillment_center.task import FulfillmentCenterTask
from agents.fulfillment_center.tuning import make_fc_agent, tune_fc
from agents.lost_sales.heuristics import BaseStock
from agents.seeds import EVAL_SEED_BASE, TUNE_SEED_BASE
from envs.core.config import ConfigError
from envs.replenishment.fulfillment_center.config import FulfillmentConfig
from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.env import LostSalesEnv
from tests.entry_points import run_in_process

REPO = Path(__file__).resolve().parents[2]
EVAL_SEEDS = [EVAL_SEED_BASE + r for r in range(4)]


def uniform(**kw):
    return FulfillmentConfig(catalogue="uniform", **kw).build()


def episodes(problem, policy, seeds, warmup=0):
    """``policy``'s KPIs on one episode of ``problem`` per seed (the task's rollout on it)."""
    return run_episodes(partial(problem_env, problem), policy, seeds, warmup)


def flat_obs(problem, on_hand, pipeline, forecast):
    """A flat observation (feature-major, as the env builds it) with the given units."""
    env = problem_env(problem, action_type="order")
    env.reset(seed=0)
    env.sim.on_hand = np.asarray(on_hand, dtype=np.int64)
    env.sim.pipe[:] = 0
    env.sim.pipe[0] = pipeline
    env.sim.pipe_total = env.sim.pipe.sum(axis=0)
    env.sim.forecast = np.asarray(forecast, dtype=np.float64)
    return env._obs()


def test_observation_parsing_matches_the_simulator_state():
    problem = FulfillmentConfig(n_skus=25, episode_length=40, backorders=True).build()
    policy = ForecastBaseStock(problem, 1.0)
    env = problem_env(problem, action_type="order")
    obs, _ = env.reset(seed=3)
    for _ in range(30):
        on_hand, pipeline, forecast = policy.state(obs[None].astype(np.float64))
        assert np.array_equal(on_hand[0], env.sim.on_hand)
        assert np.array_equal(pipeline[0], env.sim.pipe_total)
        np.testing.assert_allclose(forecast[0], env.sim.forecast, rtol=1e-5)
        obs, *_ = env.step(policy.predict(obs)[0])


def test_quantiles_match_scipy():
    rng = np.random.default_rng(0)
    mean = np.concatenate([rng.uniform(0.01, 3, 300), rng.uniform(3, 500, 300)])
    ratio = rng.uniform(0.02, 0.995, 600)
    np.testing.assert_array_equal(demand_quantile(mean, ratio), stats.poisson.ppf(ratio, mean))
    phi = rng.uniform(1.05, 6, 600)
    np.testing.assert_array_equal(demand_quantile(mean, ratio, phi),
                                  stats.nbinom.ppf(ratio, mean / (phi - 1), 1 / phi))


@pytest.mark.parametrize("lead", [1, 3])
def test_base_stock_level_is_the_poisson_newsvendor_quantile(lead):
    problem = uniform(n_skus=6, lead_time=lead, penalty=19.0)
    policy = ForecastBaseStock(problem, 1.0)
    forecast = np.array([[0.3, 1.0, 2.5, 5.0, 7.2, 40.0]])
    ratio = 19 / 20
    np.testing.assert_array_equal(policy.levels(forecast)[0], stats.poisson.ppf(ratio, forecast[0] * (lead + 1)))
    # safety scales the safety stock above the mean
    half = ForecastBaseStock(problem, 0.5).levels(forecast)[0]
    mean = forecast[0] * (lead + 1)
    np.testing.assert_array_equal(half, np.rint(mean + 0.5 * (stats.poisson.ppf(ratio, mean) - mean)))
    # negative binomial demand: the NB quantile with the model's dispersion
    nb = uniform(n_skus=6, lead_time=lead, penalty=19.0, demand={"distribution": "negative_binomial",
                                                                  "dispersion": 3.0})
    np.testing.assert_array_equal(ForecastBaseStock(nb, 1.0).levels(forecast)[0],
                                  stats.nbinom.ppf(ratio, mean / 2.0, 1 / 3.0))


def test_critical_ratio_accounts_for_purchase_cost_with_lost_sales():
    assert critical_ratio(uniform(n_skus=2, penalty=9.0))[0] == pytest.approx(0.9)
    lost = uniform(n_skus=2, penalty=9.0, unit_cost=4.0, purchase_cost=True)
    assert critical_ratio(lost)[0] == pytest.approx(5 / 6)
    back = uniform(n_skus=2, penalty=9.0, unit_cost=4.0, purchase_cost=True, backorders=True)
    assert critical_ratio(back)[0] == pytest.approx(0.9)


def test_single_sku_with_a_fixed_forecast_is_the_single_sku_base_stock_policy():
    # N = 1, uniform Poisson(5), unlimited capacity, a forecast that (practically) never moves
    problem = uniform(n_skus=1, lead_time=2, penalty=9.0, capacity_days=None, forecast_alpha=1e-12)
    config = LostSalesConfig(lead_time=2, penalty=9.0)
    level = config.newsvendor_level()
    policy = ForecastBaseStock(problem, 1.0)
    assert policy.levels(np.array([[5.0]]))[0, 0] == level
    # orders = max(S - IP, 0) for any state
    for on_hand, pipe in [(0, 0), (3, 4), (level, 0), (level + 5, 2), (1, level - 1)]:
        q = policy.predict(flat_obs(problem, [on_hand], [pipe], [5.0]))[0]
        assert q.shape == (1,) and q[0] == min(max(level - on_hand - pipe, 0), problem.q_max[0])
    # and whole trajectories coincide with LostSales-v0 under its base-stock policy
    fc_env = problem_env(problem, action_type="order")
    ls_env = LostSalesEnv(config=config)
    single = BaseStock(config, level)
    for seed in (EVAL_SEED_BASE, EVAL_SEED_BASE + 1):
        obs, _ = fc_env.reset(seed=seed)
        ls_obs, _ = ls_env.reset(seed=seed)
        for _ in range(200):
            action = policy.predict(obs)[0]
            assert action[0] == single.predict(ls_obs)[0]
            obs, reward, *_ = fc_env.step(action)
            ls_obs, ls_reward, *_ = ls_env.step(single.predict(ls_obs)[0])
            assert reward == pytest.approx(ls_reward)


def test_orders_are_integers_within_q_max_for_batches_and_single_observations():
    problem = FulfillmentConfig(n_skus=15, episode_length=30, fixed_order_cost=10.0, capacity_days=1.0).build()
    env = problem_env(problem, action_type="order")
    obs, _ = env.reset(seed=1)
    rng = np.random.default_rng(0)
    batch = np.repeat(obs[None], 5, axis=0)
    batch[:, : 3 * problem.n] *= rng.uniform(-3, 30, (5, 3 * problem.n))  # wild stock / forecasts
    batch[:, 2 * problem.n : 3 * problem.n] = np.abs(batch[:, 2 * problem.n : 3 * problem.n])
    policies = [ForecastBaseStock(problem, 2.0), SsPolicy(problem, 1.0, 3.0),
                CapacityAwareBaseStock(problem, 1.0, 0.9), RandomOrders(problem, seed=1)]
    for policy in policies:
        q = policy.predict(batch)[0]
        assert q.shape == (5, problem.n) and q.dtype == np.int64
        assert (q >= 0).all() and (q <= problem.q_max).all()
        single = policy.predict(obs)[0]
        assert single.shape == (problem.n,) and env.action_space.contains(single)
        env.step(single)
    with pytest.raises(ValueError, match="flat observations of length"):
        policies[0].predict(obs[:-1])


def test_s_S_orders_only_at_or_below_s():
    problem = uniform(n_skus=3, lead_time=1, penalty=9.0, capacity_days=None)
    policy = SsPolicy(problem, 1.0, 2.0)  # K = 0: batch = 2 periods of forecast
    s = policy.levels(np.array([[5.0, 5.0, 5.0]]))[0]
    q = policy.predict(flat_obs(problem, s + np.array([-3, 0, 1]), [0, 0, 0], [5.0] * 3))[0]
    np.testing.assert_array_equal(q, [13, 10, 0])  # S - IP = s + 10 - IP at or below s


def test_capacity_aware_equals_base_stock_with_unlimited_capacity():
    problem = FulfillmentConfig(n_skus=20, episode_length=50, capacity_days=None).build()
    plain = episodes(problem, ForecastBaseStock(problem, 0.7), EVAL_SEEDS[:2])
    capped = episodes(problem, CapacityAwareBaseStock(problem, 0.7, 0.8), EVAL_SEEDS[:2])
    np.testing.assert_array_equal(plain["cost"], capped["cost"])
    assert tune_fc("capacity_base_stock", problem, periods=30).fill_target == math.inf


@pytest.fixture(scope="module")
def tight():
    """A problem with tight capacity and its tuned base stock (cached per problem: the
    capacity-aware tuning starts from it)."""
    problem = FulfillmentConfig(n_skus=30, capacity_days=1.0, episode_length=120).build()
    return problem, make_fc_agent("base_stock", problem)


def test_tuned_base_stock_beats_random_and_ordering_nothing(tight):
    # on the tight problem (shared with the capacity test below): ratios measured <= 0.09 and <= 0.23
    problem, base_stock = tight

    class Nothing(ObservationPolicy):
        env_overrides = {"action_type": "order"}

        def predict(self, obs, state=None, episode_start=None, deterministic=True):
            return np.zeros(problem.n, dtype=np.int64), None

    tuned = episodes(problem, base_stock, EVAL_SEEDS)["cost"]
    random = episodes(problem, make_fc_agent("random", problem), EVAL_SEEDS)["cost"]
    nothing = episodes(problem, Nothing(), EVAL_SEEDS)["cost"]
    assert (tuned < 0.5 * random).all() and (tuned < 0.5 * nothing).all()


def test_capacity_aware_base_stock_overflows_less_and_costs_less_when_capacity_is_tight(tight):
    problem, plain = tight
    seeds = [EVAL_SEED_BASE + r for r in range(8)]
    aware = make_fc_agent("capacity_base_stock", problem)
    assert math.isfinite(aware.fill_target)
    a, b = episodes(problem, aware, seeds, 28), episodes(problem, plain, seeds, 28)
    assert a["overflow_units"].mean() < 0.8 * b["overflow_units"].mean()
    diff = a["cost"] - b["cost"]
    assert diff.mean() + 2 * diff.std(ddof=1) / np.sqrt(len(diff)) < 0  # significantly cheaper


@pytest.fixture(scope="module")
def s_S_tuned():
    """(s, S) tuned twice on one problem with K > 0 (first with the tuned base stock cached,
    then without the cache), the tuned base stock (from that cache) and the seeds played."""
    seen = []
    real = fc_tuning.run_episodes

    def spy(make_env, policy, seeds, warmup=0, periods=None, callback=None):
        seen.extend(seeds)
        return real(make_env, policy, seeds, warmup, periods, callback)

    # 40 periods (warm-up 10): the tuned (s, S) measured here has m = 0.375 (not the anchor)
    problem = FulfillmentConfig(n_skus=10, episode_length=40, fixed_order_cost=5.0).build()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fc_tuning, "run_episodes", spy)
        first = tune_fc("s_S", problem, reps=3)
        second = tune_fc("s_S", problem, reps=3, cache=False)
        base = tune_fc("base_stock", problem, reps=3)
    return problem, first, second, base, seen


def test_tuning_is_deterministic_and_uses_only_tuning_seeds(s_S_tuned):
    problem, first, second, _, seen = s_S_tuned
    assert first.params() == second.params() and first.tuning_cost == second.tuning_cost
    assert set(seen) == {TUNE_SEED_BASE + r for r in range(3)}
    assert first.tuning["candidate_reps"] >= 8 and first.tuning["seed_base"] == TUNE_SEED_BASE
    # the reported tuning cost is the winner's cost on those seeds
    again = episodes(problem, SsPolicy(problem, **first.params()), [TUNE_SEED_BASE + r for r in range(3)],
                     first.tuning["warmup"])["cost"].mean()
    assert again == pytest.approx(first.tuning_cost)


def test_unknown_agent_names_are_config_errors():
    problem = FulfillmentConfig(n_skus=3, episode_length=10).build()
    with pytest.raises(ConfigError, match="accepted agents are base_stock, s_S, capacity_base_stock, random"):
        make_fc_agent("optimal", problem)
    with pytest.raises(ConfigError, match="accepted agents are base_stock, s_S, capacity_base_stock, random"):
        FulfillmentCenterTask(n_skus=3, episode_length=10).make_agent("optimal")
    assert set(FC_HEURISTICS) == {"base_stock", "s_S", "capacity_base_stock", "random"}
    assert repr(make_fc_agent("random", problem, seed=3)) == "RandomOrders(seed=3)"


def _benchmark(tmp_path, monkeypatch, capsys, *overrides):
    """``python -m experiments.benchmark`` on a small fulfilment centre, in this process."""
    args = ["env=fulfillment_center", "env.n_skus=10", "env.episode_length=40", "env.capacity_days=null",
            "eval.reps=2", "eval.max_reps=2", f"hydra.run.dir={tmp_path / 'run'}", *overrides]
    return run_in_process("experiments.benchmark", args, tmp_path, monkeypatch, capsys)


def test_benchmark_command_writes_one_row_per_agent(tmp_path, monkeypatch, capsys):
    _benchmark(tmp_path, monkeypatch, capsys).assert_ok()
    out = tmp_path / "run"
    frame = pd.read_csv(out / "results.csv")
    assert sorted(frame["agent"]) == sorted(FC_HEURISTICS)
    kpis = list(FulfillmentCenterTask.kpi_names())
    assert list(frame.columns) == ["agent", "mean_cost", "ci95", "gap_pct", "gap_ci95", "reps", *kpis, "parameters"]
    assert frame["gap_pct"].min() == 0.0 and frame["reps"].eq(2).all()
    assert "capacity_base_stock" in (out / "results.md").read_text()
    assert (out / "cost_comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_benchmark_bad_agent_name_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    result = _benchmark(tmp_path, monkeypatch, capsys, "agents=[base_stock,optimal]")
    result.assert_one_line_error("agents: unknown agent 'optimal' for env=fulfillment_center")


def test_replayed_demand_is_tuned_on_history_before_the_test_window():
    problem = FulfillmentConfig(demand_csv="data/fc_sample_200x730.csv", n_skus=20, episode_length=100,
                                start_day=-100).build()
    tuned_on = fc_tuning._Evaluator(problem, 2, None, None).problem
    history = problem.catalogue.history
    assert tuned_on.config.episode_start == "random"
    assert len(tuned_on.catalogue.history) == len(history) - 100
    assert np.array_equal(tuned_on.catalogue.history, history[:-100])


def test_tuned_s_S_is_never_worse_than_tuned_base_stock_on_the_tuning_episodes(s_S_tuned):
    # (s, S) with m = 0 is base stock itself and an anchor of the race, so tuning can only improve
    _, ss, _, base, _ = s_S_tuned
    assert ss.params()["m"] > 0 and base.tuning["reps"] == ss.tuning["reps"]
    assert ss.tuning_cost <= base.tuning_cost + 1e-9


def test_n_skus_null_with_a_csv_means_all_its_skus_on_the_command_line(tmp_path, monkeypatch, capsys):
    """``env.n_skus=null`` reaches the config as None (all SKUs of the file), not as the
    default 100, and null stays null for every key of an env group."""
    from omegaconf import OmegaConf

    from experiments.support.common import make_task

    cfg = OmegaConf.create({"env": {"_target_": "agents.fulfillment_center.task.FulfillmentCenterTask",
                                    "demand_csv": str(REPO / "data" / "fc_sample_200x730.csv"), "n_skus": None,
                                    "episode_length": 30, "start_day": -30}})
    assert make_task(cfg).problem.n == 200
    result = _benchmark(tmp_path, monkeypatch, capsys, f"env.demand_csv={REPO / 'data' / 'fc_sample_200x730.csv'}",
                        "env.n_skus=null", "agents=[random]", "env.start_day=-60").assert_ok()
    assert "200 SKUs" in result.stdout
