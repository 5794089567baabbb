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

from agents.base import PolicyKind, episode_overrides
from agents.runner import EpisodeCallback, GymFace, Meter, play
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
                 progress: Callable[[], None] | None = None, periods: int | None = None,
                 callback: EpisodeCallback | None = None) -> dict[str, np.ndarray]:
    """Play one episode per seed (``agents.runner``); per-replication means over the periods
    after ``warmup``. ``periods``: measured periods (episodes of ``warmup + periods``
    periods); None: the rest of the config's episode. ``progress()`` is called after each
    episode.

    Returns arrays of shape (R,): every key of ``PER_PERIOD`` (mean per period), plus
    ``fill_rate`` (sales / demand over the measured periods), ``fill_rate_A/B/C`` by
    popularity class and ``inventory_turnover`` (annualised, 365 * sales / mean on-hand).
    """
    _, overrides = episode_overrides(policy, problem.config.episode_length, periods, warmup)
    faces = {PolicyKind.OBSERVATION: lambda: GymFace(env_for(problem, overrides))}
    classes = problem.catalogue.popularity_class()
    masks = {c: classes == c for c in ("A", "B", "C") if np.any(classes == c)}
    if progress is not None:
        callback = Progress(progress, callback)
    return play(policy, seeds, faces, lambda face: FulfillmentMeter(problem.n, warmup, masks), callback,
                "fulfillment_center")


class FulfillmentMeter(Meter):
    """One episode's KPIs (:func:`run_episodes`) from the env's step infos and the
    simulator's last demand and sales."""

    def __init__(self, n: int, warmup: int, masks: dict[str, np.ndarray]):
        self.warmup, self.masks = warmup, masks
        self.sums = dict.fromkeys(PER_PERIOD, 0.0)
        self.demand, self.sales = np.zeros(n), np.zeros(n)
        self.on_hand, self.measured = 0.0, 0

    def step(self, t: int, info, sim) -> None:
        if t >= self.warmup:
            for k in PER_PERIOD:
                self.sums[k] += info[k]
            self.demand += sim.last.demand
            self.sales += sim.last.filled
            self.on_hand += info["on_hand"]
            self.measured += 1

    def finish(self, sim) -> dict[str, float]:
        out = {k: self.sums[k] / self.measured for k in PER_PERIOD}
        total_d, sales = self.demand.sum(), self.sales
        out["fill_rate"] = sales.sum() / total_d if total_d else 1.0
        out["inventory_turnover"] = 365.0 * sales.sum() / self.on_hand if self.on_hand else 0.0
        for c, mask in self.masks.items():
            d = self.demand[mask].sum()
            out[f"fill_rate_{c}"] = sales[mask].sum() / d if d else 1.0
        return out


class Progress(EpisodeCallback):
    """Calls ``tick()`` after every episode (then ``inner``'s hooks, if any)."""

    def __init__(self, tick: Callable[[], None], inner: EpisodeCallback | None = None):
        self.tick, self.inner = tick, inner or EpisodeCallback()

    def on_reset(self, seed: int, sim) -> None:
        self.inner.on_reset(seed, sim)

    def on_step(self, sim) -> None:
        self.inner.on_step(sim)

    def on_end(self, seed: int, sim) -> None:
        self.inner.on_end(seed, sim)
        self.tick()
