"""Parameter sharing on the fulfilment centre: the agent batch behind the shared-policy VecEnv
and short real training runs (``python -m experiments.train env=fulfillment_center shared=true``),
plus the centralised agent, the benchmark of trained runs and the export of a shared policy.

The entry points run in this process (``tests.entry_points.run_in_process``, the module's shared
run by ``tests.entry_points.run_once``): the same Hydra ``main`` on the same composed config,
scratch cwd, offline wandb; the shared-policy pipeline through real interpreters is
``tests/test_tasks.py``'s.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from stable_baselines3 import PPO

from agents.fulfillment_center.interface import FulfillmentInterface
from agents.rl.adapter import SB3Policy
from agents.rl.vec_env import AgentBatchVecEnv
from envs import fulfillment_center_v0
from envs.replenishment.fulfillment_center.config import FulfillmentConfig
from envs.replenishment.fulfillment_center.env import FulfillmentCenterEnv
from envs.replenishment.fulfillment_center.parallel_env import REWARD_MODES, agent_rewards
from envs.replenishment.fulfillment_center.shared import FulfillmentAgentBatch
from tests.entry_points import ROOT, run_in_process, run_once

SMALL = ["agent=ppo", "env.n_skus=10", "env.episode_length=30", "n_envs=2", "progress_bar=false",
         "agent.kwargs.n_steps=16", "agent.kwargs.batch_size=160", "agent.kwargs.n_epochs=1",
         "validation.reps=2", "eval.warmup=5", "eval.reps=2", "eval.max_reps=2", "benchmark.agents=[base_stock]"]


def rows(path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


# -- the VecEnv -----------------------------------------------------------------------------
@pytest.mark.parametrize("reward", REWARD_MODES)
def test_shared_vec_env_steps_each_sku_like_the_pettingzoo_env(reward):
    problem = FulfillmentConfig(n_skus=8, episode_length=12, capacity_days=1.0).build()
    venv = AgentBatchVecEnv(FulfillmentAgentBatch(problem, n_copies=2, seed=5, reward=reward))
    venv.seed(5)
    obs = venv.reset()
    assert obs.shape == (16, venv.observation_space.shape[0])
    # a PettingZoo env whose simulator starts from copy 1's generator sees the same world
    par = fulfillment_center_v0.parallel_env(problem=problem, reward=reward)
    par.reset(seed=0)
    par.sim.reset(np.random.default_rng(np.random.SeedSequence([5, 0, 1])))
    rng = np.random.default_rng(0)
    for t in range(12):
        actions = rng.integers(0, venv.action_space.n, size=16)
        obs, rewards, dones, infos = venv.step(actions)
        par_obs, par_rewards, _, _, _ = par.step(dict(zip(par.agents, actions[8:].tolist(), strict=True)))
        assert np.allclose(rewards[8:], [par_rewards[a] for a in par.possible_agents], rtol=1e-6)
        if t < 11:
            assert np.array_equal(obs[8:], np.stack([par_obs[a] for a in par.possible_agents]))
    assert dones.all()
    assert all("terminal_observation" in i and i["TimeLimit.truncated"] for i in infos)
    assert set(infos[0]["episode_kpis"]) >= {"fill_rate_A", "cost_per_period_A"}
    if reward == "priced":  # each copy's capacity price, as the PettingZoo env's, was exercised
        assert infos[8]["episode_kpis"]["capacity_price"] == par._rewards.price.value > 0
    # the episode return of each SKU is the sum of its rewards
    assert infos[3]["episode"]["l"] == 12


def test_normalised_reward_divides_each_sku_cost_by_its_mean_demand():
    problem = FulfillmentConfig(n_skus=6, episode_length=5).build()
    env = FulfillmentCenterEnv(problem=problem)
    env.reset(seed=1)
    env.step(np.full(6, 3))
    assert np.allclose(agent_rewards(env.sim, "normalised") * problem.mean_demand,
                       agent_rewards(env.sim, "individual"))


def test_one_shared_model_controls_any_number_of_skus():
    small = FulfillmentConfig(n_skus=5, episode_length=20).build()
    model = PPO("MlpPolicy", AgentBatchVecEnv(FulfillmentAgentBatch(small, n_copies=1)), n_steps=16, batch_size=40,
                n_epochs=1, seed=0, device="cpu")
    model.learn(160)
    for n in (5, 40):
        problem = FulfillmentConfig(n_skus=n, episode_length=20).build()
        env = FulfillmentCenterEnv(problem=problem)
        policy = SB3Policy(model.policy, FulfillmentInterface(problem, True, {"action_type": "discrete"}))
        obs, _ = env.reset(seed=0)
        for _ in range(20):
            action, _ = policy.predict(obs)
            assert action.shape == (n,)
            obs, *_ = env.step(action)


# -- real training runs ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def shared_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("fc_train")
    out = base / "shared"
    args = ["env=fulfillment_center", "shared=true", "total_timesteps=3200", "validation.freq=1600",
            "checkpoint.freq=1600", *SMALL, f"hydra.run.dir={out}"]
    return base, run_once("experiments.train", args, base, out)


def test_parameter_sharing_run_trains_and_benchmarks(shared_run):
    _, result = shared_run
    result.assert_ok()
    out = result.out
    table = {r["agent"]: r for r in rows(out / "results.csv")}
    assert set(table) == {"ppo", "base_stock"}
    for r in table.values():
        assert float(r["mean_cost"]) > 0 and 0 <= float(r["fill_rate"]) <= 1
    assert "fill_rate_A" in table["ppo"]
    evals = rows(out / "eval.csv")
    assert [int(r["timesteps"]) for r in evals][:2] == [1600, 3200]
    assert (out / "best" / "model.zip").exists() and (out / "learning_curve.png").exists()
    assert "SKU-periods" in result.stdout


def test_training_logs_kpis_by_popularity_class(shared_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, result = shared_run
    acc = EventAccumulator(str(result.out / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/fill_rate_A", "train/cost_per_period_A", "eval/fill_rate_A", "eval/mean_cost"} <= tags, tags


def test_benchmark_evaluates_a_trained_shared_policy_on_more_skus(shared_run, tmp_path, monkeypatch, capsys):
    _, result = shared_run
    out = tmp_path / "bench"
    run_in_process("experiments.benchmark", [
        "env=fulfillment_center", "env.n_skus=25", "env.episode_length=30", "agents=[base_stock]", "eval.reps=2",
        "eval.max_reps=2", "eval.warmup=5", f"models=[{result.out}]", f"hydra.run.dir={out}"],
        tmp_path, monkeypatch, capsys).assert_ok()
    agents = [r["agent"] for r in rows(out / "results.csv")]
    assert "base_stock" in agents and any(a.startswith("ppo_shared") for a in agents), agents


def test_resume_continues_a_shared_run(shared_run, tmp_path, monkeypatch, capsys):
    import shutil

    _, result = shared_run
    run = tmp_path / "resumed"
    shutil.copytree(result.out, run)
    resumed = run_in_process("experiments.train", [f"resume={run}", "total_timesteps=4800"], tmp_path, monkeypatch,
                             capsys, run)
    resumed.assert_ok()
    assert int(rows(run / "eval.csv")[-1]["timesteps"]) == 4800
    assert "SKU-periods" in resumed.stdout


def test_centralised_agent_trains_on_the_gymnasium_env(tmp_path, monkeypatch, capsys):
    out = tmp_path / "central"
    result = run_in_process("experiments.train", ["env=fulfillment_center", "agent=ppo", "total_timesteps=256", "validation.freq=128",
                    "checkpoint.freq=128", "env.n_skus=6", "env.episode_length=30", "n_envs=2",
                    "progress_bar=false", "agent.kwargs.n_steps=64", "agent.kwargs.batch_size=64",
                    "agent.kwargs.n_epochs=1", "validation.reps=2", "eval.reps=2", "eval.max_reps=2",
                    "benchmark.agents=[base_stock]", f"hydra.run.dir={out}"], tmp_path, monkeypatch, capsys, out)
    result.assert_ok()
    assert {r["agent"] for r in rows(out / "results.csv")} == {"ppo", "base_stock"}


@pytest.mark.parametrize(
    "args, field",
    [(["agent=dqn"], "agent=dqn"), (["env.training.reward=selfish"], "env.training.reward"),
     (["env.training.action_type=order"], "env.training.action_type"),
     (["env.n_skus=0"], "env.n_skus"), (["agent=recurrent_ppo"], "agent=recurrent_ppo"),
     (["+env.training.overrides.bogus=1"], "env.training.overrides.bogus")],
)
def test_bad_shared_settings_fail_in_one_line(tmp_path, monkeypatch, capsys, args, field):
    result = run_in_process("experiments.train", ["env=fulfillment_center", "shared=true", *args,
                                                  f"hydra.run.dir={tmp_path / 'r'}"], tmp_path, monkeypatch, capsys)
    result.assert_one_line_error(field)


def test_shared_training_on_a_replayed_history_never_sees_the_test_window(tmp_path, monkeypatch, capsys):
    out = tmp_path / "csv"
    result = run_in_process("experiments.train", [
        "env=fulfillment_center", "shared=true", "total_timesteps=1600", "validation.freq=1600", "checkpoint.freq=1600",
        *SMALL, f"env.demand_csv={ROOT / 'data/fc_sample_200x730.csv'}", "env.start_day=-30", f"hydra.run.dir={out}"],
        tmp_path, monkeypatch, capsys, out)
    result.assert_ok()
    assert {r["agent"] for r in rows(out / "results.csv")} == {"ppo", "base_stock"}
    problem = FulfillmentConfig(demand_csv=str(ROOT / "data/fc_sample_200x730.csv"), n_skus=10, episode_length=30,
                                start_day=-30).build()
    split = problem.training_split()
    assert len(split.catalogue.history) == len(problem.catalogue.history) - 30


def test_a_shared_policy_exports_to_one_onnx_graph_over_agent_rows(shared_run, tmp_path, monkeypatch, capsys):
    """The exported shared policy acts on per-SKU rows (dynamic batch = SKUs), reproduces SB3
    on real rollouts, and is benchmarked on a catalogue with more SKUs than it was trained on."""
    import json

    import onnxruntime as ort

    _, result = shared_run
    run_in_process("experiments.export", [f"run_dir={result.out}", "checkpoint=best"], tmp_path, monkeypatch,
                   capsys).assert_ok()
    onnx_file = result.out / "export" / "policy.onnx"
    card = json.loads((onnx_file.parent / "policy.onnx.json").read_text())
    assert card["shared"] is True and card["parity"]["action_mismatches"] == 0
    assert card["parity"]["per_rep_costs_identical"] and card["parity"]["observations"] >= 1000
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    width = card["inputs"]["obs"]["shape"][1]
    for agents in (1, 7, 300):  # one graph, any number of agent rows
        (action,) = session.run(None, {"obs": np.zeros((agents, width), np.float32)})
        assert action.shape == (agents,)
    out = tmp_path / "bench_onnx"
    run_in_process("experiments.benchmark", [
        "env=fulfillment_center", "env.n_skus=25", "env.episode_length=30", "agents=[base_stock]", "eval.reps=2",
        "eval.max_reps=2", "eval.warmup=5", f"onnx=[{onnx_file}]", f"models=[{result.out}]", f"hydra.run.dir={out}"],
        tmp_path, monkeypatch, capsys).assert_ok()
    table = {r["agent"]: float(r["mean_cost"]) for r in rows(out / "results.csv")}
    assert table["ppo_onnx"] == table[f"ppo_shared:{result.out.name}"], table  # the same best model
