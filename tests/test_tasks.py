"""Every registered task through every generic entry point (parametrised over the registry).

For each task (the real operations and the toy task of ``docs/adding_a_task.md``):
Gymnasium's and SB3's env checkers, PettingZoo's API and seed tests (tasks with a
multi-agent face), CRN determinism across processes, and the whole pipeline in smoke mode:
training -> export with parity -> benchmark of the ONNX file beside the task's agents,
single-agent and, where the task has a multi-agent face, with one policy shared by every
agent. A new operation gets all of this by registering.

Each task's single-agent pipeline runs as real subprocesses (``python -m experiments.<verb>``,
as a user runs it); the shared pipelines, the scenario and sweep-folder benchmarks and the
second process of the CRN test run the entry points' Hydra ``main`` in this process
(``tests/entry_points.py``), without a new interpreter's imports of torch and SB3.
"""

from __future__ import annotations

import csv
import json
import re
import warnings
from pathlib import Path

import pytest

from agents.registry import task_class
from agents.task import Task
from tests.conftest import ALL_TASKS, task_overrides
from tests.entry_points import ROOT, run_in_process, run_subprocess

MULTI_AGENT = [n for n in ALL_TASKS if task_class(n).make_parallel_env is not Task.make_parallel_env]
# Its single-agent pipeline is slow (the EURO-NeurIPS epochs route with local search, and the
# export's parity check rolls out >= 1000 observations twice): marked slow below.
SLOW_PIPELINE = {"dispatch_euro_neurips"}


def smoke_task(name: str) -> Task:
    """The task at its smoke size (``Task.smoke_overrides``), default config otherwise."""
    kwargs: dict = {}
    for key, value in task_class(name).smoke_overrides().items():
        parts = key.split(".")[1:]
        node = kwargs
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return task_class(name)(**kwargs)


def rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as fh:
        return {r["agent"]: r for r in csv.DictReader(fh)}


def onnx_bench_args(name: str, paths: dict[str, Path], out: Path) -> list[str]:
    """The benchmark of a pipeline's ONNX file and run: single-agent beside the task's own
    agents (the CRN test's first process), shared alone (``agents=[]``: no heuristic tuning)."""
    agents = ["agents=[]"] if paths["shared"] else []
    return [*task_overrides(name), "smoke=true", f"onnx=[{paths['onnx']}]", f"models=[{paths['run']}]", *agents,
            f"hydra.run.dir={out}"]


def pipeline(name: str, shared: bool, base: Path, monkeypatch, capsys) -> dict:
    """smoke training -> export (best) -> benchmark of the run and its ONNX file: subprocesses
    single-agent, in this process shared. The training's own benchmark sets the policy beside
    the untuned ``random`` agent (tuning is the CRN test's)."""
    tag = f"{name}{'_shared' if shared else ''}"
    run_dir = base / f"train_{tag}"
    paths = {"run": run_dir, "onnx": run_dir / "export" / "policy.onnx", "onnx_bench": base / f"onnx_{tag}",
             "shared": shared}

    def run(module: str, args: list[str]) -> None:
        if shared:
            run_in_process(module, args, base, monkeypatch, capsys).assert_ok()
        else:
            run_subprocess(module, args, base).assert_ok()

    run("experiments.train", [*task_overrides(name), "agent=ppo", "smoke=true", f"shared={str(shared).lower()}",
                              "benchmark.agents=[random]", f"hydra.run.dir={run_dir}"])
    run("experiments.export", [f"run_dir={run_dir}", "checkpoint=best"])
    run("experiments.benchmark", onnx_bench_args(name, paths, paths["onnx_bench"]))
    return paths


JOBS = [pytest.param(n, False, marks=[pytest.mark.slow] if n in SLOW_PIPELINE else []) for n in ALL_TASKS] + [
    (n, True) for n in MULTI_AGENT]


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory):
    """``pipelines(name, shared, monkeypatch, capsys)``: the paths of that job's pipeline, run
    on first use (by the test that first needs it, with its ``monkeypatch`` and ``capsys``)."""
    base = tmp_path_factory.mktemp("tasks")
    done: dict = {}

    def get(name: str, shared: bool, monkeypatch, capsys) -> dict:
        if (name, shared) not in done:
            done[name, shared] = pipeline(name, shared, base, monkeypatch, capsys)
        return done[name, shared]

    return get


# -- conformance ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL_TASKS)
def test_gymnasium_and_sb3_checkers_pass_on_the_evaluation_and_training_envs(name):
    from gymnasium.utils.env_checker import check_env as gym_check
    from stable_baselines3.common.env_checker import check_env as sb3_check

    task = smoke_task(name)
    for make in (task.make_env, task.training_env_fn()):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a checker warning fails the test
            gym_check(make().unwrapped, skip_render_check=True)
            sb3_check(make(), warn=True)


@pytest.mark.parametrize("name", MULTI_AGENT)
def test_pettingzoo_api_and_seed_tests_pass(name):
    from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test
    from pettingzoo.utils.conversions import parallel_to_aec

    task = smoke_task(name)
    parallel_api_test(task.make_parallel_env(), num_cycles=60)
    parallel_seed_test(task.make_parallel_env, num_cycles=30)
    api_test(parallel_to_aec(task.make_parallel_env()), num_cycles=30)
    seed_test(lambda: parallel_to_aec(task.make_parallel_env()), num_cycles=30)


# -- common random numbers ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL_TASKS)
def test_the_same_seeds_give_the_same_numbers_in_two_processes(name, pipelines, tmp_path, monkeypatch, capsys):
    """The first process: the benchmark of the single-agent pipeline (a subprocess: the task's
    agents, tuned, beside the trained run and its ONNX file), or for a task whose pipeline is
    slow a plain benchmark subprocess; the second: the same command in this process."""
    if name in SLOW_PIPELINE:
        args = lambda out: [*task_overrides(name), "smoke=true", f"hydra.run.dir={out}"]  # noqa: E731
        run_subprocess("experiments.benchmark", args(tmp_path / "process_1"), tmp_path).assert_ok()
        outs, extra = [tmp_path / "process_1", tmp_path / "process_2"], 0
    else:
        paths = pipelines(name, False, monkeypatch, capsys)
        args = lambda out: onnx_bench_args(name, paths, out)  # noqa: E731
        outs, extra = [paths["onnx_bench"], tmp_path / "process_2"], 2  # + the run and its ONNX file
    run_in_process("experiments.benchmark", args(outs[1]), tmp_path, monkeypatch, capsys).assert_ok()
    first, second = ((out / "results.csv").read_text() for out in outs)
    task = task_class(name)()
    available = [a for a in task.default_agents if task.unavailable(a) is None]  # e.g. no exact optimum here
    assert first == second and len(first.splitlines()) == 1 + len(available) + extra
    assert set(available) <= set(rows(outs[0] / "results.csv")), first
    kpis = list(task_class(name).kpi_names())
    assert first.splitlines()[0].split(",") == ["agent", "mean_cost", "ci95", "gap_pct", "gap_ci95", "reps", *kpis,
                                                "parameters"]


# -- the pipeline ------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "shared"), JOBS)
def test_benchmark_smoke_training_export_and_onnx_benchmark(pipelines, name, shared, monkeypatch, capsys):
    """dispatch_euro_neurips's single-agent case is slow (``SLOW_PIPELINE``; its conformance
    and CRN tests stay in the default set): ``[dispatch-False]`` of this test covers the same
    ``DispatchTask`` class, model interface and export path in the default set."""
    paths = pipelines(name, shared, monkeypatch, capsys)
    kpis = list(task_class(name).kpi_names())
    for table in (paths["onnx_bench"], paths["run"]):
        header = (table / "results.csv").read_text().splitlines()[0].split(",")
        assert header == ["agent", "mean_cost", "ci95", "gap_pct", "gap_ci95", "reps", *kpis, "parameters"]
        assert json.loads((table / "results.json").read_text())["task"] == name
    card = json.loads((paths["onnx"].parent / "policy.onnx.json").read_text())
    assert card["task"] == name and card["shared"] is shared
    assert card["parity"]["action_mismatches"] == 0 and card["parity"]["observations"] >= 1000
    results = rows(paths["onnx_bench"] / "results.csv")
    trained = next(a for a in results if ":" in a)  # the run's best model, loaded from its files
    assert results["ppo_onnx"]["mean_cost"] == results[trained]["mean_cost"], results
    assert (paths["run"] / "learning_curve.png").exists() and (paths["run"] / "cost_comparison.png").exists()


def test_every_task_has_its_config_group_and_default_agents():
    for name in ALL_TASKS:
        cls = task_class(name)
        config = ROOT / "configs" / "env" / f"{name}.yaml"
        assert config.exists() or name == "newsvendor", config
        assert cls.name == name and set(cls.default_agents) <= set(smoke_task(name).agent_names())


SCENARIO_JOBS = [job for job in [(n, False) for n in ALL_TASKS] + [(n, True) for n in MULTI_AGENT]
                 if task_class(job[0]).supports_scenarios]


@pytest.mark.parametrize(("name", "shared"), SCENARIO_JOBS)
def test_a_trained_policy_faces_scenarios_it_never_saw(pipelines, name, shared, tmp_path, monkeypatch, capsys):
    """A model trained without a scenario is evaluated under one, beside a heuristic (the
    untuned ``random``; tuning is the CRN test's): its rows are in the robustness table, and
    the surge changes its cost."""
    run_dir = pipelines(name, shared, monkeypatch, capsys)["run"]
    out = tmp_path / "robust"
    run_in_process("experiments.benchmark", [*task_overrides(name), "smoke=true", f"models=[{run_dir}]",
                                             "agents=[random]", "scenarios=[none,demand_surge]",
                                             f"hydra.run.dir={out}"], tmp_path, monkeypatch, capsys).assert_ok()
    with (out / "robustness.csv").open(newline="") as fh:
        table = list(csv.DictReader(fh))
    trained = [r for r in table if ":" in r["agent"]]
    assert {r["scenario"] for r in trained} == {"none", "demand_surge"}
    assert {r["scenario"] for r in table if r["agent"] == "random"} == {"none", "demand_surge"}
    cost = {r["scenario"]: float(r["mean_cost"]) for r in trained}
    assert cost["demand_surge"] != cost["none"]


@pytest.mark.parametrize("name", ["lost_sales"])  # a parameter: grouped with the task's pipeline
def test_models_of_two_sweeps_with_the_same_job_folder_are_both_evaluated(pipelines, name, tmp_path, monkeypatch,
                                                                          capsys):
    """Job 0 of two multirun sweeps: both ``.../0``; each keeps its row."""
    import shutil

    run_dir = pipelines(name, False, monkeypatch, capsys)["run"]
    first, second = tmp_path / "sweep_a" / "0", tmp_path / "sweep_b" / "0"
    for target in (first, second):
        shutil.copytree(run_dir, target)
    config = second / "config.yaml"  # the second sweep's job trained seed 1
    config.write_text(re.sub(r"(?m)^seed: 0$", "seed: 1", config.read_text()))
    out = tmp_path / "bench"
    run_in_process("experiments.benchmark", [*task_overrides("lost_sales"), "smoke=true", f"models=[{first},{second}]",
                                             "agents=[base_stock]", f"hydra.run.dir={out}"], tmp_path, monkeypatch,
                   capsys).assert_ok()
    assert {a for a in rows(out / "results.csv") if ":" in a} == {"ppo:0", "ppo:0@sweep_b"}
    with (out / "seeds.csv").open(newline="") as fh:  # the two seeds of one experiment, summarised
        seeds = list(csv.DictReader(fh))
    assert len(seeds) == 1 and seeds[0]["runs"] == "2" and seeds[0]["seeds"] == "0 1"
    assert (out / "seeds.md").exists()
