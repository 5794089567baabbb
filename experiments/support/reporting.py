"""Result tables of every task: the rich table printed at the end of a run, ``results.csv``,
``results.md`` and ``cost_comparison.png`` (the schema is ``agents.harness``'s), and the
robustness table of ``experiments.benchmark scenarios=[...]`` (``robustness.csv``,
``robustness.md``, ``robustness.json``, ``robustness.png``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

from agents.harness import Evaluation
from experiments.support.plots import plot_costs

FOOTNOTE = ("Cost per {unit}: mean over replications ± 95% CI. Gap: paired by replication (common random "
            "numbers) against {reference}, ± 95% CI.")


def _cost(row, decimals: int) -> str:
    ci = "" if math.isnan(row.ci95) else f" ± {row.ci95:.{decimals}f}"
    return f"{row.mean_cost:.{decimals}f}{ci}"


def _gap(row, reference: str) -> str:
    if row.agent == reference:
        return "reference"
    if math.isnan(row.gap_pct):
        return "n/a"
    return f"{row.gap_pct:+.2f}" + ("" if math.isnan(row.gap_ci95) else f" ± {row.gap_ci95:.2f}")


def table_kpis(task, frame: pd.DataFrame):
    return [k for k in task.kpis if k.table and (k.name in frame or any(p in frame for p in k.parts))]


def print_table(evaluation: Evaluation, task, title: str, console: Console | None = None) -> None:
    """The results as a rich table (parameters listed below it, to keep it narrow)."""
    console = console or Console()
    frame, ref, dec = evaluation.frame, evaluation.reference, task.cost_decimals
    kpis = table_kpis(task, frame)
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    for header, justify in [("agent", "left"), (f"cost / {task.cost_unit}", "right"), ("gap %", "right"),
                            *((k.header, "right") for k in kpis)]:
        table.add_column(header, justify=justify, no_wrap=True)
    for row in frame.itertuples():
        table.add_row(row.agent, _cost(row, dec), _gap(row, ref), *(k.cell(row) for k in kpis))
    console.print(table)
    for row in frame.itertuples():
        if row.parameters:
            console.print(f"  {row.agent}: {row.parameters}")
    console.print(FOOTNOTE.format(reference=ref, unit=task.cost_unit) + f" Replications: {int(frame['reps'].iloc[0])}.")
    if note := evaluation.note():
        console.print(f"[yellow]{note}[/yellow]")


def markdown(evaluation: Evaluation, task) -> str:
    frame, ref, dec = evaluation.frame, evaluation.reference, task.cost_decimals
    kpis = table_kpis(task, frame)
    head = ["agent", f"cost / {task.cost_unit} (95% CI)", "gap % (paired 95% CI)", *(k.header for k in kpis), "parameters"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 2) + "---|"]
    for row in frame.itertuples():
        cells = [row.agent, _cost(row, dec), _gap(row, ref), *(k.cell(row) for k in kpis),
                 row.parameters]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_results(evaluation: Evaluation, task, out: Path, title: str, command: str) -> None:
    """``results.csv`` (every column), ``results.md``, ``results.json`` (reference, settings)
    and ``cost_comparison.png`` in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame = evaluation.frame
    frame.to_csv(out / "results.csv", index=False)
    write_per_replication(evaluation, out / "per_replication.csv")
    notes = [FOOTNOTE.format(reference=f"`{evaluation.reference}`", unit=task.cost_unit) + f" Replications: {int(frame['reps'].iloc[0])}."]
    if note := evaluation.note():
        notes.append(note)
    md = [f"# {title}", "", f"Command: `{command}`", "", markdown(evaluation, task), "", *notes, ""]
    (out / "results.md").write_text("\n".join(md))
    s = evaluation.settings
    meta = {"title": title, "command": command, "task": task.name, "reference": evaluation.reference,
            "target_met": evaluation.target_met,
            "eval": {"periods": s.periods, "warmup": s.warmup, "reps": int(frame["reps"].iloc[0]),
                     "first_round": s.reps, "max_reps": s.max_reps, "target_rel_ci": s.target_rel_ci,
                     "seed_base": s.seed_base}}
    (out / "results.json").write_text(json.dumps(meta, indent=2) + "\n")
    plot_costs(frame, out / "cost_comparison.png", title, decimals=task.cost_decimals)


def write_per_replication(evaluation: Evaluation, path: Path) -> None:
    """Every agent's cost per replication (one column per agent, one row per replication, the
    same seeds for every agent), so any two agents can be compared paired after the fact
    (``experiments.suite``: the trained policy against the best other agent)."""
    costs = {name: np.asarray(kpis["cost"], dtype=np.float64) for name, kpis in evaluation.per_rep.items()}
    frame = pd.DataFrame({"replication": np.arange(len(next(iter(costs.values())))), **costs})
    frame.to_csv(path, index=False, float_format="%.10g")


# -- robustness (experiments.benchmark scenarios=[...]) --------------------------------------
ROBUSTNESS_COLUMNS = ("scenario", "kind", "agent", "mean_cost", "ci95", "fill_rate", "fill_rate_ci95", "regret",
                      "regret_ci95", "regret_pct", "regret_pct_ci95", "best", "vs_none_pct", "reps")
ROBUSTNESS_NOTE = ("Per scenario: cost per {unit} and fill rate, means over replications ± 95% CI (common random "
                   "numbers: every agent and scenario plays the same seeds). Regret: cost minus the cost of the "
                   "cheapest agent of that scenario, paired by replication, ± 95% CI (absolute and in % of the "
                   "cheapest). vs none: change of the agent's mean cost against its own baseline (`none`). "
                   "Heuristics were tuned once, on the unstressed task.")


def robustness_frame(evaluations: dict, scenarios: dict[str, dict]) -> pd.DataFrame:
    """One row per scenario and agent (``ROBUSTNESS_COLUMNS``) from each scenario's
    :class:`agents.harness.Evaluation` (``per_rep``: per-replication KPIs of every agent)."""
    from agents.harness import ci95

    rows = []
    baseline = {}
    if "none" in evaluations:
        baseline = {a: float(np.mean(r["cost"])) for a, r in evaluations["none"].per_rep.items()}
    for name, evaluation in evaluations.items():
        per_rep = evaluation.per_rep
        means = {a: float(np.mean(r["cost"])) for a, r in per_rep.items()}
        best = min(means, key=means.get)
        ref = per_rep[best]["cost"]
        scale = abs(means[best]) or float("nan")
        for agent, r in per_rep.items():
            diff = r["cost"] - ref
            fill = r.get("fill_rate")
            base = baseline.get(agent)
            rows.append({
                "scenario": name, "kind": scenarios[name]["kind"], "agent": agent,
                "mean_cost": means[agent], "ci95": ci95(r["cost"]),
                "fill_rate": float(np.mean(fill)) if fill is not None else float("nan"),
                "fill_rate_ci95": ci95(fill) if fill is not None else float("nan"),
                "regret": float(diff.mean()), "regret_ci95": ci95(diff) if agent != best else 0.0,
                "regret_pct": 100 * float(diff.mean()) / scale,
                "regret_pct_ci95": (100 * ci95(diff) / scale) if agent != best else 0.0,
                "best": agent == best,
                "vs_none_pct": 100 * (means[agent] / base - 1) if base else float("nan"),
                "reps": len(r["cost"]),
            })
    frame = pd.DataFrame(rows, columns=list(ROBUSTNESS_COLUMNS))
    order = {name: i for i, name in enumerate(evaluations)}
    return frame.sort_values(["scenario", "mean_cost"], key=lambda c: c.map(order) if c.name == "scenario" else c,
                             kind="stable").reset_index(drop=True)


def _pm(value: float, ci: float, fmt: str) -> str:
    if value != value:
        return "-"
    return fmt.format(value) + ("" if ci != ci else f" ± {fmt.format(ci)}")


def _regret_cell(row) -> str:
    return "best" if row.best else f"{row.regret_pct:+.2f}%" + ("" if row.regret_pct_ci95 != row.regret_pct_ci95
                                                                  else f" ± {row.regret_pct_ci95:.2f}")


def robustness_notes(task, reference: str | None) -> list[str]:
    notes = [ROBUSTNESS_NOTE.format(unit=task.cost_unit)]
    if reference is not None:
        notes.append(f"`{reference}` is the task's reference on the unstressed problem (e.g. the exact optimum of "
                     "stationary demand and supply); under a scenario it is a fixed policy like the others, not the "
                     "optimum of the stressed problem, and regret is measured against the cheapest agent.")
    return notes


def robustness_markdown(frame: pd.DataFrame, task) -> str:
    """A pivot (agents x scenarios: cost ± CI, regret) and the long table."""
    dec = task.cost_decimals
    names = list(dict.fromkeys(frame["scenario"]))
    agents = list(dict.fromkeys(frame.sort_values("mean_cost", kind="stable")["agent"]))
    if "none" in names:
        agents = list(frame[frame["scenario"] == "none"]["agent"])
    head = ["agent", *(f"{n}: cost / {task.cost_unit} (regret %)" for n in names)]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * len(names)]
    for agent in agents:
        cells = [agent]
        for n in names:
            row = frame[(frame["scenario"] == n) & (frame["agent"] == agent)]
            if row.empty:
                cells.append("-")
                continue
            r = next(row.itertuples())
            cells.append(f"{_pm(r.mean_cost, r.ci95, f'{{:.{dec}f}}')} ({_regret_cell(r)})")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| scenario | agent | cost (95% CI) | fill rate (95% CI) | regret (paired 95% CI) | regret % | "
              "vs none % | reps |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in frame.itertuples():
        lines.append(f"| {r.scenario} | {r.agent} | {_pm(r.mean_cost, r.ci95, f'{{:.{dec}f}}')} | "
                     f"{_pm(100 * r.fill_rate, 100 * r.fill_rate_ci95, '{:.2f}')}% | "
                     f"{_pm(r.regret, r.regret_ci95, f'{{:.{dec}f}}')} | {_regret_cell(r)} | "
                     f"{'-' if r.vs_none_pct != r.vs_none_pct else f'{r.vs_none_pct:+.2f}'} | {r.reps} |")
    return "\n".join(lines)


def print_robustness(frame: pd.DataFrame, task, title: str, console: Console | None = None,
                     reference: str | None = None) -> None:
    """The robustness summary: agents x scenarios, cost ± CI and regret % (best = cheapest)."""
    console = console or Console()
    dec = task.cost_decimals
    names = list(dict.fromkeys(frame["scenario"]))
    agents = list(dict.fromkeys(frame.sort_values("mean_cost", kind="stable")["agent"]))
    if "none" in names:
        agents = list(frame[frame["scenario"] == "none"]["agent"])
    table = Table(title=f"{title}: robustness", title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1),
                  pad_edge=False)
    table.add_column("agent", no_wrap=True)
    for n in names:
        table.add_column(f"{n}\ncost / {task.cost_unit}\nregret, fill", justify="right")
    for agent in agents:
        cells = [agent]
        for n in names:
            row = frame[(frame["scenario"] == n) & (frame["agent"] == agent)]
            r = next(row.itertuples())
            cost = _pm(r.mean_cost, r.ci95, f"{{:.{dec}f}}")
            second = _regret_cell(r) + ("" if r.fill_rate != r.fill_rate else f", {r.fill_rate:.1%}")
            cells.append(f"[bold]{cost}[/bold]\n{second}" if r.best else f"{cost}\n{second}")
        table.add_row(*cells)
    console.print(table)
    for note in robustness_notes(task, reference):
        console.print(note)


def write_robustness(frame: pd.DataFrame, evaluations: dict, scenarios: dict[str, dict], task, out: Path,
                     title: str, command: str, reference: str | None = None) -> None:
    """``robustness.csv`` (``ROBUSTNESS_COLUMNS``), ``robustness.md``, ``robustness.json``
    (scenario definitions, settings) and ``robustness.png`` in ``out``."""
    from experiments.support.plots import plot_robustness

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "robustness.csv", index=False)
    defs = [f"* `{name}`: " + ", ".join(f"{k}={v}" for k, v in sc.items()) for name, sc in scenarios.items()]
    notes = robustness_notes(task, reference)
    for name, evaluation in evaluations.items():
        if note := evaluation.note():
            notes.append(f"{name}: {note}")
    md = [f"# Robustness: {title}", "", f"Command: `{command}`", "", "Scenarios (periods counted from the "
          "episode's first period, warm-up included; docs/scenarios.md):", "", *defs, "",
          robustness_markdown(frame, task), "", *notes, ""]
    (out / "robustness.md").write_text("\n".join(md))
    first = next(iter(evaluations.values())).settings
    meta = {"title": title, "command": command, "task": task.name, "scenarios": scenarios,
            "eval": {"periods": first.periods, "warmup": first.warmup, "first_round": first.reps,
                     "max_reps": first.max_reps, "target_rel_ci": first.target_rel_ci, "seed_base": first.seed_base},
            "reps": {name: int(ev.frame["reps"].iloc[0]) for name, ev in evaluations.items()},
            "target_met": {name: ev.target_met for name, ev in evaluations.items()}}
    (out / "robustness.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    plot_robustness(frame, out / "robustness.png", title, unit=task.cost_unit)
