"""The benchmark harness and command: fair comparisons and the files they write."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from agents.lost_sales.agents import make_agent
from agents.lost_sales.optimal import exact_average_cost, make_optimal
from agents.lost_sales.rollout import evaluate_policies, paired_gap
from envs.replenishment.lost_sales.config import LostSalesConfig
from experiments.benchmark import suite_row

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FULFILLGYM_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize(("lead", "penalty"), [(1, 4), (2, 9)])
def test_no_tuned_heuristic_beats_the_optimum_beyond_noise(lead, penalty):
    config = LostSalesConfig(lead_time=lead, penalty=penalty)
    names = ("optimal", "base_stock", "capped_base_stock", "s_S", "myopic")
    agents = {name: make_agent(name, config) for name in names}
    results = {r.agent: r for r in evaluate_policies(config, agents, reps=64, max_reps=256)}
    for name in names[1:]:
        gap, half_width = paired_gap(results[name], results["optimal"])
        assert gap >= -half_width, f"{name} beats the optimum: {gap:.3f}% +- {half_width:.3f}"


def test_suite_row_reports_exact_costs_consistent_with_the_optimum():
    row = suite_row(LostSalesConfig(lead_time=1, penalty=9), make_optimal, exact_average_cost)
    assert row["lead_time"] == 1 and row["penalty"] == 9
    for name in ("base_stock", "capped_base_stock", "constant_order", "myopic"):
        assert row[f"{name}_cost"] >= row["optimal_cost"] - 1e-9
    # capped base-stock contains base-stock (cap = q_max), so tuned well it is no worse
    assert row["capped_base_stock_cost"] <= row["base_stock_cost"] + 0.01


def test_benchmark_command_writes_results_table_and_plot(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO), "FULFILLGYM_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "experiments.benchmark", "env.lead_time=1", "env.penalty=4",
           "agents=[optimal,base_stock,random]", "eval.reps=16", "eval.max_reps=32",
           f"hydra.run.dir={out}"]
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out / "results.csv")
    assert {"agent", "mean_cost", "ci95", "gap_pct", "fill_rate"} <= set(frame.columns)
    assert set(frame["agent"]) == {"optimal", "base_stock", "random"}
    assert frame.loc[frame["agent"] == "optimal", "gap_pct"].iloc[0] == 0.0
    assert (out / "results.md").read_text().count("|") > 10
    assert (out / "cost_comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "env:" in (out / "config.yaml").read_text()
    assert "optimal" in result.stdout and "base_stock" in result.stdout
