"""Tests of PettingZoo ``slotting_v0`` (:mod:`envs.slotting.parallel_env`), on small warehouses.

* PettingZoo's parallel and AEC API and seed tests pass; the default config's shapes;
* the priority rule (Hypothesis): operators act in index order, a slot filled by an earlier
  operator is a *conflict* resolved by ``sim.nearest_legal``, a masked slot (``nearest``) is
  *invalid* and resolved the same way, no slot left is a *wait* (the operator keeps its
  load); the flags and counts in ``infos`` say so;
* units are conserved, rewards sum to minus the step cost, the same seed and actions give
  the same trajectory; a masked action with ``invalid_action="raise"`` is a one-line
  ``ValueError`` naming the agent; ParallelEnvBatch drives the env with masks.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envs import slotting_v0
from envs.core.batch import ParallelEnvBatch
from envs.core.config import ConfigError
from envs.slotting.env import SlottingEnv

SMALL = {"n_aisles": 2, "slots_per_side": 4, "levels": 1, "n_skus": 20, "episode_loads": 30,
         "initial_occupancy": 0.5}
FEW = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make(**kwargs):
    return slotting_v0.parallel_env(**{**SMALL, **kwargs})


def masked_actions(env, obs, rng) -> dict[str, int]:
    return {a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in env.agents}


def units_conserved(sim) -> bool:
    return sim.units_initial + sim.units_put_away == sim.units_picked + sim.units_cleared + int(sim.slot_units.sum())


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("kwargs", [{}, {"obs_map": "zones", "invalid_action": "raise", "n_operators": 2}])
def test_pettingzoo_api_and_seed_tests_pass(kwargs):
    from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test
    from pettingzoo.utils.conversions import parallel_to_aec

    parallel_api_test(make(**kwargs), num_cycles=60)
    # parallel_seed_test samples without the masks: only invalid_action="nearest" takes that
    nearest = {**kwargs, "invalid_action": "nearest"}
    parallel_seed_test(lambda: make(**nearest), num_cycles=30)
    api_test(slotting_v0.env(**SMALL, **kwargs), num_cycles=30)
    seed_test(lambda: parallel_to_aec(make(**kwargs)), num_cycles=30)


@pytest.mark.parametrize("obs_map, dim", [("grid", 4 + 3 * 2000 + 3 + 5), ("zones", 4 + 4 * 3 + 3 + 5)])
def test_default_config_shapes(obs_map, dim):
    env = slotting_v0.parallel_env(obs_map=obs_map)
    obs, infos = env.reset(seed=0)
    assert env.agents == ["operator_0", "operator_1", "operator_2"]
    space = env.observation_space("operator_0")
    assert space is env.observation_space("operator_2") and env.action_space("operator_1").n == 2000
    for a in env.agents:
        assert obs[a]["observation"].shape == (dim,) and obs[a]["observation"].dtype == np.float32
        assert obs[a]["action_mask"].shape == (2000,) and obs[a]["action_mask"].dtype == np.int8
        assert space.contains(obs[a])
    assert env.action_masks().shape == (3, 2000)


def test_observation_is_the_gymnasium_envs_for_the_same_load():
    env, gym_env = make(n_operators=1), SlottingEnv(**SMALL)
    obs, _ = env.reset(seed=4)
    gobs, ginfo = gym_env.reset(seed=4)
    for _ in range(10):
        assert np.array_equal(obs["operator_0"]["observation"], gobs)
        assert np.array_equal(obs["operator_0"]["action_mask"].astype(bool), ginfo["action_mask"])
        a = int(np.flatnonzero(ginfo["action_mask"])[-1])
        obs, rew, *_ = env.step({"operator_0": a})
        gobs, grew, *_, ginfo = gym_env.step(a)
        assert rew["operator_0"] == pytest.approx(grew)


@FEW
@given(seed=st.integers(0, 2**31 - 1), data=st.data(), n_operators=st.integers(2, 4),
       occupancy=st.sampled_from([0.5, 0.9]), invalid_action=st.sampled_from(["raise", "nearest"]))
def test_priority_rule_units_and_rewards(seed, data, n_operators, occupancy, invalid_action):
    env = make(n_operators=n_operators, initial_occupancy=occupancy, invalid_action=invalid_action,
               episode_loads=20)
    sim = env.sim
    obs, infos = env.reset(seed=seed)
    while env.agents:
        assert units_conserved(sim)
        masks = {a: obs[a]["action_mask"].astype(bool) for a in env.agents}
        skus = [infos[a]["sku"] for a in env.agents]
        assert skus == [sim.queue[p] for p in env._pos] and len(set(skus)) == len(skus)
        for a in env.agents:
            assert np.array_equal(masks[a], sim.legal_mask(infos[a]["sku"]))
        pick = data.draw(st.sampled_from(["mask", "same", "any"] if invalid_action == "nearest" else ["mask", "same"]))
        if pick == "any":
            actions = {a: data.draw(st.integers(0, env.n_slots - 1)) for a in env.agents}
        else:
            actions = {a: data.draw(st.sampled_from(np.flatnonzero(masks[a]).tolist())) for a in env.agents}
            if pick == "same":  # everyone on operator_0's slot where their mask allows: conflicts
                s = actions["operator_0"]
                actions = {a: s if masks[a][s] else v for a, v in actions.items()}
        # the rule, replayed
        taken = np.zeros(env.n_slots, dtype=bool)
        expected = []
        for a in env.agents:
            legal, c = masks[a], actions[a]
            now = legal & ~taken
            slot = c if now[c] else (sim.nearest_legal(c, now) if now.any() else -1)
            expected.append((slot, int(legal[c] and taken[c]), int(not legal[c]), int(slot < 0)))
            if slot >= 0:
                taken[slot] = True
        agents = list(env.agents)
        obs, rewards, terms, truncs, new_infos = env.step(actions)
        for a, (slot, conflict, invalid, wait) in zip(agents, expected, strict=True):
            i = new_infos[a]
            assert (i["slot"], i["conflict"], i["invalid"], i["wait"]) == (slot, conflict, invalid, wait)
            assert i["action"] == actions[a] and not truncs[a]
            if wait and env.agents and infos[a]["sku"] in sim.queue:  # it keeps its load
                assert new_infos[a]["sku"] == infos[a]["sku"] and env._pos[agents.index(a)] < n_operators
        first = new_infos[agents[0]]
        assert first["conflicts"] == sum(e[1] for e in expected) and first["waits"] == sum(e[3] for e in expected)
        assert first["invalids"] == sum(e[2] for e in expected) and expected[0][0] >= 0
        assert sum(rewards.values()) == pytest.approx(-first["cost"])
        assert first["cost"] == pytest.approx(first["pick_travel"] + first["putaway_cost"] + first["relocation_cost"])
        shared = (first["pick_travel"] + first["relocation_cost"]) / n_operators
        for a in agents:
            assert rewards[a] == pytest.approx(-(new_infos[a]["own_putaway_cost"] + shared))
        assert len(set(terms.values())) == 1
        if env.agents:
            infos = {a: {"sku": sim.queue[env._pos[k]]} for k, a in enumerate(env.agents)}
    assert units_conserved(sim) and sim.done


def test_conflict_goes_to_the_nearest_legal_slot():
    env = make(n_operators=2, initial_occupancy=0.0, episode_loads=10)
    obs, _ = env.reset(seed=0)
    free = np.flatnonzero(obs["operator_1"]["action_mask"])
    s = int(free[len(free) // 2])
    legal = env.sim.legal_mask(env.sim.queue[1])
    legal[s] = False
    expected = env.sim.nearest_legal(s, legal)
    _, _, _, _, infos = env.step({"operator_0": s, "operator_1": s})
    assert infos["operator_0"]["slot"] == s and infos["operator_0"]["conflict"] == 0
    assert infos["operator_1"]["slot"] == expected and infos["operator_1"]["conflict"] == 1
    assert infos["operator_1"]["conflicts"] == 1 and infos["operator_1"]["invalid"] == 0


def rollout(seed: int, action_seed: int, **kwargs):
    env = make(**kwargs)
    rng = np.random.default_rng(action_seed)
    obs, _ = env.reset(seed=seed)
    out = []
    while env.agents:
        actions = masked_actions(env, obs, rng)
        obs, rew, _, _, infos = env.step(actions)
        out.append((actions, {a: o["observation"].copy() for a, o in obs.items()}, rew,
                    {a: (i["slot"], i["kpis"]) for a, i in infos.items()}))
    return out


def test_same_seed_and_actions_same_trajectory():
    a, b, c = rollout(3, 7), rollout(3, 7), rollout(4, 7)
    assert len(a) == len(b)
    for (aa, oa, ra, ia), (ab, ob, rb, ib) in zip(a, b, strict=True):
        assert aa == ab and ra == rb and ia == ib
        assert all(np.array_equal(oa[k], ob[k]) for k in oa)
    assert [x[0] for x in a] != [x[0] for x in c] or any(x[2] != y[2] for x, y in zip(a, c, strict=False))


def test_masked_action_with_raise_is_a_one_line_error_naming_the_agent():
    env = make(invalid_action="raise", initial_occupancy=0.6)
    obs, _ = env.reset(seed=1)
    masks = {a: obs[a]["action_mask"] for a in env.agents}
    actions = {a: int(np.flatnonzero(m)[0]) for a, m in masks.items()}
    actions["operator_1"] = int(np.flatnonzero(masks["operator_1"] == 0)[0])
    before = env.sim.slot_sku.copy(), env.sim.slot_units.copy(), list(env.sim.queue)
    with pytest.raises(ValueError, match=r"^actions\['operator_1'\]: slot \d+ is masked") as err:
        env.step(actions)
    assert "\n" not in str(err.value)
    assert np.array_equal(env.sim.slot_sku, before[0]) and np.array_equal(env.sim.slot_units, before[1])
    assert env.sim.queue == before[2]
    # out of range / non-integer / missing / unknown: one line, in both modes
    for inv in ("raise", "nearest"):
        env = make(invalid_action=inv)
        env.reset(seed=0)
        for bad in (-1, 16, 1.5, True, "3"):
            with pytest.raises(ValueError, match=r"^actions\['operator_0'\]: expected an integer in \[0, 15\]") as err:
                env.step({**dict.fromkeys(env.agents, 0), "operator_0": bad})
            assert "\n" not in str(err.value)
        with pytest.raises(ValueError, match="missing for 'operator_2'"):
            env.step({"operator_0": 0, "operator_1": 0})
        with pytest.raises(ValueError, match="unknown agent"):
            env.step({**dict.fromkeys(env.agents, 0), "operator_9": 0})


def test_config_errors_and_episode_protocol():
    for kwargs, field in [({"invalid_action": "wait"}, "env.invalid_action"), ({"n_operators": 0}, "env.n_operators"),
                          ({"n_operators": 21}, "env.n_operators"), ({"obs_map": "image"}, "env.obs_map"),
                          ({"n_zones": 0}, "env.n_zones"), ({"colour": 1}, "env")]:
        with pytest.raises(ConfigError, match=f"^{field}") as err:
            make(**kwargs)
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="render_mode"):
        make(render_mode="human")
    env = make()
    with pytest.raises(RuntimeError, match="before reset"):
        env.step({})
    rollout_env = make(episode_loads=6)
    obs, _ = rollout_env.reset(seed=0)
    rng = np.random.default_rng(0)
    while rollout_env.agents:
        obs, *_ = rollout_env.step(masked_actions(rollout_env, obs, rng))
    assert rollout_env.sim.loads_put_away >= 6
    with pytest.raises(RuntimeError, match="after the episode ended"):
        rollout_env.step({})


def test_rgb_array_renders():
    env = make(render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    env.step(masked_actions(env, obs, np.random.default_rng(0)))
    image = env.render()
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    assert make().render() is None


def test_parallel_env_batch_steps_with_masks():
    batch = ParallelEnvBatch(lambda: make(episode_loads=12), 2, seed=0)
    assert batch.masked and batch.num_envs == 6 and batch.observation_space.shape == (4 + 3 * 16 + 3 + 5,)
    obs = batch.reset()
    rng = np.random.default_rng(0)
    assert obs.shape == (6, batch.observation_space.shape[0])
    ended = 0
    for _ in range(12):
        masks = batch.action_masks()
        assert masks.shape == (6, 16) and masks.dtype == bool and masks.any(axis=1).all()
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        obs, rewards, dones, infos = batch.step(actions)
        assert obs.shape == (6, batch.observation_space.shape[0]) and rewards.shape == (6,) and len(infos) == 6
        ended += int(dones.sum())
        for i in np.flatnonzero(dones):
            assert "terminal_observation" in infos[i] and infos[i]["TimeLimit.truncated"] is False
    assert ended > 0
