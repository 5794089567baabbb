"""The batched lost-sales training env (``envs.replenishment.lost_sales.batch``) and ``vec_env``.

How the batch and the Gymnasium env are made to see the same demand: episode k of copy c of a
batch seeded with s is the training env (``LostSalesTask.training_env_fn``: ``gymnasium.make``
with ``max_episode_steps``, ``OrderUpTo`` or the raw order) reset with
``seed=episode_seed(s, k, c)``; both then get the same actions, and must agree on every
observation, reward, cost, demand, sale, truncation and terminal observation.
"""

from __future__ import annotations

import os
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3 import PPO
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from agents.lost_sales.task import LostSalesTask
from agents.rl.vec_env import AgentBatchVecEnv, BatchVecEnv, base_venv
from envs.core.batch import episode_seed
from envs.core.config import ConfigError
from envs.replenishment.lost_sales.batch import LostSalesBatch
from envs.replenishment.lost_sales.config import LostSalesConfig
from tests.conftest import one_line_error

ROOT = Path(__file__).resolve().parents[2]

# name -> (env kwargs, training options, maskable)
CASES = {
    "order_up_to": ({}, {}, False),
    "order_up_to_levels": ({"lead_time": 3, "penalty": 19}, {"level_min": 10, "level_max": 30}, False),
    "no_lead_time": ({"lead_time": 0}, {}, False),
    "lead_time_1": ({"lead_time": 1}, {}, False),
    "continuous_up_to": ({"action_type": "continuous"}, {}, False),
    "raw_order": ({}, {"parameterisation": "order"}, False),
    "raw_order_continuous": ({"action_type": "continuous"}, {"parameterisation": "order"}, False),
    "masked_order": ({"lead_time": 3}, {"parameterisation": "order"}, True),
    "random_start": ({"lead_time": 4}, {"initial_state": "random"}, False),
    "backorders": ({"backorders": True, "fixed_order_cost": 3.0, "unit_cost": 0.5}, {}, False),
    "pmf_demand": ({"demand": {"distribution": "pmf", "pmf": [0.2, 0.3, 0.1, 0.4]}}, {}, False),
    "negative_binomial": ({"demand": {"distribution": "negative_binomial", "mean": 4.0, "variance": 9.0}}, {}, False),
    "series_demand": ({"demand": {"distribution": "series", "series": [3, 0, 7, 5, 2]}}, {}, False),
    "lead_time_shock": ({"lead_time": 3, "scenario": {"kind": "lead_time_shock", "start": 2, "duration": 5,
                                                      "size": 2, "random_onset": 3}}, {}, False),
    "demand_surge": ({"scenario": {"kind": "demand_surge", "start": 1, "duration": 6, "size": 0.5,
                                   "random_onset": 2}}, {}, False),
    "supplier_disruption": ({"scenario": {"kind": "supplier_disruption", "start": 0, "duration": 8,
                                          "size": 0.4}}, {}, False),
}


def task_for(env: dict, training: dict, episode_steps: int) -> LostSalesTask:
    return LostSalesTask(training={"levels_around_base_stock": None, "episode_steps": episode_steps, **training},
                         **env)


def random_actions(space, n: int, rng: np.random.Generator) -> np.ndarray:
    if hasattr(space, "n"):
        return rng.integers(0, space.n, size=n)
    return rng.uniform(-1.0, 1.0, size=(n, 1)).astype(np.float32)


@pytest.mark.parametrize("case", CASES)
def test_batch_equals_the_gymnasium_training_env_step_by_step(case):
    env_kwargs, training, maskable = CASES[case]
    steps, n, seed = 12, 3, 5
    task = task_for(env_kwargs, training, steps)
    batch = task.training_batch(n, seed, maskable)
    make = task.training_env_fn(maskable)
    envs = [Monitor(make()) for _ in range(n)]
    assert batch.observation_space == envs[0].observation_space and batch.action_space == envs[0].action_space
    obs = batch.reset(seed=seed)
    episode = 0
    for c, env in enumerate(envs):
        first, _ = env.reset(seed=episode_seed(seed, episode, c))
        np.testing.assert_array_equal(obs[c], first)
    rng = np.random.default_rng(1)
    for t in range(2 * steps + 3):  # two whole episodes and a bit: truncation and automatic reset
        if maskable:
            np.testing.assert_array_equal(batch.action_masks(), np.stack([e.env.action_masks() for e in envs]))
        actions = random_actions(batch.action_space, n, rng)
        obs, rewards, dones, infos = batch.step(actions)
        assert rewards.dtype == np.float32 and dones.dtype == bool and obs.dtype == np.float32
        for c, env in enumerate(envs):
            action = actions[c] if actions.ndim == 2 else int(actions[c])
            o, r, terminated, truncated, info = env.step(action)
            assert not terminated and dones[c] == truncated == ((t + 1) % steps == 0)
            assert rewards[c] == np.float32(r)
            assert {k: infos[c][k] for k in ("cost", "demand", "sales")} == {k: info[k] for k in ("cost", "demand", "sales")}
            if truncated:
                np.testing.assert_array_equal(infos[c]["terminal_observation"], o)
                assert infos[c]["TimeLimit.truncated"] is True
                assert {k: infos[c]["episode"][k] for k in ("r", "l")} == {k: info["episode"][k] for k in ("r", "l")}
                o, _ = env.reset(seed=episode_seed(seed, episode + 1, c))
            else:
                assert "episode" not in infos[c] and "terminal_observation" not in infos[c]
            np.testing.assert_array_equal(obs[c], o)
        episode += bool(dones[0])


def test_demand_blocks_longer_episodes_match_the_env():
    """An episode longer than the env's demand block (4096 periods) draws the same second block."""
    steps = 4100
    task = task_for({}, {}, steps)
    batch, env = task.training_batch(2, 9), task.training_env_fn()()
    batch.reset(seed=9)
    env.reset(seed=episode_seed(9, 0, 1))
    actions = np.random.default_rng(0).integers(0, batch.action_space.n, size=(steps, 2))
    for t in range(steps):
        _, _, dones, infos = batch.step(actions[t])
        _, _, _, truncated, info = env.step(int(actions[t, 1]))
        assert infos[1]["demand"] == info["demand"] and infos[1]["cost"] == info["cost"]
    assert dones.all() and truncated


def test_episode_records_as_monitor_writes_them():
    batch = task_for({}, {}, 5).training_batch(4, 0)
    batch.reset(seed=0)
    total = np.zeros(4)
    for _ in range(5):
        _, rewards, dones, infos = batch.step(np.zeros(4, dtype=np.int64))
        total += [-info["cost"] for info in infos]
    assert dones.all()
    for info, r in zip(infos, total, strict=True):
        assert set(info["episode"]) == {"r", "l", "t"}
        assert info["episode"]["l"] == 5 and info["episode"]["r"] == pytest.approx(r) and info["episode"]["t"] >= 0


def trajectory(seed: int, n: int = 4, steps: int = 30) -> np.ndarray:
    batch = task_for({"initial_state": "random"}, {"initial_state": "random"}, 7).training_batch(n, seed)
    rows = [batch.reset(seed=seed)]
    actions = np.random.default_rng(0).integers(0, batch.action_space.n, size=(steps, n))
    for t in range(steps):
        rows.append(batch.step(actions[t])[0])
    return np.stack(rows)


def test_same_seed_same_trajectory_and_rows_have_their_own_streams():
    a, b = trajectory(3), trajectory(3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, trajectory(4))
    for i in range(a.shape[1]):  # no two rows see the same stream
        for j in range(i):
            assert not np.array_equal(a[:, i], a[:, j])


def test_invalid_actions_are_refused_in_one_line():
    batch = task_for({}, {}, 5).training_batch(3, 0)
    n = batch.action_space.n
    assert "Discrete" in one_line_error(ValueError, batch.step, np.array([0, n, 1]))
    assert "3 elements" in one_line_error(ValueError, batch.step, np.array([0, 1]))
    assert "dtype" in one_line_error(ValueError, batch.step, np.array([0.5, 1.0, 2.0]))
    cont = task_for({"action_type": "continuous"}, {}, 5).training_batch(2, 0)
    assert "Box" in one_line_error(ValueError, cont.step, np.array([[0.5], [np.nan]], dtype=np.float32))


@settings(max_examples=25, deadline=None)
@given(lead_time=st.integers(0, 4), holding=st.floats(0.5, 3.0), penalty=st.floats(1.0, 40.0),
       n=st.integers(1, 5), seed=st.integers(0, 2**31), steps=st.integers(1, 9))
def test_units_are_conserved_and_cost_is_holding_plus_shortage(lead_time, holding, penalty, n, seed, steps):
    """Lost sales: the inventory position grows by the order and shrinks by the sales; the period's
    cost is h x (stock left after demand) + p x (demand not met)."""
    config = LostSalesConfig(lead_time=lead_time, holding_cost=holding, penalty=penalty, initial_state="random")
    batch = LostSalesBatch(config, n, episode_steps=steps + 1, seed=seed)
    obs = batch.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        actions = rng.integers(0, batch.action_space.n, size=n)
        orders = batch.orders(actions)
        before = obs.astype(np.int64)
        obs, rewards, _, infos = batch.step(actions)
        sales = np.array([i["sales"] for i in infos])
        demand = np.array([i["demand"] for i in infos])
        np.testing.assert_array_equal(obs.astype(np.int64).sum(axis=1), before.sum(axis=1) + orders - sales)
        stock = before[:, 0] + (orders if lead_time == 0 else 0)
        cost = holding * (stock - sales) + penalty * (demand - sales)
        np.testing.assert_allclose([i["cost"] for i in infos], cost)
        np.testing.assert_allclose(rewards, -cost.astype(np.float32), rtol=1e-6)


# -- SB3 --------------------------------------------------------------------------------------
def test_ppo_learns_on_the_batch_behind_vec_normalize():
    task = task_for({}, {}, 20)
    venv = VecNormalize(base_venv(task, 8, 0, shared=False, vec_env="batched"))
    assert isinstance(venv.venv, BatchVecEnv) and AgentBatchVecEnv is BatchVecEnv
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(256)
    assert model.num_timesteps == 256
    assert venv.obs_rms.count > 256  # VecNormalize saw every step
    assert venv.get_attr("num_envs") == [8] * 8 and venv.env_is_wrapped(Monitor) == [False] * 8


class EpisodeSeeds(gym.Wrapper):
    """Reseeds copy ``copy`` at every reset as the batch seeds its episodes."""

    def __init__(self, env, seed: int, copy: int):
        super().__init__(env)
        self.base, self.copy, self.episode = seed, copy, 0

    def reset(self, *, seed=None, options=None):
        self.episode += 1
        return self.env.reset(seed=episode_seed(self.base, self.episode - 1, self.copy), options=options)


def test_ppo_trains_bit_for_bit_as_on_a_dummy_vec_env_with_the_same_streams():
    """Given the batch's demand streams, a DummyVecEnv of the Gymnasium training envs trains the very
    same PPO model: the batch changes how fast SB3 steps, not what it learns from."""
    task = task_for({}, {}, 24)
    make = task.training_env_fn()
    dummy = DummyVecEnv([lambda c=c: Monitor(EpisodeSeeds(make(), 3, c)) for c in range(4)])
    weights = []
    for venv in (dummy, base_venv(task, 4, 3, shared=False, vec_env="batched")):
        model = PPO("MlpPolicy", VecNormalize(venv), n_steps=32, batch_size=64, n_epochs=2, seed=3, device="cpu")
        model.learn(256)
        weights.append(torch.cat([p.detach().flatten() for p in model.policy.parameters()]))
    assert torch.equal(weights[0], weights[1])


def test_maskable_ppo_gets_one_mask_row_per_copy():
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.utils import get_action_masks

    task = task_for({}, {"parameterisation": "order"}, 20)
    venv = base_venv(task, 4, 0, shared=False, maskable=True, vec_env="batched")
    venv.reset()
    assert get_action_masks(venv).shape == (4, task.config.q_max + 1)
    MaskablePPO("MlpPolicy", venv, n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu").learn(64)


@pytest.mark.parametrize(("vec_env", "kind"), [("auto", BatchVecEnv), ("batched", BatchVecEnv), ("dummy", DummyVecEnv)])
def test_vec_env_switch_picks_the_training_vec_env(vec_env, kind):
    venv = base_venv(task_for({}, {}, 10), 3, 0, shared=False, vec_env=vec_env)
    assert isinstance(venv, kind) and venv.num_envs == 3


def test_batched_on_a_task_without_a_training_batch_is_refused():
    from agents.fulfillment_center.task import FulfillmentCenterTask

    task = FulfillmentCenterTask()
    assert task.training_batch(2, 0) is None
    message = one_line_error(ConfigError, base_venv, task, 2, 0, False, vec_env="batched")
    assert message.startswith("vec_env:") and "fulfillment_center" in message
    assert isinstance(base_venv(task, 1, 0, False, vec_env="auto"), DummyVecEnv)


# -- through experiments.train ------------------------------------------------------------
def composed(overrides: list[str]):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    import experiments.support.common  # noqa: F401  (registers the fg.* resolvers)

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


@pytest.mark.parametrize(("overrides", "field"), [(["vec_env=fast"], "vec_env: expected one of auto, batched, dummy"),
                                                  (["vec_env=batched", "env=fulfillment_center"], "vec_env: env=")])
def test_bad_vec_env_is_a_one_line_error(overrides, field):
    from agents.rl.algorithms import algorithm
    from experiments.support.common import make_task
    from experiments.train import validate

    cfg = composed(overrides)
    assert field in one_line_error(ConfigError, validate, cfg, make_task(cfg), algorithm(str(cfg.agent.name)))


@pytest.mark.parametrize(("vec_env", "kind"), [("auto", BatchVecEnv), ("dummy", DummyVecEnv)])
def test_training_session_trains_on_the_chosen_vec_env(vec_env, kind, tmp_path):
    from agents.rl import training
    from agents.rl.algorithms import algorithm
    from experiments.support.common import make_task

    cfg = composed(["agent=ppo", f"vec_env={vec_env}", "n_envs=3", "agent.kwargs.n_steps=8", "agent.kwargs.batch_size=8"])
    task = make_task(cfg)
    session = training.start(cfg, task, algorithm("ppo"), tmp_path)
    assert isinstance(session.venv, VecNormalize) and isinstance(session.venv.venv, kind)
    assert session.venv.num_envs == 3


def test_experiments_train_runs_with_either_vec_env(tmp_path, monkeypatch, capsys):
    """A smoke run of each explicit value (``auto`` is every other training test's default), by
    ``experiments.train``'s Hydra ``main`` in this process (``tests.entry_points.run_in_process``):
    it trains, validates (eval.csv with wall_seconds) and records its choice."""
    import yaml

    from tests.entry_points import run_in_process

    for vec_env in ("dummy", "batched"):
        out = tmp_path / vec_env
        run_in_process("experiments.train", ["agent=ppo", "smoke=true", f"vec_env={vec_env}", "progress_bar=false",
                                             "benchmark.agents=[]", "logger=csv", f"hydra.run.dir={out}"],
                       tmp_path, monkeypatch, capsys).assert_ok()
        assert yaml.safe_load((out / "config.yaml").read_text())["vec_env"] == vec_env
        header, *rows = (out / "eval.csv").read_text().splitlines()
        assert header.split(",")[:2] == ["timesteps", "wall_seconds"] and rows
        assert all(float(r.split(",")[1]) >= 0 for r in rows)
    assert os.path.isdir(tmp_path / "batched" / "best")
