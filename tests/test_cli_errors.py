"""Bad input of a task on the command line: one line naming the field and the accepted values,
exit code 2, no traceback (in this process: ``tests/entry_points.py``; one case a task also as
a real interpreter), no results left behind. ``CASES``: task -> (verb, overrides, field, accepted)."""

from __future__ import annotations

import pytest

from tests.entry_points import run_in_process, run_subprocess

CASES = {
    "network": [
        ("experiments.benchmark", ["env.allocation=fair"], "env.allocation", "balanced"),
        ("experiments.benchmark", ["env.internal=drop"], "env.internal", "backorder"),
        ("experiments.benchmark", ["env.shipping=later"], "env.shipping", "before_arrivals"),
        ("experiments.benchmark", ["env.nodes.1.parent=HUB"], "env.nodes[1].parent", "DC"),
        ("experiments.benchmark", ["env.nodes.2.lead_time=0"], "env.nodes[2].lead_time", "[1, 100]"),
        ("experiments.benchmark", ["+env.nodes.0.demand_share=0.5"], "env.nodes[0].demand_share", "null"),
        ("experiments.benchmark", ["+env.transshipment.mode=pool"], "env.transshipment.mode", "balance"),
        ("experiments.benchmark", ["agents=[exact]"], "exact: the network is not a serial chain", "agents"),
        ("experiments.benchmark", ["agents=[echelon,random]"], "agents", "echelon_base_stock"),
        ("experiments.benchmark", ["scenario=demand_surge", "env.scenario.size=-3"], "env.scenario.size", "[-1"),
        ("experiments.train", ["agent=sac"], "agent=sac", "ppo"),
        ("experiments.train", ["env.training.action_type=order"], "env.training.action_type", "level"),
    ],
    "slotting": [
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
    ],
}


@pytest.mark.parametrize(("env", "module", "overrides", "field", "accepted"),
                         [(env, *case) for env, cases in CASES.items() for case in cases])
def test_a_bad_value_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, env, module, overrides, field, accepted):
    args = [f"env={env}", *overrides, f"hydra.run.dir={tmp_path / 'run'}"]
    result = run_in_process(module, args, tmp_path, monkeypatch, capsys)
    check(result, field, accepted, tmp_path)


def check(result, field: str, accepted: str, tmp_path) -> None:
    result.assert_one_line_error(field, accepted)  # exit 2, one line "error: ...", no traceback
    assert not (tmp_path / "run" / "results.csv").exists()


@pytest.mark.parametrize("env", sorted(CASES))
def test_a_bad_value_from_a_real_interpreter_is_one_line_and_exit_2(tmp_path, env):
    module, overrides, field, accepted = CASES[env][0]
    result = run_subprocess(module, [f"env={env}", *overrides, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    check(result, field, accepted, tmp_path)
