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

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from agents.base import PolicyKind, episode_env
from agents.runner import EpisodeCallback, GymFace, PeriodMeter, play
from envs.network.env import NetworkEnv
from envs.network.simulator import COSTS
from envs.network.topology import Network

# the fields NetworkConfig.build() makes the nodes' arrays and the catalogue from
NETWORK_FIELDS = ("nodes", "q_max", "catalogue", "catalogue_seed", "demand_csv", "n_skus", "mean_demand")
PER_PERIOD = ("cost", *COSTS, "lost", "backlog", "internal_lost", "overflow_units", "transshipped", "on_hand",
              "in_transit", "owed")


def network_env(network: Network, **overrides: Any) -> NetworkEnv:
    """``Network-v0`` (the env itself, no Gymnasium wrapper) on ``network`` with the config
    fields ``overrides`` replaced: ``network`` itself if none changes, else the same built
    network with the new config, unless a field the network is built from changes
    (:data:`NETWORK_FIELDS`: then the config is built anew). The one way evaluation and tuning
    envs are made (``NetworkTask.make_env``)."""
    cfg = network.config
    if all(getattr(cfg, k) == v for k, v in overrides.items()):
        return NetworkEnv(network=network)
    config = replace(cfg, **overrides)
    if any(k in NETWORK_FIELDS and getattr(cfg, k) != v for k, v in overrides.items()):
        return NetworkEnv(network=config.build())
    return NetworkEnv(network=replace(network, config=config))


def run_episodes(make_env: Callable[..., NetworkEnv], policy, seeds: Sequence[int], warmup: int = 0,
                 periods: int | None = None, callback: EpisodeCallback | None = None) -> dict[str, np.ndarray]:
    """One episode per seed (``agents.runner``) on ``make_env(**fields)`` (e.g.
    ``NetworkTask.make_env``) with the policy's fields; per-replication means per measured
    period of ``PER_PERIOD`` (``cost`` is the network's cost per period, minus revenue with
    ``revenue``), plus ``fill_rate`` (units sold from stock / demand over the measured periods)
    and ``profit`` (minus cost per period), ``episode_profit`` (over the measured periods) and
    ``discounted_profit`` (sum of ``discount^t`` x profit of period t, t counted from the
    episode's start: OR-Gym's episode reward with ``discount=0.97`` and no warm-up).
    ``periods``: measured periods (episodes of ``warmup + periods``); None: the rest of the
    config's episode."""
    env = episode_env(make_env, policy, periods, warmup)

    def direct() -> GymFace:  # a heuristic reads the simulator's positions: no observation is built
        return GymFace(env, step=lambda orders: env.orders_step(orders, observe=False),
                       decide=lambda policy, env: policy.orders(env.sim))

    faces = {PolicyKind.OBSERVATION: lambda: GymFace(env), PolicyKind.SIMULATOR: direct}
    return play(policy, seeds, faces, lambda face: NetworkMeter(warmup, env.config.discount), callback, "network")


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
