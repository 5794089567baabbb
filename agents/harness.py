"""The evaluation harness: one stopping rule, one CI convention and one result schema for
every task.

Every agent plays the same replications (common random numbers): replication r uses seed
``seed_base + r`` in the task's CRN rollout (:meth:`agents.task.Task.rollout`), which returns
per-replication KPIs, among them ``cost``, the mean cost per measured period. Replications
are added in rounds (``reps``, then doubling) until the 95% CI half-width of every agent's
mean cost is within ``target_rel_ci`` of its mean, or ``max_reps`` replications are done.
Gaps to the reference agent are paired by replication, so their CIs are tight.

CI convention: the half-width of the 95% Student-t interval of the mean over replications;
NaN ("no CI") with fewer than two replications. A replayed history with a fixed window
gives identical replications and a CI of 0.

Result schema (``results.csv``): ``agent, mean_cost, ci95, gap_pct, gap_ci95, reps``, then
the task's KPI columns (means over replications of the per-replication values), then
``parameters``. Rows are sorted by mean cost; the reference row has a gap of 0.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from agents.base import describe_params
from agents.seeds import EVAL_SEED_BASE
from envs.core.config import ConfigError, check_float, check_int, check_work

RESULT_COLUMNS = ("agent", "mean_cost", "ci95", "gap_pct", "gap_ci95", "reps")
CI_SUFFIX = "_ci95"
"""A KPI column ``<kpi>_ci95`` (``Kpi(ci=True)``) holds that KPI's 95% CI over replications."""
MAX_REPS = 1_000_000
MAX_PERIOD_REPS = 50_000_000
"""Simulated periods of an evaluation at most, ``(warmup + periods) x max_reps``: the lost-sales
rollout pre-draws them (~20 bytes and ~1.2 us a period-replication: 6.4 million took 8 s and
130 MB), so about 1 GB and a minute per agent at the limit (docs/reliability.md). The shipped
benchmarks use at most 2,050 x 4,096 = 8.4 million."""


def ci95(samples) -> float:
    """Half-width of the 95% t confidence interval of the mean of ``samples``; NaN for n < 2."""
    x = np.asarray(samples, dtype=np.float64)
    n = len(x)
    if n < 2:
        return float("nan")
    # Student's t quantile (what scipy.stats.t.ppf computes, without importing scipy.stats:
    # that import alone is about half of every command's start-up)
    return float(special.stdtrit(n - 1, 0.975) * np.std(x, ddof=1) / math.sqrt(n))


def paired_gap(cost: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Gap of ``cost`` over ``reference`` in % of the reference mean, and the 95% CI
    half-width of the paired (same replications) difference; NaN if the reference mean is 0."""
    base = float(np.mean(reference))
    if base == 0:
        return float("nan"), float("nan")
    diff = np.asarray(cost, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    return float(100 * diff.mean() / abs(base)), 100 * ci95(diff) / abs(base)


@dataclass(frozen=True)
class EvalSettings:
    """How agents are evaluated. ``periods``: measured periods per replication (None: the
    task's natural horizon, e.g. the rest of an episode after the warm-up); ``warmup``:
    periods simulated before measuring; ``reps``: replications of the first round;
    ``max_reps``: at most this many; ``target_rel_ci``: stop when every agent's CI
    half-width is within this fraction of its mean. ``section`` names the config section
    in error messages."""

    periods: int | None
    warmup: int
    reps: int
    max_reps: int
    target_rel_ci: float
    seed_base: int = EVAL_SEED_BASE
    section: str = "eval"

    def __post_init__(self) -> None:
        s = self.section
        if self.periods is not None:
            object.__setattr__(self, "periods", check_int(f"{s}.periods", self.periods, 1, 10_000_000))
        object.__setattr__(self, "warmup", check_int(f"{s}.warmup", self.warmup, 0, 10_000_000))
        object.__setattr__(self, "reps", check_int(f"{s}.reps", self.reps, 1, MAX_REPS))
        object.__setattr__(self, "max_reps", check_int(f"{s}.max_reps", self.max_reps, 1, MAX_REPS))
        if self.max_reps < self.reps:
            raise ConfigError(f"{s}.max_reps: expected an integer >= {s}.reps ({self.reps}), got {self.max_reps}")
        object.__setattr__(self, "target_rel_ci", check_float(f"{s}.target_rel_ci", self.target_rel_ci, 0.0))
        if self.periods is not None:  # None: the task's episode, bounded by its env config
            check_work("the simulated periods of an evaluation ((warmup + periods) x max_reps)",
                       (self.warmup + self.periods) * self.max_reps, MAX_PERIOD_REPS,
                       {f"{s}.periods": self.periods, f"{s}.warmup": self.warmup, f"{s}.max_reps": self.max_reps})

    @classmethod
    def from_config(cls, section, name: str = "eval", seed_base: int = EVAL_SEED_BASE) -> EvalSettings:
        """From a config section with keys periods, warmup, reps, max_reps, target_rel_ci."""
        get = section.get
        return cls(get("periods"), get("warmup"), get("reps"), get("max_reps", get("reps")),
                   get("target_rel_ci", 0.0), seed_base, name)


@dataclass
class Evaluation:
    """The outcome of :func:`evaluate`."""

    frame: pd.DataFrame
    reference: str
    target_met: bool
    settings: EvalSettings
    per_rep: dict[str, dict[str, np.ndarray]]

    def note(self) -> str | None:
        """A line for the report when the CI target was not met, else None."""
        if self.target_met or self.settings.target_rel_ci <= 0:
            return None
        worst = self.frame.assign(rel=self.frame["ci95"] / self.frame["mean_cost"].abs()).sort_values("rel").iloc[-1]
        return (f"CI target not met: after {self.settings.max_reps} replications (eval.max_reps) the widest "
                f"95% CI is {100 * worst.rel:.2f}% of the mean ({worst.agent}), target "
                f"{100 * self.settings.target_rel_ci:.2f}% (eval.target_rel_ci)")


def evaluate(task, agents: dict, settings: EvalSettings, reference: str | None = None,
             progress: Callable[[str], None] | None = None, plans: Callable[[str], Any] | None = None) -> Evaluation:
    """Evaluate ``agents`` (name -> policy) on common random numbers (module docstring).

    ``reference``: the agent gaps are measured against; default: the task's reference
    (e.g. the exact optimum) if evaluated, else the agent with the lowest mean cost.
    ``progress(name)`` is called after each agent's share of a round. ``plans``: agent name ->
    the episode callback that records its plans (``agents.runner.plan_writers``), passed to
    the task's rollout.
    """
    if not agents:
        raise ConfigError("agents: expected at least one agent to evaluate, got none")
    parts: dict[str, list[dict[str, np.ndarray]]] = {name: [] for name in agents}
    cap = getattr(getattr(task, "evaluation", None), "max_reps", None)
    if cap is not None and cap < settings.max_reps:  # the task's cap (expensive replications)
        settings = dataclasses.replace(settings, max_reps=cap, reps=min(settings.reps, cap))
    callbacks = {name: {"callback": plans(name)} for name in agents} if plans is not None else {}
    done, size = 0, settings.reps
    while True:
        seeds = np.arange(settings.seed_base + done, settings.seed_base + done + size)
        for name, policy in agents.items():
            parts[name].append(task.rollout(policy, seeds, settings.periods, settings.warmup, **callbacks.get(name, {})))
            if progress is not None:
                progress(name)
        done += size
        per_rep = {name: _concat(chunks) for name, chunks in parts.items()}
        tight = all(_tight(kpis["cost"], settings.target_rel_ci) for kpis in per_rep.values())
        if tight or done >= settings.max_reps:
            break
        size = min(done, settings.max_reps - done)
    means = {name: float(kpis["cost"].mean()) for name, kpis in per_rep.items()}
    if reference is None:
        preferred = task.reference_name()
        reference = preferred if preferred in agents else min(means, key=means.get)
    elif reference not in agents:
        raise ConfigError(f"reference: {reference!r} is not among the evaluated agents ({', '.join(agents)})")
    frame = results_frame(per_rep, reference, {n: describe_params(p) for n, p in agents.items()}, task.kpi_names())
    return Evaluation(frame, reference, tight, settings, per_rep)


def results_frame(per_rep: dict[str, dict[str, np.ndarray]], reference: str, parameters: dict[str, str],
                  kpi_names) -> pd.DataFrame:
    """The result table (module docstring) from per-replication KPIs."""
    ref = per_rep[reference]["cost"]
    kpis = [k for k in kpi_names if any(k in r or k.removesuffix(CI_SUFFIX) in r for r in per_rep.values())]
    rows = []
    for name, r in per_rep.items():
        gap, gap_ci = paired_gap(r["cost"], ref)
        row = {"agent": name, "mean_cost": float(r["cost"].mean()), "ci95": ci95(r["cost"]),
               "gap_pct": gap, "gap_ci95": gap_ci, "reps": len(r["cost"])}
        for k in kpis:
            if k in r:
                row[k] = float(np.mean(r[k]))
            elif k.endswith(CI_SUFFIX) and k.removesuffix(CI_SUFFIX) in r:  # a KPI's 95% CI over replications
                row[k] = ci95(r[k.removesuffix(CI_SUFFIX)])
            else:
                row[k] = float("nan")
        row["parameters"] = parameters.get(name, "")
        rows.append(row)
    return pd.DataFrame(rows).sort_values("mean_cost", kind="stable").reset_index(drop=True)


def _concat(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    keys = chunks[0].keys()
    return {k: np.concatenate([np.asarray(c[k], dtype=np.float64).reshape(-1) for c in chunks]) for k in keys}


def _tight(cost: np.ndarray, target: float) -> bool:
    half = ci95(cost)
    return not math.isnan(half) and half <= target * max(abs(float(cost.mean())), 1e-9)
