"""Resuming is faithful and runs nothing from the run directory (``agents.rl.checkpoints``).

* Every algorithm: a checkpoint of a briefly trained model, restored into a model rebuilt from
  the config (as ``experiments.train resume=`` does), has equal weights, optimizer states,
  torch variables (SAC's entropy coefficient), counters, VecNormalize state and replay
  buffer, and training on ends exactly at the budget.
* A kill between the two renames of a checkpoint save is repaired on resume.
* A run's ``config.yaml`` with a YAML alias bomb, over the size limit or with an
  ``${oc.env:...}`` interpolation is refused before it is built or resolved.

The crafted-pickle and refused-resume tests on real training runs are in ``test_run_dirs.py``.
"""

from __future__ import annotations

import functools
import json
import shutil

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from agents.parts import dcl_problem
from agents.registry import build_task
from agents.rl import checkpoints
from agents.rl.algorithms import ALGORITHMS
from agents.rl.loading import MAX_CONFIG_BYTES, build_model, read_run_config
from agents.rl.vec_env import base_venv, normalized
from envs.core.config import ConfigError
from tests.entry_points import ROOT

TARGET = "agents.lost_sales.task.LostSalesTask"
ON_POLICY = {"n_steps": 16}
OFF_POLICY = {"learning_starts": 16, "buffer_size": 500, "batch_size": 8}
# algorithm -> (env settings, agent kwargs)
CASES = {
    "ppo": ({}, {**ON_POLICY, "batch_size": 16, "n_epochs": 2}),
    "a2c": ({}, {"n_steps": 4}),
    "dqn": ({}, {**OFF_POLICY, "target_update_interval": 10, "exploration_fraction": 0.5}),
    "sac": ({"action_type": "continuous"}, OFF_POLICY),
    "td3": ({"action_type": "continuous"}, {**OFF_POLICY, "policy_delay": 2}),
    "maskable_ppo": ({"training": {"parameterisation": "order"}}, {**ON_POLICY, "batch_size": 16, "n_epochs": 1}),
    "recurrent_ppo": ({}, {**ON_POLICY, "batch_size": 16, "n_epochs": 1}),
    "dcl": ({}, {"n_states": 32, "reps": 2, "horizon": 2, "n_epochs": 2, "batch_size": 16}),
}
POLICY_KWARGS = {"recurrent_ppo": {"lstm_hidden_size": 8}}
NORMALIZE = OmegaConf.create({"obs": True, "reward": True, "clip_obs": 10.0, "clip_reward": 10.0})


@functools.cache
def trained_task(env: str):
    """The lost-sales task with its training options resolved (a tuning: once per env setting)."""
    task = build_task({"_target_": TARGET, **json.loads(env)})
    return task.with_training(task.resolve_training())


def fresh(name: str):
    """The model and VecEnv ``experiments.train`` builds for algorithm ``name`` (tiny settings)."""
    env, kwargs = CASES[name]
    task = trained_task(json.dumps(env, sort_keys=True))
    algo = ALGORITHMS[name]
    policy = OmegaConf.load(ROOT / "configs" / "agent" / f"{name}.yaml").policy
    cfg = OmegaConf.create({"agent": {"name": name, "policy": policy, "kwargs": kwargs,
                                      "policy_kwargs": {"net_arch": [8], **POLICY_KWARGS.get(name, {})}}})
    return task, algo, cfg, base_venv(task, 2, 0, False, algo.maskable)


def attach(model, task, algo):
    return model.attach(dcl_problem(task)) if algo.needs_problem else model


def equal(a, b) -> bool:
    """Nested state dicts (tensors, numbers, containers) are equal, exactly."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and bool(torch.equal(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.parametrize("name", list(CASES))
def test_a_restored_checkpoint_is_the_saved_training_state(name, tmp_path):
    task, algo, cfg, venv = fresh(name)
    trained = attach(build_model(cfg, algo, normalized(venv, NORMALIZE, 0.99), seed=3), task, algo)
    trained.learn(64)
    checkpoint = checkpoints.read(checkpoints.save(trained, trained.get_env(), tmp_path / "step", {"agent": name}))
    assert not list(checkpoint.path.glob("*.pkl")), "no pickles are written"

    _, _, _, venv2 = fresh(name)
    resumed_env = normalized(venv2, NORMALIZE, 0.99, checkpoint)
    resumed = attach(build_model(cfg, algo, resumed_env, seed=3), task, algo)
    checkpoints.restore(resumed, checkpoint)

    names, variables = trained._get_torch_save_params()
    assert any("optimizer" in n for n in names)
    for attr in names:  # the policy (with target networks) and every optimizer (Adam's steps and moments)
        obj = trained
        other = resumed
        for part in attr.split("."):
            obj, other = getattr(obj, part), getattr(other, part)
        assert equal(obj.state_dict(), other.state_dict()), attr
    for attr in variables:  # e.g. SAC's log_ent_coef
        assert torch.equal(getattr(trained, attr), getattr(resumed, attr)), attr
    assert checkpoint.meta["state"] == checkpoints.training_counters(resumed) == checkpoints.training_counters(trained)
    if algo.needs_problem:
        assert resumed.generation == trained.generation > 0
    saved, now = trained.get_env(), resumed.get_env()
    for field in ("mean", "var", "count"):
        assert np.array_equal(getattr(saved.obs_rms, field), getattr(now.obs_rms, field))
        assert np.array_equal(getattr(saved.ret_rms, field), getattr(now.ret_rms, field))
    assert np.array_equal(saved.returns, now.returns) and saved.clip_reward == now.clip_reward
    if algo.off_policy:
        rows = trained.replay_buffer.pos
        assert rows > 0 and resumed.replay_buffer.pos == rows and resumed.replay_buffer.full == trained.replay_buffer.full
        for field in checkpoints.BUFFER_FIELDS:
            if getattr(trained.replay_buffer, field, None) is not None:
                assert np.array_equal(getattr(trained.replay_buffer, field)[:rows],
                                      getattr(resumed.replay_buffer, field)[:rows]), field
    total = 96  # one more rollout (DCL: generation) on top of the 64 before the checkpoint
    resumed.learn(total - resumed.num_timesteps, reset_num_timesteps=False)
    assert resumed.num_timesteps == total


# -- debris of a killed save ------------------------------------------------------------------------
def fake_checkpoint(path, steps: int):
    path.mkdir(parents=True)
    (path / "meta.json").write_text(json.dumps({"timesteps": steps, "state": {"num_timesteps": steps}}))
    (path / "model.zip").write_bytes(b"weights")


def test_a_kill_between_the_renames_of_a_save_is_repaired(tmp_path):
    folder = tmp_path / "checkpoints"
    fake_checkpoint(folder / "step_000000000100", 100)
    fake_checkpoint(folder / ".old-step_000000000200-4242", 200)  # killed after target -> old
    fake_checkpoint(folder / ".old-step_000000000100-4243", 100)  # killed after tmp -> target
    fake_checkpoint(folder / ".tmp-step_000000000300-4244", 300)  # killed mid-write
    fake_checkpoint(tmp_path / ".old-best-4242", 150)  # best/ replaced when killed
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".tmp-notes-1").mkdir()  # not a checkpoint's: kept

    assert checkpoints.latest(tmp_path).timesteps == 200, "the newest checkpoint was lost"
    assert sorted(p.name for p in folder.iterdir()) == ["step_000000000100", "step_000000000200"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hydra", ".tmp-notes-1", "best", "checkpoints"]
    assert checkpoints.read(tmp_path / "best").timesteps == 150


# -- a run's config.yaml is refused before it is built or resolved ----------------------------------
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))


def run_dir_with(tmp_path, text: str):
    (tmp_path / "config.yaml").write_text(text)
    return tmp_path


@pytest.mark.parametrize("case", ["alias_bomb", "too_large", "interpolation"])
def test_a_hostile_run_config_is_refused_before_it_is_built(case, tmp_path, monkeypatch):
    monkeypatch.setenv("FG_RESUME_SECRET", "hunter2-secret")
    text = {"alias_bomb": BOMB,
            "too_large": "env: {}\nagent: {name: ppo}\n# " + "x" * MAX_CONFIG_BYTES + "\n",
            "interpolation": "env:\n  _target_: " + TARGET + "\n  penalty: ${oc.env:FG_RESUME_SECRET}\n"
                             "agent: {name: ppo}\n"}[case]
    assert case != "alias_bomb" or len(BOMB) < 1024
    with pytest.raises(ConfigError) as err:
        read_run_config(run_dir_with(tmp_path, text), "resume")
    message = str(err.value)
    assert "\n" not in message and "hunter2" not in message
    assert {"alias_bomb": "line 1 has a YAML anchor or alias", "too_large": "over the 1,000,000",
            "interpolation": "env.penalty is an interpolation"}[case] in message


def test_a_checkpoint_from_before_pickle_free_checkpoints_is_refused(tmp_path):
    fake_checkpoint(tmp_path / "checkpoints" / "step_000000000100", 100)
    meta = tmp_path / "checkpoints" / "step_000000000100" / "meta.json"
    meta.write_text(json.dumps({"timesteps": 100}))
    shutil.copy(meta, meta.parent / "vecnormalize.pkl")
    with pytest.raises(ConfigError, match="predates pickle-free checkpoints"):
        checkpoints.check_resumable(checkpoints.latest(tmp_path), True, False, True)
