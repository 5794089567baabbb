"""Tests of PettingZoo ``network_v0`` (:mod:`envs.network.parallel_env`), on small networks.

* PettingZoo's parallel and AEC API tests and seed tests pass;
* one agent per node (names in topological order), one observation space and one action
  space shared by every agent; the documented observation layout (the node's feature rows,
  node one-hot, depth, leaf flag) and ``state()`` = ``Network-v0``'s observation;
* agreement with ``Network-v0``: the same seed and the same orders give the same trajectory,
  the individual rewards add up to the central reward (team rewards are its M-th part);
* invalid actions, missing or unknown agents are one-line ``ValueError`` s naming the agent
  (and change nothing); the episode protocol and config errors.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from envs import network_v0
from envs.core.config import ConfigError
from envs.network.config import DEFAULT_NODES, NetworkConfig
from envs.network.env import NetworkEnv
from envs.network.parallel_env import NetworkParallelEnv
from tests.conftest import one_line_error

SMALL = {"n_skus": 3, "episode_length": 25}
SERIAL = [{"name": "stage2", "lead_time": 2}, {"name": "stage1", "parent": "stage2", "lead_time": 1},
          {"name": "stage0", "parent": "stage1", "lead_time": 1, "penalty": 9.0}]
DEEP = [{"name": "R", "lead_time": 2}, {"name": "DC", "parent": "R"}, {"name": "A", "parent": "DC"},
        {"name": "B", "parent": "DC", "lead_time_max": 3}, {"name": "C", "parent": "R", "lead_time": 2}]


def make(**kwargs) -> NetworkParallelEnv:
    return network_v0.parallel_env(**{**SMALL, **kwargs})


API_CASES = [
    {},
    {"nodes": SERIAL, "action_type": "continuous", "reward": "team", "backorders": True},
    {"nodes": DEEP, "action_type": "order", "allocation": "balanced", "internal": "lost"},
    {"action_type": "level", "transshipment": {"mode": "balance", "lead_time": 1}, "allocation": "priority"},
]


# Agent names are the node names (not PettingZoo's <descriptor>_<number> suggestion) and the
# per-node actions are MultiDiscrete (one entry per SKU): both are by design.
@pytest.mark.filterwarnings("ignore:We recommend agents to be named:UserWarning")
@pytest.mark.filterwarnings("ignore:Action space for each agent probably should be:UserWarning")
@pytest.mark.parametrize("kwargs", API_CASES, ids=str)
def test_pettingzoo_api_and_seed_tests_pass(kwargs):
    from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

    parallel_api_test(make(**kwargs), num_cycles=30)
    parallel_seed_test(lambda: make(**kwargs), num_cycles=30)
    api_test(network_v0.env(**SMALL, **kwargs), num_cycles=15)
    seed_test(lambda: network_v0.env(**SMALL, **kwargs), num_cycles=15)


def test_agents_are_the_nodes_in_topological_order_with_shared_spaces():
    shuffled = [DEEP[3], DEEP[0], DEEP[4], DEEP[2], DEEP[1]]
    env = make(nodes=shuffled, action_type="order")
    assert env.possible_agents == ["R", "C", "DC", "B", "A"]  # parents first; siblings in config order
    obs_space, act_space = env.observation_space("R"), env.action_space("R")
    for a in env.possible_agents:
        assert env.observation_space(a) is obs_space and env.action_space(a) is act_space
    # order actions: one range per SKU fitting every node (the largest q_max over the nodes)
    assert np.array_equal(act_space.nvec, env.network.q_max.max(axis=0) + 1)
    assert env.render_mode is None and env.render() is None and env.metadata["name"] == "network_v0"
    assert env.state_space.shape == (5 * 3 * 16,)


def test_observation_layout_and_state():
    env = make(nodes=DEEP)
    obs, infos = env.reset(seed=0)
    f, net = env.faces, env.network
    n_f = f.n * f.n_features
    assert env.agents == list(net.names) and infos == {a: {"period": 0} for a in env.agents}
    for _ in range(2):
        feats = f.features()
        assert np.array_equal(env.state(), feats.ravel())
        for k, a in enumerate(env.agents):
            o = obs[a]
            assert o.shape == (n_f + 5 + 2,) and o.dtype == np.float32 and env.observation_space(a).contains(o)
            assert np.array_equal(o[:n_f], feats[k].ravel())  # SKU-major: i * F + f
            assert np.array_equal(o[:n_f].reshape(f.n, f.n_features), feats[k])
            assert np.array_equal(o[n_f:n_f + 5], np.eye(5)[k])
            assert o[n_f + 5] == net.depth[k] and o[n_f + 6] == float(k in net.leaves)
        obs, *_ = env.step({a: env.action_space(a).sample() for a in env.agents})
    assert [float(obs[a][-2]) for a in env.possible_agents] == [0.0, 1.0, 1.0, 2.0, 2.0]
    assert [float(obs[a][-1]) for a in env.possible_agents] == [0.0, 0.0, 1.0, 1.0, 1.0]


# -- agreement with Network-v0 ------------------------------------------------------------
AGREEMENT = [
    ({"action_type": "order"}, "individual"),
    ({"action_type": "order", "nodes": DEEP, "backorders": True, "allocation": "balanced"}, "team"),
    ({"action_type": "level", "nodes": SERIAL, "internal": "lost"}, "individual"),
    ({"action_type": "continuous", "transshipment": {"mode": "balance", "lead_time": 0}}, "individual"),
    ({"action_type": "discrete", "shipping": "before_arrivals", "nodes": [
        {**n, "order_capacity": 12, "storage_capacity": 40} for n in DEFAULT_NODES]}, "team"),
]


@pytest.mark.parametrize("kwargs, reward", AGREEMENT, ids=str)
def test_agrees_with_network_v0_same_seed_same_actions(kwargs, reward):
    cfg = {**SMALL, "episode_length": 30, **kwargs}
    par, central = make(**cfg, reward=reward), NetworkEnv(**cfg)
    obs, _ = par.reset(seed=11)
    cobs, _ = central.reset(seed=11)
    rng = np.random.default_rng(0)
    m = par.m
    total, central_total = 0.0, 0.0
    while par.agents:
        assert np.array_equal(par.state(), cobs)
        for k, a in enumerate(par.agents):
            assert np.array_equal(obs[a][: cobs.size // m], cobs.reshape(m, -1)[k])
        if kwargs["action_type"] == "order":  # each node within its own range (valid centrally too)
            actions = rng.integers(0, par.network.q_max + 1)
        else:
            actions = np.stack([par.action_space("x").sample() for _ in range(m)])
        obs, rewards, terms, truncs, infos = par.step({a: actions[k] for k, a in enumerate(par.agents)})
        cobs, creward, cterm, ctrunc, cinfo = central.step(actions.ravel())
        assert set(truncs.values()) == {ctrunc} and set(terms.values()) == {cterm} == {False}
        if reward == "team":
            assert all(r == pytest.approx(creward / m) for r in rewards.values())
        else:
            for k, a in enumerate(rewards):
                assert rewards[a] == -infos[a]["own_cost"] == -cinfo["node_cost"][k]
        assert sum(rewards.values()) == pytest.approx(creward, rel=1e-12, abs=1e-9)
        for info in infos.values():
            assert info["cost"] == cinfo["cost"] and np.array_equal(info["node_cost"], cinfo["node_cost"])
            assert info["period"] == cinfo["period"] and info["fill_rate"] == cinfo["fill_rate"]
        total += sum(rewards.values())
        central_total += creward
    assert ctrunc and central.sim.t == 30
    assert total == pytest.approx(central_total)
    assert np.array_equal(par.sim.stock, central.sim.stock)


@pytest.mark.parametrize("allocation, expected", [
    ("priority", [([15, 5], [0, 5]), ([0, 0], [0, 5]), ([28, 2], [0, 3])]),
    ("proportional", [([12, 8], [3, 2]), ([0, 0], [3, 2]), ([28, 2], [3, 0])]),
    ("balanced", [([10, 10], [5, 0]), ([0, 0], [5, 0]), ([30, 0], [3, 0])]),
])
def test_the_mfcs_orders_compete_for_the_dc_stock_through_the_allocation(allocation, expected):
    """The DC holds 20 units, MFC1 orders 15 and MFC2 10; two periods later the DC's own
    order of 30 arrives and MFC1 orders 28 more: (shipped, owed) to MFC1, MFC2 per period."""
    nodes = [{"name": "DC", "initial_inventory": 20, "lead_time": 2},
             {"name": "MFC1", "parent": "DC"}, {"name": "MFC2", "parent": "DC"}]
    env = make(nodes=nodes, n_skus=1, catalogue="uniform", mean_demand=1e-6, initial_state="given",
               action_type="order", allocation=allocation, q_max=50)
    env.reset(seed=0)
    seen = []
    for dc, mfc1, mfc2 in [(30, 15, 10), (0, 0, 0), (0, 28, 0)]:
        env.step({"DC": np.array([dc]), "MFC1": np.array([mfc1]), "MFC2": np.array([mfc2])})
        seen.append((env.sim.last["shipped"][1:, 0].tolist(), env.sim.owed[1:, 0].tolist()))
    assert seen == expected and env.sim.stock[0, 0] == 0


def test_rows_convert_like_the_central_face():
    env = make(nodes=SERIAL, action_type="level")
    env.reset(seed=1)
    a = np.array([[0, 5, 11], [3, 3, 3], [10, 1, 7]])
    whole = env.faces.orders(a)
    assert all(np.array_equal(env.faces.orders(a[[k]], rows=[k])[0], whole[k]) for k in range(3))


def rollout(seed: int, action_seed: int, **kwargs):
    env = make(**kwargs)
    env.reset(seed=seed)
    space = env.action_space("x")
    space.seed(action_seed)
    out = []
    while env.agents:
        obs, rew, _, _, infos = env.step({a: space.sample() for a in env.agents})
        out.append((np.stack(list(obs.values())), list(rew.values()), infos[env.possible_agents[-1]]["demand"]))
    return out


def test_same_seed_same_trajectory_and_different_seed_differs():
    kw = {"nodes": DEEP, "transshipment": {"mode": "balance", "lead_time": 2}}
    a, b, c = rollout(3, 7, **kw), rollout(3, 7, **kw), rollout(4, 7, **kw)
    assert len(a) == len(b) == 25
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x[0], y[0]) and x[1] == y[1] and x[2] == y[2]
    assert any(x[2] != y[2] for x, y in zip(a, c, strict=True))


def test_reset_without_seed_continues_the_stream():
    env = make()
    env.reset(seed=0)
    first = env.sim.rng
    env.reset()
    assert env.sim.rng is first


# -- errors -------------------------------------------------------------------------------
def test_invalid_actions_are_one_line_errors_naming_the_agent_and_change_nothing():
    env = make()  # discrete, 9 choices, 3 SKUs
    env.reset(seed=0)
    good = {a: np.zeros(3, dtype=np.int64) for a in env.agents}
    before = env.sim.stock.copy(), env.sim.t
    cases = [
        ({**good, "MFC2": np.array([0, 9, 0])}, r"^actions\['MFC2'\]: expected integers in \[0, 8\], shape \(3,\), got values in \[0, 9\]$"),
        ({**good, "MFC2": np.array([0, -1, 0])}, r"^actions\['MFC2'\]: expected integers in"),
        ({**good, "DC": np.zeros(4, dtype=np.int64)}, r"^actions\['DC'\]: expected integers .* got shape \(4,\)$"),
        ({**good, "DC": np.zeros(3)}, r"^actions\['DC'\]: expected integers .* got dtype float64"),
        ({**good, "MFC3": "abc"}, r"^actions\['MFC3'\]: expected integers in \[0, 8\], shape \(3,\), got shape \(\)$"),
        ({k: v for k, v in good.items() if k != "MFC1"}, r"^actions: missing for 'MFC1'"),
        ({**good, "MFC9": np.zeros(3, dtype=np.int64)}, r"^actions: unknown agent 'MFC9'; the agents are DC, "),
        ([0, 0, 0, 0], r"^actions: expected a dict"),
    ]
    for actions, match in cases:
        msg = one_line_error(ValueError, env.step, actions)
        assert re.search(match, msg), msg
    assert np.array_equal(env.sim.stock, before[0]) and env.sim.t == before[1]
    cont = make(action_type="continuous")
    cont.reset(seed=0)
    bad = {a: np.zeros(3, dtype=np.float32) for a in cont.agents}
    bad["MFC1"] = np.array([0.0, 1.5, 0.0], dtype=np.float32)
    assert re.search(r"^actions\['MFC1'\]: expected floats in \[-1, 1\]", one_line_error(ValueError, cont.step, bad))


def test_episode_protocol():
    env = make(episode_length=3)
    assert "before reset" in one_line_error(RuntimeError, env.step, {})
    env.reset(seed=0)
    for t in range(3):
        _, _, terms, truncs, _ = env.step({a: env.action_space(a).sample() for a in env.agents})
        assert set(truncs.values()) == {t == 2} and set(terms.values()) == {False}
    assert env.agents == []
    assert "after the episode ended" in one_line_error(RuntimeError, env.step, {})
    env.reset(seed=0)
    assert env.agents == env.possible_agents


def test_config_errors():
    for kwargs, field in [({"reward": "shared"}, r"env\.reward"), ({"colour": 1}, r"env\.colour"),
                          ({"nodes": [{"name": "A"}, {"name": "A"}]}, r"env\.nodes\[1\]\.name"),
                          ({"nodes": [{"name": "A", "parent": "Z"}]}, r"env\.nodes\[0\]\.parent"),
                          ({"allocation": "fair"}, r"env\.allocation")]:
        assert re.match(field, one_line_error(ConfigError, make, **kwargs))
    assert "render_mode" in one_line_error(ValueError, make, render_mode="human")
    net = NetworkConfig(n_skus=2).build()
    assert NetworkParallelEnv(network=net).network is net
    assert "either" in one_line_error(ValueError, NetworkParallelEnv, network=net, n_skus=3)
    assert NetworkParallelEnv(config=NetworkConfig(n_skus=2)).n == 2
