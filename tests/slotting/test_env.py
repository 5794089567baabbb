"""Tests of ``fulfillgym/Slotting-v0`` (:mod:`envs.slotting.env`), on small warehouses.

* the Gymnasium and SB3 env checkers pass (slot and zone modes, grid and zone maps);
* masks are respected (Hypothesis): a masked-in action never raises, a masked-out or
  out-of-range one raises a one-line ``ValueError`` and changes nothing;
* ``invalid_action="nearest"``: a masked slot goes to ``sim.nearest_legal``, a masked zone to
  the nearest zone with a legal slot (ties to the lower index), ``info["invalid"]`` says so;
  out-of-range actions still raise; the observation's popularity features are the estimate's;
* a seed fixes the trajectory; rewards are minus the step costs, which add up to their
  parts and to the simulator's totals; relocations are charged to the next step;
* observations lie in the observation space; the zone action stores at the zone's closest
  legal slot; ``rgb_array`` renders; MaskablePPO learns for 2k steps without error.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import envs  # noqa: F401  (registers the ids)
from envs.core.config import ConfigError
from envs.slotting.env import SlottingEnv
from envs.slotting.policies import zone_slot

ENV_ID = "fulfillgym/Slotting-v0"
SMALL = {"n_aisles": 3, "slots_per_side": 4, "levels": 2, "n_skus": 12, "episode_loads": 40}
FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make(**kwargs) -> SlottingEnv:
    return SlottingEnv(**{**SMALL, **kwargs})


def rollout(env: SlottingEnv, seed: int, action_seed: int):
    """Masked random actions to the end; observations, rewards and infos."""
    rng = np.random.default_rng(action_seed)
    obs, info = env.reset(seed=seed)
    out = [(obs, 0.0, info)]
    done = False
    while not done:
        assert np.array_equal(info["action_mask"], env.action_masks())
        a = int(rng.choice(np.flatnonzero(info["action_mask"])))
        obs, reward, done, truncated, info = env.step(a)
        assert not truncated
        out.append((obs, reward, info))
    return out


@pytest.mark.parametrize("kwargs", [{}, {"action_mode": "zone"}, {"action_mode": "zone", "obs_map": "zones",
                                                                     "n_zones": [0.2, 0.3, 0.5]}])
def test_env_checkers_pass(kwargs):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    # an empty warehouse at reset: gymnasium's step-determinism check samples its action
    # *before* reset(seed=123), from the previous state's mask, so it must be legal after it
    kwargs = {**kwargs, "initial_occupancy": 0.0}
    gym_check_env(make(**kwargs), skip_render_check=True)
    sb3_check_env(make(**kwargs), warn=True)
    # the default warehouse through gymnasium.make: sample() draws legal actions
    env = gymnasium.make(ENV_ID)
    env.reset(seed=0)
    for _ in range(20):
        env.step(env.action_space.sample())


def test_check_env_passes_with_nearest_and_a_plain_discrete_space():
    # invalid_action="nearest" needs no legal sampling: a half-full warehouse passes with Discrete
    env = make(initial_occupancy=0.5, invalid_action="nearest")
    env.action_space = gymnasium.spaces.Discrete(env.action_space.n)
    gym_check_env(env, skip_render_check=True)


def test_popularity_features_use_the_estimate():
    env = make(initial_occupancy=0.6, obs_map="grid")
    obs, _ = env.reset(seed=2)
    for _ in range(10):
        obs, *_ = env.step(int(np.flatnonzero(env.action_masks())[-1]))
    sim, n = env.sim, env.sim.n_slots
    est = sim.popularity_estimate()
    active = sim.demand.active
    n_active = int(active.sum())
    sku = sim.queue[0]
    assert obs[0] == pytest.approx(min(est[sku] * n_active, 10.0), rel=1e-5)
    assert obs[1] == pytest.approx(np.sum(est[active] > est[sku]) / (n_active - 1), rel=1e-5)
    held = sim.slot_sku >= 0
    rel = np.where(held, np.minimum(est[np.maximum(sim.slot_sku, 0)] * n_active / 10.0, 1.0), 0.0)
    assert np.allclose(obs[4:4 + 3 * n].reshape(n, 3)[:, 2], rel, atol=1e-6)


@FEW
@given(seed=st.integers(0, 2**31 - 1), data=st.data(),
       mode=st.sampled_from(["slot", "zone"]), obs_map=st.sampled_from(["grid", "zones"]),
       occupancy=st.sampled_from([0.0, 0.5, 0.9]))
def test_masks_are_respected(seed, data, mode, obs_map, occupancy):
    env = make(action_mode=mode, obs_map=obs_map, initial_occupancy=occupancy, episode_loads=15)
    obs, info = env.reset(seed=seed)
    n = env.action_space.n
    for bad in (-1, n, 1.5, "3", True, np.array([0, 1])):
        with pytest.raises(ValueError, match=r"^action: expected an integer"):
            env.step(bad)
    done = False
    while not done:
        mask = info["action_mask"]
        assert mask.dtype == bool and mask.shape == (n,) and mask.any()
        a = data.draw(st.integers(0, n - 1))
        if not mask[a]:
            before = (env.sim.slot_sku.copy(), env.sim.slot_units.copy(), list(env.sim.queue))
            with pytest.raises(ValueError, match=r"^action: ") as err:
                env.step(a)
            assert "\n" not in str(err.value)
            assert np.array_equal(env.sim.slot_sku, before[0]) and np.array_equal(env.sim.slot_units, before[1])
            assert env.sim.queue == before[2]
            a = data.draw(st.sampled_from(np.flatnonzero(mask).tolist()))
        obs, reward, done, _, info = env.step(a)
        assert env.observation_space.contains(obs) and info["invalid"] == 0
        if mode == "slot":
            assert info["slot"] == a


@FEW
@given(seed=st.integers(0, 2**31 - 1), data=st.data(), mode=st.sampled_from(["slot", "zone"]),
       occupancy=st.sampled_from([0.5, 0.9]))
def test_invalid_action_nearest_replaces_masked_actions(seed, data, mode, occupancy):
    env = make(action_mode=mode, initial_occupancy=occupancy, invalid_action="nearest", episode_loads=15)
    obs, info = env.reset(seed=seed)
    n = env.action_space.n
    for bad in (-1, n, 1.5, True):
        with pytest.raises(ValueError, match=r"^action: expected an integer"):
            env.step(bad)
    done = False
    while not done:
        mask, legal = info["action_mask"], env.sim.free_mask()
        a = data.draw(st.integers(0, n - 1))
        if mode == "slot":
            expected = a if mask[a] else env.sim.nearest_legal(a, legal)
        else:
            zones = np.flatnonzero(mask)
            z = a if mask[a] else int(min(zones, key=lambda k: (abs(k - a), k)))
            expected = zone_slot(env.sim.layout, legal, env.zones, z)
        obs, reward, done, _, info = env.step(a)
        assert info["slot"] == expected and info["invalid"] == int(not mask[a])


def test_same_seed_same_trajectory_and_different_seed_differs():
    a, b, c = (rollout(make(), seed, 7) for seed in (3, 3, 4))
    assert len(a) == len(b)
    for (oa, ra, ia), (ob, rb, ib) in zip(a, b, strict=True):
        assert np.array_equal(oa, ob) and ra == rb and ia["kpis"] == ib["kpis"]
    assert not all(np.array_equal(x[0], y[0]) for x, y in zip(a, c, strict=False))


@pytest.mark.parametrize("mode", ["slot", "zone"])
def test_costs_add_up(mode):
    env = make(action_mode=mode, relocation_cost=4.0, putaway_cost_per_m=0.5)
    steps = rollout(env, 1, 2)
    total = 0.0
    for _, reward, info in steps[1:]:
        parts = info["pick_travel"] + info["putaway_cost"] + info["relocation_cost"]
        assert info["cost"] == pytest.approx(parts) and reward == pytest.approx(-info["cost"])
        assert info["putaway_cost"] == pytest.approx(0.5 * info["putaway_travel"])
        total += info["cost"]
    kpis = steps[-1][2]["kpis"]
    assert total == pytest.approx(env.sim.totals.cost)
    assert sum(i["pick_travel"] for *_, i in steps[1:]) == pytest.approx(
        kpis["pick_travel"] - env.sim.reset_result.pick_travel)
    assert kpis["loads_put_away"] == env.config.episode_loads
    # a relocation between steps is charged to the next step
    env.reset(seed=5)
    held = np.flatnonzero(env.sim.slot_sku >= 0)
    free = np.flatnonzero(env.sim.slot_sku < 0)
    env.sim.relocate(int(held[0]), int(free[0]))
    _, reward, _, _, info = env.step(int(np.flatnonzero(env.action_masks())[0]))
    assert info["relocations"] == 1 and info["relocation_cost"] == 4.0
    assert reward == pytest.approx(-(info["pick_travel"] + info["putaway_cost"] + 4.0))


def test_zone_mode_stores_at_the_zones_closest_legal_slot():
    env = make(action_mode="zone", n_zones=4, initial_occupancy=0.7)
    obs, info = env.reset(seed=11)
    assert env.action_space.n == 4 and set(np.unique(env.zones)) == {0, 1, 2, 3}
    for _ in range(20):
        legal = env.sim.free_mask()
        z = int(np.flatnonzero(info["action_mask"])[-1])
        expected = zone_slot(env.sim.layout, legal, env.zones, z)
        obs, _, done, _, info = env.step(z)
        assert info["slot"] == expected
        if done:
            break


def test_errors_are_one_line():
    for kwargs, field in [({"action_mode": "aisle"}, "env.action_mode"), ({"obs_map": "image"}, "env.obs_map"),
                          ({"n_zones": 0}, "env.n_zones"), ({"n_zones": [0.5, 0.6]}, "env.n_zones"),
                          ({"n_zones": True}, "env.n_zones"), ({"invalid_action": "wait"}, "env.invalid_action"),
                          ({"invalid_action": None}, "env.invalid_action"), ({"colour": 1}, "env")]:
        with pytest.raises(ConfigError, match=f"^{field}") as err:
            make(**kwargs)
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="render_mode"):
        make(render_mode="human")
    env = make()
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(0)
    with pytest.raises(ValueError, match="reset"):
        env.reset(options={"x": 1})


def test_rgb_array_renders():
    env = make(render_mode="rgb_array")
    env.reset(seed=0)
    for _ in range(5):
        env.step(env.action_space.sample())
    image = env.render()
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    assert make().render() is None


def test_maskable_ppo_learns_2k_steps():
    import torch
    from sb3_contrib import MaskablePPO

    env = make(episode_loads=200)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: one thread is several times faster
    try:
        model = MaskablePPO("MlpPolicy", env, n_steps=256, batch_size=64, n_epochs=2, seed=0, verbose=0,
                            device="cpu")
        model.learn(total_timesteps=2048)
    finally:
        torch.set_num_threads(threads)
    obs, info = env.reset(seed=1)
    action, _ = model.predict(obs, action_masks=env.action_masks(), deterministic=True)
    assert info["action_mask"][int(action)]
