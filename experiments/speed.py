"""Raw simulation speed of ``fulfillgym/LostSales-v0``, against Gymnasium's CartPole-v1.

Measures, in one run and on the same machine:

* env steps per second of ``env.unwrapped.step`` in a tight loop (no wrappers, no agent;
  pre-drawn random discrete actions, reset on termination) for LostSales-v0 with the
  default config, with ``lead_time=4`` and with ``backorders=True``, and for CartPole-v1;
* period-steps per second of :class:`envs.replenishment.lost_sales.simulator.BatchSimulator` at a
  batch of 1024 replications driven by a base-stock (order-up-to) rule.

Each figure is the best of ``--repeats`` runs (the cases are interleaved within a repeat).
The goal is a raw LostSales-v0 rate of at least twice CartPole-v1's.

    python -m experiments.speed                  # print the table
    python -m experiments.speed --write          # ... and write docs/benchmarks/speed.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gymnasium
import numpy as np
from rich.console import Console
from rich.table import Table

import envs  # noqa: F401  (registers fulfillgym/LostSales-v0)
from agents.lost_sales.rollout import Scenario
from envs.replenishment.lost_sales.config import LostSalesConfig
from envs.replenishment.lost_sales.simulator import BatchSimulator

LOST_SALES_ID = "fulfillgym/LostSales-v0"
CARTPOLE_ID = "CartPole-v1"
GOAL_RATIO = 2.0
DEFAULT_OUTPUT = Path("docs/benchmarks/speed.md")

# (label, Gymnasium id, make kwargs)
ENV_CASES: list[tuple[str, str, dict]] = [
    ("LostSales-v0 (default: L=2, lost sales)", LOST_SALES_ID, {}),
    ("LostSales-v0 (L=4)", LOST_SALES_ID, {"lead_time": 4}),
    ("LostSales-v0 (backorders)", LOST_SALES_ID, {"backorders": True}),
    ("CartPole-v1", CARTPOLE_ID, {}),
]
REFERENCE = "CartPole-v1"
HEADLINE = ENV_CASES[0][0]


@dataclass
class Result:
    label: str
    unit: str
    rate: float  # best (highest) rate over the repeats
    rates: list[float]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.speed",
        description="Raw steps/second of LostSales-v0 and CartPole-v1 (env.unwrapped.step in "
        "a loop), and BatchSimulator period-steps/second. Best of N repeats.",
    )
    parser.add_argument(
        "--steps", type=positive_int, default=100_000, help="env steps per timed run (100000)"
    )
    parser.add_argument(
        "--repeats", type=positive_int, default=5, help="timed runs per case; the best counts (5)"
    )
    parser.add_argument(
        "--batch", type=positive_int, default=1024, help="BatchSimulator batch size (1024)"
    )
    parser.add_argument(
        "--periods",
        type=positive_int,
        default=1000,
        help="periods per timed BatchSimulator run (1000)",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help=f"also write the results as Markdown to --output ({DEFAULT_OUTPUT})",
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown file written by --write"
    )
    return parser.parse_args(argv)


# -- measurements -----------------------------------------------------------------------------
def env_runner(env_id: str, kwargs: dict, steps: int) -> Callable[[], float]:
    """A function that times ``steps`` raw steps of a fresh env and returns steps/second."""
    env = gymnasium.make(env_id, **kwargs).unwrapped
    rng = np.random.default_rng(0)
    actions = rng.integers(0, env.action_space.n, size=steps).tolist()

    def run() -> float:
        env.reset(seed=0)
        step, reset = env.step, env.reset
        start = time.perf_counter()
        for action in actions:
            _, _, terminated, truncated, _ = step(action)
            if terminated or truncated:
                reset()
        return steps / (time.perf_counter() - start)

    return run


def batch_runner(batch: int, periods: int) -> Callable[[], float]:
    """A function that times ``periods`` periods of BatchSimulator at ``batch`` replications
    under a base-stock rule and returns period-steps (batch x periods) per second."""
    config = LostSalesConfig()
    level = config.newsvendor_level()
    scenario = Scenario.from_seeds(config, np.arange(batch), periods)

    def run() -> float:
        sim = BatchSimulator(config, scenario.on_hand, scenario.pipeline)
        start = time.perf_counter()
        for t in range(periods):
            position = sim.observation().sum(axis=1)
            order = np.clip(level - position, 0, config.q_max).astype(np.int64)
            sim.step(order, scenario.demand[:, t])
        return batch * periods / (time.perf_counter() - start)

    return run


def measure(args: argparse.Namespace, console: Console) -> list[Result]:
    runners: list[tuple[str, str, Callable[[], float]]] = [
        (label, "steps/s", env_runner(env_id, kwargs, args.steps))
        for label, env_id, kwargs in ENV_CASES
    ]
    runners.append(
        (
            f"BatchSimulator (batch {args.batch}, base-stock rule)",
            "period-steps/s",
            batch_runner(args.batch, args.periods),
        )
    )
    rates: dict[str, list[float]] = {label: [] for label, _, _ in runners}
    for repeat in range(args.repeats):
        console.log(f"repeat {repeat + 1}/{args.repeats}")
        for label, _, run in runners:  # interleaved, so slow drifts hit every case alike
            rates[label].append(run())
    return [Result(label, unit, max(rates[label]), rates[label]) for label, unit, _ in runners]


# -- reporting --------------------------------------------------------------------------------
def rows(results: list[Result]) -> list[tuple[str, str, str, str]]:
    """(case, rate, time per step, ratio to CartPole) as display strings."""
    reference = next(r.rate for r in results if r.label == REFERENCE)
    out = []
    for r in results:
        per_step = f"{1e6 / r.rate:.2f} µs" if r.unit == "steps/s" else f"{1e9 / r.rate:.1f} ns"
        out.append((r.label, f"{r.rate:,.0f} {r.unit}", per_step, f"{r.rate / reference:.2f}x"))
    return out


def headline_ratio(results: list[Result]) -> float:
    by_label = {r.label: r.rate for r in results}
    return by_label[HEADLINE] / by_label[REFERENCE]


def print_results(results: list[Result], args: argparse.Namespace, console: Console) -> None:
    table = Table(
        title=f"Raw simulation speed (best of {args.repeats}; {args.steps:,} env steps per run)",
        title_justify="left",
    )
    for name, justify in [
        ("case", "left"),
        ("rate", "right"),
        ("time per step", "right"),
        ("vs CartPole-v1", "right"),
    ]:
        table.add_column(name, justify=justify)
    for row in rows(results):
        table.add_row(*row)
    console.print(table)
    ratio = headline_ratio(results)
    verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
    style = "green" if ratio >= GOAL_RATIO else "bold red"
    console.print(
        f"LostSales-v0 runs at [bold]{ratio:.2f}x[/] CartPole-v1's raw rate; "
        f"goal >= {GOAL_RATIO:g}x: [{style}]{verdict}[/]"
    )


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> list[tuple[str, str]]:
    return [
        ("CPU", f"{cpu_model()} ({os.cpu_count()} logical CPUs)"),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("NumPy", np.__version__),
        ("Gymnasium", gymnasium.__version__),
        ("Date", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("Load average (1, 5, 15 min)", load_average()),
    ]


def load_average() -> str:
    """Other work on the machine slows every case; the ratios are less sensitive to it."""
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unavailable"


def markdown(results: list[Result], args: argparse.Namespace, command: str) -> str:
    ratio = headline_ratio(results)
    verdict = "met" if ratio >= GOAL_RATIO else "**not met**"
    lines = [
        "# Raw simulation speed",
        "",
        "Generated by `experiments/speed.py`; regenerate with the command below (numbers",
        "depend on the machine and on its load).",
        "",
        "```",
        command,
        "```",
        "",
        "| | |",
        "|---|---|",
        *[f"| {key} | {value} |" for key, value in machine_info()],
        "",
        "## Results",
        "",
        f"Best of {args.repeats} runs. Env rates time `env.unwrapped.step` in a tight loop",
        f"({args.steps:,} steps per run, pre-drawn random discrete actions, reset on",
        "termination; LostSales-v0 never terminates). BatchSimulator advances",
        f"{args.batch} replications for {args.periods} periods under a base-stock rule;",
        "its rate counts period-steps (replications x periods).",
        "",
        "| case | rate | time per step | vs CartPole-v1 |",
        "|---|---:|---:|---:|",
        *[f"| {' | '.join(row)} |" for row in rows(results)],
        "",
        f"LostSales-v0 (default config) runs at **{ratio:.2f}x** CartPole-v1's raw rate; "
        f"goal >= {GOAL_RATIO:g}x: {verdict}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    results = measure(args, console)
    print_results(results, args, console)
    if args.write:
        given = sys.argv[1:] if argv is None else argv
        command = shlex.join(["python", "-m", "experiments.speed", *given])
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(markdown(results, args, command), encoding="utf-8")
        console.print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
