"""Every registered task through every generic entry point (parametrised over the registry).

For each task (the real operations and the toy task of ``docs/adding_a_task.md``):
Gymnasium's and SB3's env checkers, PettingZoo's API and seed tests (tasks with a
multi-agent face), CRN determinism across processes, and the whole pipeline in smoke mode:
benchmark -> training -> export with parity -> benchmark of the ONNX file, single-agent and,
where the task has a multi-agent face, with one policy shared by every agent. A new
operation gets all of this by registering.
"""

from __future__ import annotations

import csv
import functools
import json
import re
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agents.registry import task_class
from agents.task import Task
from tests.conftest import ALL_TASKS, task_overrides
from tests.entry_points import ROOT, subprocess_env

MULTI_AGENT = [n for n in ALL_TASKS if task_class(n).make_parallel_env is not Task.make_parallel_env]


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


def python(module: str, args: list[str], base: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=base, env=subprocess_env(base),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (module, args, proc.stdout[-2000:], proc.stderr[-3000:])
    return proc


def rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as fh:
        return {r["agent"]: r for r in csv.DictReader(fh)}


def pipeline(name: str, shared: bool, base: Path) -> dict[str, Path]:
    """smoke training -> export (best) -> benchmark of the run and its ONNX file (the plain
    benchmark is the CRN test's)."""
    tag = f"{name}{'_shared' if shared else ''}"
    task_args = task_overrides(name)
    run_dir, onnx = base / f"train_{tag}", base / f"train_{tag}" / "export" / "policy.onnx"
    python("experiments.train", [*task_args, "agent=ppo", "smoke=true", f"shared={str(shared).lower()}",
                                 f"hydra.run.dir={run_dir}"], base)
    python("experiments.export", [f"run_dir={run_dir}", "checkpoint=best"], base)
    python("experiments.benchmark", [*task_args, "smoke=true", f"onnx=[{onnx}]", f"models=[{run_dir}]",
                                     f"hydra.run.dir={base / f'onnx_{tag}'}"], base)
    return {"run": run_dir, "onnx": onnx, "onnx_bench": base / f"onnx_{tag}"}


JOBS = [(n, False) for n in ALL_TASKS] + [(n, True) for n in MULTI_AGENT]


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory):
    """``pipelines(name, shared)``: the paths of that job's pipeline, run on first use."""
    base = tmp_path_factory.mktemp("tasks")
    return functools.cache(lambda name, shared: pipeline(name, shared, base))


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
def test_the_same_seeds_give_the_same_numbers_in_two_processes(name, tmp_path):
    outs = [tmp_path / f"process_{k}" for k in (1, 2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda out: python("experiments.benchmark", [*task_overrides(name), "smoke=true",
                                                                     f"hydra.run.dir={out}"], tmp_path), outs))
    first, second = ((out / "results.csv").read_text() for out in outs)
    task = task_class(name)()
    available = [a for a in task.default_agents if task.unavailable(a) is None]  # e.g. no exact optimum here
    assert first == second and len(first.splitlines()) == 1 + len(available)
    kpis = list(task_class(name).kpi_names())
    assert first.splitlines()[0].split(",") == ["agent", "mean_cost", "ci95", "gap_pct", "gap_ci95", "reps", *kpis,
                                                "parameters"]


# -- the pipeline ------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "shared"), JOBS)
def test_benchmark_smoke_training_export_and_onnx_benchmark(pipelines, name, shared):
    paths = pipelines(name, shared)
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


SCENARIO_JOBS = [job for job in JOBS if task_class(job[0]).supports_scenarios]


@pytest.mark.parametrize(("name", "shared"), SCENARIO_JOBS)
def test_a_trained_policy_faces_scenarios_it_never_saw(pipelines, name, shared, tmp_path):
    """A model trained without a scenario is evaluated under one, beside the heuristics:
    its rows are in the robustness table, and the surge changes its cost."""
    run_dir = pipelines(name, shared)["run"]
    out = tmp_path / "robust"
    python("experiments.benchmark", [*task_overrides(name), "smoke=true", f"models=[{run_dir}]",
                                     "scenarios=[none,demand_surge]", f"hydra.run.dir={out}"], tmp_path)
    with (out / "robustness.csv").open(newline="") as fh:
        table = list(csv.DictReader(fh))
    trained = [r for r in table if ":" in r["agent"]]
    assert {r["scenario"] for r in trained} == {"none", "demand_surge"}
    cost = {r["scenario"]: float(r["mean_cost"]) for r in trained}
    assert cost["demand_surge"] != cost["none"]


@pytest.mark.parametrize("name", ["lost_sales"])  # a parameter: grouped with the task's pipeline
def test_models_of_two_sweeps_with_the_same_job_folder_are_both_evaluated(pipelines, name, tmp_path):
    """Job 0 of two multirun sweeps: both ``.../0``; each keeps its row."""
    import shutil

    run_dir = pipelines(name, False)["run"]
    first, second = tmp_path / "sweep_a" / "0", tmp_path / "sweep_b" / "0"
    for target in (first, second):
        shutil.copytree(run_dir, target)
    config = second / "config.yaml"  # the second sweep's job trained seed 1
    config.write_text(re.sub(r"(?m)^seed: 0$", "seed: 1", config.read_text()))
    out = tmp_path / "bench"
    python("experiments.benchmark", [*task_overrides("lost_sales"), "smoke=true", f"models=[{first},{second}]",
                                     "agents=[base_stock]", f"hydra.run.dir={out}"], tmp_path)
    assert {a for a in rows(out / "results.csv") if ":" in a} == {"ppo:0", "ppo:0@sweep_b"}
    with (out / "seeds.csv").open(newline="") as fh:  # the two seeds of one experiment, summarised
        seeds = list(csv.DictReader(fh))
    assert len(seeds) == 1 and seeds[0]["runs"] == "2" and seeds[0]["seeds"] == "0 1"
    assert (out / "seeds.md").exists()
