"""The courier env ``courier_dispatch_v0``, its courier rules and masked parameter sharing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

from agents.base import MultiAgentPolicy
from agents.dispatch import couriers
from envs import courier_dispatch_v0
from envs.core.batch import ParallelEnvBatch
from envs.core.config import ConfigError
from envs.dispatch.env import SameDayDeliveryEnv
from envs.dispatch.parallel_env import obs_dim, split_agent_obs
from envs.dispatch.routing.courier_trips import courier_trips, insertion_table
from envs.dispatch.routing.problem import RoutingProblem, Trip, schedule

SMALL = dict(n_vehicles=3, max_orders=8, arrival_rates=[20, 20], day_minutes=240)
K = SMALL["max_orders"]
FEW = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def small(**kwargs):
    return courier_dispatch_v0.parallel_env(**SMALL, **kwargs)


def random_day(env, seed: int, rng=None):
    """Play one day with uniformly random legal actions; (rewards of courier_0, infos per step)."""
    rng = np.random.default_rng(seed) if rng is None else rng
    obs, _ = env.reset(seed=seed)
    rewards, infos = [], []
    while env.agents:
        acts = {a: int(rng.choice(np.flatnonzero(o["action_mask"]))) for a, o in obs.items()}
        obs, rew, _, _, info = env.step(acts)
        assert len(set(rew.values())) == 1  # one team reward
        rewards.append(rew["courier_0"])
        infos.append(info["courier_0"])
    return rewards, infos


# -- PettingZoo conformance ---------------------------------------------------------------------
def test_parallel_api_test_passes():
    parallel_api_test(small(), num_cycles=40)


def test_aec_api_and_seed_tests_pass():
    api_test(courier_dispatch_v0.env(**SMALL), num_cycles=40)
    seed_test(lambda: courier_dispatch_v0.env(**SMALL), num_cycles=40)


def test_parallel_seed_test_passes_with_masked_picks_as_waits():
    # parallel_seed_test samples actions without the masks: illegal picks must become waits
    parallel_seed_test(lambda: small(invalid_action="wait"), num_cycles=40)


def test_a_courier_env_needs_a_fleet():
    with pytest.raises(ConfigError, match="n_vehicles") as err:
        courier_dispatch_v0.parallel_env(n_vehicles=None)
    assert "\n" not in str(err.value)


def test_spaces_and_the_observation_layout():
    env = small()
    obs, _ = env.reset(seed=3)
    assert env.observation_space("courier_0") is env.observation_space("courier_2")
    assert env.action_space("courier_1").n == K + 1
    assert env.observation_space("courier_0")["observation"].shape == (obs_dim(K),) == (10 * K + 13,)
    for _ in range(6):  # into the day, some couriers away
        obs = env.step({a: int(np.flatnonzero(o["action_mask"])[0]) for a, o in obs.items()})[0]
    for i, o in enumerate(obs.values()):
        orders, shown, fleet, own, mask = split_agent_obs(o["observation"], K)
        assert np.array_equal(mask, o["action_mask"])  # the observation ends with the mask
        assert own[3] == pytest.approx(i / 3)
        idle = env.sim.ready[i] <= env.sim.depart_time + 1e-9
        assert own[0] == idle and (o["action_mask"][:K].any() <= idle) and o["action_mask"][K] == 1
        assert np.array_equal(shown, obs["courier_0"]["observation"][K * 8: K * 9])


# -- actions and masks --------------------------------------------------------------------------
@FEW
@given(seed=st.integers(0, 10**6))
def test_random_legal_actions_never_raise_and_every_order_is_served_once_or_fails(seed):
    env = small()
    random_day(env, seed)
    k, plan = env.sim.kpis(), env.plan()
    assert plan.order_id.is_unique and len(plan) == k["delivered"]
    assert k["delivered"] + k["failed"] == k["orders"] == len(env.sim.day)
    assert env.sim.dispatched.sum() == k["delivered"]


@FEW
@given(seed=st.integers(0, 10**6), epoch=st.integers(0, 15), which=st.integers(0, 2), data=st.data())
def test_illegal_actions_raise_one_line_and_change_nothing(seed, epoch, which, data):
    env = small()
    obs, _ = env.reset(seed=seed)
    for _ in range(epoch):
        obs = env.step({a: int(np.flatnonzero(o["action_mask"])[-2 if o["action_mask"].sum() > 1 else -1])
                        for a, o in obs.items()})[0]
    agent = f"courier_{which}"
    masked = np.flatnonzero(obs[agent]["action_mask"] == 0).tolist()
    bad = data.draw(st.sampled_from(masked + [-1, K + 1, 2.0, "a"]))
    acts = {a: K for a in env.agents} | {agent: bad}
    before = (env.sim.epoch, len(env.sim.rows))
    with pytest.raises(ValueError) as err:
        env.step(acts)
    assert "\n" not in str(err.value) and agent in str(err.value)
    assert (env.sim.epoch, len(env.sim.rows)) == before


def test_unknown_or_missing_agents_are_refused():
    env = small()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="unknown agent"):
        env.step({a: K for a in env.agents} | {"courier_9": K})
    with pytest.raises(ValueError, match="missing"):
        env.step({"courier_0": K})


def test_a_contested_order_goes_to_the_lower_index_courier():
    env = small(grow_max_detour=0.0)
    obs, _ = env.reset(seed=1)
    while obs["courier_1"]["action_mask"][0] == 0 or obs["courier_2"]["action_mask"][0] == 0:
        obs = env.step({a: K for a in env.agents})[0]
    first = int(env._ids[0])
    _, _, _, _, info = env.step({"courier_0": K, "courier_1": 0, "courier_2": 0})
    assert first in info["courier_1"]["trip"]
    assert info["courier_2"]["conflict"] and first not in info["courier_2"]["trip"]
    assert not info["courier_1"]["conflict"] and not info["courier_0"]["conflict"]


# -- dynamics -----------------------------------------------------------------------------------
def test_same_seed_same_trajectory_and_kpis():
    runs = []
    for _ in range(2):
        env = small()
        rewards, _ = random_day(env, 7, np.random.default_rng(0))
        runs.append((rewards, env.sim.kpis(), env.plan()))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1]
    assert runs[0][2].equals(runs[1][2])


def test_the_day_is_the_gym_envs_day_for_the_same_seed():
    env, gym_env = small(), SameDayDeliveryEnv(**SMALL)
    for seed in (0, 11):
        env.reset(seed=seed)
        gym_env.reset(seed=seed)
        for field in ("release", "deadline", "size", "x", "y"):
            assert np.array_equal(getattr(env.sim.day, field), getattr(gym_env.sim.day, field))


def test_costs_add_up_and_the_return_is_minus_the_day_cost():
    env = small()
    rewards, infos = random_day(env, 5)
    k, c = env.sim.kpis(), env.config
    assert sum(rewards) == pytest.approx(-k["cost"])
    assert k["cost"] == pytest.approx(k["cost_km"] + k["cost_trips"] + k["cost_late"] + k["cost_failed"])
    assert k["cost_km"] == pytest.approx(c.cost_per_km * k["km"])
    assert k["cost_trips"] == pytest.approx(c.cost_per_trip * k["trips"])
    assert k["cost_late"] == pytest.approx(c.cost_per_late_minute * k["late_minutes"])
    for part in ("cost_km", "cost_trips", "cost_late", "cost_failed"):
        assert sum(i[part] for i in infos) == pytest.approx(k[part])
    assert infos[-1]["day"] == k


def test_must_go_orders_leave_even_when_every_courier_waits():
    env = small()
    env.reset(seed=2)
    while env.agents:
        must = env.sim.pending[env.sim.must_go()]
        info = env.step({a: K for a in env.agents})[4]
        assert np.isin(must, env.sim.pending).sum() <= info["courier_0"]["unrouted"]
    assert env.sim.kpis()["trips"] > 0


def test_a_trip_grows_with_on_time_orders_only():
    env = small(grow_max_detour=15.0)
    env.reset(seed=2)
    sim = env.sim
    while len(sim.pending) < 4 or sim.must_go().any() or not len(sim.idle_vehicles()):
        env.step({a: K for a in env.agents})
    seed_order = int(env._ids[0])
    p, trips, orders, _ = courier_trips(sim, {int(sim.idle_vehicles()[0]): seed_order}, 15.0)
    assert len(trips) == 1 and len(trips[0].stops) > 1
    assert list(orders).index(seed_order) + 1 in trips[0].stops
    s = schedule(p, trips[0])
    assert s.feasible and s.late_minutes == 0 and s.load <= p.capacity


@FEW
@given(seed=st.integers(0, 10**6), m=st.integers(0, 5))
def test_insertion_table_matches_schedule(seed, m):
    rng = np.random.default_rng(seed)
    n = 8
    xy = rng.uniform(-10, 10, (n + 1, 2))
    dist = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)) * rng.uniform(0.8, 1.3, (n + 1, n + 1))
    pad = lambda a, v: np.concatenate([[v], a])  # noqa: E731
    p = RoutingProblem(dist, 2 * dist, pad(np.full(n, 3.0), 0), pad(rng.integers(1, 4, n), 0),
                       pad(rng.uniform(0, 60, n), 0), pad(rng.uniform(20, 120, n), np.inf), pad(rng.uniform(0, 5, n), 0),
                       12, np.array([5.0]), shift_end=float(rng.uniform(60, 200)), cost_per_late_minute=0.5)
    perm = rng.permutation(np.arange(1, n + 1))
    stops, cands = [int(s) for s in perm[:m]], perm[m:]
    s = schedule(p, Trip(0, stops))
    km, late, back, ok = insertion_table(p, stops, s, cands)
    for ci, cand in enumerate(cands):
        for j in range(m + 1):
            s2 = schedule(p, Trip(0, stops[:j] + [int(cand)] + stops[j:]))
            assert km[ci, j] == pytest.approx(s2.km - s.km, abs=1e-9)
            assert back[ci, j] == pytest.approx(s2.trip_return, abs=1e-9)
            assert late[ci, j] == pytest.approx(s2.late_minutes - s.late_minutes, abs=1e-9)
            assert ok[ci, j] == s2.feasible


def test_render_rgb_array():
    env = small(render_mode="rgb_array")
    env.reset(seed=0)
    env.step({a: K for a in env.agents})
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8


# -- courier rules ------------------------------------------------------------------------------
def test_joint_rows_are_observation_then_mask():
    env = small()
    obs, _ = env.reset(seed=0)
    rows = couriers.joint_rows(obs, env.agents)
    assert rows.shape == (3, obs_dim(K) + K + 1) and rows.dtype == np.float32
    assert np.array_equal(rows[1, obs_dim(K):], obs["courier_1"]["action_mask"])


def test_courier_rules_run_and_beat_random_legal_on_default_days():
    seeds = [1_000_000, 1_000_001]
    make = courier_dispatch_v0.parallel_env
    env = make()
    env.reset(seed=0)
    random_cost = couriers.courier_rollout(make, couriers.make("random", env), seeds)["cost"].mean()
    for name in ("nearest", "edf", "hungarian"):
        kpis = couriers.courier_rollout(make, couriers.make(name, env), seeds)
        assert set(kpis) == set(env.sim.kpis()) and kpis["cost"].shape == (2,)
        assert kpis["cost"].mean() < 1.1 * random_cost, (name, kpis["cost"], random_cost)  # measured: ~0.7x


def test_courier_rules_only_take_legal_actions():
    env = small()
    for name in ("nearest", "edf", "hungarian"):
        policy = couriers.make(name, env, fill=0.5)
        sim = couriers.play_day(env, policy, 4)  # an illegal action would raise
        assert sim.done and sim.kpis()["trips"] > 0


# -- masked parameter sharing -------------------------------------------------------------------
def test_agent_batch_strips_and_stacks_the_masks():
    batch = ParallelEnvBatch(small, n_copies=2, seed=0)
    assert batch.masked and batch.observation_space.shape == (obs_dim(K),)
    obs = batch.reset()
    assert obs.shape == (6, obs_dim(K))
    for _ in range(20):  # across an episode end (automatic reset)
        masks = batch.action_masks()
        assert masks.shape == (6, K + 1) and masks.dtype == bool
        assert np.array_equal(masks, obs[:, -(K + 1):] > 0.5)
        acts = np.array([np.flatnonzero(m)[-1] for m in masks])
        obs, _, _, _ = batch.step(acts)


def test_maskable_ppo_trains_one_policy_for_every_courier():
    torch = pytest.importorskip("torch")
    from sb3_contrib import MaskablePPO

    from agents.rl.vec_env import AgentBatchVecEnv

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        venv = AgentBatchVecEnv(ParallelEnvBatch(small, n_copies=2, seed=0))
        masks = venv.env_method("action_masks")
        assert len(masks) == venv.num_envs == 6 and masks[0].shape == (K + 1,)
        model = MaskablePPO("MlpPolicy", venv, n_steps=128, batch_size=128, n_epochs=2, seed=0, device="cpu")
        model.learn(2048)
        assert model.num_timesteps >= 2048
    finally:
        torch.set_num_threads(threads)

    class Trained(MultiAgentPolicy):  # joint rows -> masked greedy actions
        def predict(self, rows, deterministic=True):
            return model.predict(rows[:, : obs_dim(K)], action_masks=rows[:, obs_dim(K):] > 0.5,
                                 deterministic=deterministic)

    assert couriers.play_day(small(), Trained(), 0).done
