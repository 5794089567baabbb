"""Benchmark a task's agents on common random numbers.

    python -m experiments.benchmark                                   # lost sales, default instance
    python -m experiments.benchmark env=lost_sales env.lead_time=4 env.penalty=39
    python -m experiments.benchmark env=fulfillment_center env.capacity_days=1.0
    python -m experiments.benchmark env=fulfillment_center models=[outputs/train/<run>]
    python -m experiments.benchmark onnx=[outputs/train/<run>/export/policy.onnx]
    python -m experiments.benchmark env=lost_sales suite=classic     # the 16 classic instances
    python -m experiments.benchmark env=dispatch save_plans=true     # + plans/<agent>/episode_<r>.csv

The task (``configs/env/<task>.yaml``) builds its agents (``agents=[...]``, default: the
task's own list: tuned heuristics, the exact optimum where one exists), and any trained
runs (``models=[RUN_DIR, ...]``: their best-on-validation policy, loaded without executing
anything from the run's files) and exported files (``onnx=[...]``). Every agent then plays
the same replications (``agents.harness``): rounds of ``eval.reps`` (doubled) until every
95% CI is within ``eval.target_rel_ci`` of its mean or ``eval.max_reps`` are done. Gaps are
paired against the task's reference (the exact optimum) or the cheapest agent. Writes
``results.csv``, ``results.md``, ``results.json`` and ``cost_comparison.png`` into the run
dir, prints the table, and returns the lowest mean cost.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig, ListConfig
from rich.console import Console
from rich.progress import Progress

from agents.harness import evaluate
from agents.task import Task
from envs.core.config import ConfigError
from experiments.common import (
    apply_smoke,
    clean_errors,
    command_line,
    eval_settings,
    make_console,
    make_task,
    progress_bar,
    run_dir,
    save_resolved_config,
)
from experiments.reporting import print_table, write_results
from experiments.rundir import write_marker

log = logging.getLogger(__name__)


def agent_names(task: Task, names, field: str = "agents") -> list[str]:
    """The agents to build: ``names`` (a list) or the task's default list, each known and distinct."""
    if names is None:
        return list(task.default_agents)
    if not isinstance(names, list | tuple | ListConfig):
        raise ConfigError(f"{field}: expected a list of agent names, got {names!r}")
    names = [str(n) for n in names]
    for name in names:
        if name not in task.agent_names():
            raise ConfigError(f"{field}: unknown agent {name!r} for env={task.name}; accepted agents are "
                              f"{', '.join(task.agent_names())}")
    if len(set(names)) != len(names):
        raise ConfigError(f"{field}: expected distinct names, got {names}")
    return names


def build_agents(task: Task, names: list[str], tuning_reps, smoke: bool, console: Console,
                 progress: Progress) -> dict:
    """Solve / tune every named agent; an agent the instance cannot have is skipped with a note."""
    agents = {}
    bar = progress.add_task("solving and tuning agents", total=len(names))
    for name in names:
        if why := task.unavailable(name):
            console.print(f"[yellow]{name} skipped: {why}[/yellow]")
        else:
            start = time.perf_counter()
            agents[name] = task.make_agent(name, tuning_reps=tuning_reps, smoke=smoke)
            log.info("built %s in %.2fs: %s", name, time.perf_counter() - start, agents[name])
        progress.advance(bar)
    return agents


def trained_agents(task: Task, runs) -> dict:
    """The best-on-validation policy of each training run directory in ``runs``."""
    if not runs:
        return {}
    # torch and SB3 from here on
    from agents.rl.loading import load_policy, open_run, preferred_checkpoint

    out = {}
    for path in runs:
        run = open_run(path, "models")
        if run.task.name != task.name:
            raise ConfigError(f"models: {path} was trained on env={run.task.name}, not env={task.name}")
        name = f"{run.agent}{'_shared' if run.shared else ''}:{run.path.name}"
        out[name] = load_policy(run, preferred_checkpoint(run), task=task, name=name)
    return out


def add_agents(agents: dict, extra: dict, field: str) -> None:
    for name, policy in extra.items():
        if name in agents:
            raise ConfigError(f"{field}: an agent is already named {name!r}; rename the file or directory")
        agents[name] = policy


def run_benchmark(cfg: DictConfig, task: Task, out: Path, console: Console) -> float:
    settings = eval_settings(cfg.eval, "eval")
    names = agent_names(task, cfg.get("agents"))
    title = task.describe()
    console.print(f"[bold]{title}[/bold]")
    with progress_bar(console) as progress:
        agents = build_agents(task, names, cfg.tuning.reps, bool(cfg.smoke), console, progress)
        if cfg.get("onnx"):
            from agents.rl.exported import onnx_agents

            add_agents(agents, onnx_agents(list(cfg.onnx), task), "onnx")
        add_agents(agents, trained_agents(task, cfg.get("models")), "models")
        if cfg.get("save_plans"):
            task.record_plans(out / "plans", {id(policy): name for name, policy in agents.items()})
        bar = progress.add_task("evaluating (agent x round)", total=None)
        evaluation = evaluate(task, agents, settings, reference=cfg.get("reference"),
                              progress=lambda name: progress.advance(bar))
    print_table(evaluation, task, title, console)
    write_results(evaluation, task, out, title, command_line("experiments.benchmark"))
    console.print(f"results: {out}")
    return float(evaluation.frame["mean_cost"].min())


def run_suite(cfg: DictConfig, task: Task, out: Path, console: Console) -> float:
    suites = task.suites()
    if cfg.suite not in suites:
        raise ConfigError(f"suite: env={task.name} has {'suites ' + ', '.join(suites) if suites else 'no suites'}, "
                          f"got {cfg.suite!r}")
    suites[cfg.suite](task, out, console, Path(str(cfg.suite_dir)), command_line("experiments.benchmark"))
    return float("nan")  # a suite is a table of instances, not one score to minimise


@hydra.main(version_base="1.3", config_path="../configs", config_name="benchmark.yaml")
@clean_errors
def main(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig

    apply_smoke(cfg)
    task = make_task(cfg)
    out = run_dir()
    write_marker(out, "benchmark", task.name, dict(HydraConfig.get().runtime.choices))
    save_resolved_config(cfg, out)
    console = make_console()
    if cfg.get("suite"):
        return run_suite(cfg, task, out, console)
    return run_benchmark(cfg, task, out, console)


if __name__ == "__main__":
    main()
