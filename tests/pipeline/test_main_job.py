"""The main job (``make train`` = ``python -m experiments.train`` with train.yaml's defaults) is
the project's answer on the default lost-sales instance, DCL; PPO is one override away."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

import experiments.support.common  # noqa: F401  (registers the fg.* resolvers)
from experiments.train import versus_best_other

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def composed(*overrides: str) -> dict:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[*overrides, "resume=null"])
    return OmegaConf.to_container(cfg, resolve=False)


def test_the_default_job_is_dcl_on_the_default_lost_sales_instance():
    main = composed()
    assert main["agent"]["name"] == "dcl" and main["env"]["_target_"].endswith("LostSalesTask")
    assert main == composed("experiment=lost_sales_dcl")  # the settings behind docs/benchmarks/lost_sales_dcl.md


def test_ppo_is_one_override_away_with_its_own_budget():
    ppo = composed("agent=ppo")
    assert ppo["agent"]["name"] == "ppo"
    assert (ppo["total_timesteps"], ppo["n_envs"], ppo["normalize"]["reward"], ppo["validation"]["freq"]) == (
        400000, 4, True, 20000)
    assert composed("hparams_search=ppo_lost_sales")["agent"]["name"] == "ppo"


def test_an_experiment_sets_the_budget_over_the_agents_run_settings():
    fc = composed("experiment=fulfillment_center_dcl")
    assert (fc["total_timesteps"], fc["validation"]["freq"], fc["checkpoint"]["freq"]) == (24000, 4000, 4000)
    assert composed("agent=dcl", "total_timesteps=8192")["total_timesteps"] == 8192  # the command line wins


def test_the_final_line_compares_with_the_cheapest_other_agent():
    frame = pd.DataFrame({"agent": ["optimal", "dcl", "capped_base_stock", "myopic"],
                          "mean_cost": [6.0, 6.001, 6.03, 6.2]})
    costs = {"optimal": [6.0, 6.0], "dcl": [5.9, 6.102], "capped_base_stock": [6.0, 6.06], "myopic": [6.2, 6.2]}
    per_rep = {name: {"cost": np.array(c)} for name, c in costs.items()}
    line = versus_best_other(frame, per_rep, "dcl", "optimal")
    assert line.startswith("-0.48 ± ") and line.endswith("% vs capped_base_stock, the cheapest other agent")
    assert versus_best_other(frame.iloc[:2], per_rep, "dcl", "optimal") == ""  # nothing but the reference
