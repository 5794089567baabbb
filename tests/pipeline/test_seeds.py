"""Seed statistics of trained models (experiments/support/seeds.py): grouping by everything but the
seed, and the across-seed mean, t-interval and worst seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from experiments.suite import summary
from experiments.support.seeds import group_of, over_seeds, seed_table


def cfg(**changes):
    base = {"seed": 0, "shared": False, "total_timesteps": 1000, "agent": {"name": "ppo", "kwargs": {"n_steps": 64}},
            "env": {"_target_": "x.Y", "n_skus": 3, "evaluation": {"reps": 16, "max_reps": 64, "warmup": 5}},
            "eval": {"reps": 16}, "hydra": {"run": {"dir": "a"}}}
    for key, value in changes.items():
        node = base
        *parents, last = key.split(".")
        for p in parents:
            node = node[p]
        node[last] = value
    return OmegaConf.create(base)


def test_over_seeds_is_the_mean_the_t_interval_and_the_worst_seed():
    runs = over_seeds([3.0, 9.0, 1.5, 4.0])
    assert runs.mean == pytest.approx(4.375)
    assert runs.ci95 == pytest.approx(3.182446305284263 * np.std([3.0, 9.0, 1.5, 4.0], ddof=1) / 2)
    assert (runs.worst, runs.worst_at, runs.best) == (9.0, 1, 1.5)
    assert np.isnan(over_seeds([2.0]).ci95) and over_seeds([2.0]).worst == 2.0  # one seed: no interval


def test_the_suite_summary_and_the_seed_table_agree_on_the_same_runs():
    frame = pd.DataFrame({"agent": ["ppo:0", "ppo:1", "ppo:2"], "mean_cost": [11.0, 13.5, 12.0],
                          "gap_pct": [10.0, 35.0, 20.0]})
    row = seed_table(frame, {"ppo:0": ("g", 0), "ppo:1": ("g", 1), "ppo:2": ("g", 2)}).iloc[0]
    suite = summary(pd.DataFrame({"experiment": "e", "reference": "optimal", "best_other": "base_stock",
                                  "gap_to_reference_pct": frame["gap_pct"], "gap_to_best_other_pct": -frame["gap_pct"]}))
    one = suite.iloc[0]
    assert (one["gap_to_reference_pct"], one["gap_ci95"], one["worst_seed_gap_pct"]) == (
        row["mean_gap_pct"], row["gap_ci95"], row["worst_gap_pct"])
    assert row["worst_seed"] == 1


def test_runs_differing_only_in_seed_or_evaluation_share_a_group():
    label, seed = group_of(cfg())
    assert label.startswith("ppo#") and seed == 0
    for same in (cfg(seed=3), cfg(**{"eval.reps": 64}), cfg(**{"env.evaluation.max_reps": 256}),
                 cfg(**{"hydra.run.dir": "b"})):
        assert group_of(same)[0] == label
    for other in (cfg(total_timesteps=2000), cfg(**{"agent.kwargs.n_steps": 128}), cfg(**{"env.n_skus": 4}),
                  cfg(**{"env.evaluation.warmup": 9})):
        assert group_of(other)[0] != label
    assert group_of(cfg(shared=True))[0].startswith("ppo_shared#")


def test_the_table_gives_the_mean_the_t_interval_and_the_worst_seed():
    frame = pd.DataFrame({"agent": ["base", "ppo:0", "ppo:1", "ppo:2", "solo:0"],
                          "mean_cost": [10.0, 11.0, 12.0, 13.5, 20.0], "gap_pct": [0.0, 10.0, 20.0, 35.0, 100.0]})
    members = {"ppo:0": ("g", 0), "ppo:1": ("g", 1), "ppo:2": ("g", 2), "solo:0": ("h", 0)}
    table = seed_table(frame, members)
    assert list(table["group"]) == ["g"]  # a group of one run has no seed statistics
    row = table.iloc[0]
    gaps = np.array([10.0, 20.0, 35.0])
    assert row["mean_gap_pct"] == pytest.approx(gaps.mean())
    assert row["gap_ci95"] == pytest.approx(4.302652729911275 * gaps.std(ddof=1) / np.sqrt(3))
    assert row["worst_seed"] == 2 and row["worst_gap_pct"] == 35.0 and row["best_gap_pct"] == 10.0
    assert row["runs"] == 3 and row["seeds"] == "0 1 2"


def test_models_accepts_a_sweep_folder_or_a_glob_of_runs(tmp_path):
    from envs.core.config import ConfigError
    from experiments.benchmark import expand_runs

    sweep = tmp_path / "multirun" / "train" / "2026-11-30_10-00-00"
    for job in ("0", "1", "2"):
        (sweep / job).mkdir(parents=True)
        (sweep / job / "config.yaml").write_text("seed: 0\n")
    (sweep / "multirun.yaml").write_text("x: 1\n")
    jobs = [sweep / j for j in ("0", "1", "2")]
    assert expand_runs([str(sweep)]) == jobs  # a sweep: every run directly inside it
    assert expand_runs([str(sweep / "1")]) == [sweep / "1"]  # a run: itself
    assert expand_runs([str(sweep / "[02]")]) == [sweep / "0", sweep / "2"]  # a glob: its matches
    assert expand_runs([str(tmp_path / "nowhere")]) == [tmp_path / "nowhere"]  # open_run says why
    with pytest.raises(ConfigError, match="models: .* matches no run directory"):
        expand_runs([str(tmp_path / "none*")])
