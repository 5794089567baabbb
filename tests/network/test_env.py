"""Specification tests of ``fulfillgym/Network-v0`` (:class:`envs.network.env.NetworkEnv`).

* Gymnasium's and SB3's env checkers pass, without warnings, for every ``action_type`` on
  small networks: a serial 3-stage chain, the default DC + 3 MFCs tree, backorders,
  internal lost, each allocation rule, transshipment with lead time 0 and 2, random lead
  times, order and storage capacities, revenue, OR-Gym's shipping timing;
* the same seed gives the same trajectory (another seed another one); truncation;
* the action conversion of each ``action_type`` (``envs.network.spaces``);
* invalid actions (range, shape, dtype) are one-line ``ValueError`` s and change nothing;
  config errors are one-line ``ConfigError`` s naming the field.
"""

from __future__ import annotations

import math
import re
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs  # noqa: F401  (registers the ids)
from envs.core.config import ConfigError
from envs.network.config import DEFAULT_NODES
from envs.network.env import NetworkEnv
from tests.conftest import one_line_error

NETWORK_ID = "fulfillgym/Network-v0"
SMALL = {"n_skus": 3, "episode_length": 30}
SERIAL = [{"name": "stage2", "lead_time": 2, "holding_cost": 0.25},
          {"name": "stage1", "parent": "stage2", "lead_time": 1, "holding_cost": 0.5},
          {"name": "stage0", "parent": "stage1", "lead_time": 1, "holding_cost": 1.0, "penalty": 9.0}]
TREE_CAPS = [{**DEFAULT_NODES[0], "order_capacity": 40, "storage_capacity": 120},
             *({**n, "order_capacity": 15, "storage_capacity": 25} for n in DEFAULT_NODES[1:])]
CONFIGS = {
    "serial": {"nodes": SERIAL, "backorders": True},
    "tree": {},
    "backorders": {"backorders": True},
    "internal_lost": {"internal": "lost", "supplier_penalty": 2.0},
    "priority": {"allocation": "priority"},
    "balanced": {"allocation": "balanced"},
    "transship_0": {"transshipment": {"mode": "balance", "lead_time": 0}},
    "transship_2": {"transshipment": {"mode": "balance", "lead_time": 2, "threshold": 2.0}},
    "random_leads": {"nodes": [{**n, "lead_time_max": n["lead_time"] + 2} for n in DEFAULT_NODES]},
    "capacities": {"nodes": TREE_CAPS, "revenue": True},
    "before_arrivals": {"shipping": "before_arrivals", "initial_state": "zero"},
}
ACTION_TYPES = ("discrete", "level", "continuous", "order")
CASES = [(name, a) for name in CONFIGS for a in ACTION_TYPES]


def make(name: str = "tree", **kwargs) -> NetworkEnv:
    return gymnasium.make(NETWORK_ID, **{**SMALL, **CONFIGS[name], **kwargs}).unwrapped


# -- API conformance ------------------------------------------------------------------------
@pytest.mark.parametrize("name, action_type", CASES)
def test_gymnasium_and_sb3_checkers_pass_without_warnings(name, action_type):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gymnasium_check_env(make(name, action_type=action_type))
        sb3_check_env(make(name, action_type=action_type), warn=True)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("name", list(CONFIGS))
def test_random_episode_observations_in_space_and_reward_is_minus_cost(name):
    env = make(name, action_type="order", episode_length=25)
    env.action_space.seed(1)
    obs, info = env.reset(seed=2)
    assert env.observation_space.contains(obs) and info == {"period": 0}
    f = env.faces
    assert obs.shape == (f.m * f.n * (8 + env.config.pipeline_slots),)
    for t in range(25):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs) and np.isfinite(obs).all()
        assert reward == pytest.approx(-info["cost"]) and reward == pytest.approx(-info["node_cost"].sum())
        assert not terminated and truncated == (t == 24) and info["period"] == t + 1
        assert 0.0 <= info["fill_rate"] <= 1.0
    assert np.array_equal(obs, env.faces.features().ravel())


def test_default_config_shapes():
    env = gymnasium.make(NETWORK_ID).unwrapped
    obs, _ = env.reset(seed=0)
    assert env.network.names == ("DC", "MFC1", "MFC2", "MFC3")
    assert env.action_space.shape == (4 * 10,) and obs.shape == (4 * 10 * 16,)
    assert obs.dtype == np.float32


# -- episodes, seeding ----------------------------------------------------------------------
def trajectory(seed: int, name: str = "random_leads", action_seed: int = 0, **kwargs):
    env = make(name, episode_length=40, **kwargs)
    env.action_space.seed(action_seed)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    truncated = False
    while not truncated:
        obs, reward, _, truncated, info = env.step(env.action_space.sample())
        out += [obs, np.array([reward, info["demand"], info["shipped"]])]
    return np.concatenate(out)


@pytest.mark.parametrize("name", ["random_leads", "transship_2", "capacities"])
def test_same_seed_same_trajectory_and_different_seed_differs(name):
    assert np.array_equal(trajectory(3, name), trajectory(3, name))
    assert not np.array_equal(trajectory(3, name), trajectory(4, name))


def test_reset_restarts_the_episode_and_step_outside_an_episode_is_an_error():
    env = make(episode_length=3)
    msg = one_line_error(RuntimeError, env.step, env.action_space.sample())
    assert "before reset" in msg
    first, _ = env.reset(seed=5)
    for _ in range(3):
        env.step(env.action_space.sample())
    assert "after the episode ended" in one_line_error(RuntimeError, env.step, env.action_space.sample())
    again, _ = env.reset(seed=5)
    assert np.array_equal(first, again)
    assert "options" in one_line_error(ValueError, env.reset, seed=0, options={"x": 1})
    assert "render_mode" in one_line_error(ValueError, NetworkEnv, render_mode="human")


# -- actions ------------------------------------------------------------------------------
def test_each_action_type_converts_to_the_documented_orders():
    for action_type in ACTION_TYPES:
        env = make("serial", action_type=action_type, n_skus=2)
        env.reset(seed=0)
        f, cfg = env.faces, env.config
        mu, lead1 = f.mu, env.network.lead_time()[:, None] + 1
        if action_type == "discrete":
            a = np.array([[0, 1], [2, 8], [4, 5]])
            expected = np.ceil(np.asarray(cfg.order_multiples)[a] * mu - 1e-9)
        elif action_type == "level":
            a = np.array([[0, 11], [4, 6], [9, 10]])
            target = np.ceil(np.asarray(cfg.level_multiples)[a] * mu * lead1 - 1e-9)
            expected = np.maximum(target - env.sim.installation_position(), 0)
        elif action_type == "continuous":
            a = np.array([[-1.0, 1.0], [0.0, -0.5], [0.25, 0.9]], dtype=np.float32)
            expected = np.ceil((a.astype(np.float64) + 1) / 2 * cfg.max_multiple * mu - 1e-9)
        else:
            a = np.array([[0, 3], [7, 1], [2, 0]])
            expected = a
        assert np.array_equal(f.orders(a), expected.astype(np.int64)), action_type
        env.step(a.ravel())
        assert np.array_equal(env.sim.last["orders"], expected), action_type


def test_a_positive_multiple_orders_at_least_one_unit_of_a_slow_mover():
    env = make(catalogue="uniform", mean_demand=0.01, n_skus=1)
    env.reset(seed=0)
    assert env.faces.orders(np.array([[0], [1], [1], [1]])).ravel().tolist() == [0, 1, 1, 1]


@pytest.mark.parametrize("action_type, bad, match", [
    ("discrete", np.full(12, 9), "expected integers in"),
    ("discrete", np.full(12, -1), "expected integers in"),
    ("discrete", np.zeros(11, dtype=np.int64), r"shape \(12,\), got shape"),
    ("discrete", np.zeros((12, 2), dtype=np.int64), r"shape \(12,\), got shape"),
    ("discrete", np.zeros(12), "expected integers"),
    ("discrete", np.array(["a"] * 12), "expected integers"),
    ("level", np.full(12, 12), "expected integers in"),
    ("continuous", np.full(12, 1.5, dtype=np.float32), r"expected floats in \[-1, 1\]"),
    ("continuous", np.full(12, np.nan, dtype=np.float32), r"expected floats in \[-1, 1\]"),
    ("continuous", np.zeros(13, dtype=np.float32), r"shape \(12,\), got shape"),
    ("continuous", np.array([True] * 12), "expected floats"),
    ("order", np.full(12, 10**9), "expected integers in"),
    ("order", np.full(12, 0.0), "expected integers"),
])
def test_invalid_actions_are_one_line_value_errors_and_change_nothing(action_type, bad, match):
    env = make(action_type=action_type)
    env.reset(seed=0)
    before = env.sim.stock.copy(), env.sim.t
    msg = one_line_error(ValueError, env.step, bad)
    assert msg.startswith("action: ") and re.search(match, msg), msg
    assert np.array_equal(env.sim.stock, before[0]) and env.sim.t == before[1]


# -- config errors ------------------------------------------------------------------------
def nodes(*changes: tuple[int, dict]) -> list[dict]:
    out = [dict(n) for n in DEFAULT_NODES]
    for i, change in changes:
        out[i].update(change)
    return out


CONFIG_ERRORS = [
    ({"nodes": nodes((1, {"parent": "XX"}))}, r"env\.nodes\[1\]\.parent: unknown node 'XX'"),
    ({"nodes": nodes((0, {"parent": "MFC1"}))}, r"env\.nodes\[\d\]\.parent: .* cycle"),
    ({"nodes": [{"name": "A", "parent": "B"}, {"name": "B", "parent": "A"}]}, r"env\.nodes\[0\]\.parent: .* cycle"),
    ({"nodes": [{"name": "A", "parent": "A"}]}, r"env\.nodes\[0\]\.parent: .* cycle"),
    ({"nodes": nodes((2, {"name": "MFC1"}))}, r"env\.nodes\[2\]\.name: 'MFC1' is used twice"),
    ({"nodes": nodes((0, {"demand_share": 0.5}))}, r"env\.nodes\[0\]\.demand_share: only leaves"),
    ({"nodes": nodes((1, {"demand_share": 0.6}), (2, {"demand_share": 0.6}))}, r"env\.nodes: .* add up to 1\.2"),
    ({"nodes": nodes((1, {"demand_share": 1.5}))}, r"env\.nodes\[1\]\.demand_share: expected"),
    ({"nodes": nodes((3, {"colour": "red"}))}, r"env\.nodes\[3\]\.colour: unknown option"),
    ({"nodes": nodes((1, {"lead_time": 0}))}, r"env\.nodes\[1\]\.lead_time: expected"),
    ({"nodes": nodes((1, {"lead_time": 3, "lead_time_max": 2}))}, r"env\.nodes\[1\]\.lead_time_max: expected"),
    ({"nodes": nodes((1, {"holding_cost": -1}))}, r"env\.nodes\[1\]\.holding_cost: expected"),
    ({"nodes": nodes((2, {"order_capacity": -5}))}, r"env\.nodes\[2\]\.order_capacity: expected"),
    ({"nodes": [{"parent": None}]}, r"env\.nodes\[0\]\.name: required"),
    ({"nodes": [{"name": "a:b"}]}, r"env\.nodes\[0\]\.name: expected"),
    ({"nodes": [{"name": "A", "parent": 3}]}, r"env\.nodes\[0\]\.parent: expected"),
    ({"nodes": ["DC"]}, r"env\.nodes\[0\]: expected a mapping"),
    ({"nodes": []}, r"env\.nodes: expected a non-empty list"),
    ({"nodes": {"name": "DC"}}, r"env\.nodes: expected a non-empty list"),
    ({"nodes": [{"name": f"n{i}"} for i in range(65)]}, r"env\.nodes: expected at most 64"),
    ({"colour": "red"}, r"env\.colour: unknown option"),
    ({"allocation": "fair"}, r"env\.allocation: expected one of proportional, priority, balanced"),
    ({"internal": "drop"}, r"env\.internal: expected one of backorder, lost"),
    ({"shipping": "never"}, r"env\.shipping: expected one of"),
    ({"action_type": "mixed"}, r"env\.action_type: expected one of"),
    ({"reward": "shared"}, r"env\.reward: expected one of individual, team"),
    ({"transshipment": {"mode": "pool"}}, r"env\.transshipment\.mode: expected one of none, balance"),
    ({"transshipment": {"mode": "balance", "lead_time": -1}}, r"env\.transshipment\.lead_time: expected"),
    ({"transshipment": {"speed": 1}}, r"env\.transshipment\.speed: unknown option"),
    ({"transshipment": "balance"}, r"env\.transshipment: expected a mapping"),
    ({"nodes": SERIAL, "transshipment": {"mode": "balance"}}, r"env\.transshipment\.mode: needs at least two leaves"),
    ({"n_skus": 0}, r"env\.n_skus: expected"),
    ({"episode_length": 0}, r"env\.episode_length: expected"),
    ({"order_multiples": []}, r"env\.order_multiples: expected a non-empty list"),
    ({"level_multiples": [1.0, -1.0]}, r"env\.level_multiples\[1\]: expected"),
    ({"pipeline_slots": 0}, r"env\.pipeline_slots: expected"),
    ({"q_max": 0}, r"env\.q_max: expected"),
    ({"initial_state": "full"}, r"env\.initial_state: expected one of"),
    ({"catalogue": "csv"}, r"env\.demand_csv: the csv catalogue needs"),
    ({"discount": 0.0}, r"env\.discount: expected"),
]


@pytest.mark.parametrize("kwargs, match", CONFIG_ERRORS, ids=[m for _, m in CONFIG_ERRORS])
def test_config_errors_are_one_line_config_errors_naming_the_field(kwargs, match):
    msg = one_line_error(ConfigError, NetworkEnv, **kwargs)
    assert re.match(match, msg), msg
    assert len(msg) < 400


def test_all_leaves_with_zero_share_and_config_plus_kwargs_are_refused():
    msg = one_line_error(ConfigError, NetworkEnv, nodes=nodes((1, {"demand_share": 0.0}), (2, {"demand_share": 0.0}),
                                                            (3, {"demand_share": 0.0})))
    assert msg.startswith("env.nodes: every leaf has demand_share 0")
    from envs.network.config import NetworkConfig

    assert one_line_error(ConfigError, NetworkEnv, config=NetworkConfig(), n_skus=3).startswith("env: pass either")


def test_config_nodes_in_any_order_build_the_same_network():
    shuffled = [DEFAULT_NODES[2], DEFAULT_NODES[0], DEFAULT_NODES[3], DEFAULT_NODES[1]]
    a, b = NetworkEnv(**SMALL), NetworkEnv(nodes=shuffled, **SMALL)
    assert b.network.names == ("DC", "MFC2", "MFC3", "MFC1")  # topological; siblings in config order
    assert np.array_equal(b.network.depth, [0, 1, 1, 1]) and b.network.parent.tolist() == [-1, 0, 0, 0]
    assert math.isclose(a.network.mean[0].sum(), b.network.mean[0].sum())
