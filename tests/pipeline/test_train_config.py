"""A mismatched configuration fails in one line, exit status 2, before training starts and
before any file is written; ``--help`` lists the config groups. Helpers: ``training_runs.py``."""

from __future__ import annotations

import re

import pytest

from tests.entry_points import ROOT
from tests.pipeline.training_runs import CONTINUOUS, FAST, needs, train_in_process

MISMATCHES = {
    "dqn_continuous": (["agent=dqn", *CONTINUOUS], "agent=dqn"),
    "sac_discrete": (["agent=sac"], "agent=sac"),
    "negative_lead_time": (["env.lead_time=-1"], "env.lead_time"),
    "maskable_order_up_to": (["agent=maskable_ppo", "env.training.parameterisation=order_up_to"],
                             "env.training.parameterisation=order"),
    "shared_without_a_multi_agent_face": (["shared=true"], "shared"),
    "seed_beyond_2**32": (["seed=4294967296"], "seed"),
    "zero_eval_reps": (["eval.reps=0"], "eval.reps"),
    "negative_max_reps": (["eval.max_reps=-1"], "eval.max_reps"),
    "bad_agent_kwargs": (["agent=ppo", "agent.kwargs.n_steps=-3"], "agent.kwargs"),
    "bogus_wandb_mode": (["logger=wandb", "logger.wandb.mode=bogus"], "logger.wandb.mode"),
    "online_wandb_without_credentials": (["logger=wandb", "logger.wandb.mode=online"], "no W&B credentials"),
    "huge_penalty": (["env.penalty=1e300"], "env.penalty"),
    "huge_demand": (["env.demand.mean=1e18"], "env.demand.mean"),
    # settings used only after training must fail before it too
    "unknown_benchmark_agent": (["benchmark.agents=[base_stock,nope]"], "benchmark.agents"),
    "zero_eval_periods": (["eval.periods=0"], "eval.periods"),
    "dcl_on_a_task_without_a_problem": (["agent=dcl", "env=network"], "has no DCL problem"),
    "dcl_unknown_problem_option": (["agent=dcl", "+agent.problem.bogus=1"], "agent.problem"),
    "dcl_zero_rollouts": (["agent=dcl", "agent.kwargs.reps=0"], "agent.kwargs"),
    # smoke sizing asks the task for its multi-agent face: a task without one is refused first
    "shared_smoke_without_a_multi_agent_face": (["agent=ppo", "shared=true", "smoke=true"], "shared"),
    "nan_clip_obs": (["normalize.clip_obs=nan"], "normalize.clip_obs"),
    "zero_clip_reward": (["normalize.clip_reward=0"], "normalize.clip_reward"),
    "progress_bar_maybe": (["progress_bar=maybe"], "progress_bar"),
    "normalize_obs_maybe": (["normalize.obs=maybe"], "normalize.obs"),
    "normalize_reward_maybe": (["normalize.reward=1"], "normalize.reward"),
    "smoke_maybe": (["smoke=maybe"], "smoke"),
    "negative_layer": (["agent=ppo", "+agent.policy_kwargs.net_arch=[-5]"], "agent.policy_kwargs.net_arch"),
    "zero_value_layer": (["agent=ppo", "~agent.policy_kwargs.net_arch", "+agent.policy_kwargs.net_arch={pi:[8],vf:[0]}"],
                         "agent.policy_kwargs.net_arch.vf"),
    "net_arch_unknown_key": (["agent=ppo", "~agent.policy_kwargs.net_arch", "+agent.policy_kwargs.net_arch={q:[8]}"],
                             "pi, vf, qf"),
    "gamma_above_1": (["agent=ppo", "agent.kwargs.gamma=2"], "agent.kwargs.gamma"),
    "gamma_not_a_number": (["agent=ppo", "agent.kwargs.gamma=abc"], "agent.kwargs.gamma"),
    "negative_learning_rate": (["agent=ppo", "agent.kwargs.learning_rate=-0.1"], "agent.kwargs.learning_rate"),
    "negative_ent_coef": (["agent=ppo", "agent.kwargs.ent_coef=-1"], "agent.kwargs.ent_coef"),
    "zero_ppo_epochs": (["agent=ppo", "agent.kwargs.n_epochs=0"], "agent.kwargs.n_epochs"),
    "dqn_eps_above_1": (["agent=dqn", "agent.kwargs.exploration_final_eps=1.5"], "agent.kwargs.exploration_final_eps"),
    # used only by the benchmark after training: refused before it
    "negative_tuning_reps": (["tuning.reps=-1"], "tuning.reps"),
    "one_tuning_rep": (["tuning.reps=1"], "tuning.reps"),
    "tuning_reps_not_a_number": (["tuning.reps=abc"], "tuning.reps"),
}


# -- 1. configuration mismatches fail before training ---------------------------------------
# In this process: the command's ``main`` fails before training, so no interpreter start-up
# is needed to check its one line, its exit status and the files it must not write.
@pytest.mark.parametrize("key", list(MISMATCHES))
def test_mismatch_fails_before_training(key, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    args = [*FAST, "total_timesteps=512", *MISMATCHES[key][0], f"hydra.run.dir={out}"]
    result = train_in_process(args, tmp_path, out, monkeypatch, capsys)
    result.assert_one_line_error(MISMATCHES[key][1])
    assert "Traceback" not in result.stdout
    assert not (out / "config.yaml").exists() and not (out / "run.json").exists()
    assert not (out / "checkpoints").exists()


# -- 2. --help (Hydra answers it before main: a subprocess) ------------------------------------------------------------------------------
@needs("help")
def test_help_lists_config_groups(pipeline):
    result = pipeline.get("help")
    result.assert_ok()
    listed = dict(re.findall(r"^(\w+): (.+)$", result.stdout.split("== Config ==")[0], re.M))
    for group in ("env", "agent", "logger", "experiment", "hparams_search"):
        options = sorted(p.stem for p in (ROOT / "configs" / group).glob("*.yaml"))
        if not options:  # Hydra lists only groups that have options
            assert group not in listed
            continue
        assert listed.get(group, "").split(", ") == options, (group, listed)
    assert set(listed["agent"].split(", ")) == {"ppo", "a2c", "dqn", "sac", "td3", "maskable_ppo",
                                                "recurrent_ppo", "dcl"}
    assert set(listed["env"].split(", ")) >= {"lost_sales", "fulfillment_center"}
