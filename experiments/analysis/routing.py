"""Route a static VRPLIB / Solomon instance with the dispatch routers, or build the routing table.

    python -m experiments.analysis.routing instance=tests/dispatch/data/vrplib/A-n32-k5.vrp \\
        solution=tests/dispatch/data/vrplib/A-n32-k5.sol
    python -m experiments.analysis.routing instance=FILE solvers=[insertion,pyvrp] time_limit=5 rounding=trunc1
    python -m experiments.analysis.routing suite=table          # writes docs/benchmarks/routing.md

The instance is read with ``vrplib`` (``envs/dispatch/routing/instances.py``: rounding
conventions, unlimited fleet, hard time windows). A ``solution`` file is checked before anything runs
(``check_solution``: every customer once, no unknown customer, capacity, time windows, its
``Cost`` line equal to the cost recomputed with the instance's distance convention) and is
refused in one line otherwise; its ``Cost`` line (else its recomputed cost) is the BKS the gaps
are measured against. Each
solver (``savings``, ``insertion``, ``insertion_rr``: insertion + ``rr_rounds`` rounds of ruin
and recreate, ``pyvrp``: ``time_limit`` seconds) is run, timed (savings and insertion: the
fastest of ``repeats`` runs, their result is deterministic) and costed by ``plan_cost``.
Writes ``results.csv`` and ``results.md`` into the run dir (``outputs/routing/<time>``) and
prints the table. ``suite=table`` runs savings, insertion, insertion_rr and PyVRP on the
shared instances and on generated ones (``generate_instance``, fixed seeds) and writes the
table with gaps to PyVRP and speed ratios to ``suite_out``.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import time
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from omegaconf import DictConfig, ListConfig
from rich import box
from rich.console import Console
from rich.table import Table

from envs.core.config import ConfigError, check_float, check_int
from envs.dispatch.routing.insertion import insertion_route
from envs.dispatch.routing.instances import (
    ROUNDINGS,
    check_solution,
    generate_instance,
    plan_summary,
    read_instance,
    read_solution,
    tidy,
)
from envs.dispatch.routing.problem import RoutingProblem, plan_cost
from envs.dispatch.routing.pyvrp_router import pyvrp_route
from envs.dispatch.routing.savings import savings_route
from experiments.support.common import (
    checked_groups,
    clean_errors,
    command_line,
    make_console,
    run_dir,
    save_resolved_config,
)
from experiments.support.rundir import write_marker

SOLVERS = ("savings", "insertion", "insertion_rr", "pyvrp")
ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "dispatch" / "data" / "vrplib"
# the table: the shared instances (with their optimum / best known cost) and generated ones
SHARED = (("P-n16-k8.vrp", 450), ("E-n22-k4.txt", 375), ("A-n32-k5.vrp", 784), ("RC208.vrp", 776.1))
GENERATED = tuple((n, kind, tw) for n in (100, 200, 300, 500) for kind in ("uniform", "clustered")
                  for tw in (False, True))
GOAL_GAP, GOAL_SPEED = 6.0, 50.0


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def settings(cfg: DictConfig) -> dict:
    """The validated options (ConfigError naming the field and the accepted values)."""
    names = cfg.get("solvers")
    if not isinstance(names, list | tuple | ListConfig) or not names:
        raise ConfigError(f"solvers: expected a non-empty list of {', '.join(SOLVERS)}, got {names!r}")
    names = [str(n) for n in names]
    for name in names:
        if name not in SOLVERS:
            raise ConfigError(f"solvers: unknown solver {name!r}; accepted solvers are {', '.join(SOLVERS)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"solvers: expected distinct names, got {names}")
    rounding = cfg.get("rounding")
    if rounding not in ROUNDINGS:
        raise ConfigError(f"rounding: expected one of {', '.join(ROUNDINGS)}, got {rounding!r}")
    suite = cfg.get("suite")
    if suite not in (None, "table"):
        raise ConfigError(f"suite: expected table (or null for one instance), got {suite!r}")
    return {"solvers": names, "rounding": rounding, "suite": suite,
            "time_limit": check_float("time_limit", cfg.get("time_limit"), 0.0, 3600.0, strict_low=True),
            "seed": check_int("seed", cfg.get("seed"), 0, 2**31 - 1),
            "rr_rounds": check_int("rr_rounds", cfg.get("rr_rounds"), 0, 100_000),
            "repeats": check_int("repeats", cfg.get("repeats"), 1, 100)}


def existing_file(field: str, value, expected: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{field}: expected {expected}, got {value!r}")
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"{field}: {value} {'is not a file' if path.exists() else 'does not exist'}; "
                          f"expected {expected}")
    return path


def load_instance(path: Path, rounding: str) -> tuple[RoutingProblem, dict]:
    """``read_instance`` (its one-line ConfigError naming ``instance`` and the file)."""
    return read_instance(path, rounding, field="instance")


def load_solution(path: Path, problem: RoutingProblem, rounding: str) -> dict:
    """The solution's trips, checked (``check_solution``: every customer once, capacity, time
    windows, the stated cost) before it serves as the BKS: trips, cost (recomputed), stated cost."""
    where = f"solution: {path}"
    try:
        trips, stated = read_solution(path)
    except Exception as err:
        raise ConfigError(f"{where}: cannot read it as a VRPLIB solution ({_one_line(err)})") from err
    if not trips:
        raise ConfigError(f"{where}: no routes; expected a VRPLIB solution file (.sol)")
    cost = check_solution(problem, trips, stated, where, rounding)
    return {"trips": trips, "cost": cost, "stated": stated}


def run_solver(name: str, problem: RoutingProblem, opts: dict) -> dict:
    """Route ``problem`` with solver ``name``: cost, seconds, feasibility, trips, unrouted."""
    if name == "pyvrp":
        runs = 1
        solve = lambda: pyvrp_route(problem, time_limit=opts["time_limit"], seed=opts["seed"])  # noqa: E731
    else:
        runs = opts["repeats"]
        solve = {"savings": lambda: savings_route(problem),
                 "insertion": lambda: insertion_route(problem),
                 "insertion_rr": lambda: insertion_route(problem, rounds=opts["rr_rounds"], seed=opts["seed"]),
                 }[name]
    seconds = math.inf
    for _ in range(runs):
        start = time.perf_counter()
        trips, unrouted = solve()
        seconds = min(seconds, time.perf_counter() - start)
    feasible, why = plan_summary(problem, trips)
    return {"solver": name, "cost": tidy(plan_cost(problem, trips)), "seconds": seconds, "feasible": feasible,
            "trips": len(trips), "unrouted": len(unrouted), "note": why}


def gap(cost: float, reference: float | None) -> float:
    return 100.0 * (cost / reference - 1.0) if reference else math.nan


def _fmt(x: float, digits: int = 1) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def open_instance(cfg: DictConfig, opts: dict) -> tuple[RoutingProblem, dict, dict | None]:
    """The instance (and its checked solution, if any) of ``cfg``, before anything runs."""
    path = existing_file("instance", cfg.get("instance"), "a VRPLIB or Solomon instance file")
    sol_path = None
    if cfg.get("solution") is not None:
        sol_path = existing_file("solution", cfg.solution, "a VRPLIB solution file (.sol)")
    problem, info = load_instance(path, opts["rounding"])
    sol = None if sol_path is None else {"path": sol_path, **load_solution(sol_path, problem, info["rounding"])}
    return problem, info, sol


def run_instance(problem: RoutingProblem, info: dict, sol: dict | None, opts: dict, out: Path,
                 console: Console) -> pd.DataFrame:
    title = (f"{info['name']}: {problem.n_orders} customers, capacity {problem.capacity}, "
             f"{'hard time windows, ' if info['time_windows'] else ''}distances {info['rounding']}")
    console.print(f"[bold]{title}[/bold]")
    bks = None
    if sol is not None:
        bks = sol["stated"] if sol["stated"] is not None else sol["cost"]
        console.print(f"solution {sol['path'].name}: feasible; cost {sol['cost']:g} (Cost line: {sol['stated']})")
    rows = []
    for name in opts["solvers"]:
        row = run_solver(name, problem, opts)
        row.update(instance=info["name"], bks=bks, gap_pct=gap(row["cost"], bks))
        rows.append(row)
    frame = pd.DataFrame(rows)[["instance", "solver", "cost", "bks", "gap_pct", "seconds", "feasible", "trips",
                                "unrouted", "note"]]
    table = Table(box=box.SIMPLE_HEAD)
    for head in ("solver", "cost", "BKS", "gap %", "seconds", "feasible", "trips", "unrouted"):
        table.add_column(head, justify="left" if head == "solver" else "right")
    for r in frame.itertuples():
        table.add_row(r.solver, f"{r.cost:g}", "" if r.bks is None or pd.isna(r.bks) else f"{r.bks:g}",
                      _fmt(r.gap_pct, 2), f"{r.seconds:.4f}", "yes" if r.feasible else f"no ({r.note})",
                      str(r.trips), str(r.unrouted))
    console.print(table)
    frame.to_csv(out / "results.csv", index=False)
    lines = [f"# {title}", "", f"Command: `{command_line('experiments.analysis.routing')}`", "",
             "| solver | cost | BKS | gap % | seconds | feasible | trips | unrouted |", "|---|" + "---:|" * 7]
    for r in frame.itertuples():
        lines.append(f"| {r.solver} | {r.cost:g} | {'' if r.bks is None or pd.isna(r.bks) else f'{r.bks:g}'} | "
                     f"{_fmt(r.gap_pct, 2)} | {r.seconds:.4f} | {'yes' if r.feasible else 'no'} | {r.trips} | "
                     f"{r.unrouted} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    console.print(f"results: {out}")
    return frame


# ---- the table of docs/benchmarks/routing.md ----------------------------------------------
def table_instances():
    """``(name, problem, best known cost or None)`` of the routing table."""
    for file, best in SHARED:
        problem, info = read_instance(DATA / file)
        yield info["name"], problem, best
    for n, kind, tw in GENERATED:
        yield f"{kind}-{n}{'-tw' if tw else ''}", generate_instance(n, kind, tw, seed=n), None


def run_table(opts: dict, out: Path, console: Console, target: Path) -> pd.DataFrame:
    names = ("savings", "insertion", "insertion_rr", "pyvrp")
    rows, opts = [], {**opts, "load": os.getloadavg()[0]}
    for name, problem, best in table_instances():
        row = {"instance": name, "n": problem.n_orders, "tw": bool(problem.hard_deadline), "bks": best}
        for solver in names:
            r = run_solver(solver, problem, opts)
            if not r["feasible"]:
                raise RuntimeError(f"{solver} returned an infeasible plan on {name}: {r['note']}")
            row[f"{solver}_cost"], row[f"{solver}_s"] = r["cost"], r["seconds"]
        for solver in names[:-1]:
            row[f"{solver}_gap"] = gap(row[f"{solver}_cost"], row["pyvrp_cost"])
            row[f"{solver}_speed"] = row["pyvrp_s"] / row[f"{solver}_s"]
        console.print(f"{name}: " + ", ".join(f"{s} {row[f'{s}_cost']:g} ({row[f'{s}_s']:.3f}s)" for s in names))
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.to_csv(out / "results.csv", index=False)
    text = table_markdown(frame, opts)
    (out / "results.md").write_text(text)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    console.print(text)
    console.print(f"results: {out} and {target}")
    return frame


def summary(frame: pd.DataFrame, solver: str) -> dict:
    speed = frame[f"{solver}_speed"].to_numpy()
    return {"gap": float(frame[f"{solver}_gap"].mean()), "worst": float(frame[f"{solver}_gap"].max()),
            "geo": float(np.exp(np.log(speed).mean())), "total": float(frame["pyvrp_s"].sum() / frame[f"{solver}_s"].sum()),
            "seconds": float(frame[f"{solver}_s"].sum())}


def table_markdown(frame: pd.DataFrame, opts: dict) -> str:
    ins, rr, sav = summary(frame, "insertion"), summary(frame, "insertion_rr"), summary(frame, "savings")
    small = frame[frame["n"] <= 100]
    ins_small = summary(small, "insertion") if len(small) else None
    met_gap, met_speed = ins["gap"] <= GOAL_GAP, ins["geo"] >= GOAL_SPEED
    lines = [
        "# Routing: savings and insertion against PyVRP", "",
        f"Generated by `python -m experiments.analysis.routing suite=table` on {dt.date.today():%Y-%m-%d} "
        f"({os.cpu_count()} CPUs, load average {opts.get('load', float('nan')):.1f} at the start; one thread; "
        f"PyVRP {opts['time_limit']:g} s, seed {opts['seed']}, so its result depends on the machine's speed; savings and "
        f"insertion timed as the fastest of {opts['repeats']} runs). Costs from `plan_cost` (every plan checked "
        "feasible by `check_plan`, every customer served); gaps to PyVRP's cost; speed = PyVRP seconds / solver "
        "seconds.", "",
        "Instances: the shared VRPLIB / Solomon files (BKS = optimum or best known) and generated ones "
        "(`envs.dispatch.routing.instances.generate_instance(n, kind, time_windows, seed=n)`: 1000 x 1000 square, "
        "depot at the centre, demands 1-10, capacity 100, nint distances; `clustered`: 8 clusters; `-tw`: hard "
        "windows 300-1200 wide on a 6000 horizon, service 10). Unlimited fleet. `insertion` is the simulator's "
        f"router (descent only); `insertion_rr` adds {opts['rr_rounds']} rounds of ruin and recreate.", "",
        "| instance | n | BKS | PyVRP | s | savings | gap % | s | insertion | gap % | s | speed x | "
        "insertion_rr | gap % | s |",
        "|---|" + "---:|" * 14,
    ]
    for r in frame.itertuples():
        lines.append(
            f"| {r.instance} | {r.n} | {'' if r.bks is None or pd.isna(r.bks) else f'{r.bks:g}'} | "
            f"{r.pyvrp_cost:g} | {r.pyvrp_s:.2f} | {r.savings_cost:g} | {r.savings_gap:.2f} | {r.savings_s:.3f} | "
            f"{r.insertion_cost:g} | {r.insertion_gap:.2f} | {r.insertion_s:.3f} | {r.insertion_speed:.0f} | "
            f"{r.insertion_rr_cost:g} | {r.insertion_rr_gap:.2f} | {r.insertion_rr_s:.3f} |")
    lines += [
        f"| **average** | | | | | | **{sav['gap']:.2f}** | | | **{ins['gap']:.2f}** | | "
        f"**{ins['geo']:.0f}** (geo. mean) | | **{rr['gap']:.2f}** | |", "",
        "## Goals, as measured", "",
        f"* **Insertion within {GOAL_GAP:g}% of PyVRP ({opts['time_limit']:g} s) on average over the table: "
        f"{'met' if met_gap else 'not met'}** (average gap {ins['gap']:.2f}%, worst {ins['worst']:.2f}%; savings "
        f"{sav['gap']:.2f}%; insertion + ruin and recreate {rr['gap']:.2f}%).",
        f"* **At least {GOAL_SPEED:g}x faster than that PyVRP run: {'met' if met_speed else 'not met'}** "
        f"(geometric mean of the per-instance speed ratios {ins['geo']:.0f}x; total time ratio {ins['total']:.0f}x"
        + (f"; instances up to 100 customers: geometric mean {ins_small['geo']:.0f}x" if ins_small else "")
        + f"). Insertion + ruin and recreate: {rr['geo']:.0f}x (geometric mean), {rr['total']:.0f}x (total).",
        "",
        "The insertion router is pure Python: its time grows with the instance (1-2 ms for the dynamic "
        "simulator's problems of 10-30 orders, tenths of a second for 500 customers), while PyVRP always uses its "
        "time limit: the speed goal holds for small instances only.",
        "",
    ]
    return "\n".join(lines)


@checked_groups
@hydra.main(version_base="1.3", config_path="../../configs", config_name="routing.yaml")
@clean_errors
def main(cfg: DictConfig) -> None:
    opts = settings(cfg)
    instance = open_instance(cfg, opts) if opts["suite"] is None else None
    out = run_dir()
    write_marker(out, "routing", "dispatch", {})
    save_resolved_config(cfg, out)
    console = make_console()
    if instance is None:
        run_table(opts, out, console, Path(str(cfg.suite_out)))
    else:
        run_instance(*instance, opts, out, console)


if __name__ == "__main__":
    main()
