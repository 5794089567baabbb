"""Evaluation of network policies with common random numbers.

Replication r resets ``Network-v0`` with seed ``seeds[r]``. Demand and lead-time draws never
depend on the orders (they are drawn in blocks, a whole block at a time), so every policy
faces the same demand and lead times in replication r and cost differences are paired. A
policy answers in the action space named by its ``env_overrides`` (heuristics: ``order``);
the env is rebuilt with those fields on the same network. A heuristic of
``agents.network.heuristics`` is played on the simulator's positions directly (its
``orders``), which gives the same orders as its ``predict`` on the observation (a test
checks it) without building observations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from agents.base import episode_overrides
from agents.network.heuristics import NetworkPolicy
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
                 periods: int | None = None) -> dict[str, np.ndarray]:
    """One episode per seed; per-replication means per measured period of ``PER_PERIOD``
    (``cost`` is the network's cost per period, minus revenue with ``revenue``), plus
    ``fill_rate`` (units sold from stock / demand over the measured periods) and
    ``profit`` (minus cost per period), ``episode_profit`` (over the measured periods) and
    ``discounted_profit`` (sum of ``discount^t`` x profit of period t, t counted from the
    episode's start: OR-Gym's episode reward with ``discount=0.97`` and no warm-up)."""
    length, overrides = episode_overrides(policy, network.config.episode_length, periods, warmup)
    env = env_for(network, overrides)
    direct = isinstance(policy, NetworkPolicy) and overrides.get("action_type") == "order"
    out: dict[str, list[float]] = {k: [] for k in (*PER_PERIOD, "fill_rate", "profit", "episode_profit",
                                                   "discounted_profit")}
    discount = network.config.discount
    for seed in seeds:
        obs, _ = env.reset(seed=int(seed))
        sums = dict.fromkeys(PER_PERIOD, 0.0)
        demand = sales = discounted = 0.0
        measured = 0
        for t in range(length):
            if direct:  # a heuristic reads the simulator's positions: no observation is built
                _, _, _, truncated, info = env.orders_step(policy.orders(env.sim), observe=False)
            else:
                action, _ = policy.predict(obs, deterministic=True)
                obs, _, _, truncated, info = env.step(action)
            if t >= warmup:
                for k in PER_PERIOD:
                    sums[k] += info[k]
                discounted -= discount ** t * info["cost"]
                demand += info["demand"]
                sales += info["sales"]
                measured += 1
            if truncated:
                break
        for k in PER_PERIOD:
            out[k].append(sums[k] / measured)
        out["fill_rate"].append(sales / demand if demand else 1.0)
        out["profit"].append(-sums["cost"] / measured)
        out["episode_profit"].append(-sums["cost"])
        out["discounted_profit"].append(discounted)
    return {k: np.asarray(v) for k, v in out.items()}
