"""Bad slotting input on the command line: one line naming the field and the accepted values,
exit code 2, no traceback (in this process: ``tests/entry_points.py``; one
case also as a real interpreter), no run directory left behind."""

from __future__ import annotations

import pytest

from tests.entry_points import run_in_process, run_subprocess

CASES = [
    ("experiments.benchmark", ["env.routing=tsp"], "env.routing", "optimal"),
    ("experiments.benchmark", ["env.depot=right"], "env.depot", "centre"),
    ("experiments.benchmark", ["env.action_mode=bin"], "env.action_mode", "zone"),
    ("experiments.benchmark", ["env.obs_map=image"], "env.obs_map", "zones"),
    ("experiments.benchmark", ["env.load_units=30"], "env.load_units", "20"),
    ("experiments.benchmark", ["env.n_zones=[0.5,0.2]"], "env.n_zones", "summing to 1"),
    ("experiments.benchmark", ["env.training.n_operators=0"], "env.training.n_operators", "64"),
    ("experiments.benchmark", ["agents=[closest,fifo]"], "agents", "oracle"),
    ("experiments.benchmark", ["tuning.reps=0"], "tuning.reps", "[2, 100000]"),  # was the default silently
    ("experiments.train", ["agent=sac"], "agent=sac", "maskable_ppo"),
    ("experiments.train", ["agent=maskable_ppo", "env.obs_map=zones"], "env.obs_map", "obs_map=grid"),
]


@pytest.mark.parametrize(("module", "overrides", "field", "accepted"), CASES)
def test_bad_slotting_value_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, module, overrides, field, accepted):
    args = ["env=slotting", *overrides, f"hydra.run.dir={tmp_path / 'run'}"]
    result = run_in_process(module, args, tmp_path, monkeypatch, capsys)
    check(result, field, accepted, tmp_path)


def check(result, field: str, accepted: str, tmp_path) -> None:
    result.assert_one_line_error(field, accepted)  # exit 2, one line "error: ...", no traceback
    assert not (tmp_path / "run" / "results.csv").exists()


def test_a_bad_slotting_value_from_a_real_interpreter_is_one_line_and_exit_2(tmp_path):
    module, overrides, field, accepted = CASES[0]
    result = run_subprocess(module, ["env=slotting", *overrides, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    check(result, field, accepted, tmp_path)
