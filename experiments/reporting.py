"""Result tables of every task: the rich table printed at the end of a run, ``results.csv``,
``results.md`` and ``cost_comparison.png`` (the schema is ``agents.harness``'s)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

from agents.harness import Evaluation
from experiments.plots import plot_costs

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
