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
from typing import Any

import numpy as np

from agents.base import PolicyKind, episode_env
from agents.runner import EpisodeCallback, GymFace, PeriodMeter, play
from envs.replenishment.fulfillment_center.config import Problem
from envs.replenishment.fulfillment_center.env import FulfillmentCenterEnv

# the fields FulfillmentConfig.build() makes the catalogue from
CATALOGUE_FIELDS = ("catalogue", "catalogue_seed", "demand_csv", "n_skus", "mean_demand", "lead_time", "unit_cost")
PER_PERIOD = ("cost", "holding_cost", "shortage_cost", "ordering_cost", "overflow_cost", "revenue",
              "overflow_units", "capacity_utilisation", "days_of_cover", "stockout_rate")


def problem_env(problem: Problem, **overrides: Any) -> FulfillmentCenterEnv:
    """``FulfillmentCenter-v0`` (the env itself, no Gymnasium wrapper) on ``problem`` with the
    config fields ``overrides`` replaced: ``problem`` itself if none changes, else its catalogue
    with the new config (no catalogue is generated or loaded again), unless a field the
    catalogue is built from changes (:data:`CATALOGUE_FIELDS`: then the config is built anew).
    The one way evaluation and tuning envs are made (``FulfillmentCenterTask.make_env``)."""
    cfg = problem.config
    if all(getattr(cfg, k) == v for k, v in overrides.items()):
        return FulfillmentCenterEnv(problem=problem)
    if any(k in CATALOGUE_FIELDS and getattr(cfg, k) != v for k, v in overrides.items()):
        return FulfillmentCenterEnv(problem=cfg.replace(**overrides).build())
    return FulfillmentCenterEnv(problem=Problem(replace(cfg, **overrides), problem.catalogue))


def run_episodes(make_env: Callable[..., FulfillmentCenterEnv], policy, seeds: Sequence[int], warmup: int = 0,
                 periods: int | None = None, callback: EpisodeCallback | None = None) -> dict[str, np.ndarray]:
    """Play one episode per seed (``agents.runner``) on ``make_env(**fields)`` (e.g.
    ``FulfillmentCenterTask.make_env``) with flat observations and the policy's fields;
    per-replication means over the periods after ``warmup``. ``periods``: measured periods
    (episodes of ``warmup + periods`` periods); None: the rest of the config's episode.

    Returns arrays of shape (R,): every key of ``PER_PERIOD`` (mean per period), plus
    ``fill_rate`` (sales / demand over the measured periods), ``fill_rate_A/B/C`` by
    popularity class and ``inventory_turnover`` (annualised, 365 * sales / mean on-hand).
    """
    env = episode_env(make_env, policy, periods, warmup, obs_format="flat")
    problem = env.unwrapped.problem
    classes = problem.catalogue.popularity_class()
    masks = {c: classes == c for c in ("A", "B", "C") if np.any(classes == c)}
    return play(policy, seeds, {PolicyKind.OBSERVATION: lambda: GymFace(env)},
                lambda face: FulfillmentMeter(warmup, problem.n, masks), callback, "fulfillment_center")


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
