"""Tuning the fulfilment-centre heuristics: their grids, on the project's one tuner.

Every candidate is played by :func:`agents.fulfillment_center.rollout.run_episodes` on the
same ``reps`` (default 4) episodes with seeds ``TUNE_SEED_BASE + r`` (disjoint from the
evaluation seeds; with replayed CSV demand and a fixed test window, on random windows of
the history before it: ``Problem.training_split``), with the config's episode length (or
``periods``) and ``warmup`` periods not measured (default min(28, length // 4)); the
criterion is the mean cost per period. Costs are cached per candidate and episode. The
search is ``agents.tuning.race`` (screen every grid point on 2 episodes, race the best 16
and then the best 6 on all ``reps``, extend a grid whose winner sits on an open edge), in
coordinate stages:

* ``base_stock``: ``forecast_weight`` in {0, 0.5, 1} x ``safety`` on -1, -0.875, ..., 2
  (extended upwards in steps of 0.125 if the winner is at 2); the pair is kept (and is the
  start of the two below).
* ``s_S``: ``m`` on 0, 0.25, ..., 5 (K = 0) or 0, 0.125, ..., 3 (K > 0) x ``safety`` within
  +-0.25 of the base-stock value (steps of 0.125). The tuned base stock (m = 0 at its
  safety) is an anchor: it is always raced and wins ties, so the tuned (s, S) is never
  worse than the tuned base stock on the tuning episodes.
* ``capacity_base_stock``: ``fill_target`` on 0.6, 0.625, ..., 1.3 plus infinity (no
  throttle) x ``safety`` within +-0.25 of the base-stock value; the tuned base stock
  (infinity at its safety) is an anchor. Unlimited capacity: no throttle to tune, it takes
  the base-stock ``safety``.

The tuned policy carries ``tuning_cost`` (mean tuning cost per period of the winner,
slightly optimistic), ``tuning_ci95`` and ``tuning`` (search statistics, settings). Tuning
is deterministic. The tuned base-stock result is cached per :class:`Problem` object and
tuning settings, so building the three tuned policies for one problem tunes it once.
"""

from __future__ import annotations

import math
import weakref
from functools import partial
from typing import Any

import numpy as np

from agents.fulfillment_center.heuristics import (
    FC_HEURISTICS,
    CapacityAwareBaseStock,
    FCPolicy,
    ForecastBaseStock,
    RandomOrders,
    SsPolicy,
)
from agents.fulfillment_center.rollout import problem_env, run_episodes
from agents.seeds import TUNE_SEED_BASE
from agents.tuning import Axis, CrnEvaluator, RaceResult, RaceSettings, params_key
from envs.core.config import ConfigError
from envs.replenishment.fulfillment_center.config import Problem

TUNE_REPS = 4
# weights of the smoothed forecast against the SKU's long-run mean demand: 0 = static base
# stock (best for stationary demand), 1 = pure smoothed forecast
FORECAST_WEIGHTS = (0.0, 0.5, 1.0)
TUNE_WARMUP = 28
SAFETY_LOW = -1.0  # lowest safety searched: S = M - (Q - M)
SAFETY_STEP = 0.125
SCREEN_REPS = 2


class _Evaluator(CrnEvaluator):
    """The tuning problem (the training split, the tuning episode length and warm-up) and its
    CRN evaluator: per-episode costs of policies on the tuning seeds, cached per candidate."""

    def __init__(self, problem: Problem, reps: int, periods: int | None, warmup: int | None):
        cfg = problem.config
        if periods is not None and periods != cfg.episode_length:
            problem = Problem(cfg.replace(episode_length=int(periods)), problem.catalogue)
        self.problem = problem.training_split()
        self.make_env = partial(problem_env, self.problem)
        length = self.problem.config.episode_length
        self.warmup = min(TUNE_WARMUP, length // 4) if warmup is None else int(warmup)
        super().__init__(reps, self._play, key=params_key)
        self.settings = RaceSettings(self.reps, min_screen_reps=min(SCREEN_REPS, self.reps))

    def _play(self, policies: list[FCPolicy], seeds: np.ndarray) -> np.ndarray:
        return np.stack([run_episodes(self.make_env, p, seeds, self.warmup)["cost"] for p in policies])


def _safety_axis(low: float = SAFETY_LOW, high: float = 2.0) -> Axis:
    values = np.round(np.arange(low, high + SAFETY_STEP / 2, SAFETY_STEP), 6)
    return Axis("safety", values, low_limit=SAFETY_LOW, step=SAFETY_STEP)


def _around(safety: float) -> Axis:
    """The base-stock safety +- 0.25 in steps of 0.125 (not below SAFETY_LOW)."""
    return _safety_axis(max(safety - 2 * SAFETY_STEP, SAFETY_LOW), safety + 2 * SAFETY_STEP)


_BASE_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _tuned_base_stock(problem: Problem, ev: _Evaluator, cache: bool) -> RaceResult:
    key = (ev.reps, ev.problem.config.episode_length, ev.warmup)
    if cache and key in _BASE_CACHE.get(problem, {}):
        return _BASE_CACHE[problem][key]
    axes = [Axis("forecast_weight", FORECAST_WEIGHTS, low_limit=0.0, high_limit=1.0), _safety_axis()]
    result = ev.race(lambda safety, forecast_weight: ForecastBaseStock(problem, safety, forecast_weight), axes,
                     ev.settings)
    if cache:
        _BASE_CACHE.setdefault(problem, {})[key] = result
    return result


def tune_fc(name: str, problem: Problem, *, reps: int = TUNE_REPS, periods: int | None = None,
            warmup: int | None = None, cache: bool = True) -> FCPolicy:
    """Tune heuristic ``name`` for ``problem`` by CRN simulation (module docstring).
    ``periods``: tuning episode length (default: the config's); ``warmup``: periods not
    measured (default min(28, length // 4)); ``cache``: reuse the tuned base stock."""
    if name not in FC_HEURISTICS or name == "random":
        raise ConfigError(f"agents: {name!r} is not a tunable heuristic; tunable: base_stock, s_S, "
                          "capacity_base_stock")
    ev = _Evaluator(problem, reps, periods, warmup)
    base = _tuned_base_stock(problem, ev, cache)
    safety, w = base.params["safety"], base.params["forecast_weight"]
    if name == "base_stock":
        policy: FCPolicy = ForecastBaseStock(problem, safety, w)
        result = base
    elif name == "s_S":
        k_pos = problem.config.fixed_order_cost > 0
        m_values = np.round(np.arange(0, (3.0 if k_pos else 5.0) + 1e-9, 0.125 if k_pos else 0.25), 6)
        axes = [Axis("m", m_values, low_limit=0.0), _around(safety)]
        result = ev.race(lambda m, safety: SsPolicy(problem, safety, m, w), axes, ev.settings,
                         anchors=[{"m": 0.0, "safety": safety}])
        policy = SsPolicy(problem, result.params["safety"], result.params["m"], w)
    else:
        result = base
        fill = math.inf
        if problem.limited:
            fills = np.append(np.round(np.arange(0.6, 1.3 + 1e-9, 0.025), 6), math.inf)
            axes = [Axis("fill_target", fills, low_limit=0.05, high_limit=2.0, step=0.025), _around(safety)]
            result = ev.race(lambda fill_target, safety: CapacityAwareBaseStock(problem, safety, fill_target, w),
                             axes, ev.settings, anchors=[{"fill_target": math.inf, "safety": safety}])
            fill, safety = result.params["fill_target"], result.params["safety"]
        policy = CapacityAwareBaseStock(problem, safety, fill, w)
    policy.tuning_cost = float(ev.costs([policy], ev.reps).mean())
    policy.tuning_ci95 = result.ci95
    policy.tuning = {**result.stats(), "reps": ev.reps, "periods": ev.problem.config.episode_length,
                     "warmup": ev.warmup, "seed_base": TUNE_SEED_BASE}
    return policy


def make_fc_agent(name: str, problem: Problem, *, seed: int = 0, **tuning: Any) -> FCPolicy:
    """A ready fulfilment-centre heuristic: tuned (``base_stock``, ``s_S``,
    ``capacity_base_stock``; keyword arguments go to :func:`tune_fc`) or seeded (``random``)."""
    if name not in FC_HEURISTICS:
        raise ConfigError(f"agents: unknown agent {name!r}; accepted agents are {', '.join(FC_HEURISTICS)}")
    if name == "random":
        return RandomOrders(problem, seed=seed)
    return tune_fc(name, problem, **tuning)
