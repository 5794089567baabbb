"""Evaluation of network policies with common random numbers.

Replication r resets ``Network-v0`` with seed ``seeds[r]``. Demand and lead-time draws never
depend on the orders (they are drawn in blocks, a whole block at a time), so every policy
faces the same demand and lead times in replication r and cost differences are paired. A
policy answers in the action space named by its ``env_overrides`` (heuristics: ``order``);
the env is rebuilt with those fields on the same network. A heuristic of
``agents.network.heuristics`` is a simulator policy (``agents.base``): it is played on the
simulator's positions directly (its ``orders``), which gives the same orders as its
``predict`` on the observation (a test checks it) without building observations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from agents.base import PolicyKind, episode_overrides
from agents.runner import EpisodeCallback, GymFace, PeriodMeter, play
from envs.network.env import NetworkEnv
from envs.network.simulator import COSTS
from envs.network.topology import Network

PER_PERIOD = ("cost", *COSTS, "lost", "backlog", "internal_lost", "overflow_units", "transshipped", "on_hand",
              "in_transit", "owed")


def env_for(network: Network, overrides: dict | None = None) -> NetworkEnv:
    """``Network-v0`` on ``network`` with the config fields ``overrides`` replaced."""
    cfg = network.config
    changes = dict(overrides or {})
    if all(getattr(cfg, k) == v for k, v in changes.items()):
        return NetworkEnv(network=network)
    return NetworkEnv(network=replace(network, config=replace(cfg, **changes)))


def run_episodes(network: Network, policy, seeds: Sequence[int], warmup: int = 0,
                 periods: int | None = None, callback: EpisodeCallback | None = None) -> dict[str, np.ndarray]:
    """One episode per seed (``agents.runner``); per-replication means per measured period of
    ``PER_PERIOD`` (``cost`` is the network's cost per period, minus revenue with ``revenue``),
    plus ``fill_rate`` (units sold from stock / demand over the measured periods) and
    ``profit`` (minus cost per period), ``episode_profit`` (over the measured periods) and
    ``discounted_profit`` (sum of ``discount^t`` x profit of period t, t counted from the
    episode's start: OR-Gym's episode reward with ``discount=0.97`` and no warm-up)."""
    _, overrides = episode_overrides(policy, network.config.episode_length, periods, warmup)

    def direct() -> GymFace:  # a heuristic reads the simulator's positions: no observation is built
        env = env_for(network, overrides)
        return GymFace(env, step=lambda orders: env.orders_step(orders, observe=False),
                       decide=lambda policy, env: policy.orders(env.sim))

    faces = {PolicyKind.OBSERVATION: lambda: GymFace(env_for(network, overrides)), PolicyKind.SIMULATOR: direct}
    return play(policy, seeds, faces, lambda face: NetworkMeter(warmup, network.config.discount), callback,
                "network")


class NetworkMeter(PeriodMeter):
    """One episode's KPIs (:func:`run_episodes`) from the env's step infos."""

    keys = PER_PERIOD

    def __init__(self, warmup: int, discount: float):
        super().__init__(warmup)
        self.discount, self.demand, self.sales, self.discounted = discount, 0.0, 0.0, 0.0

    def measure(self, t: int, info, sim) -> None:
        self.discounted -= self.discount ** t * info["cost"]
        self.demand += info["demand"]
        self.sales += info["sales"]

    def totals(self) -> dict[str, float]:
        return {"fill_rate": self.sales / self.demand if self.demand else 1.0,
                "profit": -self.sums["cost"] / self.measured, "episode_profit": -self.sums["cost"],
                "discounted_profit": self.discounted}
