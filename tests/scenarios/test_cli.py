"""``experiments.benchmark scenarios=[...]`` (the robustness table), ``scenario=<name>`` and their errors
(run in this process, ``tests/entry_points.py``; one error also from a real interpreter)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

import experiments.support.common  # noqa: F401  (registers the fg.* resolvers)
from agents.registry import build_task
from experiments.support.reporting import ROBUSTNESS_COLUMNS
from tests.conftest import task_overrides
from tests.entry_points import ROOT, run_in_process, run_subprocess

CONFIGS = ROOT / "configs"
SCENARIO_NAMES = sorted(p.stem for p in (CONFIGS / "scenario").glob("*.yaml"))


@pytest.mark.parametrize("env", ["lost_sales", "backorders", "fulfillment_center"])
@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_every_scenario_composes_into_the_task(env, name):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name="benchmark", overrides=[f"env={env}", f"scenario={name}"])
    task = build_task(OmegaConf.to_container(cfg.env, resolve=True))
    assert task.config.scenario.kind == name
    if name != "none":
        assert task.config.scenario.start == cfg.env.evaluation.warmup  # the first measured period


@pytest.mark.parametrize("env", ["lost_sales", "fulfillment_center"])
def test_robustness_smoke_run_writes_the_table(tmp_path, monkeypatch, capsys, env):
    out = tmp_path / "run"
    result = run_in_process("experiments.benchmark", [*task_overrides(env), "smoke=true", "scenarios=[none,demand_surge]",
                                                      f"hydra.run.dir={out}"], tmp_path, monkeypatch, capsys)
    result.assert_ok()
    for name in ("robustness.csv", "robustness.md", "robustness.png", "robustness.json"):
        assert (out / name).exists(), name
    frame = pd.read_csv(out / "robustness.csv")
    assert tuple(frame.columns) == ROBUSTNESS_COLUMNS
    assert list(dict.fromkeys(frame["scenario"])) == ["none", "demand_surge"]
    per_scenario = frame.groupby("scenario")
    assert (per_scenario["best"].sum() == 1).all() and (per_scenario["agent"].nunique() == per_scenario.size()).all()
    assert (frame.loc[frame["best"], "regret"] == 0).all() and (frame["regret"] >= 0).all()
    assert frame.loc[frame["scenario"] == "none", "vs_none_pct"].abs().max() == 0
    surge = frame[frame["scenario"] == "demand_surge"].set_index("agent")["mean_cost"]
    base = frame[frame["scenario"] == "none"].set_index("agent")["mean_cost"]
    tuned = [a for a in base.index if a != "random"]
    assert (surge[tuned] > base[tuned]).mean() >= 0.5  # a surge is dearer for most fixed policies
    md = (out / "robustness.md").read_text()
    assert "demand_surge" in md and "regret" in md
    assert "robustness" in result.stdout


SCENARIO_ERRORS = [
    (("scenarios=[none,flood]",), ["scenarios", "flood", "demand_surge", "capacity_cut"]),
    (("env=dispatch", "scenarios=[none]"), ["scenarios", "env=dispatch", "lost_sales", "fulfillment_center"]),
    (("env=dispatch", "scenario=demand_surge"), ["scenario", "env=dispatch", "lost_sales"]),
    (("scenario=demand_surge", "scenarios=[none]"), ["scenarios", "env.scenario"]),
    (("scenarios=[]",), ["scenarios", "expected a list"]),
    (("scenario=demand_surge", "env.scenario.size=-3"), ["env.scenario.size", "[-1, 100]"]),
]


@pytest.mark.parametrize(("args", "expected"), SCENARIO_ERRORS)
def test_scenario_errors_are_one_line(tmp_path, monkeypatch, capsys, args, expected):
    result = run_in_process("experiments.benchmark", ["smoke=true", *args, f"hydra.run.dir={tmp_path / 'run'}"],
                            tmp_path, monkeypatch, capsys)
    check_one_line(result, expected)


def test_a_scenario_error_from_a_real_interpreter_is_one_line(tmp_path):
    args, expected = SCENARIO_ERRORS[0]
    result = run_subprocess("experiments.benchmark", ["smoke=true", *args, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    check_one_line(result, expected)
    assert "Traceback" not in result.stderr


def check_one_line(result, expected) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in expected:
        assert word in lines[0], (word, lines[0])


def test_available_scenarios_are_the_config_files():
    from experiments.benchmark import available_scenarios

    assert available_scenarios() == SCENARIO_NAMES
    assert set(SCENARIO_NAMES) == {"none", "demand_surge", "supplier_disruption", "lead_time_shock", "capacity_cut"}
    assert Path(CONFIGS / "scenario" / "none.yaml").read_text().startswith("# @package env.scenario")
