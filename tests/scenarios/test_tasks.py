"""Scenarios in the lost-sales env, its batched rollout and the fulfilment centre."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import envs  # noqa: F401  (registers the ids)
from agents.fulfillment_center.task import FulfillmentCenterTask
from agents.lost_sales.heuristics import BaseStock
from agents.lost_sales.rollout import Replications, rollout
from agents.lost_sales.task import LostSalesTask
from envs.replenishment.fulfillment_center.config import FulfillmentConfig
from envs.replenishment.fulfillment_center.env import FulfillmentCenterEnv
from envs.replenishment.fulfillment_center.simulator import FulfillmentSimulator

SCENARIOS = [
    {"kind": "demand_surge", "start": 10, "duration": 15, "size": 1.0},
    {"kind": "supplier_disruption", "start": 10, "duration": 15, "size": 0.6, "random_onset": 5},
    {"kind": "lead_time_shock", "start": 10, "duration": 15, "size": 3},
    {"kind": "capacity_cut", "start": 10, "duration": 15, "size": 0.7},
]


def lost_sales_run(seed: int, steps: int, policy=None, **kwargs):
    env = gym.make("fulfillgym/LostSales-v0", **kwargs)
    obs, _ = env.reset(seed=seed)
    out = []
    for t in range(steps):
        action = policy.predict(obs)[0] if policy is not None else (7 if t % 3 == 0 else 2)
        obs, reward, _, _, info = env.step(action)
        out.append((obs.tolist(), reward, info))
    return out


def fc_run(seed: int, steps: int, **kwargs):
    env = FulfillmentCenterEnv(n_skus=6, episode_length=steps, action_type="order", **kwargs)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(123)  # the same actions for every config
    out = []
    for _ in range(steps):
        action = rng.integers(0, 12, size=6)
        obs, reward, _, _, info = env.step(action)
        out.append((obs.copy(), reward, info, env.sim.last.demand.copy(), env.sim.last.received.copy()))
    return out


# -- none is no scenario ------------------------------------------------------------------
@pytest.mark.parametrize("lead_time", [0, 1, 3])
def test_lost_sales_none_is_identical_to_no_scenario(lead_time):
    a = lost_sales_run(4, 80, lead_time=lead_time)
    b = lost_sales_run(4, 80, lead_time=lead_time, scenario={"kind": "none", "start": 3, "duration": 9, "size": 0.5})
    assert a == b


def test_fc_none_is_identical_to_no_scenario():
    a = fc_run(4, 40, lead_time_jitter=1)
    b = fc_run(4, 40, lead_time_jitter=1, scenario={"kind": "none"})
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x[0], y[0]) and x[1] == y[1] and x[2] == y[2]


def test_none_keeps_config_dicts_and_cache_keys():
    assert "scenario" not in LostSalesTask().config.to_dict()  # the DP cache key is unchanged
    assert FulfillmentConfig().to_dict()["scenario"]["kind"] == "none"


# -- the env and the batched rollout agree under every scenario ------------------------------
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["kind"] for s in SCENARIOS])
@pytest.mark.parametrize(("lead_time", "backorders"), [(0, False), (1, True), (2, False), (4, False)])
def test_lost_sales_env_and_rollout_agree(scenario, lead_time, backorders):
    task = LostSalesTask(lead_time=lead_time, backorders=backorders, fixed_order_cost=2.0, scenario=scenario)
    policy = BaseStock(task.config, level=5 * (lead_time + 1) + 3)
    seeds, periods, warmup = [1, 2, 3], 50, 5
    env_costs = []
    for seed in seeds:
        steps = lost_sales_run(seed, periods, policy, **task.env_kwargs())
        env_costs.append(-sum(r for _, r, _ in steps[warmup:]) / (periods - warmup))
    result = rollout(task.config, policy, Replications.from_seeds(task.config, seeds, periods), warmup)
    assert np.allclose(env_costs, result.mean_cost)


# -- demand surge ---------------------------------------------------------------------------
def test_lost_sales_surge_scales_mean_demand_in_the_window_only():
    surge = {"kind": "demand_surge", "start": 10, "duration": 10, "size": 1.0}
    task = LostSalesTask(scenario=surge)
    base = Replications.from_seeds(LostSalesTask().config, range(3000), 30).demand
    stressed = Replications.from_seeds(task.config, range(3000), 30).demand
    outside = np.r_[0:10, 20:30]
    assert np.array_equal(base[:, outside], stressed[:, outside])
    assert abs(stressed[:, 10:20].mean() - 10.0) < 0.1 and abs(base[:, 10:20].mean() - 5.0) < 0.1
    # the env draws the same: its info["demand"]
    env_demand = [info["demand"] for _, _, info in lost_sales_run(7, 30, **task.env_kwargs())]
    assert env_demand == Replications.from_seeds(task.config, [7], 30).demand[0].tolist()


def test_fc_surge_scales_mean_demand_in_the_window_only():
    surge = {"kind": "demand_surge", "start": 5, "duration": 5, "size": 0.5}
    base, stressed = [], []
    for seed in range(200):
        base.append(np.array([x[3] for x in fc_run(seed, 15, catalogue="uniform")]))
        stressed.append(np.array([x[3] for x in fc_run(seed, 15, catalogue="uniform", scenario=surge)]))
    base, stressed = np.array(base), np.array(stressed)  # (seeds, periods, SKUs)
    outside = np.r_[0:5, 10:15]
    assert np.array_equal(base[:, outside], stressed[:, outside])
    ratio = stressed[:, 5:10].mean() / base[:, 5:10].mean()
    assert abs(ratio - 1.5) < 0.05


# -- supplier disruption, lead-time shock, capacity cut --------------------------------------
def test_lost_sales_full_disruption_delivers_nothing_ordered_in_the_window():
    sc = {"kind": "supplier_disruption", "start": 4, "duration": 6, "size": 1.0}
    steps = lost_sales_run(3, 20, lead_time=2, unit_cost=1.0, scenario=sc)
    for t, (obs, _, info) in enumerate(steps):
        if 4 <= t < 10:
            assert info["refused"] == info["order"] and obs[1] == 0  # nothing in the pipeline
            assert info["ordering_cost"] == 0  # refused units are not charged
        else:
            assert info["refused"] == 0


def test_fc_full_disruption_delivers_nothing_ordered_in_the_window():
    sc = {"kind": "supplier_disruption", "start": 5, "duration": 5, "size": 1.0}
    run = fc_run(2, 20, lead_time=2, capacity_days=0, purchase_cost=True, scenario=sc)
    for t, (_, _, info, _, received) in enumerate(run):
        if 5 <= t < 10:
            assert info["ordered"] == 0 and info["ordering_cost"] == 0 and info["refused"] > 0
        if 6 <= t < 11:  # orders placed at t arrive at the end of t + 1
            assert received.sum() == 0


def arrivals_lost_sales(steps, on_hand0):
    """Units arriving per period, from the observed on-hand stock and demand (lost sales, L >= 1)."""
    out, before = [], on_hand0
    for obs, _, info in steps:
        out.append(obs[0] - max(before - info["demand"], 0))
        before = obs[0]
    return out


@pytest.mark.parametrize("extra", [1, 3])
def test_lead_time_shock_delays_arrivals_by_exactly_size(extra):
    class OneOrder:
        def predict(self, obs):
            return self.q, None

    policy = OneOrder()
    lead = 2
    kwargs = {"lead_time": lead, "initial_state": "zero"}
    sc = {"kind": "lead_time_shock", "start": 3, "duration": 1, "size": extra}
    for stressed in (False, True):
        env = gym.make("fulfillgym/LostSales-v0", **kwargs, **({"scenario": sc} if stressed else {}))
        obs, _ = env.reset(seed=1)
        steps = []
        for t in range(12):
            policy.q = 9 if t == 3 else 0
            obs, r, _, _, info = env.step(policy.predict(obs)[0])
            steps.append((obs, r, info))
        arrivals = arrivals_lost_sales(steps, 0)
        due = 3 + lead - 1 + (extra if stressed else 0)
        assert arrivals[due] == 9 and sum(arrivals) == 9
        assert sum(steps[due - 1][0]) >= 9  # still counted in the inventory position the period before


def test_fc_lead_time_shock_delays_arrivals_by_exactly_size():
    sc = {"kind": "lead_time_shock", "start": 4, "duration": 1, "size": 3}
    base = fc_run(5, 16, lead_time=2, capacity_days=0)
    stressed = fc_run(5, 16, lead_time=2, capacity_days=0, scenario=sc)
    # the order placed at t = 4 arrives at the end of period 5 without the shock, of 8 with it
    rng = np.random.default_rng(123)
    actions = [rng.integers(0, 12, size=6) for _ in range(16)]
    assert np.array_equal(base[5][4], actions[4]) and np.array_equal(stressed[8][4] - actions[7], actions[4])
    assert np.array_equal(stressed[5][4], np.zeros(6))


def test_fc_capacity_cut_caps_stock_and_orders():
    sc = {"kind": "capacity_cut", "start": 5, "duration": 10, "size": 0.5}
    env = FulfillmentCenterEnv(n_skus=6, episode_length=30, action_type="order", capacity_days=2.0, scenario=sc)
    env.reset(seed=0)
    sim, p = env.sim, env.problem
    for t in range(30):
        q = np.minimum(p.q_max, 30)
        env.step(q)
        stock = float(p.volume @ sim.on_hand)
        left = float(p.volume @ sim.last.left)
        if 5 <= t < 15:
            assert stock <= max(0.5 * p.capacity, left) + 1e-6
            assert np.all(sim.last.order <= np.floor(0.5 * p.q_max + 1e-9))
        else:
            assert stock <= p.capacity + 1e-6


# -- random onset, common random numbers -----------------------------------------------------
def test_random_onset_same_seed_same_onset_and_demand_stream_unchanged():
    sc = {"kind": "supplier_disruption", "start": 5, "duration": 3, "size": 1.0, "random_onset": 10}

    def window(seed):
        return [t for t, (_, _, info) in enumerate(lost_sales_run(seed, 30, scenario=sc)) if info["refused"]]

    assert window(11) == window(11)
    assert len({tuple(window(s)) for s in range(30)}) > 1
    plain = [info["demand"] for _, _, info in lost_sales_run(11, 30)]
    assert [info["demand"] for _, _, info in lost_sales_run(11, 30, scenario=sc)] == plain
    fc_plain = fc_run(3, 20)
    fc_stressed = fc_run(3, 20, scenario=sc)
    assert all(np.array_equal(a[3], b[3]) for a, b in zip(fc_plain, fc_stressed, strict=True))


def test_benchmark_task_gets_a_stressed_copy():
    task = LostSalesTask()
    stressed = task.with_scenario({"kind": "demand_surge", "start": 0, "duration": 5, "size": 1.0})
    assert stressed.config.scenario.active and not task.config.scenario.active
    assert task.reference_name() == "optimal" and stressed.reference_name() is None
    assert stressed.make_agent("optimal").config.scenario.active is False
    fc = FulfillmentCenterTask(n_skus=5, episode_length=30)
    fc_stressed = fc.with_scenario({"kind": "capacity_cut", "start": 0, "duration": 5, "size": 0.5})
    assert fc_stressed.problem.config.scenario.kind == "capacity_cut" and fc.problem.config.scenario.kind == "none"


# -- units are conserved in the fulfilment centre under random scenarios ----------------------
@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(["none", "demand_surge", "supplier_disruption", "lead_time_shock", "capacity_cut"]),
       start=st.integers(0, 10), duration=st.integers(1, 15), size=st.floats(0.0, 1.0), seed=st.integers(0, 10_000),
       jitter=st.integers(0, 2), capacity_days=st.sampled_from([0.0, 0.8, 2.0]), onset=st.integers(0, 5))
def test_fc_units_are_conserved_under_random_scenarios(kind, start, duration, size, seed, jitter, capacity_days,
                                                       onset):
    size = max(1, round(3 * size)) if kind == "lead_time_shock" else size
    sc = {"kind": kind, "start": start, "duration": duration, "size": size, "random_onset": onset}
    cfg = FulfillmentConfig(n_skus=4, episode_length=30, action_type="order", lead_time_jitter=jitter,
                            capacity_days=capacity_days, scenario=sc)
    sim = FulfillmentSimulator(cfg.build())
    sim.reset(np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    start_units = int(sim.on_hand.sum() + sim.pipe_total.sum())
    ordered = sold = overflow = refused = 0
    for _ in range(30):
        q = rng.integers(0, 15, size=4)
        totals = sim.step(q)
        ordered += totals["ordered"]
        sold += totals["sales"]
        overflow += totals["overflow_units"]
        refused += totals.get("refused", 0)
        assert totals["ordered"] + totals.get("refused", 0) == int(q.sum())
        assert np.all(sim.on_hand >= 0) and np.all(sim.pipe >= 0)
    end_units = int(sim.on_hand.sum() + sim.pipe_total.sum())
    assert start_units + ordered == end_units + sold + overflow
    assert int(sim.pipe.sum()) == int(sim.pipe_total.sum())
