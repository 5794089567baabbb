"""Evaluation of fulfilment-centre policies with common random numbers.

Every policy plays the same episodes: replication r resets ``FulfillmentCenter-v0`` with
seed ``seeds[r]``, and because demand and lead-time draws never depend on the orders,
every policy faces the same demand stream in replication r. Cost differences between
policies are paired by replication, which makes their confidence intervals tight.

A policy is anything with the policy protocol's ``predict`` acting on the centralised
env's observation. Its ``env_overrides`` (``agents.base``) say which action space it
answers in: heuristics use ``action_type="order"`` (the order quantities), trained models
the space they were trained on. The env is rebuilt with those fields on the same
catalogue, so all policies still share the demand streams.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from agents.base import episode_overrides
from envs.replenishment.fulfillment_center.config import Problem
from envs.replenishment.fulfillment_center.env import FulfillmentCenterEnv

PER_PERIOD = ("cost", "holding_cost", "shortage_cost", "ordering_cost", "overflow_cost", "revenue",
              "overflow_units", "capacity_utilisation", "days_of_cover", "stockout_rate")


def env_for(problem: Problem, overrides: dict | None = None) -> FulfillmentCenterEnv:
    """The centralised env of ``problem`` (flat observations) with the config fields
    ``overrides`` replaced (e.g. the action type a policy answers in)."""
    cfg = problem.config
    changes = {"obs_format": "flat", **(overrides or {})}
    if all(getattr(cfg, k) == v for k, v in changes.items()):
        return FulfillmentCenterEnv(problem=problem)
    return FulfillmentCenterEnv(problem=Problem(replace(cfg, **changes), problem.catalogue))


def run_episodes(problem: Problem, policy, seeds: Sequence[int], warmup: int = 0,
                 progress: Callable[[], None] | None = None, periods: int | None = None) -> dict[str, np.ndarray]:
    """Play one episode per seed; per-replication means over the periods after ``warmup``.
    ``periods``: measured periods (episodes of ``warmup + periods`` periods); None: the
    rest of the config's episode.

    Returns arrays of shape (R,): every key of ``PER_PERIOD`` (mean per period), plus
    ``fill_rate`` (sales / demand over the measured periods), ``fill_rate_A/B/C`` by
    popularity class and ``inventory_turnover`` (annualised, 365 * sales / mean on-hand).
    """
    length, overrides = episode_overrides(policy, problem.config.episode_length, periods, warmup)
    env = env_for(problem, overrides)
    classes = problem.catalogue.popularity_class()
    masks = {c: classes == c for c in ("A", "B", "C") if np.any(classes == c)}
    out: dict[str, list[float]] = {k: [] for k in (*PER_PERIOD, "fill_rate", "inventory_turnover",
                                                   *(f"fill_rate_{c}" for c in masks))}
    for seed in seeds:
        obs, _ = env.reset(seed=int(seed))
        sums = dict.fromkeys(PER_PERIOD, 0.0)
        demand = np.zeros(problem.n)
        sales = np.zeros(problem.n)
        on_hand = 0.0
        measured = 0
        for t in range(length):
            action, _ = policy.predict(obs, deterministic=True)
            obs, _, _, truncated, info = env.step(action)
            if t >= warmup:
                for k in PER_PERIOD:
                    sums[k] += info[k]
                demand += env.sim.last.demand
                sales += env.sim.last.filled
                on_hand += info["on_hand"]
                measured += 1
            if truncated:
                break
        for k in PER_PERIOD:
            out[k].append(sums[k] / measured)
        total_d = demand.sum()
        out["fill_rate"].append(sales.sum() / total_d if total_d else 1.0)
        for c, mask in masks.items():
            d = demand[mask].sum()
            out[f"fill_rate_{c}"].append(sales[mask].sum() / d if d else 1.0)
        out["inventory_turnover"].append(365.0 * sales.sum() / on_hand if on_hand else 0.0)
        if progress is not None:
            progress()
    return {k: np.asarray(v) for k, v in out.items()}
