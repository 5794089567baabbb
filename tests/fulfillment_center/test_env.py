"""Specification tests for ``fulfillgym/FulfillmentCenter-v0`` and PettingZoo ``fulfillment_center_v0``."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs  # noqa: F401  (registers the ids)
from envs import fulfillment_center_v0
from envs.core.config import ConfigError
from envs.replenishment.fulfillment_center.config import FulfillmentConfig
from envs.replenishment.fulfillment_center.env import FulfillmentCenterEnv

FC_ID = "fulfillgym/FulfillmentCenter-v0"
SMALL = dict(n_skus=12, episode_length=40)


def uniform_env(n=1, **kwargs) -> FulfillmentCenterEnv:
    """Identical Poisson(5) SKUs, unlimited capacity unless set, raw order actions."""
    kwargs.setdefault("capacity_days", None)
    kwargs.setdefault("action_type", "order")
    return FulfillmentCenterEnv(catalogue="uniform", n_skus=n, **kwargs)


# -- API conformance ------------------------------------------------------------------------
CHECKER_CASES = [
    dict(),
    dict(action_type="continuous"),
    dict(action_type="order"),
    dict(action_type="level"),
    dict(obs_format="dict"),
    dict(backorders=True, lead_time_jitter=1),
    dict(capacity_days=1.5, overflow="return", purchase_cost=True, revenue=True),
]


@pytest.mark.parametrize("kwargs", CHECKER_CASES, ids=str)
def test_gymnasium_env_checker_passes_without_warnings(kwargs):
    env = gymnasium.make(FC_ID, render_mode="rgb_array", **SMALL, **kwargs).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gymnasium_check_env(env, skip_render_check=False)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("kwargs", CHECKER_CASES, ids=str)
def test_sb3_env_checker_passes_without_warnings(kwargs):
    env = gymnasium.make(FC_ID, **SMALL, **kwargs).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(env, warn=True)
    messages = [str(w.message) for w in caught]
    if kwargs.get("obs_format") == "dict":
        # SB3 recommends flattening a 2-D matrix for its default MLP: that is what
        # obs_format=flat (the default) is for; nothing else may be reported.
        messages = [m for m in messages if "observation sku has an unconventional shape" not in m]
    assert messages == []


@pytest.mark.parametrize("kwargs", [dict(), dict(action_type="continuous", reward="team"),
                                    dict(action_type="level", reward="normalised")], ids=str)
def test_pettingzoo_parallel_api_and_seed_tests_pass(kwargs):
    parallel_api_test(fulfillment_center_v0.parallel_env(**SMALL, **kwargs), num_cycles=60)
    parallel_seed_test(lambda: fulfillment_center_v0.parallel_env(**SMALL, **kwargs), num_cycles=60)


def test_pettingzoo_aec_api_and_seed_tests_pass():
    api_test(fulfillment_center_v0.env(n_skus=5, episode_length=30), num_cycles=40)
    seed_test(lambda: fulfillment_center_v0.env(n_skus=5, episode_length=30), num_cycles=40)


# -- N = 1, unlimited capacity: exactly LostSales-v0 ---------------------------------------
@pytest.mark.parametrize("lead_time", [1, 2, 4])
@pytest.mark.parametrize("backorders", [False, True])
def test_single_sku_unlimited_capacity_agrees_with_lost_sales(lead_time, backorders):
    costs = dict(holding_cost=1.0, penalty=9.0, fixed_order_cost=2.0)
    single = gymnasium.make("fulfillgym/LostSales-v0", lead_time=lead_time, backorders=backorders,
                            q_max=30, **costs).unwrapped
    multi = uniform_env(1, lead_time=lead_time, backorders=backorders, q_max=30, episode_length=600, **costs)
    orders = np.random.default_rng(7).integers(0, 12, size=600)
    obs_s, _ = single.reset(seed=123)
    obs_m, _ = multi.reset(seed=123)
    for t, q in enumerate(orders):
        obs_s, r_s, _, _, info_s = single.step(int(q))
        obs_m, r_m, _, _, info_m = multi.step(np.array([q]))
        assert r_m == pytest.approx(r_s, abs=1e-9), t
        for key in ("demand", "sales", "lost", "holding_cost", "shortage_cost", "ordering_cost"):
            assert info_m[key] == pytest.approx(info_s[key], abs=1e-9), (t, key)
        assert multi.sim.on_hand[0] == info_s["on_hand"]
        assert multi.sim.inventory_position[0] == info_s["inventory_position"]
        # the pipeline slots (arrival order) are LostSales' observation after on-hand
        assert multi.sim.pipeline_slots()[: lead_time - 1, 0].tolist() == obs_s[1:].astype(int).tolist()


# -- timing, capacity and overflow, by hand -------------------------------------------------
def test_receipts_beyond_free_space_are_accepted_pro_rata_and_charged():
    # two SKUs of volume 1, capacity 10, nothing on hand, L = 1, no demand: the orders
    # arrive at the end of the period; 12 + 8 = 20 units for 10 units of space -> half each.
    env = uniform_env(2, lead_time=1, capacity=10.0, overflow_cost=3.0, initial_state="zero", q_max=20,
                      mean_demand=1e-9, holding_cost=1.0, penalty=0.0)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([12, 8]))
    assert env.sim.on_hand.tolist() == [6, 4]
    assert info["overflow_units"] == 10
    assert info["overflow_cost"] == pytest.approx(30.0)
    assert info["capacity_utilisation"] == pytest.approx(1.0)
    assert reward == pytest.approx(-30.0)  # holding is charged before receipts


def test_overflow_return_refunds_the_unit_cost():
    env = uniform_env(1, lead_time=1, capacity=5.0, overflow="return", purchase_cost=True, unit_cost=2.0, q_max=20,
                      overflow_cost=1.0, initial_state="zero", mean_demand=1e-9, penalty=0.0)
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.array([8]))
    assert info["overflow_units"] == 3
    assert info["ordering_cost"] == pytest.approx(2.0 * 8 - 2.0 * 3)
    assert info["overflow_cost"] == pytest.approx(3.0)


def test_discrete_action_orders_multiples_of_the_forecast():
    env = uniform_env(3, action_type="discrete", mean_demand=4.0)
    env.reset(seed=0)
    forecast = env.sim.forecast.copy()
    multiples = np.asarray(env.config.order_multiples)
    action = np.array([0, 2, len(multiples) - 1])
    assert env.orders(action).tolist() == np.ceil(multiples[action] * forecast).astype(int).tolist()


def test_level_action_orders_up_to_a_forecast_scaled_base_stock_level():
    env = uniform_env(3, action_type="level", mean_demand=4.0, lead_time=2)
    env.reset(seed=0)
    levels = np.asarray(env.config.level_multiples)
    action = np.array([0, 4, len(levels) - 1])
    target = np.ceil(levels[action] * env.problem.mean_demand * 3)
    expected = np.maximum(target - env.sim.inventory_position, 0).astype(int)
    assert env.orders(action).tolist() == expected.tolist()
    assert expected[0] == 0 and expected[2] > 0


def test_any_positive_multiple_orders_at_least_one_unit_of_a_slow_mover():
    env = uniform_env(2, action_type="discrete", mean_demand=0.05)
    env.reset(seed=0)
    assert env.orders(np.array([0, 1])).tolist() == [0, 1]


def test_revenue_turns_the_reward_into_profit():
    base = dict(catalogue="synthetic", n_skus=20, episode_length=30)
    env_cost = FulfillmentCenterEnv(**base)
    env_profit = FulfillmentCenterEnv(revenue=True, **base)
    env_cost.reset(seed=5)
    env_profit.reset(seed=5)
    action = np.full(20, 2)
    for _ in range(10):
        _, r_cost, _, _, _ = env_cost.step(action)
        _, r_profit, _, _, info = env_profit.step(action)
        assert r_profit == pytest.approx(r_cost + info["revenue"])
    assert info["revenue"] > 0


# -- episodes, seeding, errors --------------------------------------------------------------
def test_episode_is_truncated_after_episode_length():
    env = FulfillmentCenterEnv(n_skus=5, episode_length=7)
    env.reset(seed=0)
    flags = [env.step(env.action_space.sample())[3] for _ in range(7)]
    assert flags == [False] * 6 + [True]


def test_same_seed_same_trajectory_and_different_seed_differs():
    def trajectory(seed):
        env = FulfillmentCenterEnv(n_skus=30, lead_time_jitter=1, demand={"promo_probability": 0.05})
        env.action_space.seed(0)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for _ in range(50):
            obs, r, *_ = env.step(env.action_space.sample())
            out += [obs, np.array([r])]
        return np.concatenate(out)

    assert np.array_equal(trajectory(3), trajectory(3))
    assert not np.array_equal(trajectory(3), trajectory(4))


@pytest.mark.parametrize("action", [np.full(4, 99), np.zeros(3, dtype=np.int64), np.full(4, 0.5)])
def test_out_of_range_action_is_a_one_line_value_error(action):
    env = FulfillmentCenterEnv(n_skus=4)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action") as err:
        env.step(action)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "kwargs, field",
    [(dict(n_skus=0), "env.n_skus"), (dict(overflow="keep"), "env.overflow"),
     (dict(capacity=-1.0), "env.capacity"), (dict(order_multiples=[2, 1]), "env.order_multiples"),
     (dict(lead_time=0), "env.lead_time"), (dict(colour="red"), "env.colour"),
     (dict(catalogue="csv"), "env.demand_csv"), (dict(forecast_alpha=0.0), "env.forecast_alpha")],
)
def test_bad_config_values_name_the_field(kwargs, field):
    with pytest.raises(ConfigError) as err:
        FulfillmentConfig.from_kwargs(kwargs)
    assert str(err.value).startswith(field) and "\n" not in str(err.value)


def test_render_rgb_array_shows_capacity_and_top_skus():
    env = FulfillmentCenterEnv(n_skus=10, render_mode="rgb_array")
    env.reset(seed=0)
    for _ in range(5):
        env.step(env.action_space.sample())
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8
    assert frame.std() > 0


# -- PettingZoo face agrees with the centralised env ---------------------------------------
@pytest.mark.parametrize("capacity_days", [None, 1.5])
def test_per_agent_rewards_sum_to_the_centralised_reward(capacity_days):
    kwargs = dict(n_skus=15, capacity_days=capacity_days, episode_length=30)
    par = fulfillment_center_v0.parallel_env(**kwargs)
    central = FulfillmentCenterEnv(**kwargs)
    obs, _ = par.reset(seed=9)
    flat, _ = central.reset(seed=9)
    rng = np.random.default_rng(0)
    overflowed = 0
    for _ in range(30):
        action = rng.integers(0, len(central.config.order_multiples), size=15)
        obs, rewards, _, _, infos = par.step(dict(zip(par.agents, action.tolist(), strict=True)))
        flat, reward, _, _, info = central.step(action)
        assert sum(rewards.values()) == pytest.approx(reward, rel=1e-9, abs=1e-9)
        rows = np.stack([obs[a] for a in par.possible_agents])
        n_feat = central.n_features
        assert np.array_equal(rows[:, :n_feat], flat[: 15 * n_feat].reshape(n_feat, 15).T)
        assert np.array_equal(rows[0, n_feat:], flat[15 * n_feat:])
        overflowed += info["overflow_units"]
    if capacity_days is not None:
        assert overflowed > 0  # the overflow split was exercised


def test_team_reward_gives_every_agent_the_mean_reward():
    par = fulfillment_center_v0.parallel_env(n_skus=6, reward="team")
    par.reset(seed=0)
    _, rewards, _, _, _ = par.step(dict.fromkeys(par.agents, 3))
    values = list(rewards.values())
    assert len(set(values)) == 1


def test_pettingzoo_refuses_raw_order_actions():
    with pytest.raises(ConfigError, match="env.action_type"):
        fulfillment_center_v0.parallel_env(n_skus=3, action_type="order")


# -- replaying a demand history (CSV) -------------------------------------------------------
SAMPLE = "data/fc_sample_200x730.csv"


def test_fixed_test_window_replays_the_end_of_the_history_exactly():
    env = FulfillmentCenterEnv(demand_csv=SAMPLE, n_skus=30, episode_length=50, start_day=-50)
    history = env.problem.catalogue.history
    env.reset(seed=0)
    seen = []
    for _ in range(50):
        *_, truncated, info = env.step(np.zeros(30, dtype=np.int64))
        seen.append(env.sim.last.demand.copy())
    assert truncated
    assert np.array_equal(np.stack(seen), history[-50:])
    # the 30 SKUs kept are the most popular ones of the file
    assert env.problem.catalogue.n == 30
    assert env.problem.mean_demand.min() >= np.sort(np.asarray(history.mean(axis=0)))[-30] - 1e-9


def test_random_training_windows_lie_inside_the_history_and_vary_with_the_seed():
    env = FulfillmentCenterEnv(demand_csv=SAMPLE, n_skus=10, episode_length=100, episode_start="random")
    history_days = len(env.problem.catalogue.history)
    starts = set()
    for seed in range(8):
        env.reset(seed=seed)
        assert 0 <= env.sim.start_day <= history_days - 100
        starts.add(env.sim.start_day)
    assert len(starts) > 1


def test_episode_longer_than_the_history_is_a_config_error():
    with pytest.raises(ConfigError, match="env.episode_length"):
        FulfillmentCenterEnv(demand_csv=SAMPLE, n_skus=5, episode_length=1000)


def test_a_malformed_demand_csv_fails_in_one_line_from_the_command_line(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "bad.csv"
    bad.write_text("date,sku,demand\n2024-01-01,A,3\n2024-01-02,A,-1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.benchmark", "env=fulfillment_center", f"env.demand_csv={bad}",
         f"hydra.run.dir={tmp_path / 'run'}"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "demand" in lines[0] and "3" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_observed_pipeline_slots_are_fixed_and_the_last_one_holds_later_arrivals():
    env = uniform_env(3, lead_time=10, pipeline_slots=4, action_type="order")
    obs, _ = env.reset(seed=0)
    for q in (5, 7, 9):
        obs, *_ = env.step(np.full(3, q))
    f = env.n_features
    assert f == 7 + 4
    features = obs[: 3 * f].reshape(f, 3) * env.problem.mean_demand
    slots = env.sim.pipeline_slots()
    assert np.allclose(features[7:10], slots[:3])
    assert np.allclose(features[10], slots[3:].sum(axis=0))
    assert np.allclose(features[7:].sum(axis=0), features[1])  # slots add up to the pipeline
