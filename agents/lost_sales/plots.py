"""The lost-sales policy map: order quantity against inventory position (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agents.lost_sales.rollout import Replications
from agents.seeds import EVAL_SEED_BASE
from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.simulator import BatchSimulator, order_from_action


def plot_policy_map(config: LostSalesConfig, agents: dict, path: Path, trained: str, periods: int = 400) -> None:
    """Order quantity against inventory position, on states the trained policy visits,
    for the trained policy and (on the same states) base-stock and the optimum."""
    from envs.core.render import pyplot

    plt = pyplot()
    replications = Replications.from_seeds(config, np.arange(EVAL_SEED_BASE, EVAL_SEED_BASE + 8), periods)
    sim = BatchSimulator(config, replications.on_hand, replications.pipeline)
    policy, state = agents[trained], None
    states = []
    for t in range(periods):
        obs = sim.observation()
        action, state = policy.predict(obs, state=state, episode_start=np.full(len(obs), t == 0))
        states.append(obs)
        sim.step(order_from_action(np.asarray(action).reshape(len(obs), -1)[:, 0], config), replications.demand[:, t])
    obs = np.unique(np.concatenate(states), axis=0)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    position = obs.sum(axis=1)
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(obs))
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


def task_plots(task, out: Path, agents: dict, trained: str | None) -> list[str]:
    """The lost-sales task's plots of a training run (``Task.plots``): the trained policy's map."""
    if trained is None:
        return []
    plot_policy_map(task.config, dict(agents), out / "policy_map.png", trained)
    return ["policy_map.png"]
