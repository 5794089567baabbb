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

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from agents.base import PolicyKind, episode_overrides
from agents.runner import EpisodeCallback, GymFace, PeriodMeter, play
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


def run_episodes(problem: Problem, policy, seeds: Sequence[int], warmup: int = 0, periods: int | None = None,
                 callback: EpisodeCallback | None = None) -> dict[str, np.ndarray]:
    """Play one episode per seed (``agents.runner``); per-replication means over the periods
    after ``warmup``. ``periods``: measured periods (episodes of ``warmup + periods``
    periods); None: the rest of the config's episode.

    Returns arrays of shape (R,): every key of ``PER_PERIOD`` (mean per period), plus
    ``fill_rate`` (sales / demand over the measured periods), ``fill_rate_A/B/C`` by
    popularity class and ``inventory_turnover`` (annualised, 365 * sales / mean on-hand).
    """
    _, overrides = episode_overrides(policy, problem.config.episode_length, periods, warmup)
    faces = {PolicyKind.OBSERVATION: lambda: GymFace(env_for(problem, overrides))}
    classes = problem.catalogue.popularity_class()
    masks = {c: classes == c for c in ("A", "B", "C") if np.any(classes == c)}
    return play(policy, seeds, faces, lambda face: FulfillmentMeter(warmup, problem.n, masks), callback,
                "fulfillment_center")


class FulfillmentMeter(PeriodMeter):
    """One episode's KPIs (:func:`run_episodes`): the step infos' means, and fill rates and
    turnover from the simulator's demand and sales."""

    keys = PER_PERIOD

    def __init__(self, warmup: int, n: int, masks: dict[str, np.ndarray]):
        super().__init__(warmup)
        self.masks, self.demand, self.sales, self.on_hand = masks, np.zeros(n), np.zeros(n), 0.0

    def measure(self, t: int, info, sim) -> None:
        self.demand += sim.last.demand
        self.sales += sim.last.filled
        self.on_hand += info["on_hand"]

    def totals(self) -> dict[str, float]:
        total_d, sales = self.demand.sum(), self.sales
        out = {"fill_rate": sales.sum() / total_d if total_d else 1.0,
               "inventory_turnover": 365.0 * sales.sum() / self.on_hand if self.on_hand else 0.0}
        for c, mask in self.masks.items():
            d = self.demand[mask].sum()
            out[f"fill_rate_{c}"] = sales[mask].sum() / d if d else 1.0
        return out
