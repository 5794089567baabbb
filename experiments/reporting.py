"""Result tables (rich, CSV, Markdown) and plots shared by benchmark and training runs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from agents.lost_sales.rollout import AgentResult, paired_gap

COLUMNS = ["agent", "mean_cost", "ci95", "gap_pct", "gap_ci95", "fill_rate"]


def results_frame(results: list[AgentResult], reference: str | None = None) -> pd.DataFrame:
    """One row per agent. ``gap_pct`` is relative to ``reference`` (default: ``optimal`` if
    evaluated, else the agent with the lowest mean cost), with a paired 95% CI."""
    by_name = {r.agent: r for r in results}
    if reference is None:
        reference = "optimal" if "optimal" in by_name else min(results, key=lambda r: r.mean_cost).agent
    ref = by_name[reference]
    rows = []
    for r in results:
        gap, gap_ci = paired_gap(r, ref)
        rows.append(
            {
                "agent": r.agent,
                "mean_cost": r.mean_cost,
                "ci95": r.ci95,
                "gap_pct": gap,
                "gap_ci95": gap_ci,
                "fill_rate": r.fill_rate,
                **{k: v for k, v in r.components.items()},
                "reps": len(r.per_rep_cost),
                "reference": reference,
                "params": ", ".join(f"{k}={_fmt(v)}" for k, v in r.params.items()),
            }
        )
    return pd.DataFrame(rows).sort_values("mean_cost", kind="stable").reset_index(drop=True)


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def make_console() -> Console:
    """A console for result tables: piped output (CI logs, ``| tee``) would otherwise get 80
    columns, too narrow for the tables, so it gets 120."""
    return Console(width=None if sys.stdout.isatty() else 120)


def print_table(frame: pd.DataFrame, title: str, console: Console | None = None) -> None:
    console = console or make_console()
    table = Table(title=title, title_justify="left")
    for col, justify in [("agent", "left"), ("mean cost / period", "right"), ("95% CI", "right"),
                         ("gap %", "right"), ("fill rate", "right"), ("parameters", "left")]:
        table.add_column(col, justify=justify)
    for row in frame.itertuples():
        gap = "ref" if row.agent == row.reference else f"{row.gap_pct:+.2f} ± {row.gap_ci95:.2f}"
        table.add_row(row.agent, f"{row.mean_cost:.4f}", f"± {row.ci95:.4f}", gap,
                      f"{row.fill_rate:.2%}", row.params)
    console.print(table)


def write_results(frame: pd.DataFrame, out: Path, title: str, command: str) -> None:
    """``results.csv``, ``results.md`` and ``cost_comparison.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "results.csv", index=False)
    md = [f"# {title}", "", f"Command: `{command}`", "", frame_markdown(frame), ""]
    (out / "results.md").write_text("\n".join(md))
    plot_costs(frame, out / "cost_comparison.png", title)


def frame_markdown(frame: pd.DataFrame) -> str:
    lines = ["| agent | mean cost / period | 95% CI | gap % (paired 95% CI) | fill rate | parameters |",
             "|---|---:|---:|---:|---:|---|"]
    for row in frame.itertuples():
        gap = "reference" if row.agent == row.reference else f"{row.gap_pct:+.2f} ± {row.gap_ci95:.2f}"
        lines.append(f"| {row.agent} | {row.mean_cost:.4f} | ± {row.ci95:.4f} | {gap} | "
                     f"{row.fill_rate:.2%} | {row.params} |")
    return "\n".join(lines)


def plot_costs(frame: pd.DataFrame, path: Path, title: str, decimals: int = 3) -> None:
    """Bar chart of mean cost per period with 95% CI error bars, split by cost component
    (holding, shortage, ordering, overflow: those in ``frame``); one grey total bar when a
    log axis is needed or when revenue is counted (a profit cannot be stacked as costs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.5 * len(frame) + 1.5), dpi=110)
    y = np.arange(len(frame))
    costs = frame["mean_cost"].to_numpy()
    # One very poor agent (e.g. random) would flatten every other bar: use a log axis then.
    log_scale = costs.min() > 0 and costs.max() / costs.min() > 20
    has_revenue = "revenue" in frame and frame["revenue"].abs().sum() > 0
    if log_scale or has_revenue:
        ax.barh(y, costs, color="tab:gray", alpha=0.75, label="total cost" + (" (log scale)" if log_scale else ""))
        if log_scale:
            ax.set_xscale("log")
    else:
        left = np.zeros(len(frame))
        for key, color in [("holding_cost", "tab:blue"), ("shortage_cost", "tab:red"),
                           ("ordering_cost", "tab:green"), ("overflow_cost", "tab:purple")]:
            if key in frame and frame[key].abs().sum() > 0:
                ax.barh(y, frame[key], left=left, color=color, alpha=0.75, label=key.replace("_", " "))
                left += frame[key].to_numpy()
    ax.errorbar(costs, y, xerr=frame["ci95"].fillna(0.0), fmt="none", ecolor="black", capsize=3)
    for yi, cost in zip(y, costs, strict=True):
        ax.annotate(f"{cost:.{decimals}f}", (cost, yi), xytext=(4, 0), textcoords="offset points", va="center",
                    fontsize=7)
    ax.set_yticks(y, frame["agent"])
    ax.invert_yaxis()
    ax.set_xlabel("mean cost per period (95% CI)")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
