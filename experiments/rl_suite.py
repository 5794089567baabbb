"""Train PPO on the 16 classic lost-sales instances and tabulate it against the optimum.

    python -m experiments.rl_suite --jobs 2            # all 16 (configs/experiment/lost_sales_ppo_L*_p*.yaml)
    python -m experiments.rl_suite --only 2:9 4:39     # a subset (L:p)

Each instance runs ``python -m experiments.train experiment=lost_sales_ppo_L<L>_p<p>``
into ``outputs/rl_suite/L<L>_p<p>/``; the trained policy is compared there with the
exact optimum and every tuned heuristic on the benchmark's test seeds. This script
collects those results into ``docs/benchmarks/lost_sales_rl.csv`` / ``.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

INSTANCES = [(lead, p) for lead in (1, 2, 3, 4) for p in (4, 9, 19, 39)]
HEURISTICS = ("base_stock", "capped_base_stock", "constant_order", "s_S", "myopic")


def run_instance(lead: int, penalty: int, root: Path, extra: list[str]) -> Path:
    out = root / f"L{lead}_p{penalty}"
    cmd = [sys.executable, "-m", "experiments.train", f"experiment=lost_sales_ppo_L{lead}_p{penalty}",
           f"hydra.run.dir={out}", "progress_bar=false", *extra]
    start = time.perf_counter()
    with open(root / f"L{lead}_p{penalty}.log", "w") as log:
        code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
    print(f"L={lead} p={penalty}: exit {code} after {time.perf_counter() - start:.0f}s", flush=True)
    return out


def collect(out: Path, lead: int, penalty: int) -> dict | None:
    results = out / "results.csv"
    if not results.exists():
        return None
    frame = pd.read_csv(results)
    agent = "ppo"
    row = frame[frame["agent"] == agent].iloc[0]
    optimal = float(frame.loc[frame["agent"] == "optimal", "mean_cost"].iloc[0])
    heur = frame[frame["agent"].isin(HEURISTICS)]
    best = heur.loc[heur["mean_cost"].idxmin()]
    meta = json.loads(max((out / "checkpoints").glob("step_*/meta.json")).read_text())
    return {
        "lead_time": lead, "penalty": penalty, "agent": agent, "cost": float(row["mean_cost"]),
        "ci95": float(row["ci95"]), "optimal_cost": optimal,
        "gap_to_optimal_pct": 100 * (float(row["mean_cost"]) / optimal - 1),
        "best_heuristic": best["agent"], "best_heuristic_cost": float(best["mean_cost"]),
        "gap_to_best_heuristic_pct": 100 * (float(row["mean_cost"]) / float(best["mean_cost"]) - 1),
        "timesteps": int(meta["timesteps"]), "wall_seconds": round(float(meta.get("wall_seconds", 0.0)), 1),
    }


def write(rows: list[dict], docs: Path, command: str) -> None:
    frame = pd.DataFrame(rows).sort_values(["lead_time", "penalty"])
    docs.mkdir(parents=True, exist_ok=True)
    frame.to_csv(docs / "lost_sales_rl.csv", index=False)
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in frame.itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in r) + " |")
    met3 = int((frame["gap_to_optimal_pct"] <= 3).sum())
    met1 = int((frame["gap_to_optimal_pct"] <= 1).sum())
    ahead = int((frame["cost"] < frame["best_heuristic_cost"]).sum())
    text = [
        "# PPO on the 16 classic lost-sales instances", "",
        "Command: `python -m experiments.rl_suite --jobs 2` (all 16; `--only L:p ...` reruns some",
        f"and `--collect-only` rebuilds this table from the run directories). This table: `{command}`.",
        "",
        "Each row is one training run (seed 0) of `configs/experiment/lost_sales_ppo_L<L>_p<p>.yaml`;",
        "`cost` is the trained (best-on-validation) policy's mean cost per period on the benchmark's",
        "test seeds, with its 95% CI; `optimal_cost` is the exact DP optimum evaluated by simulation",
        "on the same streams; `best_heuristic` the cheapest tuned heuristic on the same streams.",
        "`wall_seconds` is training time on the 2-core machine (two instances trained at once).", "",
        f"Within 3% of the optimum: {met3}/{len(frame)}; within 1%: {met1}/{len(frame)}; "
        f"cheaper than the best tuned heuristic: {ahead}/{len(frame)}.", "",
        *lines, "",
    ]
    (docs / "lost_sales_rl.md").write_text("\n".join(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="instances trained at once")
    parser.add_argument("--only", nargs="*", default=None, help="instances as L:p, e.g. 2:9 4:39")
    parser.add_argument("--root", default="outputs/rl_suite", help="where the runs go")
    parser.add_argument("--docs", default="docs/benchmarks", help="where the tables go")
    parser.add_argument("--collect-only", action="store_true", help="only tabulate existing runs")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args()
    chosen = INSTANCES if not args.only else [tuple(int(x) for x in s.split(":")) for s in args.only]
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    if not args.collect_only:
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(lambda lp: run_instance(*lp, root, args.overrides), chosen))
    rows = [r for lead, p in INSTANCES if (r := collect(root / f"L{lead}_p{p}", lead, p))]
    write(rows, Path(args.docs), "python -m experiments.rl_suite " + " ".join(sys.argv[1:]))
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
