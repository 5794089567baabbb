"""Tests of ``python -m experiments.export`` and the exported-policy agents.

Three tiny training runs (discrete PPO, DCL, continuous SAC) are made once per module by
``experiments.train``'s Hydra ``main`` in this process (``tests.entry_points.run_once``: the
config a command line composes, a scratch working directory); the discrete one is exported
once through ``experiments.export``'s ``main`` the same way. Further exports call
``experiments.export.export`` (the function the command line calls); the other verbs run in
process too (``tests.entry_points.run_in_process``), except where a fresh interpreter is the
point (an ONNX policy imports neither torch nor SB3).
"""

from __future__ import annotations

import copy
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from agents.rl import checkpoints
from agents.rl.exported import OnnxPolicy, TorchScriptPolicy, card_path, sha256
from agents.rl.loading import load_policy, open_run
from agents.seeds import EVAL_SEED_BASE
from tests.entry_points import run_in_process, run_once

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 240
TINY = ["n_envs=1", "progress_bar=false", "logger=csv", "validation.reps=2", "validation.periods=60",
        "validation.warmup=10", "benchmark.agents=[]", "eval.reps=2", "eval.max_reps=2",
        "eval.periods=50", "eval.warmup=10"]
RUNS = {
    "ppo": ["agent=ppo", "total_timesteps=128", "agent.kwargs.n_steps=64",
            "agent.kwargs.batch_size=64", "agent.kwargs.n_epochs=1", "validation.freq=64",
            "checkpoint.freq=64"],
    "dcl": ["agent=dcl", "total_timesteps=128", "agent.kwargs.n_states=64", "agent.kwargs.reps=4",
            "agent.kwargs.horizon=4", "agent.kwargs.n_epochs=1", "validation.freq=64", "checkpoint.freq=64"],
    "sac": ["agent=sac", "env.action_type=continuous", "total_timesteps=150",
            "agent.kwargs.learning_starts=50", "agent.kwargs.batch_size=32",
            "agent.kwargs.buffer_size=1000", "validation.freq=150", "checkpoint.freq=150"],
}
CARD_KEYS = {"agent", "task", "env_id", "env", "env_config", "shared", "essentials", "observation_space",
             "action_space", "model_observation_space", "model_action_space", "inputs", "outputs", "training",
             "kpis", "input_names", "output_names", "opset", "sha256", "parity", "exported_at", "how_to_act",
             "format", "file", "normalization"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """The tiny training runs, plus an ONNX export of the PPO run by the export verb."""
    base = tmp_path_factory.mktemp("export_runs")
    dirs = {name: base / name for name in RUNS}
    for name, args in RUNS.items():
        run_once("experiments.train", [*args, *TINY, f"hydra.run.dir={dirs[name]}"], base, dirs[name]).assert_ok()
    run_once("experiments.export", [f"run_dir={dirs['ppo']}"], base).assert_ok()
    dirs["scratch"] = base
    return dirs


def export_in_process(run_dir: Path, **overrides):
    from experiments.export import export

    cfg = OmegaConf.load(ROOT / "configs" / "export.yaml")
    del cfg["defaults"], cfg["hydra"]
    cfg.run_dir = str(run_dir)
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value)
    return export(cfg)


def sb3_policy(run_dir: Path, checkpoint=None):
    """The SB3 policy of a run's checkpoint (the newest by default), as export loads it."""
    run = open_run(run_dir)
    return run, load_policy(run, checkpoints.find(run.path, checkpoint))


def grid(q_max: int) -> np.ndarray:
    """Every (on-hand, pipeline) pair in 0..q_max: states beyond the rollouts' reach."""
    a, b = np.meshgrid(np.arange(q_max + 1), np.arange(q_max + 1), indexing="ij")
    return np.stack([a.ravel(), b.ravel()], axis=1).astype(np.float32)


# -- export and parity ----------------------------------------------------------------------
def test_onnx_export_of_discrete_ppo_matches_sb3(runs):
    path = runs["ppo"] / "export" / "policy.onnx"
    card = json.loads(card_path(path).read_text())
    parity = card["parity"]
    assert parity["observations"] >= 1000
    assert parity["action_mismatches"] == 0 and parity["output_mismatches"] == 0
    assert parity["max_abs_action_diff"] == 0 and parity["per_rep_costs_identical"]
    # Independently of the tool's own check: every state of a grid, batch and single obs.
    _, sb3 = sb3_policy(runs["ppo"])
    obs = grid(sb3.interface.config.q_max)
    action, _ = sb3.model_action(obs.astype(np.float64))
    want = sb3.interface.orders(obs.astype(np.float64), action)
    policy = OnnxPolicy(path)
    got_action, got_order = policy.run(obs)
    np.testing.assert_array_equal(got_action, action)
    np.testing.assert_array_equal(got_order, want)
    assert got_order.dtype == np.int64
    np.testing.assert_array_equal(policy.predict(obs)[0], sb3.predict(obs)[0])
    assert policy.predict(obs[7])[0] == sb3.predict(obs[7])[0]


def test_onnx_export_of_continuous_sac_matches_sb3(runs, tmp_path):
    path, card = export_in_process(runs["sac"], output=str(tmp_path / "sac.onnx"))
    parity = card["parity"]
    assert parity["observations"] >= 1000
    assert parity["max_abs_action_diff"] <= 1e-5 and parity["action_mismatches"] == 0
    assert parity["output_mismatches_outside_boundary"] == 0
    assert card["env_config"]["action_type"] == "continuous"
    _, sb3 = sb3_policy(runs["sac"])
    obs = grid(sb3.interface.config.q_max)
    action, _ = sb3.model_action(obs.astype(np.float64))
    got_action, got_order = OnnxPolicy(path).run(obs)
    assert got_action.dtype == np.float32 and got_action.shape == (len(obs), 1)
    np.testing.assert_allclose(got_action, action, atol=1e-5, rtol=0)
    want = sb3.interface.orders(obs.astype(np.float64), action)
    boundary = sb3.interface.near_boundary(action, 1e-4)
    assert np.array_equal(got_order[~boundary], want[~boundary])
    # the env action maps back to exactly the order
    env_action, _ = OnnxPolicy(path).predict(obs)
    assert env_action.dtype == np.float32 and env_action.shape == (len(obs), 1)
    back = np.rint((env_action[:, 0].astype(np.float64) + 1) * 0.5 * sb3.interface.config.q_max)
    np.testing.assert_array_equal(back, got_order)


def test_torchscript_export_works(runs, tmp_path):
    path, card = export_in_process(runs["ppo"], format="torchscript",
                                   output=str(tmp_path / "policy.pt"), checkpoint="best")
    assert path.suffix == ".pt" and card["format"] == "torchscript" and card["opset"] is None
    assert card["training"]["checkpoint"].endswith("best")
    assert card["parity"]["output_mismatches"] == 0 and card["parity"]["action_mismatches"] == 0
    assert sha256(path) == card["sha256"]
    _, sb3 = sb3_policy(runs["ppo"], checkpoint="best")
    obs = grid(sb3.interface.config.q_max)
    np.testing.assert_array_equal(TorchScriptPolicy(path).predict(obs)[0], sb3.predict(obs)[0])


def test_parity_failure_writes_nothing(runs, tmp_path, monkeypatch):
    import torch

    from agents.rl import graph as module
    from agents.rl.parity import ParityError

    real = module.build_graph

    def broken(*args):
        graph = copy.deepcopy(real(*args))  # the graph shares its layers with the SB3 model
        with torch.no_grad():  # favour one order-up-to level: a wrong policy
            graph.head.action_net.bias[3] += 50.0
        return graph

    monkeypatch.setattr(module, "build_graph", broken)
    out = tmp_path / "broken.onnx"
    out.write_bytes(b"an earlier export")  # overwrite=true: replaced only by a file that passed parity
    with pytest.raises(ParityError, match=r"differs from SB3 \(discrete actions: \d+ of 1024 mismatches"):
        export_in_process(runs["ppo"], output=str(out), overwrite=True)
    assert list(tmp_path.iterdir()) == [out] and out.read_bytes() == b"an earlier export"


# -- the card --------------------------------------------------------------------------------
def test_card_has_required_fields_and_matching_sha256(runs):
    import onnx

    path = runs["ppo"] / "export" / "policy.onnx"
    card = json.loads(card_path(path).read_text())
    assert CARD_KEYS <= card.keys()
    assert card["sha256"] == sha256(path)
    assert card["agent"] == "ppo" and card["env_id"] == "fulfillgym/LostSales-v0" and card["task"] == "lost_sales"
    essentials = card["essentials"]
    assert essentials["parameterisation"] == "order_up_to" and essentials["level_max"] > essentials["level_min"]
    assert card["input_names"] == ["obs"] and card["output_names"] == ["action", "order"]
    assert card["opset"] >= 17 and card["shared"] is False
    obs_space = card["observation_space"]
    assert obs_space["shape"] == [2] and obs_space["dtype"] == "float32"
    meaning = card["inputs"]["obs"]["meaning"]
    assert len(meaning) == 2 and meaning[0].startswith("on-hand")
    assert card["normalization"]["baked_in"] and len(card["normalization"]["mean"]) == 2
    assert card["action_space"] == {"type": "Discrete", "n": card["env_config"]["q_max"] + 1,
                                    "start": 0, "dtype": "int64"}
    newest = sorted((runs["ppo"] / "checkpoints").glob("step_*"))[-1]
    meta = json.loads((newest / "meta.json").read_text())
    assert card["training"]["timesteps"] == meta["timesteps"]
    with (runs["ppo"] / "eval.csv").open() as fh:
        last_eval = list(csv.DictReader(fh))[-1]
    assert card["kpis"]["last_eval_csv"]["timesteps"] == int(last_eval["timesteps"])
    assert card["kpis"]["results_csv"]["agent"] == "ppo"
    model = onnx.load(str(path))
    assert model.opset_import[0].version == card["opset"]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert [o.name for o in model.graph.output] == ["action", "order"]


# -- the policy protocol and the benchmark ------------------------------------------------
@pytest.mark.parametrize("name", ["ppo", "sac", "dcl"])
def test_onnx_policy_rollout_cost_equals_sb3(runs, tmp_path, name):
    path = runs[name] / "export" / "policy.onnx"
    if not path.exists():
        path, _ = export_in_process(runs[name], output=str(tmp_path / "policy.onnx"))
    run, sb3 = sb3_policy(runs[name])
    seeds = EVAL_SEED_BASE + 500 + np.arange(4)
    want = run.task.rollout(sb3, seeds, 200, 20)
    got = run.task.rollout(OnnxPolicy(path), seeds, 200, 20)
    for kpi in ("cost", "lost_per_period", "fill_rate"):
        np.testing.assert_array_equal(got[kpi], want[kpi])


def test_onnx_policy_needs_neither_torch_nor_sb3(runs):
    path = runs["ppo"] / "export" / "policy.onnx"
    code = ("import sys, numpy as np\n"
            "from agents.rl.exported import OnnxPolicy\n"
            f"p = OnnxPolicy({str(path)!r})\n"
            "a, _ = p.predict(np.array([[5, 5], [0, 3]], np.float32))\n"
            "assert a.shape == (2,) and a.dtype == np.int64, a\n"
            "bad = [m for m in ('torch', 'stable_baselines3', 'sb3_contrib') if m in sys.modules]\n"
            "assert not bad, bad\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr


def test_benchmark_evaluates_onnx_agents(runs, tmp_path, monkeypatch, capsys):
    path = runs["ppo"] / "export" / "policy.onnx"
    out = tmp_path / "bench"
    run_in_process("experiments.benchmark", [f"onnx=[{path}]", "agents=[base_stock]", "eval.reps=8",
                                             "eval.max_reps=8", f"hydra.run.dir={out}"],
                   tmp_path, monkeypatch, capsys).assert_ok()
    with (out / "results.csv").open() as fh:
        rows = {row["agent"]: row for row in csv.DictReader(fh)}
    assert set(rows) == {"base_stock", "ppo_onnx"}
    assert rows["ppo_onnx"]["reps"] == "8" and float(rows["ppo_onnx"]["mean_cost"]) > 0


# -- errors ---------------------------------------------------------------------------------
def test_export_errors_exit_2_with_one_line(runs, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty_run"
    empty.mkdir()
    (empty / "config.yaml").write_text((runs["ppo"] / "config.yaml").read_text())
    cases = {
        "run_dir: no checkpoint": [f"run_dir={empty}"],
        "format: expected one of onnx, torchscript": [f"run_dir={runs['ppo']}", "format=tflite"],
    }
    for want, args in cases.items():
        line = run_in_process("experiments.export", args, tmp_path, monkeypatch, capsys).assert_one_line_error()
        assert line.startswith(f"error: {want}"), line
    assert not (empty / "export").exists()


def test_export_refuses_a_checkpoint_of_another_run(runs, tmp_path, monkeypatch, capsys):
    """``export run_dir=A checkpoint=<run B>/best`` would credit A with B's weights."""
    foreign = runs["ppo"] / "foreign"  # inside A, but saved by another run (meta.json says so)
    shutil.copytree(runs["sac"] / "best", foreign, dirs_exist_ok=True)
    cases = {f"checkpoint={runs['sac'] / 'best'}": f"{runs['sac'] / 'best'} is not inside run_dir {runs['ppo']}",
             f"checkpoint={foreign}": "meta.json has agent='sac' (run: 'ppo')"}
    try:
        for arg, want in cases.items():
            run_in_process("experiments.export", [f"run_dir={runs['ppo']}", arg, f"output={tmp_path / 'p.onnx'}"],
                           tmp_path, monkeypatch, capsys).assert_one_line_error("error: checkpoint: ", want)
    finally:
        shutil.rmtree(foreign)
    assert not (tmp_path / "p.onnx").exists()


def test_export_overwrites_only_with_overwrite_true(runs, tmp_path, monkeypatch, capsys):
    default = runs["ppo"] / "export" / "policy.onnx"  # written by the fixture's export
    before = {p: p.read_bytes() for p in (default, card_path(default))}
    mine = tmp_path / "mine.onnx"
    mine.write_bytes(b"someone's file")
    cases = {(f"run_dir={runs['ppo']}",): f"output: {default} exists; pass overwrite=true",
             (f"run_dir={runs['ppo']}", f"output={mine}"): f"output: {mine} exists; pass overwrite=true",
             (f"run_dir={runs['ppo']}", f"output={tmp_path / 'p.pt'}"): "expected a file name ending in .onnx",
             (f"run_dir={runs['ppo']}", f"output={tmp_path}.onnx", "overwrite=yes"): "overwrite: expected true"}
    for args, want in cases.items():
        run_in_process("experiments.export", list(args), tmp_path, monkeypatch, capsys).assert_one_line_error(want)
    assert {p: p.read_bytes() for p in before} == before and mine.read_bytes() == b"someone's file"
    path, card = export_in_process(runs["ppo"], output=str(mine), overwrite=True)
    assert path == mine and card["sha256"] == sha256(mine) and OnnxPolicy(mine).card == card
    assert sorted(p.name for p in tmp_path.glob("*.onnx*")) == ["mine.onnx", "mine.onnx.json"]
    assert not list(tmp_path.glob(".tmp-*"))  # no temporary files left


def test_exported_policies_refuse_nan_and_garbage_files_in_one_line(runs, tmp_path, monkeypatch, capsys):
    from envs.core.config import ConfigError

    path = runs["ppo"] / "export" / "policy.onnx"
    policy = OnnxPolicy(path)
    with pytest.raises(ValueError, match="finite"):
        policy.predict(np.array([np.nan, 3.0], np.float32))
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not an onnx model" * 20)
    with pytest.raises(ConfigError, match="cannot be loaded"):
        OnnxPolicy(garbage)
    bad_card = tmp_path / "policy.onnx"
    bad_card.write_bytes(path.read_bytes())
    card_path(bad_card).write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        OnnxPolicy(bad_card)
    out = tmp_path / "bench_garbage"
    run_in_process("experiments.benchmark", [f"onnx=[{garbage}]", "agents=[base_stock]", f"hydra.run.dir={out}"],
                   tmp_path, monkeypatch, capsys).assert_one_line_error("cannot be loaded")
