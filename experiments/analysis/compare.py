"""Learning algorithms side by side, per instance, from ``experiments.suite`` tables.

    python -m experiments.analysis.compare PPO=docs/benchmarks/lost_sales_ppo.csv \\
        DCL=docs/benchmarks/lost_sales_dcl.csv --out docs/benchmarks/lost_sales_rl

Each input is a suite's per-run CSV (one row per experiment and training seed). Instances are
the suite's instance columns (those between ``experiment`` and ``seed``, e.g. lead time and
penalty). Per instance and algorithm: the mean gap to the reference over training seeds with
its 95% CI across seeds (Student t) and the worst seed; the mean gap to the best other agent
(the best tuned heuristic when the reference is an exact optimum), how many seeds are cheaper
than it beyond the paired 95% CI of their run (``significantly_ahead``; NaN for suites written
before that column), and the mean CPU (or, without it, wall) minutes of training. Below the
table, one line per algorithm counts the instances whose worst seed is within each of the
``--within`` gaps, and those where *every* seed is significantly cheaper than the best other
agent. Writes ``<out>.md`` and ``<out>.csv``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from envs.core.config import ConfigError
from experiments.support.common import ArgumentParser, clean_errors
from experiments.support.seeds import over_seeds

# the columns of a suite table (experiments.suite) that the comparison reads; the instance
# columns lie between experiment and seed
REQUIRED = ("experiment", "seed", "reference", "reference_cost", "gap_to_reference_pct", "best_other",
            "best_other_cost", "gap_to_best_other_pct", "wall_seconds")


def instance_columns(frame: pd.DataFrame) -> list[str]:
    cols = list(frame.columns)
    return cols[cols.index("experiment") + 1:cols.index("seed")]


def per_instance(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    rows = []
    for key, group in frame.groupby(keys, sort=True):
        gap, other = over_seeds(group["gap_to_reference_pct"]), over_seeds(group["gap_to_best_other_pct"])
        known = "significantly_ahead" in group and group["significantly_ahead"].notna().all()
        ahead = group["significantly_ahead"].astype(bool) if known else None
        minutes = group["cpu_seconds"] if "cpu_seconds" in group and group["cpu_seconds"].notna().all() else None
        rows.append({**dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)),
                     "seeds": len(group), "reference": group["reference"].iloc[0],
                     "reference_cost": group["reference_cost"].mean(), "best_other": group["best_other"].iloc[0],
                     "best_other_gap_pct": 100 * (group["best_other_cost"] / group["reference_cost"] - 1).mean(),
                     "gap_pct": gap.mean, "gap_ci95": gap.ci95, "worst_gap_pct": gap.worst,
                     "vs_best_other_pct": other.mean, "vs_best_other_ci95": other.ci95,
                     "seeds_significantly_ahead": int(ahead.sum()) if ahead is not None else np.nan,
                     "minutes": (minutes if minutes is not None else group["wall_seconds"]).mean() / 60,
                     "minutes_kind": "cpu" if minutes is not None else "wall"})
    return pd.DataFrame(rows)


def compare(tables: dict[str, pd.DataFrame], within: list[float]) -> tuple[pd.DataFrame, list[str]]:
    """The side-by-side frame (one row per instance and algorithm) and the markdown lines."""
    keys = instance_columns(next(iter(tables.values())))
    parts = []
    for label, frame in tables.items():
        if instance_columns(frame) != keys:
            raise ConfigError(f"{label}: instance columns {instance_columns(frame)} differ from {keys}")
        parts.append(per_instance(frame, keys).assign(algorithm=label))
    long = pd.concat(parts, ignore_index=True)
    labels = list(tables)
    head = [*keys, "reference", "best other (gap %)"]
    for label in labels:
        head += [f"{label} gap % (95% CI over seeds)", f"{label} worst seed %", f"{label} vs best other %",
                 f"{label} seeds ahead", f"{label} min"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, group in long.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        first = group.iloc[0]
        cells = [f"{v:g}" if isinstance(v, float) else str(v) for v in key]
        cells += [f"{first.reference} {first.reference_cost:.4f}", f"{first.best_other} (+{first.best_other_gap_pct:.3f})"]
        for label in labels:
            row = group[group["algorithm"] == label]
            if row.empty:
                cells += ["-"] * 5
                continue
            r = row.iloc[0]
            ahead = "-" if pd.isna(r.seeds_significantly_ahead) else f"{int(r.seeds_significantly_ahead)}/{r.seeds}"
            cells += [f"{r.gap_pct:+.3f} ± {r.gap_ci95:.3f}", f"{r.worst_gap_pct:+.3f}",
                      f"{r.vs_best_other_pct:+.3f} ± {r.vs_best_other_ci95:.3f}", ahead,
                      f"{r.minutes:.1f} ({r.minutes_kind})"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for label in labels:
        mine = long[long["algorithm"] == label]
        counts = ", ".join(f"{int((mine['worst_gap_pct'] <= w).sum())} within {w:g}%" for w in within)
        known = mine["seeds_significantly_ahead"].notna()
        every = int((mine["seeds_significantly_ahead"][known] == mine["seeds"][known]).sum())
        ahead = (f"{every} of {int(known.sum())}" + (" with paired costs recorded" if known.sum() < len(mine) else "")
                 if known.any() else "not recorded (no per-replication costs)")
        lines.append(f"- **{label}**, {len(mine)} instances, worst seed: {counts}; every seed cheaper than the best "
                     f"other agent beyond its paired 95% CI: {ahead}; mean gap "
                     f"{mine['gap_pct'].mean():+.3f}%, largest worst seed {mine['worst_gap_pct'].max():+.3f}%; "
                     f"training per run, mean over seeds, at most {training_minutes(mine)}.")
    return long, lines


def training_minutes(rows: pd.DataFrame) -> str:
    """The largest mean training time, in CPU minutes where recorded and wall minutes else."""
    parts = [f"{rows.loc[rows['minutes_kind'] == kind, 'minutes'].max():.1f} {kind}-minutes"
             + ("" if (rows["minutes_kind"] == kind).all() else f" ({int((rows['minutes_kind'] == kind).sum())} instances)")
             for kind in ("cpu", "wall") if (rows["minutes_kind"] == kind).any()]
    return ", ".join(parts)


def read_table(label: str, path: str) -> pd.DataFrame:
    """A suite's per-run CSV, with every column of ``REQUIRED``."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as err:  # pandas' parser errors are ValueErrors
        raise ConfigError(f"tables: {label}={path} is not a readable CSV ({type(err).__name__})") from None
    if missing := [c for c in REQUIRED if c not in frame.columns]:
        raise ConfigError(f"tables: {label}={path} lacks the column(s) {', '.join(missing)} of an "
                          "experiments.suite table")
    if frame.empty:
        raise ConfigError(f"tables: {label}={path} has no rows")
    if list(frame.columns).index("experiment") > list(frame.columns).index("seed"):
        raise ConfigError(f"tables: {label}={path}: the instance columns lie between experiment and seed, "
                          "but seed comes first")
    return frame


@clean_errors
def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="python -m experiments.analysis.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("tables", nargs="+", help="LABEL=path/to/suite.csv, one per algorithm")
    parser.add_argument("--out", type=Path, required=True, help="table path without suffix (.md and .csv)")
    parser.add_argument("--within", nargs="+", type=float, default=[0.2, 0.5, 1.0, 3.0],
                        help="gap thresholds (%%) counted for the worst seed (0.2 0.5 1 3)")
    parser.add_argument("--title", default="Learning algorithms side by side")
    args = parser.parse_args(argv)
    tables = {}
    for item in args.tables:
        label, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            raise ConfigError(f"tables: expected LABEL=path/to/suite.csv with an existing file, got {item!r}")
        tables[label] = read_table(label, path)
    long, lines = compare(tables, args.within)
    given = sys.argv[1:] if argv is None else argv
    text = [f"# {args.title}", "", f"Command: `python -m experiments.analysis.compare {' '.join(given)}`", "",
            (__doc__ or "").split("\n\n", 2)[2].strip(), "", *lines, ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text("\n".join(text))
    long.to_csv(args.out.with_suffix(".csv"), index=False)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
