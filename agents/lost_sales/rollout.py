"""The lost-sales CRN rollout: many replications of ``LostSales-v0`` in one batched simulation.

Every policy is run on the *same* demand streams: replication ``r`` with seed ``s_r`` uses
the generator ``numpy.random.default_rng(s_r)``, exactly as ``LostSalesEnv.reset(seed=s_r)``
does, so a replication here reproduces the Gymnasium env's trajectory for that seed (a
property test checks it). Differences between policies are then paired, and their
confidence intervals tight. :func:`kpis` turns a rollout into the per-replication KPIs of
the evaluation harness (``agents.harness``).

A stress scenario (``config.scenario``, ``envs.core.scenario``) is part of the replications:
each replication's clock is derived from its generator exactly as the env derives it at
``reset(seed=s_r)``, the demand surge is applied to the demand matrix, and the clocks go to
the simulator (``stress``) for the supply rules and lead-time shocks; so the rollout still
reproduces the env's trajectory for every seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from envs.core.scenario import ScenarioBatch
from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.simulator import BatchSimulator, initial_state, order_from_action

KPI_KEYS = ("holding_cost", "shortage_cost", "ordering_cost")


@dataclass
class Replications:
    """Initial states and demand for a set of replications (shared by all policies), and the
    stress scenario's clocks (``stress``, one per replication; None without a scenario)."""

    on_hand: np.ndarray  # (R,)
    pipeline: np.ndarray  # (R, L-1)
    demand: np.ndarray  # (R, T), demand surges applied
    seeds: np.ndarray  # (R,)
    stress: ScenarioBatch | None = None

    @classmethod
    def from_seeds(cls, config: LostSalesConfig, seeds: Sequence[int], periods: int) -> Replications:
        on_hand, pipes, demand, clocks = [], [], [], []
        scenario = config.scenario if config.scenario.active else None
        for s in seeds:
            rng = np.random.default_rng(int(s))
            x0, pipe = initial_state(config, rng)
            on_hand.append(x0)
            pipes.append(pipe)
            d = config.demand.sample(rng, periods)
            if scenario is not None:  # as LostSalesEnv.reset: derived from rng, drawing nothing from it
                clock = scenario.clock(rng)
                d = np.asarray(d, dtype=np.int64).copy()
                for t in range(clock.start, min(clock.end, periods)):
                    d[t] = clock.scale_demand(t, int(d[t]))
                clocks.append(clock)
            demand.append(d)
        slots = max(config.lead_time - 1, 0)
        return cls(
            np.array(on_hand, dtype=np.int64),
            np.array(pipes, dtype=np.int64).reshape(len(seeds), slots),
            np.array(demand, dtype=np.int64),
            np.asarray(seeds),
            ScenarioBatch(clocks) if scenario is not None else None,
        )

    def take(self, reps: int) -> Replications:
        """The first ``reps`` replications."""
        return Replications(self.on_hand[:reps], self.pipeline[:reps], self.demand[:reps], self.seeds[:reps],
                            None if self.stress is None else self.stress.take(reps))

    def tile(self, k: int) -> Replications:
        """Repeat each replication block k times: batch row ``i * R + r`` is candidate i, rep r."""
        return Replications(
            np.tile(self.on_hand, k), np.tile(self.pipeline, (k, 1)), np.tile(self.demand, (k, 1)), np.tile(self.seeds, k),
            None if self.stress is None else self.stress.tile(k),
        )


@dataclass
class Rollout:
    """Per-replication totals over the measured periods (after warm-up)."""

    periods: int
    cost: np.ndarray
    demand: np.ndarray
    filled: np.ndarray
    short: np.ndarray
    components: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def mean_cost(self) -> np.ndarray:
        """Average cost per period, per replication."""
        return self.cost / self.periods


def rollout(
    config: LostSalesConfig,
    policy,
    replications: Replications,
    warmup: int,
    order_fn: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Rollout:
    """Run ``policy`` (or a raw ``order_fn``: obs batch -> orders) on every replication.

    The first ``warmup`` periods are simulated but not measured, so that the result
    estimates the long-run average cost rather than the start-up transient.
    """
    sim = BatchSimulator(config, replications.on_hand, replications.pipeline, replications.stress)
    batch, periods = replications.demand.shape
    measured = periods - warmup
    if measured <= 0:
        raise ValueError(f"warmup ({warmup}) must be shorter than the horizon ({periods})")
    totals = {k: np.zeros(batch) for k in ("cost", "demand", "filled", "short", *KPI_KEYS)}
    state, episode_start = None, np.ones(batch, dtype=bool)
    for t in range(periods):
        obs = sim.observation()
        if order_fn is not None:
            q = np.asarray(order_fn(obs), dtype=np.int64)
        else:
            action, state = policy.predict(obs, state=state, episode_start=episode_start, deterministic=True)
            q = order_from_action(np.asarray(action).reshape(batch, -1)[:, 0], config)
            episode_start = np.zeros(batch, dtype=bool)
        if q.min() < 0 or q.max() > config.q_max:
            raise ValueError(f"policy {getattr(policy, 'name', policy)!r} ordered outside [0, {config.q_max}]")
        out = sim.step(q, replications.demand[:, t])
        if t >= warmup:
            for k in ("cost", *KPI_KEYS):
                totals[k] += out[k]
            totals["demand"] += replications.demand[:, t]
            totals["filled"] += out["filled"]
            totals["short"] += out["short"]
    return Rollout(
        measured, totals["cost"], totals["demand"], totals["filled"], totals["short"], {k: totals[k] for k in KPI_KEYS}
    )


def kpis(result: Rollout) -> dict[str, np.ndarray]:
    """Per-replication KPIs (``agents.harness``): ``cost`` and its components per period,
    ``fill_rate`` (demand met from stock / demand) and ``lost_per_period``."""
    periods = result.periods
    demand = np.maximum(result.demand, 1)
    out = {"cost": result.mean_cost,
           "fill_rate": np.where(result.demand > 0, result.filled / demand, 1.0)}
    for key in KPI_KEYS:
        out[key] = result.components[key] / periods
    out["lost_per_period"] = result.short / periods
    return out
