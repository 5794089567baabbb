"""Plots shared by every task's runs (PNG, matplotlib Agg): the cost comparison and the
learning curve. Task-specific pictures (e.g. the lost-sales policy map) come from
``Task.plots``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from envs.core.render import pyplot

COMPONENTS = [("holding_cost", "tab:blue"), ("shortage_cost", "tab:red"), ("ordering_cost", "tab:green"),
              ("overflow_cost", "tab:purple")]


def plot_costs(frame: pd.DataFrame, path: Path, title: str, decimals: int = 3) -> None:
    """Bar chart of mean cost per period with 95% CI error bars, split by cost component
    (those in ``frame``); one grey total bar when a log axis is needed or when revenue is
    counted (a profit cannot be stacked as costs)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(frame) + 1.5), dpi=110)
    y = np.arange(len(frame))
    costs = frame["mean_cost"].to_numpy()
    # One very poor agent (e.g. random) would flatten every other bar: use a log axis then.
    log_scale = costs.min() > 0 and costs.max() / costs.min() > 20
    has_revenue = "revenue" in frame and frame["revenue"].abs().sum() > 0
    stacked = [(k, c) for k, c in COMPONENTS if k in frame and frame[k].abs().sum() > 0]
    if log_scale or has_revenue or not stacked:
        ax.barh(y, costs, color="tab:gray", alpha=0.75, label="total cost" + (" (log scale)" if log_scale else ""))
        if log_scale:
            ax.set_xscale("log")
    else:
        left = np.zeros(len(frame))
        for key, color in stacked:
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


def plot_learning_curve(eval_csv: Path, path: Path, results: pd.DataFrame, reference: str, title: str,
                        trained: str) -> None:
    """Validation cost per period against timesteps, with the benchmark's reference and the
    best other agent (test seeds) as lines."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if eval_csv.exists():
        hist = pd.read_csv(eval_csv)
        ax.plot(hist["timesteps"], hist["mean_cost"], marker="o", ms=3, label="trained policy (validation)")
        ax.fill_between(hist["timesteps"], hist["mean_cost"] - hist["ci95"].fillna(0),
                        hist["mean_cost"] + hist["ci95"].fillna(0), alpha=0.2)
    others = results[results["agent"] != trained].sort_values("mean_cost")
    lines = [reference] + [a for a in others["agent"] if a != reference][:1]
    for name, style in zip(lines, ("k--", "r:"), strict=False):
        row = results[results["agent"] == name]
        if len(row) and name != trained:
            ax.axhline(float(row["mean_cost"].iloc[0]), ls=style[1:], color=style[0], label=f"{name} (test)")
    ax.set_xlabel("timesteps")
    ax.set_ylabel("mean cost per period")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_robustness(frame: pd.DataFrame, path: Path, title: str, unit: str = "period") -> None:
    """Grouped bars: mean cost (95% CI error bars) per scenario (groups) and agent (bars); a log
    axis when one agent is more than 20 times dearer than another."""
    plt = pyplot()
    names = list(dict.fromkeys(frame["scenario"]))
    agents = list(dict.fromkeys(frame["agent"]))
    width = 0.8 / max(len(agents), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(names) * max(1, len(agents) / 3) + 2), 4.2), dpi=110)
    x = np.arange(len(names))
    costs = frame["mean_cost"].to_numpy()
    log_scale = costs.min() > 0 and costs.max() / costs.min() > 20
    for i, agent in enumerate(agents):
        rows = frame[frame["agent"] == agent].set_index("scenario").reindex(names)
        ax.bar(x + (i - (len(agents) - 1) / 2) * width, rows["mean_cost"], width, yerr=rows["ci95"].fillna(0.0),
               capsize=2, label=agent, alpha=0.85)
    if log_scale:
        ax.set_yscale("log")
    ax.set_xticks(x, names)
    ax.set_ylabel(f"mean cost per {unit} (95% CI)" + (" (log scale)" if log_scale else ""))
    ax.set_title(f"{title}: robustness", fontsize=8)
    ax.legend(fontsize=7, ncol=min(len(agents), 4))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
