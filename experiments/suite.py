"""Train a set of experiment configs over seeds and tabulate them against each run's
reference and best other agent (any task).

    python -m experiments.suite --grid lost_sales_ppo --seeds 0 --jobs 2 --out docs/benchmarks/lost_sales_ppo
    python -m experiments.suite --experiments 'network_*ppo' --seeds 0 1 2 --out ...
    python -m experiments.suite --grid lost_sales_ppo --collect-only --out ...

Each (run, seed) runs ``python -m experiments.train experiment=<name> seed=<s>`` into
``<root>/<name>/seed<s>/`` (extra Hydra overrides after ``--``). A training grid
(``--grid``, ``configs/grid/<grid>.yaml``) names its runs and gives each its overrides of one
experiment: run ``<name>`` is ``experiment=<the grid's experiment> <its overrides>``
(``--experiments`` then picks runs of the grid by name or glob). Every run ends with the
benchmark's comparison on the test seeds; this collects, per run, the trained policy's
cost, the reference (the exact optimum where the task has one, else the cheapest agent), the
cheapest other agent, the gaps (with their paired 95% CIs, from the run's
``per_replication.csv``, and whether the policy is ahead of the best other agent beyond it;
without an exact optimum the reference is the cheapest agent other than the policy), the timesteps and the
training wall time, and per experiment the mean over seeds with its 95% CI and the worst seed
(``experiments.support.seeds.over_seeds``). Writes ``<out>.csv``
(one row per run) and ``<out>.md``.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from agents.harness import paired_gap
from agents.seeds import MAX_SEED
from envs.core.config import ConfigError, check_int
from experiments.support.common import ArgumentParser, clean_errors
from experiments.support.seeds import over_seeds

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "experiment"
GRIDS = CONFIGS.parent / "grid"


def experiments(patterns: list[str], grid: str | None = None) -> dict[str, list[str]]:
    """Run name -> its Hydra overrides, in name order: experiment configs matching
    ``patterns``, or the runs of training grid ``grid`` (those matching ``patterns`` if any)."""
    runs = grid_runs(grid) if grid else {p.stem: [f"experiment={p.stem}"] for p in CONFIGS.glob("*.yaml")}
    chosen = {n: runs[n] for n in sorted(runs) if not patterns or any(fnmatch.fnmatch(n, pat) for pat in patterns)}
    if not chosen:
        where = f"grid {grid}" if grid else f"no config in {CONFIGS}"
        raise ConfigError(f"--experiments: {where} has no run matching {patterns}")
    return chosen


def grid_runs(name: str) -> dict[str, list[str]]:
    """The runs of ``configs/grid/<name>.yaml``: name -> ``experiment=<its experiment>`` and its overrides."""
    import yaml

    path = GRIDS / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in GRIDS.glob("*.yaml")))
        raise ConfigError(f"--grid: no {path.relative_to(GRIDS.parents[1])}; grids: {known}")
    raw = yaml.safe_load(path.read_text())
    runs = raw.get("runs") if isinstance(raw, dict) else None
    if not isinstance(runs, dict) or not isinstance(raw.get("experiment"), str) \
            or not all(isinstance(o, list) and all(isinstance(x, str) for x in o) for o in runs.values()):
        raise ConfigError(f"--grid: {path} must hold `experiment: <name>` and `runs: {{<run name>: [overrides]}}`")
    return {run: [f"experiment={raw['experiment']}", *overrides] for run, overrides in runs.items()}


def run_one(name: str, overrides: list[str], seed: int, root: Path, extra: list[str]) -> None:
    out = root / name / f"seed{seed}"
    if (out / "results.csv").exists():
        print(f"{name} seed {seed}: done before, kept", flush=True)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "experiments.train", *overrides, f"seed={seed}", f"hydra.run.dir={out}",
           "progress_bar=false", *extra]
    start = time.perf_counter()
    with open(out.parent / f"seed{seed}.log", "w") as log:
        code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
    print(f"{name} seed {seed}: exit {code} after {time.perf_counter() - start:.0f}s", flush=True)


def collect(name: str, seed: int, run: Path) -> dict | None:
    from agents.rl import checkpoints
    from agents.rl.loading import open_run

    if not (run / "results.csv").exists():
        return None
    trained = open_run(run)
    frame = pd.read_csv(run / "results.csv")
    reference = json.loads((run / "results.json").read_text())["reference"]
    mine = frame[frame["agent"] == trained.agent].iloc[0]
    if reference == trained.agent and len(frame) > 1:  # no exact optimum and the policy was cheapest:
        rest = frame[frame["agent"] != trained.agent]   # the reference is the cheapest other agent
        reference = rest.loc[rest["mean_cost"].idxmin()].agent
    ref = frame[frame["agent"] == reference].iloc[0]
    others = frame[~frame["agent"].isin([trained.agent, reference])]
    best = others.loc[others["mean_cost"].idxmin()] if len(others) else ref
    last = checkpoints.list_checkpoints(run)[-1].meta
    paired = paired_to(run / "per_replication.csv", trained.agent, best.agent)
    other_gap = 100 * (mine.mean_cost / best.mean_cost - 1)
    ref_gap = 100 * (mine.mean_cost / ref.mean_cost - 1)
    ref_ci = paired_to(run / "per_replication.csv", trained.agent, reference)
    return {"experiment": name, **trained.task.instance_columns(), "seed": seed, "agent": trained.agent,
            "cost": float(mine.mean_cost), "ci95": float(mine.ci95), "reference": reference,
            "reference_cost": float(ref.mean_cost), "gap_to_reference_pct": ref_gap, "reference_paired_ci95": ref_ci,
            "significantly_ahead_of_reference": bool(ref_gap + ref_ci < 0) if ref_ci == ref_ci else None,
            "best_other": best.agent, "best_other_cost": float(best.mean_cost),
            "gap_to_best_other_pct": other_gap, "best_other_paired_ci95": paired,
            "significantly_ahead": bool(other_gap + paired < 0) if paired == paired else None,
            "timesteps": int(last.get("timesteps", -1)), "wall_seconds": round(float(last.get("wall_seconds", 0)), 1),
            "cpu_seconds": round(float(last.get("cpu_seconds", float("nan"))), 1)}


def paired_to(path: Path, agent: str, other: str) -> float:
    """The 95% CI half-width (in % of ``other``'s mean) of the gap of ``agent`` over ``other``,
    paired by replication from a run's ``per_replication.csv``; NaN without the file."""
    if not path.exists():
        return float("nan")
    costs = pd.read_csv(path)
    if agent not in costs or other not in costs:
        return float("nan")
    return paired_gap(costs[agent].to_numpy(), costs[other].to_numpy())[1]


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per experiment: mean gap over seeds with its 95% CI (NaN for one seed) and the worst seed
    (:func:`experiments.support.seeds.over_seeds`)."""
    rows = []
    for name, group in frame.groupby("experiment", sort=False):
        gap, other = over_seeds(group["gap_to_reference_pct"]), over_seeds(group["gap_to_best_other_pct"])
        rows.append({"experiment": name, "seeds": len(group), "reference": group["reference"].iloc[0],
                     "gap_to_reference_pct": gap.mean, "gap_ci95": gap.ci95, "worst_seed_gap_pct": gap.worst,
                     "best_other": group["best_other"].iloc[0], "gap_to_best_other_pct": other.mean,
                     "best_other_ci95": other.ci95,
                     "seeds_ahead_of_best_other": int((group["gap_to_best_other_pct"] < 0).sum()),
                     "seeds_significantly_ahead": _count(group, "significantly_ahead"),
                     "seeds_significantly_ahead_of_reference": _count(group, "significantly_ahead_of_reference")})
    return pd.DataFrame(rows)


def _count(group: pd.DataFrame, column: str) -> int | None:
    """How many runs of ``group`` have ``column`` true; None if a run did not record it."""
    if column not in group or not group[column].notna().all():
        return None
    return int(group[column].astype(bool).sum())


def table(frame: pd.DataFrame) -> list[str]:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in frame.itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in r) + " |")
    return lines


def write(frame: pd.DataFrame, out: Path, command: str, grid: str | None = None) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out.with_suffix(".csv"), index=False)
    agg = summary(frame)
    run = f"<its overrides in configs/grid/{grid}.yaml>" if grid else "experiment=<experiment>"
    text = [f"# Training suite: {', '.join(agg['experiment'])}", "", f"Command: `{command}`", "",
            f"Each run is `python -m experiments.train {run} seed=<seed>`; `cost` is the trained",
            "(best-on-validation) policy's mean cost per period on the benchmark's test seeds with its 95% CI over",
            "replications; `reference` is the task's reference on the same streams (the exact optimum where there",
            "is one, else the cheapest agent other than the policy) and `best_other` the cheapest other agent;",
            "`reference_paired_ci95` and `best_other_paired_ci95` are the 95% CIs of the gaps to them paired by",
            "replication (common random numbers); `significantly_ahead` (`_of_reference`) says the policy is cheaper",
            "than `best_other` (the reference) beyond that CI. `wall_seconds`: training time on this machine; `cpu_seconds`: the training",
            "process's CPU time (wall time overstates it on a busy machine).", "",
            "## Per experiment (over training seeds: mean, 95% CI, worst seed)", "", *table(agg), "",
            "## Per run", "", *table(frame), ""]
    out.with_suffix(".md").write_text("\n".join(text))


@clean_errors
def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="python -m experiments.suite", description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiments", nargs="+", default=[],
                        help="experiment config names or globs (with --grid: run names or globs of the grid)")
    parser.add_argument("--grid", help="a training grid, configs/grid/<GRID>.yaml: its runs")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="training seeds (0)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (2)")
    parser.add_argument("--root", type=Path, default=Path("outputs/suite"), help="where the runs go")
    parser.add_argument("--out", type=Path, required=True, help="table path without suffix (.csv and .md)")
    parser.add_argument("--collect-only", action="store_true", help="only tabulate existing runs")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run (after --)")
    args = parser.parse_args(argv)
    if not args.experiments and not args.grid:
        parser.error("give --experiments, --grid or both")
    check_int("--jobs", args.jobs, 1, 256)
    for seed in args.seeds:
        check_int("--seeds", seed, 0, MAX_SEED)
    runs = experiments(args.experiments, args.grid)
    jobs = [(n, s) for n in runs for s in args.seeds]
    if not args.collect_only:
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(lambda job: run_one(job[0], runs[job[0]], job[1], args.root, args.overrides), jobs))
    rows = [r for n, s in jobs if (r := collect(n, s, args.root / n / f"seed{s}"))]
    if not rows:
        raise ConfigError(f"no finished run to collect under {args.root}")
    frame = pd.DataFrame(rows)
    given = sys.argv[1:] if argv is None else argv
    write(frame, args.out, "python -m experiments.suite " + " ".join(given), args.grid)
    print(summary(frame).to_string(index=False))
    print(f"wrote {args.out.with_suffix('.csv')} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
