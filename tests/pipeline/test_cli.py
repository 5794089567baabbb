"""The entry points as a user runs them: default run directories and one-line errors (each entry
point once from a real interpreter; the other checks run its main in this process,
``tests/entry_points.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.entry_points import run_in_process

REPO = Path(__file__).resolve().parents[2]


def run_module(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("module", "override", "field", "real"),
    [
        ("experiments.train", "env.lead_time=abc", "env.lead_time", False),
        ("experiments.train", "agent=dqn", "env.action_type", True),
        ("experiments.benchmark", "env.demand.distribution=gamma", "env.demand.distribution", True),
        ("experiments.benchmark", "env.penalty=-1", "env.penalty", False),
    ],
)
def test_bad_value_without_run_dir_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, module, override, field,
                                                          real):
    """``real``: from a new interpreter (one case per entry point), else its main in this process."""
    if override == "agent=dqn":
        override_args = ("agent=dqn", "env.action_type=continuous")
    else:
        override_args = (override,)
    if real:
        result = run_module(module, *override_args, cwd=tmp_path)
    else:
        result = run_in_process(module, list(override_args), tmp_path, monkeypatch, capsys)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and field in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_new_training_run_gets_a_timestamped_run_dir(tmp_path):
    # No hydra.run.dir: the default ${fg.resume_or:${resume},outputs/train/<time>} must resolve.
    result = run_module("experiments.train", "total_timesteps=0", cwd=tmp_path)
    assert result.returncode == 2  # total_timesteps must be >= 1; validation runs in the run dir
    runs = list((tmp_path / "outputs" / "train").iterdir())
    assert len(runs) == 1 and runs[0].is_dir()


def test_new_run_refuses_a_directory_that_holds_a_run(tmp_path):
    step = tmp_path / "run" / "checkpoints" / "step_000000000512"
    step.mkdir(parents=True)
    (step / "meta.json").write_text('{"timesteps": 512}')
    result = run_module("experiments.train", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 2
    assert "resume=" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "config.yaml").exists()


def test_speed_benchmark_writes_a_table_per_task_with_ratios_to_cartpole(tmp_path, monkeypatch):
    """``experiments.speed``'s main in this process (its real-interpreter check: the next test)."""
    from experiments.speed import main

    monkeypatch.chdir(tmp_path)
    quick = ["--seconds", "0.02", "--repeats", "1", "--write", "--docs", str(tmp_path)]
    assert main(["--task", "lost_sales", *quick]) == 0
    assert main(["--task", "fulfillment_center", "--no-training", *quick]) == 0
    lost_sales = (tmp_path / "lost_sales_speed.md").read_text()
    assert "| CartPole-v1 (raw env.step) |" in lost_sales and "1.00x" in lost_sales
    assert "goal >= 2x" in lost_sales and "| PPO training (4 copies) |" in lost_sales
    centre = (tmp_path / "fulfillment_center_speed.md").read_text()
    for case in ("env.step (N=1,000)", "SuperSuit VecEnv", "shared-policy VecEnv", "peak traced memory"):
        assert case in centre, case


def test_speed_refuses_an_unknown_task(tmp_path):
    result = run_module("experiments.speed", "--task", "nope", cwd=tmp_path)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_catalogue_generator_help_and_bad_argument(tmp_path, capsys):
    from envs.replenishment.demand.catalogue import main

    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0 and "--n-skus" in capsys.readouterr().out
    result = run_module("envs.replenishment.demand.catalogue", "--n-skus", "0", "--out", str(tmp_path / "x.csv"),
                        cwd=tmp_path)
    assert result.returncode != 0 and "n" in result.stderr.lower() and "Traceback" not in result.stderr


# -- config-group choices: refused before Hydra composes anything (its error is many lines, exit 1) --
@pytest.mark.parametrize(("module", "args", "group", "choice"), [
    ("experiments.train", ["env=nosuch"], "env", "lost_sales"),
    ("experiments.train", ["env=null"], "env", "fulfillment_center"),
    ("experiments.train", ["-m", "agent=ppo,nope"], "agent", "maskable_ppo"),
    ("experiments.benchmark", ["scenario=nosuch"], "scenario", "demand_surge"),
    ("experiments.export", ["hydra/job_logging=stdout", "env=slot"], "env", "slotting"),
])
def test_an_unknown_config_group_choice_is_one_line_before_hydra(tmp_path, monkeypatch, capsys, module, args, group,
                                                                 choice):
    """The verb as ``python -m`` calls it: its decorated main without arguments reads ``sys.argv``."""
    import importlib

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [module, *args, f"hydra.run.dir={tmp_path / 'run'}"])
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(module).main()
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {group}: expected one of ") and choice in lines[0], lines
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args", [
    ["env=fulfillment_center", "~scenario", "agent=ppo", "env.lead_time=3"],
    ["-m", "env=lost_sales,backorders", "env=glob(*)"],
    ["env=newsvendor", f"hydra.searchpath=[file://{REPO / 'tests' / 'toy' / 'configs'}]"],
    ["env=x", "hydra.searchpath=[pkg://elsewhere]"],  # other search paths: Hydra decides
])
def test_valid_or_unknowable_group_choices_pass_the_check(args):
    from experiments.support.common import check_group_overrides

    check_group_overrides(args)


BENCHMARK_ERRORS = {  # name -> (overrides, fragments of the one line); none leaves run.json or config.yaml
    "models_not_a_list": (["models=5"], ["models", "list of paths"]),
    "onnx_not_a_list": (["onnx=5"], ["onnx", "list of paths"]),
    "missing_model": (["models=[nowhere/run]"], ["models", "nowhere/run"]),
    "negative_tuning_reps": (["tuning.reps=-1"], ["tuning.reps", "[2, 100000]"]),
    "one_tuning_rep": (["tuning.reps=1"], ["tuning.reps"]),
    "tuning_reps_not_a_number": (["tuning.reps=abc"], ["tuning.reps"]),
    "save_plans_maybe": (["save_plans=maybe"], ["save_plans", "true or false"]),
    "unknown_suite": (["suite=nope"], ["suite", "classic"]),
    "unknown_reference": (["agents=[base_stock]", "reference=nope"], ["reference", "base_stock"]),
}


@pytest.mark.parametrize("key", list(BENCHMARK_ERRORS))
def test_a_refused_benchmark_writes_nothing(tmp_path, monkeypatch, capsys, key):
    """Checked before the run directory is written, so the fixed command can use the same one."""
    overrides, fragments = BENCHMARK_ERRORS[key]
    out = tmp_path / "run"
    result = run_in_process("experiments.benchmark", ["smoke=true", *overrides, f"hydra.run.dir={out}"], tmp_path,
                            monkeypatch, capsys)
    result.assert_one_line_error(*fragments)
    assert not (out / "run.json").exists() and not (out / "config.yaml").exists()


@pytest.mark.parametrize("verb", ["experiments.benchmark", "experiments.train"])
@pytest.mark.parametrize("demand", [["env.demand.distribution=pmf", "env.demand.pmf=[1.0]"],
                                    ["env.demand.distribution=series", "env.demand.series=[0,0,0]"]])
def test_demand_that_is_always_zero_is_one_line(tmp_path, monkeypatch, capsys, demand, verb):
    """Refused with the task, before any run file or training (nothing to decide, nothing to tune;
    the env itself accepts it)."""
    out = tmp_path / "run"
    result = run_in_process(verb, ["smoke=true", *demand, f"hydra.run.dir={out}"], tmp_path, monkeypatch, capsys)
    result.assert_one_line_error(demand[1].split("=")[0], "mean > 0", "always 0")
    assert not (out / "run.json").exists() and not (out / "config.yaml").exists()
