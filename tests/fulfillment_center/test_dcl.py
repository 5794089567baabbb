"""Deep Controlled Learning on the fulfilment centre (``agents.fulfillment_center.dcl``).

The batched rows simulator is checked against ``FulfillmentSimulator`` (whole centres, every
cost option), the per-SKU rollouts against the base rollouts they decouple from (the current
policy's own action must reproduce the base rollout's cost exactly, capacity coupling
included), generation 0's imitation against the heuristic's orders, and the pipeline by real
short runs of the entry points (training, logging, resume, ONNX export with parity), in this
process (``tests.entry_points.run_in_process``: the same Hydra ``main`` on the same composed
config).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.fulfillment_center.dcl import FulfillmentDCL
from agents.registry import build_task
from agents.rl.dcl import first_occurrence
from envs.core.config import ConfigError
from envs.replenishment.fulfillment_center.config import FulfillmentConfig
from envs.replenishment.fulfillment_center.parallel_env import agent_observations
from envs.replenishment.fulfillment_center.rows import SkuRows, grouped_refusals
from envs.replenishment.fulfillment_center.simulator import FulfillmentSimulator
from experiments.suite import collect
from tests.entry_points import run_in_process, run_once
from tests.fulfillment_center.test_training import rows as read_rows

TARGET = "agents.fulfillment_center.task.FulfillmentCenterTask"
OPTIONS = [{}, {"fixed_order_cost": 3.0, "purchase_cost": True, "revenue": True, "overflow": "return"},
           {"pipeline_slots": 2, "action_type": "discrete"}]


def make_task(**env):
    return build_task({"_target_": TARGET, "n_skus": 12, "episode_length": 120, **env})


def toy_policy(n_actions: int):
    """A fixed policy of the observation: a lower level the more stock and the fuller the store."""
    def act(obs: np.ndarray) -> np.ndarray:
        position = obs[:, 0] + obs[:, 1]
        return np.clip(np.rint(9 - 2.5 * position - 3 * obs[:, 15]), 0, n_actions - 1).astype(np.int64)
    return act


# -- the rows simulator --------------------------------------------------------------------
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), capacity_days=st.sampled_from([0.0, 0.6, 1.0]), option=st.sampled_from(OPTIONS))
def test_rows_of_whole_centres_step_like_the_simulator(seed, capacity_days, option):
    problem = FulfillmentConfig.from_kwargs({"n_skus": 15, "capacity_days": capacity_days, "action_type": "level",
                                             **option}).build()
    n, cfg = problem.n, problem.config
    sims = [FulfillmentSimulator(problem) for _ in range(3)]
    for k, sim in enumerate(sims):
        sim.reset(np.random.default_rng([seed, k]))
    rng = np.random.default_rng(seed)
    choices = len(cfg.action_choices)
    for _ in range(4):
        for sim in sims:
            sim.step(sim.orders_from_actions(rng.integers(0, choices, n)))
    batch = SkuRows.from_simulators(sims)
    refuse = grouped_refusals(batch, problem.capacity) if problem.limited else None
    for _ in range(25):
        util = np.repeat([sim.utilisation() for sim in sims], n)
        assert np.array_equal(batch.observations(util), np.concatenate([agent_observations(s) for s in sims]))
        actions = rng.integers(0, choices, 3 * n)
        q = np.concatenate([s.orders_from_actions(actions[k * n:(k + 1) * n]) for k, s in enumerate(sims)])
        assert np.array_equal(batch.orders(actions), q)
        costs = []
        for k, sim in enumerate(sims):
            sim.step(q[k * n:(k + 1) * n])
            costs.append(sim.sku_costs())
        period = batch.step(q, np.concatenate([s.last.demand for s in sims]), refuse)
        assert np.array_equal(batch.on_hand, np.concatenate([s.on_hand for s in sims]))
        assert np.array_equal(batch.pipe_total, np.concatenate([s.pipe_total for s in sims]))
        refused = np.concatenate([s.last.rejected if s.last.rejected is not None else np.zeros(n, np.int64)
                                  for s in sims])
        assert np.array_equal(period.rejected if period.rejected is not None else np.zeros(3 * n), refused)
        # own costs + the overflow cost - refunds = the simulator's per-SKU costs, centre by centre
        refunds = problem.unit_cost * refused.reshape(3, n) if cfg.purchase_cost and cfg.overflow == "return" else 0
        want = np.concatenate(costs).reshape(3, n).sum(axis=1)
        got = (period.cost.reshape(3, n).sum(axis=1) + cfg.overflow_cost * refused.reshape(3, n).sum(axis=1)
               - np.sum(refunds, axis=-1))
        assert np.allclose(got, want, rtol=1e-12, atol=1e-9)


# -- the per-SKU rollouts ------------------------------------------------------------------
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**16), capacity_days=st.sampled_from([0.0, 0.6, 1.0]),
       fixed=st.sampled_from([0.0, 2.0]))
def test_the_policys_own_action_reproduces_the_base_rollout(seed, capacity_days, fixed):
    """SKU i rolled out alone against the base rollout's warehouse, taking the policy's own
    action, is the base rollout: its own cost plus the overflow cost of every unit the
    warehouse refused, period by period, over its lead time + horizon. Exact, refusals
    included (the pro-rata rule on SKU i's receipt together with the others')."""
    task = make_task(capacity_days=capacity_days, fixed_order_cost=fixed)
    problem = FulfillmentDCL(task, burn_in=10, sample_every=3, per_row=2, skus_per_state=6)
    act = toy_policy(problem.n_actions)
    states = problem.sample(act, 24, np.random.default_rng(seed))
    horizon, reps = 4, 6
    candidates = problem.candidate_orders(states)
    first = first_occurrence(candidates)
    fcs, pairs = np.arange(len(states.obs)), np.arange(len(states.state))
    base = problem.base_rollouts(states, fcs, act, problem.rollout_periods(horizon), reps,
                                 np.random.default_rng(seed + 1))
    scores = problem.pair_costs(states, pairs, fcs, base, candidates, first, act, horizon)
    own = act(problem.observe(states))
    p = problem.problem
    for k in pairs:
        s, i = states.state[k], states.sku[k]
        groups = s * reps + np.arange(reps)
        periods = p.lead_time[i] + horizon
        per = base["cost"][:periods, groups, i] + p.config.overflow_cost * base["rejected"][:periods, groups].sum(axis=2)
        assert scores[k, own[k]] == pytest.approx(per.sum(axis=0).mean(), rel=1e-12, abs=1e-9)
    if capacity_days:
        assert base["rejected"].sum() > 0  # the coupling was exercised
    # equal orders score equally; the distinct ones are not all equal (the candidate matters)
    assert np.array_equal(scores, np.take_along_axis(scores, first, axis=1))
    assert np.any(np.ptp(scores, axis=1) > 0)


def test_generation_zero_imitates_the_start_heuristic():
    task = make_task(capacity_days=1.0)
    problem = FulfillmentDCL(task, start_policy="base_stock", burn_in=5, sample_every=2, per_row=2, skus_per_state=12)
    states = problem.sample(None, 36, np.random.default_rng(3))
    assert states.obs.shape[:2] == (3, 12) and len(states.state) == 36
    labels = problem.score(states, None, 4, 2, np.random.default_rng(0)).argmin(axis=1)
    candidates = problem.candidate_orders(states)
    target = states.start_orders[states.state, states.sku]
    gap = np.abs(candidates - target[:, None])
    assert np.array_equal(gap[np.arange(len(labels)), labels], gap.min(axis=1))
    # the sampled observations are the PettingZoo env's per-agent rows of the sampled states
    rows = states.rows.observations(np.repeat(states.obs[:, 0, 15], 12))
    assert np.array_equal(rows.reshape(states.obs.shape), states.obs)


@pytest.mark.parametrize("env, options, field", [
    ({"backorders": True}, {}, "env.backorders"),
    ({"lead_time_jitter": 1}, {}, "env.lead_time_jitter"),
    ({"scenario": {"kind": "demand_surge", "start": 0, "duration": 5, "size": 0.5}}, {}, "scenario=none"),
    ({"training": {"action_type": "continuous"}}, {}, "env.training.action_type"),
    ({}, {"start_policy": "random"}, "agent.problem.start_policy"),
    ({}, {"burn_in": 200}, "agent.problem"),
    ({}, {"skus_per_state": 0}, "agent.problem.skus_per_state"),
])
def test_unsupported_settings_are_one_line_config_errors(env, options, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        task = make_task(**env)
        FulfillmentDCL(task, **options)


# -- the command line ----------------------------------------------------------------------
SMALL_DCL = ["env=fulfillment_center", "agent=dcl", "shared=true", "env.n_skus=8", "env.episode_length=60",
             "env.capacity_days=1.0", "n_envs=1", "agent.kwargs.n_states=96", "agent.kwargs.reps=4",
             "agent.kwargs.horizon=3", "agent.kwargs.n_epochs=2", "agent.problem.start_policy=base_stock",
             "agent.problem.burn_in=5", "agent.problem.sample_every=3", "agent.problem.per_row=2",
             "agent.problem.skus_per_state=4", "validation.freq=96", "checkpoint.freq=96", "validation.reps=2",
             "eval.warmup=5", "eval.reps=2", "eval.max_reps=2", "progress_bar=false", "benchmark.agents=[base_stock]"]


@pytest.fixture(scope="module")
def dcl_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("fc_dcl")
    out = base / "run"
    return base, run_once("experiments.train", [*SMALL_DCL, "total_timesteps=192", f"hydra.run.dir={out}"], base, out)


def test_dcl_trains_a_shared_policy_from_the_command_line(dcl_run):
    _, result = dcl_run
    result.assert_ok()
    out = result.out
    assert {r["agent"] for r in read_rows(out / "results.csv")} == {"dcl", "base_stock"}
    assert [int(r["timesteps"]) for r in read_rows(out / "eval.csv")] == [96, 192]
    generations = [r for r in read_rows(out / "progress.csv") if r.get("dcl/generation")]
    assert [float(r["dcl/generation"]) for r in generations] == [1.0, 2.0]
    assert generations[-1]["dcl/rollout_gain_pct"] != ""  # generation 2 scored by rollouts
    # the suite compares it with the cheapest other agent (no exact optimum here), paired
    row = collect("fc_dcl", 0, out)
    assert row["reference"] == "base_stock" and row["agent"] == "dcl"
    assert row["gap_to_reference_pct"] == pytest.approx(100 * (row["cost"] / row["reference_cost"] - 1))
    assert np.isfinite(row["reference_paired_ci95"]) and row["reference_paired_ci95"] > 0
    assert row["significantly_ahead_of_reference"] == (row["gap_to_reference_pct"] + row["reference_paired_ci95"] < 0)


def test_dcl_resumes_and_exports_on_the_fulfilment_centre(dcl_run, tmp_path, monkeypatch, capsys):
    _, result = dcl_run
    result.assert_ok()
    run = tmp_path / "run"
    shutil.copytree(result.out, run, ignore=shutil.ignore_patterns("wandb"))
    resumed = run_in_process("experiments.train", [f"resume={run}", "total_timesteps=288"], tmp_path, monkeypatch,
                             capsys, run)
    resumed.assert_ok()
    assert [int(r["timesteps"]) for r in read_rows(run / "eval.csv")] == [96, 192, 288]
    run_in_process("experiments.export", [f"run_dir={run}", "checkpoint=best"], tmp_path, monkeypatch,
                   capsys).assert_ok()
    card = json.loads((run / "export" / "policy.onnx.json").read_text())
    assert card["shared"] is True and card["parity"]["action_mismatches"] == 0


def test_dcl_on_the_fulfilment_centre_needs_shared(tmp_path, monkeypatch, capsys):
    args = [a for a in SMALL_DCL if a != "shared=true"]
    result = run_in_process("experiments.train", [*args, "total_timesteps=96", f"hydra.run.dir={tmp_path / 'r'}"],
                            tmp_path, monkeypatch, capsys)
    result.assert_one_line_error("shared=true")
