"""Statistics over training seeds: :func:`over_seeds`, the one summary behind every table
that reports a trained policy "over seeds" (this module's seed table, ``experiments.suite``,
``experiments.analysis.compare``, ``experiments.analysis.time_to_gap``), and the seed table of
``experiments.benchmark models=[...]``.

Runs of one experiment that differ only in their training seed (the same task config,
algorithm and hyperparameters, budget and sharing) form a *group*. For every group of at
least two runs the benchmark reports, from the same evaluation (common random numbers, the
same test seeds): the mean cost and the mean gap to the reference over the training seeds
with a 95% confidence interval across seeds (Student t with n - 1 degrees of freedom, the
harness's :func:`agents.harness.ci95`), and the worst seed. ``seeds.csv`` and ``seeds.md``
hold the table; it is printed too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agents.harness import ci95

SEED_COLUMNS = ("group", "runs", "seeds", "mean_cost", "cost_ci95", "mean_gap_pct", "gap_ci95", "worst_seed",
                "worst_gap_pct", "best_gap_pct", "agents")


@dataclass(frozen=True)
class OverSeeds:
    """One figure over training seeds (one value per seed): its mean, the half-width of the 95%
    Student-t CI of that mean across seeds (NaN for one seed), the worst (largest) and best
    (smallest) value, and the position of the worst. Costs and gaps are "lower is better", so
    the worst seed is the one with the largest value."""

    mean: float
    ci95: float
    worst: float
    best: float
    worst_at: int


def over_seeds(values) -> OverSeeds:
    """Mean over training seeds +- 95% t-CI across seeds, worst and best seed of ``values``."""
    x = np.asarray(values, dtype=np.float64)
    worst_at = int(np.argmax(x))
    return OverSeeds(float(x.mean()), ci95(x), float(x[worst_at]), float(x.min()), worst_at)


def group_of(cfg) -> tuple[str, int]:
    """(group label, training seed) of a run's config: the label is the algorithm (``_shared``)
    and a short digest of everything that shapes the trained policy: all but the seed, the
    run's paths, the logging and checkpoint settings and the final evaluation's settings."""
    from omegaconf import OmegaConf

    raw = OmegaConf.to_container(cfg, resolve=False)
    seed = int(raw.pop("seed", 0))
    for key in ("resume", "resume_allow_missing", "hydra", "progress_bar", "smoke", "eval", "benchmark",
                "checkpoint", "logger", "tuning", "torch_threads"):
        raw.pop(key, None)
    evaluation = raw.get("env", {}).get("evaluation")
    if isinstance(evaluation, dict):  # what only the final evaluation uses
        for key in ("reps", "max_reps"):
            evaluation.pop(key, None)
    digest = hashlib.sha1(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:6]
    label = f"{raw.get('agent', {}).get('name', 'model')}{'_shared' if raw.get('shared') else ''}#{digest}"
    return label, seed


def seed_table(frame: pd.DataFrame, members: dict[str, tuple[str, int]]) -> pd.DataFrame:
    """One row per group of >= 2 runs (module docstring); ``members``: agent -> (group, seed).
    The worst seed is the one with the highest mean cost."""
    by_group: dict[str, list[tuple[int, str]]] = {}
    for agent, (group, seed) in members.items():
        by_group.setdefault(group, []).append((seed, agent))
    rows: list[dict[str, Any]] = []
    table = frame.set_index("agent")
    for group, runs in by_group.items():
        if len(runs) < 2:
            continue
        runs.sort()
        agents = [a for _, a in runs]
        cost = over_seeds(table.loc[agents, "mean_cost"].to_numpy(dtype=float))
        gaps = table.loc[agents, "gap_pct"].to_numpy(dtype=float)
        gap = over_seeds(gaps)
        rows.append({"group": group, "runs": len(runs), "seeds": " ".join(str(s) for s, _ in runs),
                     "mean_cost": cost.mean, "cost_ci95": cost.ci95, "mean_gap_pct": gap.mean,
                     "gap_ci95": gap.ci95, "worst_seed": runs[cost.worst_at][0],
                     "worst_gap_pct": gaps[cost.worst_at], "best_gap_pct": gap.best, "agents": " ".join(agents)})
    return pd.DataFrame(rows, columns=list(SEED_COLUMNS))


def write_seed_table(table: pd.DataFrame, out: Path, reference: str, console=None) -> None:
    """``seeds.csv`` and ``seeds.md`` in ``out`` (nothing if no group has two runs)."""
    if table.empty:
        return
    table.to_csv(Path(out) / "seeds.csv", index=False)
    lines = ["# Trained models over training seeds", "",
             f"Mean over training seeds +- 95% CI across seeds (t, n - 1 df); gap to `{reference}` in %.", "",
             "| group | runs (seeds) | mean cost | mean gap | worst seed (gap) | best gap |", "|---|---|---:|---:|---:|---:|"]
    for r in table.itertuples():
        lines.append(f"| {r.group} | {r.runs} ({r.seeds}) | {r.mean_cost:.4g} ± {r.cost_ci95:.3g} | "
                     f"{r.mean_gap_pct:+.2f} ± {r.gap_ci95:.2f}% | {r.worst_seed} ({r.worst_gap_pct:+.2f}%) | "
                     f"{r.best_gap_pct:+.2f}% |")
    (Path(out) / "seeds.md").write_text("\n".join(lines) + "\n")
    if console is not None:
        for line in lines[4:]:
            console.print(line, markup=False, highlight=False)
