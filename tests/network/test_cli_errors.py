"""Bad network input on the command line: one line naming the field and the accepted values,
exit code 2, no traceback (in this process: ``tests/entry_points.py``; one
case also as a real interpreter), no results left behind."""

from __future__ import annotations

import pytest

from tests.entry_points import run_in_process, run_subprocess

CASES = [
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
]


@pytest.mark.parametrize(("module", "overrides", "field", "accepted"), CASES)
def test_bad_network_value_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, module, overrides, field, accepted):
    args = ["env=network", *overrides, f"hydra.run.dir={tmp_path / 'run'}"]
    result = run_in_process(module, args, tmp_path, monkeypatch, capsys)
    check(result, field, accepted, tmp_path)


def check(result, field: str, accepted: str, tmp_path) -> None:
    result.assert_one_line_error(field, accepted)  # exit 2, one line "error: ...", no traceback
    assert not (tmp_path / "run" / "results.csv").exists()


def test_a_bad_network_value_from_a_real_interpreter_is_one_line_and_exit_2(tmp_path):
    module, overrides, field, accepted = CASES[0]
    result = run_subprocess(module, ["env=network", *overrides, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    check(result, field, accepted, tmp_path)
