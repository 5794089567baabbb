"""Benchmark a task's agents on common random numbers.

    python -m experiments.benchmark                                   # lost sales, default instance
    python -m experiments.benchmark env=lost_sales env.lead_time=4 env.penalty=39
    python -m experiments.benchmark env=fulfillment_center env.capacity_days=1.0
    python -m experiments.benchmark env=fulfillment_center models=[outputs/train/<run>]
    python -m experiments.benchmark onnx=[outputs/train/<run>/export/policy.onnx]
    python -m experiments.benchmark env=lost_sales suite=classic     # the 16 classic instances
    python -m experiments.benchmark env=dispatch save_plans=true     # + plans/<agent>/episode_<r>.csv
    python -m experiments.benchmark scenario=demand_surge            # the task under a stress scenario
    python -m experiments.benchmark env=fulfillment_center scenarios=[none,demand_surge,capacity_cut]

The task (``configs/env/<task>.yaml``) builds its agents (``agents=[...]``, default: the
task's own list: tuned heuristics, the exact optimum where one exists), and any trained
runs (``models=[RUN_DIR, ...]``: their best-on-validation policy, loaded without executing
anything from the run's files) and exported files (``onnx=[...]``). Every agent then plays
the same replications (``agents.harness``): rounds of ``eval.reps`` (doubled) until every
95% CI is within ``eval.target_rel_ci`` of its mean or ``eval.max_reps`` are done. Gaps are
paired against the task's reference (the exact optimum) or the cheapest agent. Writes
``results.csv``, ``results.md``, ``results.json`` and ``cost_comparison.png`` into the run
dir, prints the table, and returns the lowest mean cost. Every setting is checked, and the
trained and exported agents loaded, before anything is written into the run dir
(:func:`prepare`), so a refused command can be fixed and rerun in the same directory.

Robustness (``scenarios=[name, ...]``, names of ``configs/scenario/*.yaml``; ``none`` = the
baseline; docs/scenarios.md): the agents are built (heuristics tuned) ONCE on the task as
configured, which must be unstressed, and every agent is then evaluated under each scenario
(:meth:`agents.task.Task.with_scenario`) on the same replications (common random numbers).
Writes ``robustness.csv``, ``robustness.md``, ``robustness.json`` and ``robustness.png``
(per scenario and agent: cost and fill rate with 95% CIs, regret against the cheapest agent
of the scenario with a paired 95% CI) and prints a summary table.
"""

from __future__ import annotations

import glob
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import hydra
from omegaconf import DictConfig, ListConfig
from rich.console import Console
from rich.progress import Progress

from agents.harness import EvalSettings, evaluate
from agents.parts import suite
from agents.registry import name_of_target, scenario_tasks, task_class
from agents.runner import plan_writers
from agents.task import Task
from envs.core.config import ConfigError, check_bool
from experiments.support.common import (
    apply_smoke,
    checked_groups,
    clean_errors,
    command_line,
    eval_settings,
    make_console,
    make_task,
    progress_bar,
    run_dir,
    save_resolved_config,
    tuning_reps,
)
from experiments.support.reporting import (
    print_robustness,
    print_table,
    robustness_frame,
    write_results,
    write_robustness,
)
from experiments.support.rundir import write_marker

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
                 progress: Progress, field: str = "agents") -> dict:
    """Solve / tune every named agent (``field``: the setting that names them); an agent the
    instance cannot have is skipped with a note."""
    agents, skipped = {}, []
    bar = progress.add_task("solving and tuning agents", total=len(names))
    for name in names:
        if why := task.unavailable(name):
            console.print(f"[yellow]{name} skipped: {why}[/yellow]")
            skipped.append(f"{name}: {why}")
        else:
            start = time.perf_counter()
            try:
                agents[name] = task.make_agent(name, tuning_reps=tuning_reps, smoke=smoke)
            except ConfigError as err:  # e.g. a heuristic with nothing to tune on this instance
                raise ConfigError(f"{field}: {name} cannot be built: {err}; leave it out with {field}=[...]") from None
            log.info("built %s in %.2fs: %s", name, time.perf_counter() - start, agents[name])
        progress.advance(bar)
    if names and not agents:
        raise ConfigError(f"{field}: none of the agents can act on this instance ({'; '.join(skipped)})")
    return agents


def trained_agents(task: Task, runs, groups: dict | None = None) -> dict:
    """The best-on-validation policy of each training run directory in ``runs``; ``groups``
    (if given) receives agent name -> (group, training seed) (``experiments.support.seeds``)."""
    if not runs:
        return {}
    # torch and SB3 from here on
    from agents.rl.loading import load_policy, open_run, preferred_checkpoint
    from experiments.support.seeds import group_of

    out = {}
    for path in expand_runs(runs):
        run = open_run(path, "models")
        if run.task.name != task.name:
            raise ConfigError(f"models: {path} was trained on env={run.task.name}, not env={task.name}")
        name = f"{run.agent}{'_shared' if run.shared else ''}:{run.path.name}"
        if name in out:  # e.g. two multirun sweeps' job 0: the sweep's folder tells them apart
            name = f"{name}@{run.path.resolve().parent.name}"
        if name in out:
            raise ConfigError(f"models: {path} is given twice (as {name})")
        out[name] = load_policy(run, preferred_checkpoint(run), task=task, name=name)
        if groups is not None:
            groups[name] = group_of(run.cfg)
    return out


def expand_runs(runs) -> list[Path]:
    """``models=[...]`` entries as run directories: a run directory as is; a folder of runs
    (a multirun sweep, e.g. ``multirun/train/<time>`` of ``experiments.train -m seed=0,1,2``,
    or ``outputs/dcl_suite/<experiment>``) becomes every run directly inside it (sorted);
    a glob pattern becomes its matches. Anything else is left for ``open_run``'s one-line error."""
    out: list[Path] = []
    for entry in runs:
        text = str(entry)
        matches = sorted(map(Path, glob.glob(text))) if any(c in text for c in "*?[") else [Path(text)]
        if not matches:
            raise ConfigError(f"models: {text} matches no run directory")
        for path in matches:
            children = sorted(p.parent for p in path.glob("*/config.yaml")) if path.is_dir() else []
            out.extend(children if not (path / "config.yaml").exists() and children else [path])
    return out


def add_agents(agents: dict, extra: dict, field: str) -> None:
    for name, policy in extra.items():
        if name in agents:
            raise ConfigError(f"{field}: an agent is already named {name!r}; rename the file or directory")
        agents[name] = policy


def path_list(field: str, value) -> list[str]:
    """``models=`` / ``onnx=``: a list of paths (a single path is a list of one)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | ListConfig) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    example = "outputs/train/<run>" if field == "models" else "outputs/train/<run>/export/policy.onnx"
    raise ConfigError(f"{field}: expected a list of paths, e.g. {field}=[{example}], got {value!r}")


@dataclass
class Prepared:
    """A benchmark run with everything checked, and its trained and exported agents loaded,
    before any file is written into the run directory (so the fixed command can reuse it)."""

    settings: EvalSettings
    names: list[str]
    tuning_reps: int | None
    onnx: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)  # trained agent -> (group, training seed)
    scenarios: dict = field(default_factory=dict)  # robustness: name -> scenario fields
    stressed: dict = field(default_factory=dict)  # robustness: name -> stressed task

    def agents(self, task: Task, smoke: bool, console: Console, progress: Progress) -> dict:
        """The built (tuned, solved) agents, then the exported, then the trained ones."""
        agents = build_agents(task, self.names, self.tuning_reps, smoke, console, progress)
        add_agents(agents, self.onnx, "onnx")
        add_agents(agents, self.models, "models")
        return agents


def prepare(cfg: DictConfig, task: Task) -> Prepared:
    """Check the run's settings and load its trained and exported agents (:class:`Prepared`)."""
    check_bool("save_plans", cfg.get("save_plans", False))
    if cfg.get("suite"):
        suite(task, str(cfg.suite))
    plan = Prepared(eval_settings(cfg.eval, "eval"), agent_names(task, cfg.get("agents")), tuning_reps(cfg.tuning.reps))
    if cfg.get("scenarios") is not None:
        plan.scenarios, plan.stressed = robustness_scenarios(cfg, task)
    onnx, models = path_list("onnx", cfg.get("onnx")), path_list("models", cfg.get("models"))
    if onnx:
        from agents.rl.exported import onnx_agents

        plan.onnx = onnx_agents(onnx, task)
    plan.models = trained_agents(task, models, plan.groups)
    reference, known = cfg.get("reference"), [*plan.names, *plan.onnx, *plan.models]
    if reference is not None and reference not in known:
        raise ConfigError(f"reference: {reference!r} is not among the agents of this run ({', '.join(known)})")
    return plan


def run_benchmark(cfg: DictConfig, task: Task, plan: Prepared, out: Path, console: Console) -> float:
    title = task.describe()
    console.print(f"[bold]{title}[/bold]")
    with progress_bar(console) as progress:
        agents = plan.agents(task, bool(cfg.smoke), console, progress)
        plans = plan_writers(task, out / "plans") if cfg.get("save_plans") else None
        bar = progress.add_task("evaluating (agent x round)", total=None)
        evaluation = evaluate(task, agents, plan.settings, reference=cfg.get("reference"),
                              progress=lambda name: progress.advance(bar), plans=plans)
    print_table(evaluation, task, title, console)
    write_results(evaluation, task, out, title, command_line("experiments.benchmark"))
    if plan.groups:
        from experiments.support.seeds import seed_table, write_seed_table

        write_seed_table(seed_table(evaluation.frame, plan.groups), out, evaluation.reference, console)
    console.print(f"results: {out}")
    return float(evaluation.frame["mean_cost"].min())


SCENARIO_DIR = Path(__file__).resolve().parents[1] / "configs" / "scenario"


def available_scenarios() -> list[str]:
    """The scenario names (``configs/scenario/<name>.yaml``)."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def scenario_list(names) -> list[str]:
    """``scenarios=[...]``: a non-empty list of distinct known names."""
    if not isinstance(names, list | tuple | ListConfig) or not names:
        raise ConfigError(f"scenarios: expected a list of scenario names ({', '.join(available_scenarios())}), "
                          f"got {names!r}")
    names = [str(n) for n in names]
    for name in names:
        if name not in available_scenarios():
            raise ConfigError(f"scenarios: unknown scenario {name!r}; available scenarios are "
                              f"{', '.join(available_scenarios())} (configs/scenario/*.yaml)")
    if len(set(names)) != len(names):
        raise ConfigError(f"scenarios: expected distinct names, got {names}")
    return names


def load_scenario(cfg: DictConfig, name: str) -> dict:
    """The fields of scenario ``name``, interpolations (``${env.evaluation.warmup}``) resolved
    against this run's config, validated (errors name ``env.scenario.<field>``)."""
    from omegaconf import OmegaConf

    from envs.core.scenario import Scenario

    raw = OmegaConf.load(SCENARIO_DIR / f"{name}.yaml")
    merged = OmegaConf.merge(cfg, {"env": {"scenario": raw}})
    fields = OmegaConf.to_container(merged.env.scenario, resolve=True)
    try:
        return Scenario.from_value(fields).to_dict()
    except ConfigError as err:
        raise ConfigError(f"scenarios: {name} (configs/scenario/{name}.yaml): {err}") from None


def check_scenario_field(cfg: DictConfig) -> None:
    """A task without scenarios selected with ``scenario=...``: one line naming the tasks that accept it."""
    if "scenario" in cfg.env and not task_class(name_of_target(cfg.env.get("_target_"))).supports_scenarios:
        raise ConfigError(f"scenario: env={task_class(name_of_target(cfg.env.get('_target_'))).name} has no "
                          f"scenario field; tasks that accept scenarios: {', '.join(scenario_tasks())}")


def robustness_scenarios(cfg: DictConfig, task: Task) -> tuple[dict, dict]:
    """``scenarios=[...]`` checked: name -> scenario fields and name -> stressed task."""
    if not task.supports_scenarios:
        raise ConfigError(f"scenarios: env={task.name} has no scenario field; tasks that accept scenarios: "
                          f"{', '.join(scenario_tasks())}")
    if task.config.scenario.active:
        raise ConfigError(f"scenarios: the task is already stressed (env.scenario.kind={task.config.scenario.kind}); "
                          "a robustness run tunes on the unstressed task: drop scenario=/env.scenario or scenarios=")
    scenarios = {name: load_scenario(cfg, name) for name in scenario_list(cfg.scenarios)}
    return scenarios, {name: task.with_scenario(sc) for name, sc in scenarios.items()}


def run_robustness(cfg: DictConfig, task: Task, plan: Prepared, out: Path, console: Console) -> float:
    """Every agent (tuned once, unstressed) under every scenario of ``cfg.scenarios``."""
    scenarios, names = plan.scenarios, list(plan.scenarios)
    title = task.describe()
    console.print(f"[bold]{title}[/bold]\nrobustness under {', '.join(names)}")
    evaluations = {}
    with progress_bar(console) as progress:
        agents = plan.agents(task, bool(cfg.smoke), console, progress)
        bar = progress.add_task("evaluating (scenario x agent x round)", total=None)
        for name, stressed_task in plan.stressed.items():
            evaluations[name] = evaluate(stressed_task, agents, plan.settings, reference=None,
                                         progress=lambda _: progress.advance(bar))
    frame = robustness_frame(evaluations, scenarios)
    reference = task.reference_name()
    print_robustness(frame, task, title, console, reference if reference in agents else None)
    write_robustness(frame, evaluations, scenarios, task, out, title, command_line("experiments.benchmark"),
                     reference if reference in agents else None)
    console.print(f"results: {out}")
    return float(frame.loc[frame["scenario"] == names[0], "mean_cost"].min())


def run_suite(cfg: DictConfig, task: Task, out: Path, console: Console) -> float:
    suite(task, str(cfg.suite))(task, out, console, Path(str(cfg.suite_dir)), command_line("experiments.benchmark"))
    return float("nan")  # a suite is a table of instances, not one score to minimise


@checked_groups
@hydra.main(version_base="1.3", config_path="../configs", config_name="benchmark.yaml")
@clean_errors
def main(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig

    apply_smoke(cfg)
    check_scenario_field(cfg)
    if cfg.get("scenarios") is not None:
        scenario_list(cfg.scenarios)  # unknown names fail before the task is built
    task = make_task(cfg)
    plan = prepare(cfg, task)  # every check before the run directory is written
    out = run_dir()
    write_marker(out, "benchmark", task.name, dict(HydraConfig.get().runtime.choices))
    save_resolved_config(cfg, out)
    console = make_console()
    if cfg.get("suite"):
        return run_suite(cfg, task, out, console)
    if cfg.get("scenarios") is not None:
        return run_robustness(cfg, task, plan, out, console)
    return run_benchmark(cfg, task, plan, out, console)


if __name__ == "__main__":
    main()
