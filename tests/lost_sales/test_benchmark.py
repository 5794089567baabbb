"""The benchmark harness and command: fair comparisons and the files they write (the command's
main runs in this process, ``tests/entry_points.py``)."""

from __future__ import annotations

import pandas as pd
import pytest

from agents.harness import EvalSettings, evaluate, paired_gap
from agents.lost_sales import suite
from agents.lost_sales.suite import suite_row
from agents.lost_sales.task import LostSalesTask
from agents.registry import task_class
from tests.entry_points import run_in_process


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FULFILLGYM_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize(("lead", "penalty"), [(1, 4), (2, 9)])
def test_no_tuned_heuristic_beats_the_optimum_beyond_noise(lead, penalty):
    task = LostSalesTask(lead_time=lead, penalty=penalty)
    names = ("optimal", "base_stock", "capped_base_stock", "s_S", "myopic")
    agents = {name: task.make_agent(name) for name in names}
    result = evaluate(task, agents, EvalSettings(1000, 100, 64, 256, 0.005))
    assert result.reference == "optimal"
    for name in names[1:]:
        gap, half_width = paired_gap(result.per_rep[name]["cost"], result.per_rep["optimal"]["cost"])
        assert gap >= -half_width, f"{name} beats the optimum: {gap:.3f}% +- {half_width:.3f}"


def test_suite_row_reports_exact_costs_consistent_with_the_optimum():
    row = suite_row(LostSalesTask(lead_time=1, penalty=9))
    assert row["lead_time"] == 1 and row["penalty"] == 9
    for name in ("base_stock", "capped_base_stock", "constant_order", "myopic"):
        assert row[f"{name}_cost"] >= row["optimal_cost"] - 1e-9
    # capped base-stock contains base-stock (cap = q_max), so tuned well it is no worse
    assert row["capped_base_stock_cost"] <= row["base_stock_cost"] + 0.01


def test_benchmark_command_writes_results_table_and_plot(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    args = ["env.lead_time=1", "env.penalty=4", "agents=[optimal,base_stock,random]", "eval.reps=16",
            "eval.max_reps=32", f"hydra.run.dir={out}"]
    result = run_in_process("experiments.benchmark", args, tmp_path, monkeypatch, capsys)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out / "results.csv")
    kpis = list(task_class("lost_sales").kpi_names())
    assert list(frame.columns) == ["agent", "mean_cost", "ci95", "gap_pct", "gap_ci95", "reps", *kpis, "parameters"]
    assert set(frame["agent"]) == {"optimal", "base_stock", "random"}
    assert frame.loc[frame["agent"] == "optimal", "gap_pct"].iloc[0] == 0.0
    assert (out / "results.md").read_text().count("|") > 10
    assert (out / "cost_comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "env:" in (out / "config.yaml").read_text()
    assert "optimal" in result.stdout and "base_stock" in result.stdout


def classic_suite(tmp_path, monkeypatch, capsys) -> pd.DataFrame:
    out, docs = tmp_path / "run", tmp_path / "docs"
    result = run_in_process("experiments.benchmark", ["suite=classic", f"suite_dir={docs}", f"hydra.run.dir={out}"],
                            tmp_path, monkeypatch, capsys)
    assert result.returncode == 0, result.stderr
    assert (out / "lost_sales.md").read_text() == (docs / "lost_sales.md").read_text()
    assert (out / "lost_sales.csv").read_text() == (docs / "lost_sales.csv").read_text()
    frame = pd.read_csv(docs / "lost_sales.csv")
    assert (frame["base_stock_gap_pct"] >= -1e-9).all()
    return frame


def test_the_suite_command_writes_its_tables_on_two_of_the_classic_instances(tmp_path, monkeypatch, capsys):
    """``suite=classic``'s command path (the same code as the 16 instances) on L = 1, p in {4, 39}."""
    monkeypatch.setattr(suite, "SUITE_LEAD_TIMES", (1,))
    monkeypatch.setattr(suite, "SUITE_PENALTIES", (4, 39))
    frame = classic_suite(tmp_path, monkeypatch, capsys)
    assert list(zip(frame["lead_time"], frame["penalty"], strict=True)) == [(1, 4), (1, 39)]


@pytest.mark.slow
def test_the_classic_suite_command_writes_its_tables(tmp_path, monkeypatch, capsys):
    """``suite=classic`` solves and evaluates all 16 instances exactly (about 80 CPU-s; the
    default set runs the same command on two instances:
    ``test_the_suite_command_writes_its_tables_on_two_of_the_classic_instances``)."""
    frame = classic_suite(tmp_path, monkeypatch, capsys)
    assert len(frame) == 16


def test_a_large_demand_mean_is_benchmarked_not_hung(tmp_path, monkeypatch, capsys):
    """Mean demand 1e4 (order levels near 30,000): every grid is coarsened and refined, the
    myopic rule and the DP are skipped with a note; the command returns (a hang guard: the
    timeout is generous, not a speed requirement)."""
    out = tmp_path / "run"
    result = run_in_process("experiments.benchmark", ["env.demand.mean=1e4", "eval.max_reps=128", f"hydra.run.dir={out}"],
                            tmp_path, monkeypatch, capsys)
    assert result.returncode == 0, result.stderr
    assert "optimal skipped: state space too large" in result.stdout
    assert "myopic skipped: demand support too wide" in result.stdout
    frame = pd.read_csv(out / "results.csv")
    costs = dict(zip(frame["agent"], frame["mean_cost"], strict=True))
    assert costs["capped_base_stock"] <= costs["base_stock"] < costs["random"]
