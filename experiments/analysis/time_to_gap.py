"""Wall time to a validation gap, and the final gap, of training runs grouped by setting.

    python -m experiments.analysis.time_to_gap --gap 2 \
        --group dummy4 'outputs/ppo_throughput/dummy4_s*' --group batched 'outputs/ppo_throughput/b*_s*'

Per run (an ``experiments.train`` run directory of a task with a known reference cost, e.g. the
exact optimum of lost sales): from ``eval.csv`` the timesteps and wall time (``wall_seconds``:
training plus the validations before it) of the first validation within ``--gap`` % of the
reference (the run's ``best/`` model is then within it on the validation seeds) and of the
first validation after which every later one stays within it; from the last checkpoint the
whole run's timesteps and wall time; from ``results.csv`` the final gap of the trained policy
on the test seeds. Per group: the mean over runs with the 95% CI across runs (t, n - 1 df) and
the worst run. Prints Markdown tables (``--out``: also writes them to a file).
"""

from __future__ import annotations

import argparse
import csv
import glob
import math
from pathlib import Path

import numpy as np

from experiments.support.seeds import over_seeds


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def run_row(run: Path, gap: float) -> dict[str, float]:
    """The figures of one run directory (module docstring); NaN where a gap was never reached."""
    from agents.rl import checkpoints

    evals = read_rows(run / "eval.csv")
    if not evals or "gap_to_reference_pct" not in evals[0] or "wall_seconds" not in evals[0]:
        raise SystemExit(f"error: {run / 'eval.csv'}: needs the wall_seconds and gap_to_reference_pct columns")
    gaps = np.array([float(r["gap_to_reference_pct"]) for r in evals])
    within = gaps <= gap
    first = int(np.argmax(within)) if within.any() else None
    stays = next((i for i in range(len(gaps)) if within[i:].all()), None)
    trained = [r for r in read_rows(run / "results.csv") if r["agent"] not in ("optimal",)]
    last = checkpoints.list_checkpoints(run)[-1].meta

    def at(i, key):
        return float(evals[i][key]) if i is not None else math.nan

    return {"run": run.name, "first_steps": at(first, "timesteps"), "first_seconds": at(first, "wall_seconds"),
            "stays_steps": at(stays, "timesteps"), "stays_seconds": at(stays, "wall_seconds"),
            "timesteps": float(last["timesteps"]), "wall_seconds": float(last["wall_seconds"]),
            "final_gap_pct": float(trained[0]["gap_pct"]) if trained else math.nan}


# column -> decimals shown
COLUMNS = {"first_seconds": 1, "first_steps": 0, "stays_seconds": 1, "final_gap_pct": 2, "wall_seconds": 1,
           "timesteps": 0}


def cell(values: np.ndarray, d: int) -> str:
    """Mean ± 95% CI (median, worst); a run that never reached the gap counts as infinitely late, so
    only the median (and how many reached it) is given then."""
    missed = int(np.isnan(values).sum())
    median = float(np.median(np.where(np.isnan(values), np.inf, values)))
    if missed:
        shown = "not reached" if math.isinf(median) else f"{median:,.{d}f}"
        return f"{len(values) - missed} of {len(values)} reached; median {shown}"
    runs = over_seeds(values)
    if math.isnan(runs.ci95):
        return f"{values[0]:,.{d}f}"
    return f"{runs.mean:,.{d}f} ± {runs.ci95:,.{d}f} (median {median:,.{d}f}, worst {runs.worst:,.{d}f})"


def tables(groups: dict[str, list[dict[str, float]]], gap: float) -> list[str]:
    head = [f"first validation within {gap:g}%: wall s", "... timesteps", f"stays within {gap:g}% from: wall s",
            "final gap % (test seeds)", "run wall s", "run timesteps"]
    lines = [f"Mean ± 95% CI across runs (median, worst run); gap to the reference in %, target {gap:g}%.", "",
             "| group | runs | " + " | ".join(head) + " |", "|---|---:|" + "---:|" * len(head)]
    for name, rows in groups.items():
        cells = [cell(np.array([r[c] for r in rows]), d) for c, d in COLUMNS.items()]
        lines.append(f"| {name} | {len(rows)} | " + " | ".join(cells) + " |")
    lines += ["", "| group | run | " + " | ".join(head) + " |", "|---|---|" + "---:|" * len(head)]
    for name, rows in groups.items():
        for r in rows:
            lines.append(f"| {name} | {r['run']} | " + " | ".join(f"{r[c]:,.{d}f}" for c, d in COLUMNS.items()) + " |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.analysis.time_to_gap", description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", nargs=2, action="append", metavar=("NAME", "GLOB"), required=True,
                        help="a group of run directories (repeatable)")
    parser.add_argument("--gap", type=float, default=2.0, help="target gap to the reference in %% (2)")
    parser.add_argument("--out", type=Path, help="also write the tables here (Markdown)")
    args = parser.parse_args(argv)
    groups = {}
    for name, pattern in args.group:
        runs = sorted(Path(p) for p in glob.glob(pattern) if (Path(p) / "eval.csv").is_file())
        if not runs:
            raise SystemExit(f"error: --group {name}: no run directory with an eval.csv matches {pattern!r}")
        groups[name] = [run_row(run, args.gap) for run in runs]
    text = "\n".join(tables(groups, args.gap))
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
