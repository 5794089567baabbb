"""Policy evaluation by simulation with common random numbers.

Every policy is run on the *same* demand streams: replication ``r`` uses the
generator ``numpy.random.default_rng(seed_r)``, exactly as ``LostSalesEnv.reset(seed=seed_r)``
does, so a replication here reproduces the Gymnasium env's trajectory for that seed.
Differences between policies are then paired, and their confidence intervals tight.

Seed ranges are disjoint by purpose: evaluation uses ``EVAL_SEED_BASE + r``, heuristic
tuning ``TUNE_SEED_BASE + r``; RL training uses small seeds (0, 1, 2, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.simulator import BatchSimulator, initial_state, order_from_action

EVAL_SEED_BASE = 1_000_000
TUNE_SEED_BASE = 2_000_000
KPI_KEYS = ("holding_cost", "shortage_cost", "ordering_cost")


@dataclass
class Scenario:
    """Initial states and demand for a set of replications (shared by all policies)."""

    on_hand: np.ndarray  # (R,)
    pipeline: np.ndarray  # (R, L-1)
    demand: np.ndarray  # (R, T)
    seeds: np.ndarray  # (R,)

    @classmethod
    def from_seeds(cls, config: LostSalesConfig, seeds: Sequence[int], periods: int) -> Scenario:
        on_hand, pipes, demand = [], [], []
        for s in seeds:
            rng = np.random.default_rng(int(s))
            x0, pipe = initial_state(config, rng)
            on_hand.append(x0)
            pipes.append(pipe)
            demand.append(config.demand.sample(rng, periods))
        slots = max(config.lead_time - 1, 0)
        return cls(
            np.array(on_hand, dtype=np.int64),
            np.array(pipes, dtype=np.int64).reshape(len(seeds), slots),
            np.array(demand, dtype=np.int64),
            np.asarray(seeds),
        )

    def tile(self, k: int) -> Scenario:
        """Repeat each replication block k times: batch row ``i * R + r`` is candidate i, rep r."""
        return Scenario(
            np.tile(self.on_hand, k), np.tile(self.pipeline, (k, 1)), np.tile(self.demand, (k, 1)), np.tile(self.seeds, k)
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
    scenario: Scenario,
    warmup: int,
    order_fn: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Rollout:
    """Run ``policy`` (or a raw ``order_fn``: obs batch -> orders) on every replication.

    The first ``warmup`` periods are simulated but not measured, so that the result
    estimates the long-run average cost rather than the start-up transient.
    """
    sim = BatchSimulator(config, scenario.on_hand, scenario.pipeline)
    batch, periods = scenario.demand.shape
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
        out = sim.step(q, scenario.demand[:, t])
        if t >= warmup:
            for k in ("cost", *KPI_KEYS):
                totals[k] += out[k]
            totals["demand"] += scenario.demand[:, t]
            totals["filled"] += out["filled"]
            totals["short"] += out["short"]
    return Rollout(
        measured, totals["cost"], totals["demand"], totals["filled"], totals["short"], {k: totals[k] for k in KPI_KEYS}
    )


def ci95(samples: np.ndarray) -> float:
    """Half-width of the 95% t confidence interval of the mean of ``samples``."""
    n = len(samples)
    if n < 2:
        return float("inf")
    return float(stats.t.ppf(0.975, n - 1) * np.std(samples, ddof=1) / np.sqrt(n))


@dataclass
class AgentResult:
    """Evaluation of one agent over all replications (paired with the other agents)."""

    agent: str
    per_rep_cost: np.ndarray
    fill_rate: float
    components: dict[str, float]
    params: dict = field(default_factory=dict)

    @property
    def mean_cost(self) -> float:
        return float(np.mean(self.per_rep_cost))

    @property
    def ci95(self) -> float:
        return ci95(self.per_rep_cost)


def evaluate_policies(
    config: LostSalesConfig,
    policies: dict,
    *,
    periods: int = 1000,
    warmup: int = 100,
    reps: int = 64,
    max_reps: int = 4096,
    target_rel_ci: float = 0.005,
    seed_base: int = EVAL_SEED_BASE,
    progress: Callable[[int, int], None] | None = None,
) -> list[AgentResult]:
    """Evaluate every policy on the same replications until each CI is tight enough.

    Replications are added in rounds (``reps``, then doubling) until the 95% CI
    half-width of every agent's mean cost per period is within ``target_rel_ci`` of
    its mean, or ``max_reps`` is reached. Each replication runs ``warmup + periods``
    periods and measures the last ``periods``. ``progress(done, total)`` is called
    after each agent-round.
    """
    rows: dict[str, list[Rollout]] = {name: [] for name in policies}
    done, next_round, total = 0, reps, reps
    while True:
        seeds = np.arange(seed_base + done, seed_base + done + next_round)
        scenario = Scenario.from_seeds(config, seeds, warmup + periods)
        for i, (name, policy) in enumerate(policies.items()):
            rows[name].append(rollout(config, policy, scenario, warmup))
            if progress is not None:
                progress(i + 1, len(policies))
        done += next_round
        results = [_combine(name, rows[name], policies[name]) for name in policies]
        tight = all(r.ci95 <= target_rel_ci * max(abs(r.mean_cost), 1e-9) for r in results)
        if tight or done >= max_reps:
            return results
        next_round = min(done, max_reps - done)
        total += next_round


def _combine(name: str, parts: list[Rollout], policy) -> AgentResult:
    cost = np.concatenate([p.mean_cost for p in parts])
    demand = sum(p.demand.sum() for p in parts)
    filled = sum(p.filled.sum() for p in parts)
    periods = sum(p.periods * len(p.cost) for p in parts)
    components = {k: float(sum(p.components[k].sum() for p in parts) / periods) for k in KPI_KEYS}
    components["lost_per_period"] = float(sum(p.short.sum() for p in parts) / periods)
    params = policy.params() if hasattr(policy, "params") else {}
    return AgentResult(name, cost, float(filled / demand) if demand else 1.0, components, params)


def paired_gap(result: AgentResult, reference: AgentResult) -> tuple[float, float]:
    """Gap of ``result`` over ``reference`` in % of the reference mean, with the 95% CI
    half-width of the paired (same replications) difference."""
    ref = reference.mean_cost
    diff = result.per_rep_cost - reference.per_rep_cost
    return float(100 * diff.mean() / ref), float(100 * ci95(diff) / ref)
