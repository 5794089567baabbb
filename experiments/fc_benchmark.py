"""Benchmark of the fulfilment centre (``fulfillgym/FulfillmentCenter-v0``).

    python -m experiments.benchmark env=fulfillment_center
    python -m experiments.benchmark env=fulfillment_center env.capacity_days=1.5 fc_eval.reps=32
    python -m experiments.benchmark env=fulfillment_center models=[outputs/train/<run>]

Called by :mod:`experiments.benchmark` when ``env.id`` is ``fulfillgym/FulfillmentCenter-v0``.
The heuristics of ``fc_agents`` (``agents.fulfillment_center.heuristics``; tuned by simulation on
the tuning seeds) and the trained policies of ``models`` (training run directories, loaded
with ``experiments.train_fc.load_policy``) play the same ``fc_eval.reps`` episodes, seeds
``EVAL_SEED_BASE + r`` (common random numbers, ``agents.fulfillment_center.rollout``), each measured
after ``fc_eval.warmup`` periods. Writes ``results.csv``, ``results.md`` and
``cost_comparison.png`` into the run dir and prints the table. ``experiments.train_fc``
reuses :func:`evaluate_agents`, :func:`print_fc_table` and :func:`write_fc_results`.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agents.lost_sales.rollout import EVAL_SEED_BASE
from envs.core.config import ConfigError, check_int
from envs.replenishment.fulfillment_center.config import Problem
from experiments.common import fc_config

log = logging.getLogger(__name__)
FC_ID = "fulfillgym/FulfillmentCenter-v0"
# keys an env group may carry for training (experiments.train_fc), not env arguments
DEFAULT_AGENTS = ("base_stock", "s_S", "capacity_base_stock", "random")


def progress_bar(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


def check_agent_names(names) -> list[str]:
    from agents.fulfillment_center.heuristics import FC_HEURISTICS

    names = [str(n) for n in names]
    for name in names:
        if name not in FC_HEURISTICS:
            raise ConfigError(f"fc_agents: unknown agent {name!r}; accepted agents are {', '.join(FC_HEURISTICS)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"fc_agents: expected distinct names, got {names}")
    return names


def load_models(paths, problem: Problem) -> dict:
    """Trained policies of the training run directories ``paths``, by policy name."""
    out = {}
    for path in paths or []:
        run_dir = Path(str(path))
        if not run_dir.is_dir():
            raise ConfigError(f"models: {run_dir} not found; expected a training run directory "
                              f"(outputs/train/...) of env=fulfillment_center")
        try:
            from experiments.train_fc import load_policy
        except ImportError as err:
            raise ConfigError(f"models: cannot load trained policies ({err})") from None
        policy = load_policy(run_dir, problem)
        name = str(getattr(policy, "name", run_dir.name))
        if name in out:
            name = f"{name}:{run_dir.name}"
        out[name] = policy
    return out


def evaluate_agents(problem: Problem, names, extra: dict | None, seeds, warmup: int,
                    console: Console | None = None, tune: dict | None = None) -> pd.DataFrame:
    """Build (tune) the heuristics ``names``, add the ready policies ``extra`` (name ->
    policy), evaluate all on ``seeds`` with CRN and return the comparison table: one row
    per agent, sorted by mean cost (``agents.fc_evaluation.compare``) plus ``params``."""
    from agents.fulfillment_center.heuristics import make_fc_agent
    from agents.fulfillment_center.rollout import compare, run_episodes

    names = check_agent_names(names)
    length = problem.config.episode_length
    if not 0 <= int(warmup) < length:
        raise ConfigError(f"fc_eval.warmup: expected an integer in [0, {length - 1}] (fewer periods than "
                          f"env.episode_length), got {warmup}")
    console = console or Console()
    agents = {}
    with progress_bar(console) as progress:
        task = progress.add_task("tuning heuristics", total=len(names))
        for name in names:
            start = time.perf_counter()
            agents[name] = make_fc_agent(name, problem, **(tune or {}))
            log.info("built %s in %.2fs: %s", name, time.perf_counter() - start, agents[name])
            progress.advance(task)
        for name, policy in (extra or {}).items():
            if name in agents:
                raise ConfigError(f"models: a trained policy is named {name!r}, like a heuristic")
            agents[name] = policy
        seeds = [int(s) for s in seeds]
        task = progress.add_task("evaluating (agent x replication)", total=len(agents) * len(seeds))
        results = {}
        for name, policy in agents.items():
            results[name] = run_episodes(problem, policy, seeds, int(warmup),
                                         progress=lambda: progress.advance(task))
    frame = compare(results)
    params = {name: _params(policy) for name, policy in agents.items()}
    frame["params"] = frame["agent"].map(params)
    return frame


def _params(policy) -> str:
    get = getattr(policy, "params", None)
    values = get() if callable(get) else {}
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


# -- reporting ---------------------------------------------------------------------------

def _gap(row) -> str:
    if row.agent == row.reference:
        return "ref"
    ci = "" if math.isnan(row.gap_ci95_pct) else f" ± {row.gap_ci95_pct:.2f}"
    return f"{row.gap_pct:+.2f}{ci}"


def _pct(frame_row, key: str) -> str:
    value = getattr(frame_row, key, float("nan"))
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1%}"


COLUMNS = [  # (header, justify, cell); the rich table breaks headers at "|"
    ("agent", "left", lambda r: r.agent),
    ("cost / period", "right", lambda r: f"{r.mean_cost:.2f}" + ("" if math.isnan(r.ci95) else f" ± {r.ci95:.2f}")),
    ("gap %", "right", _gap),
    ("fill|rate", "right", lambda r: _pct(r, "fill_rate")),
    ("fill|A", "right", lambda r: _pct(r, "fill_rate_A")),
    ("fill|B", "right", lambda r: _pct(r, "fill_rate_B")),
    ("fill|C", "right", lambda r: _pct(r, "fill_rate_C")),
    ("stock-|outs", "right", lambda r: _pct(r, "stockout_rate")),
    ("overflow|/period", "right", lambda r: f"{r.overflow_units:.2f}"),
    ("cap.|util.", "right", lambda r: _pct(r, "capacity_utilisation")),
    ("cover|days", "right", lambda r: f"{r.days_of_cover:.2f}"),
    ("parameters", "left", lambda r: r.params),
]


def _fill_abc(row) -> str:
    values = [getattr(row, f"fill_rate_{c}", float("nan")) for c in "ABC"]
    return " / ".join("-" if v is None or math.isnan(v) else f"{100 * v:.0f}" for v in values)


def print_fc_table(frame: pd.DataFrame, title: str, console: Console | None = None) -> None:
    """The results table (parameters listed below it, to keep the table narrow)."""
    from rich import box

    console = console or Console()
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1),
                  pad_edge=False)
    columns = [c for c in COLUMNS[:-1] if not c[0].startswith("fill|") or c[0] == "fill|rate"]
    columns.insert(4, ("fill %|A / B / C", "right", _fill_abc))
    for header, justify, _ in columns:
        table.add_column(header.replace("|", "\n"), justify=justify, no_wrap=True)
    for row in frame.itertuples():
        table.add_row(*(str(cell(row)) for _, _, cell in columns))
    console.print(table)
    for row in frame.itertuples():
        if row.params:
            console.print(f"  {row.agent}: {row.params}")
    console.print("cost / period: mean over replications ± 95% CI; gap %: paired by replication "
                  "(common random numbers) against the cheapest agent, ± 95% CI.")


def fc_markdown(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(h.replace("|", " ") for h, _, _ in COLUMNS) + " |",
             "|" + "|".join("---" if j == "left" else "---:" for _, j, _ in COLUMNS) + "|"]
    for row in frame.itertuples():
        lines.append("| " + " | ".join(str(cell(row)) for _, _, cell in COLUMNS) + " |")
    return "\n".join(lines)


def write_fc_results(frame: pd.DataFrame, out: Path, title: str, command: str) -> None:
    """``results.csv`` (every column), ``results.md`` and ``cost_comparison.png`` in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "results.csv", index=False)
    md = [f"# {title}", "", f"Command: `{command}`", "", fc_markdown(frame), "",
          "Cost per period: mean over replications with its 95% CI. Gap: paired by replication "
          "(common random numbers) against the cheapest agent, with its 95% CI.", ""]
    (out / "results.md").write_text("\n".join(md))
    from experiments.reporting import plot_costs

    plot_costs(frame, out / "cost_comparison.png", title, decimals=1)


def describe(problem: Problem, reps: int, warmup: int) -> str:
    cfg = problem.config
    capacity = (f"capacity {problem.capacity:.0f}" + (f" ({cfg.capacity_days:g} days)" if cfg.capacity is None else "")
                if problem.limited else "unlimited capacity")
    demand = cfg.demand.distribution if cfg.catalogue != "csv" else f"replayed {Path(cfg.demand_csv).name}"
    return (f"FulfillmentCenter-v0: {problem.n} SKUs ({cfg.catalogue}), "
            f"{'backorders' if cfg.backorders else 'lost sales'}, {capacity}, h={cfg.holding_cost:g}, "
            f"p={cfg.penalty:g}, K={cfg.fixed_order_cost:g}, {demand} demand; "
            f"{cfg.episode_length} periods x {reps} reps, warm-up {warmup}")


def _section(cfg: DictConfig, key: str) -> dict:
    value = cfg.get(key)
    return dict(OmegaConf.to_container(value, resolve=True)) if value is not None else {}


def run(cfg: DictConfig, out: Path, console: Console) -> float:
    """``python -m experiments.benchmark env=fulfillment_center``; returns the best mean cost."""
    problem = fc_config(cfg.env).build()
    names = check_agent_names(cfg.get("fc_agents") or DEFAULT_AGENTS)
    ev = _section(cfg, "fc_eval")
    reps = check_int("fc_eval.reps", ev.get("reps", 16), 1)
    warmup = check_int("fc_eval.warmup", ev.get("warmup", 28), 0)
    tune = {"reps": check_int("fc_eval.tune_reps", ev.get("tune_reps", 4), 1)}
    extra = load_models(cfg.get("models") or [], problem)
    title = describe(problem, reps, warmup)
    console.print(f"[bold]{title}[/bold]")
    seeds = [EVAL_SEED_BASE + r for r in range(reps)]
    frame = evaluate_agents(problem, names, extra, seeds, warmup, console, tune)
    print_fc_table(frame, title, console)
    write_fc_results(frame, out, title, "python -m experiments.benchmark " + " ".join(sys.argv[1:]))
    console.print(f"results: {out}")
    return float(frame["mean_cost"].min())
