"""Plots of a training run: learning curve and policy map (PNG, matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from agents.lost_sales.rollout import EVAL_SEED_BASE, Scenario
from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.simulator import BatchSimulator, order_from_action


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_learning_curve(eval_csv: Path, path: Path, results: pd.DataFrame, title: str) -> None:
    """Validation cost per period against timesteps, with the benchmark's reference lines."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if eval_csv.exists():
        hist = pd.read_csv(eval_csv)
        ax.plot(hist["timesteps"], hist["mean_cost"], marker="o", ms=3, label="trained policy (validation)")
        ax.fill_between(hist["timesteps"], hist["mean_cost"] - hist["ci95"], hist["mean_cost"] + hist["ci95"],
                        alpha=0.2)
    for name, style in [("optimal", "k--"), ("base_stock", "r:"), ("capped_base_stock", "g:")]:
        row = results[results["agent"] == name]
        if len(row):
            ax.axhline(float(row["mean_cost"].iloc[0]), ls=style[1:], color=style[0], label=f"{name} (test)")
    ax.set_xlabel("timesteps")
    ax.set_ylabel("mean cost per period")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_policy_map(config: LostSalesConfig, agents: dict, path: Path, trained: str, periods: int = 400) -> None:
    """Order quantity against inventory position, on states the trained policy visits,
    for the trained policy and (on the same states) base-stock and the optimum."""
    plt = _pyplot()
    scenario = Scenario.from_seeds(config, np.arange(EVAL_SEED_BASE, EVAL_SEED_BASE + 8), periods)
    sim = BatchSimulator(config, scenario.on_hand, scenario.pipeline)
    policy, state = agents[trained], None
    states = []
    for t in range(periods):
        obs = sim.observation()
        action, state = policy.predict(obs, state=state, episode_start=np.full(len(obs), t == 0))
        states.append(obs)
        sim.step(order_from_action(np.asarray(action).reshape(len(obs), -1)[:, 0], config), scenario.demand[:, t])
    obs = np.unique(np.concatenate(states), axis=0)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    position = obs.sum(axis=1)
    rng = np.random.default_rng(0)
    jitter = rng.uniform(-0.15, 0.15, len(obs))
    for name, marker, color in [(trained, "o", "tab:blue"), ("optimal", "x", "black"), ("base_stock", "_", "tab:red")]:
        if name not in agents:
            continue
        action, _ = agents[name].predict(obs, episode_start=np.ones(len(obs), dtype=bool))
        q = order_from_action(np.asarray(action).reshape(len(obs), -1)[:, 0], config)
        ax.scatter(position + (jitter if name == trained else 0), q, s=12, marker=marker, color=color,
                   alpha=0.6, label=name)
    ax.set_xlabel("inventory position (on-hand + pipeline) before ordering")
    ax.set_ylabel("order quantity")
    ax.set_title(f"Policy map: {trained} vs optimum and base-stock (states visited by {trained})", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
