"""Tuning the network heuristics by CRN simulation, on the project's one tuner (``agents.tuning.race``).

Candidates are played by :func:`agents.network.rollout.run_episodes` on the same ``reps``
tuning episodes (seeds ``TUNE_SEED_BASE + r``, disjoint from the evaluation seeds), with the
task's evaluation horizon (at most 1,000 periods) and warm-up; the criterion is the mean cost per period. Grids:

* ``base_stock`` and ``echelon_base_stock``: one safety factor ``z_d`` per depth of the
  tree (``agents.network.heuristics``), each on -1.5, -1.375, ..., 3 (extended in steps of
  0.125 when the winner is on an edge). For a one-SKU network the levels are then tuned
  once more as integers, +-1 unit around the winner's (a z step is under one unit), so the tuned policy is the best
  integer base stock of its neighbourhood, not only of the z grid.
* ``s_S``: ``z_d`` within +-0.25 of the tuned installation base stock's, times the order
  size ``m`` (S - s in periods of mean demand) on 0, 0.25, ..., 4; the tuned base stock
  (m = 0) is an anchor, so (s, S) is never worse on the tuning episodes.

Every tuned policy carries ``tuning_cost`` and ``tuning`` (search statistics). Tuning is
deterministic.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from agents.network.heuristics import (
    EchelonBaseStock,
    InstallationBaseStock,
    InstallationSs,
    echelon_cover,
    installation_cover,
    levels_from_safety,
    stacked,
)
from agents.network.rollout import network_env, run_episodes
from agents.seeds import TUNE_SEED_BASE
from agents.tuning import Axis, CrnEvaluator, RaceSettings
from envs.network.simulator import NetworkSimulator
from envs.network.topology import Network

TUNE_REPS = 8
Z_LOW, Z_HIGH, Z_STEP = -1.5, 3.0, 0.125
INTEGER_SPAN = 1
MAX_TUNE_PERIODS = 1000


class Evaluator(CrnEvaluator):
    """Per-episode tuning costs of policies (CRN on the tuning seeds), cached per candidate."""

    def __init__(self, network: Network, reps: int, periods: int | None, warmup: int):
        self.network, self.periods, self.warmup = network, periods, int(warmup)
        self.make_env = partial(network_env, network)
        super().__init__(reps, self._play, key=behaviour_key)
        self.settings = RaceSettings(self.reps, min_screen_reps=min(2, self.reps), max_screen=400)

    @property
    def batched(self) -> bool:
        """Whether candidates can share one ``copies=K`` simulator: not with a scenario, whose
        surge rounding draws per column."""
        return not self.network.config.scenario.active

    def _play(self, policies: list, seeds: np.ndarray) -> np.ndarray:
        if not self.batched:
            return np.stack([run_episodes(self.make_env, p, seeds, self.warmup, self.periods)["cost"] for p in policies])
        return self._run_batched(policies, seeds)

    def _run_batched(self, policies: list, seeds: np.ndarray) -> np.ndarray:
        """Every candidate in one ``copies=K`` simulator per tuning seed (the same demand and
        lead times in every copy: the costs equal :func:`run_episodes`' one by one)."""
        k, n = len(policies), self.network.n
        length = self.network.config.episode_length if self.periods is None else self.warmup + self.periods
        together = stacked(policies)
        sim = NetworkSimulator(self.network, copies=k)
        out = np.zeros((k, len(seeds)))
        for r, seed in enumerate(seeds):
            sim.reset(np.random.default_rng(int(seed)))
            total = np.zeros(k)
            for t in range(length):
                sim.step(together.orders(sim))
                if t >= self.warmup:
                    total += sim.last["cell_cost"].sum(axis=0).reshape(k, n).sum(axis=1)
            out[:, r] = total / (length - self.warmup)
        return out


def behaviour_key(policy) -> tuple:
    """A candidate's cache key: what it does (its class and its levels; (s, S) for ``InstallationSs``)."""
    arrays = (policy.s, policy.S) if isinstance(policy, InstallationSs) else (policy.levels,)
    return (type(policy).__name__, *(np.asarray(a).tobytes() for a in arrays))


def _z_axes(depths: int, center: tuple[float, ...] | None = None) -> list[Axis]:
    axes = []
    for d in range(depths):
        if center is None:
            values = np.round(np.arange(Z_LOW, Z_HIGH + Z_STEP / 2, Z_STEP), 6)
        else:
            values = np.round(np.arange(center[d] - 2 * Z_STEP, center[d] + 2.5 * Z_STEP, Z_STEP), 6)
        axes.append(Axis(f"z{d}", values, step=Z_STEP))
    return axes


def tune_network(name: str, network: Network, *, reps: int = TUNE_REPS, periods: int | None = None,
                 warmup: int = 0):
    """Tune heuristic ``name`` (``base_stock``, ``echelon_base_stock``, ``s_S``) for ``network``."""
    if periods is not None:
        periods = min(periods, MAX_TUNE_PERIODS)
    ev = Evaluator(network, reps, periods, warmup)
    depths = int(network.depth.max()) + 1
    kind = EchelonBaseStock if name == "echelon_base_stock" else InstallationBaseStock
    cover = echelon_cover(network) if kind is EchelonBaseStock else installation_cover(network)[:, None]

    def level_policy(**z: float):
        safety = tuple(z[f"z{d}"] for d in range(depths))
        return kind(network, levels_from_safety(network, cover, safety), safety)

    result = ev.race(level_policy, _z_axes(depths), ev.settings)
    safety = tuple(result.params[f"z{d}"] for d in range(depths))
    policy: Any = level_policy(**result.params)
    stats = [result.stats()]
    if name in ("base_stock", "echelon_base_stock") and network.n == 1:
        base = policy.levels[:, 0]

        def integer_policy(**s: float):
            return kind(network, np.array([[int(s[f"S{k}"])] for k in range(network.m)]), safety)

        axes = [Axis(f"S{k}", np.arange(max(base[k] - INTEGER_SPAN, 0), base[k] + INTEGER_SPAN + 1), low_limit=0)
                for k in range(network.m)]
        result = ev.race(integer_policy, axes, ev.settings, anchors=[{f"S{k}": int(base[k]) for k in range(network.m)}])
        policy = integer_policy(**result.params)
        stats.append(result.stats())
    elif name == "s_S":
        def ss_policy(m: float, **z: float):
            zs = tuple(z[f"z{d}"] for d in range(depths))
            s = levels_from_safety(network, cover, zs)
            order = np.ceil(m * network.mean - 1e-9).astype(np.int64)
            return InstallationSs(network, s - (order > 0), s - (order > 0) + order, zs, m)

        axes = [Axis("m", np.round(np.arange(0.0, 4.0 + 1e-9, 0.25), 6), low_limit=0.0), *_z_axes(depths, safety)]
        result = ev.race(ss_policy, axes, ev.settings, anchors=[{"m": 0.0, **{f"z{d}": safety[d] for d in range(depths)}}])
        policy = ss_policy(**result.params)
        stats.append(result.stats())
    policy.tuning_cost = float(ev.costs([policy], ev.reps).mean())
    policy.tuning = {"stages": stats, "reps": ev.reps, "seed_base": TUNE_SEED_BASE, "warmup": ev.warmup,
                     "periods": periods}
    return policy
